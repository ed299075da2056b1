package discordtest

import (
	"encoding/json"
	"fmt"
	"time"
)

// User is a Discord user who interacts with the bot.
type User struct {
	ID       string
	Username string
	// Locale is the user's client language ("de", "pt-BR"); "" is en-US.
	Locale string
}

// Option is one slash-command option as the user filled it in.
type Option struct {
	Name    string
	Type    int
	Value   any
	Focused bool
}

// Option types.
const (
	OptionString  = 3
	OptionInteger = 4
	OptionUser    = 6
)

// StringOption is a string option, e.g. StringOption("key", "ABCD-…").
func StringOption(name, value string) Option {
	return Option{Name: name, Type: OptionString, Value: value}
}

// IntegerOption is an integer option.
func IntegerOption(name string, n int) Option {
	return Option{Name: name, Type: OptionInteger, Value: n}
}

// UserOption is a user option holding a user id.
func UserOption(name, userID string) Option {
	return Option{Name: name, Type: OptionUser, Value: userID}
}

// Interaction is one built interaction: its id and token (the fake
// accepts callbacks and webhook edits for it) and its JSON body.
type Interaction struct {
	ID    string
	Token string
	Body  []byte
}

// Interaction types.
const (
	typePing         = 1
	typeCommand      = 2
	typeComponent    = 3
	typeAutocomplete = 4
)

// SlashCommand builds a guild slash-command interaction from u. The
// member's roles are those the fake holds for u.
func (s *Server) SlashCommand(u User, name string, opts ...Option) Interaction {
	data := map[string]any{"name": name, "type": 1, "options": optionsJSON(opts)}
	var users map[string]any
	for _, o := range opts {
		if id, ok := o.Value.(string); ok && o.Type == OptionUser {
			if users == nil {
				users = map[string]any{}
			}
			users[id] = map[string]any{"id": id, "username": "user" + id, "discriminator": "0"}
		}
	}
	if users != nil {
		data["resolved"] = map[string]any{"users": users}
	}
	return s.build(u, typeCommand, func(id string) map[string]any {
		data["id"] = s.commandID(name)
		return data
	})
}

// Autocomplete builds the autocomplete interaction of command name while u
// types typed into option (focused).
func (s *Server) Autocomplete(u User, name, option, typed string) Interaction {
	return s.build(u, typeAutocomplete, func(string) map[string]any {
		return map[string]any{"id": s.commandID(name), "name": name, "type": 1, "options": optionsJSON(
			[]Option{{Name: option, Type: OptionString, Value: typed, Focused: true}})}
	})
}

// ComponentClick builds the interaction of u pressing the button with
// customID.
func (s *Server) ComponentClick(u User, customID string) Interaction {
	return s.build(u, typeComponent, func(string) map[string]any {
		return map[string]any{"custom_id": customID, "component_type": 2}
	})
}

// Ping builds the PING Discord sends to check an interactions endpoint.
func (s *Server) Ping() Interaction {
	s.mu.Lock()
	id, token := s.newIDLocked(), "fake-token-"+s.newIDLocked()
	s.inters[id] = &interaction{id: id, token: token}
	s.byToken[token] = s.inters[id]
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"id": id, "application_id": s.opts.ApplicationID, "type": typePing, "token": token, "version": 1})
	return Interaction{ID: id, Token: token, Body: body}
}

func (s *Server) build(u User, typ int, data func(id string) map[string]any) Interaction {
	if u.Username == "" {
		u.Username = "user" + u.ID
	}
	if u.Locale == "" {
		u.Locale = "en-US"
	}
	s.mu.Lock()
	id, token := s.newIDLocked(), "fake-token-"+s.newIDLocked()
	s.inters[id] = &interaction{id: id, token: token}
	s.byToken[token] = s.inters[id]
	var roles []string
	joined := s.opts.Now()
	if m := s.members[u.ID]; m != nil {
		roles, joined = sortedKeys(m.roles), m.joined
	}
	s.mu.Unlock()
	if roles == nil {
		roles = []string{}
	}
	body, err := json.Marshal(map[string]any{
		"id":              id,
		"application_id":  s.opts.ApplicationID,
		"type":            typ,
		"token":           token,
		"version":         1,
		"guild_id":        s.opts.GuildID,
		"channel_id":      "500000000000000001",
		"locale":          u.Locale,
		"app_permissions": fmt.Sprint(PermManageRoles),
		"member": map[string]any{
			"user":        map[string]any{"id": u.ID, "username": u.Username, "discriminator": "0"},
			"roles":       roles,
			"joined_at":   joined.UTC().Format(time.RFC3339),
			"permissions": "0",
			"deaf":        false,
			"mute":        false,
		},
		"data": data(id),
	})
	if err != nil {
		panic(fmt.Sprintf("discordtest: marshal interaction: %v", err))
	}
	return Interaction{ID: id, Token: token, Body: body}
}

// commandID is the id the bot's registration gave name, or a stable
// stand-in when the command was never registered.
func (s *Server) commandID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.commands {
		if c.Name == name {
			return c.ID
		}
	}
	return "0"
}

func optionsJSON(opts []Option) []any {
	out := make([]any, 0, len(opts))
	for _, o := range opts {
		m := map[string]any{"name": o.Name, "type": o.Type, "value": o.Value}
		if o.Focused {
			m["focused"] = true
		}
		out = append(out, m)
	}
	return out
}
