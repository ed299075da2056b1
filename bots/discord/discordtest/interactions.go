package discordtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Command is a slash command the bot registered.
type Command struct {
	ID                       string          `json:"id"`
	Name                     string          `json:"name"`
	Description              string          `json:"description"`
	DefaultMemberPermissions *string         `json:"default_member_permissions"`
	Options                  []CommandOption `json:"options"`
}

// CommandOption is one option of a registered command.
type CommandOption struct {
	Type         int      `json:"type"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Required     bool     `json:"required"`
	Autocomplete bool     `json:"autocomplete"`
	Choices      []Choice `json:"choices"`
	MinValue     *float64 `json:"min_value"`
	MaxValue     *float64 `json:"max_value"`
}

// Commands lists the guild commands of the last bulk overwrite.
func (s *Server) Commands() []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Command(nil), s.commands...)
}

func (s *Server) guildCommands(method, app, guild string, body []byte) (any, *apiError) {
	if app != s.opts.ApplicationID {
		return nil, &errNotFound
	}
	if guild != s.opts.GuildID {
		return nil, &errUnknownGuild
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch method {
	case "GET":
		return s.commands, nil
	case "PUT":
		var cmds []Command
		if json.Unmarshal(body, &cmds) != nil {
			return nil, &errBadBody
		}
		for i := range cmds {
			if cmds[i].Name == "" || cmds[i].Description == "" || !validOptions(cmds[i].Options) {
				return nil, &errBadBody
			}
			cmds[i].ID = s.newIDLocked()
		}
		s.commands = cmds
		s.notifyLocked()
		return cmds, nil
	}
	return nil, &errNotFound
}

// validOptions applies Discord's rules that a bot can get wrong: a name
// and a description of at most 100 characters, and required options
// before optional ones.
func validOptions(opts []CommandOption) bool {
	optional := false
	for _, o := range opts {
		if o.Name == "" || o.Description == "" || len([]rune(o.Description)) > 100 || (o.Required && optional) {
			return false
		}
		optional = optional || !o.Required
	}
	return true
}

// messageBody is what the bot sends as a message or interaction data.
type messageBody struct {
	Content    string `json:"content"`
	Flags      int    `json:"flags"`
	Components []struct {
		Components []struct {
			Label    string `json:"label"`
			Style    int    `json:"style"`
			URL      string `json:"url"`
			CustomID string `json:"custom_id"`
		} `json:"components"`
	} `json:"components"`
	Choices []Choice `json:"choices"`
}

func (m messageBody) buttons() []Button {
	var out []Button
	for _, row := range m.Components {
		for _, c := range row.Components {
			out = append(out, Button{Label: c.Label, Style: c.Style, URL: c.URL, CustomID: c.CustomID})
		}
	}
	return out
}

func messageJSON(m Message) map[string]any {
	return map[string]any{"id": m.ID, "channel_id": m.ChannelID, "content": m.Content, "type": 0}
}

func (s *Server) callback(id, token string, body []byte) (any, *apiError) {
	var in struct {
		Type int         `json:"type"`
		Data messageBody `json:"data"`
	}
	if json.Unmarshal(body, &in) != nil || in.Type == 0 {
		return nil, &errBadBody
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.inters[id]
	if it == nil || it.token != token {
		return nil, &errUnknownInter
	}
	if it.acked {
		return nil, &errAcked
	}
	it.acked = true
	s.recordLocked(id, "callback", in.Type, in.Data)
	return nil, nil
}

// original edits or deletes the first response. The fake accepts an edit
// as soon as it issued the token, even before it has seen the callback:
// in http mode the bot's HTTP answer and its edit can arrive in either
// order at the fake.
func (s *Server) original(method, app, token string, body []byte) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.byToken[token]
	if app != s.opts.ApplicationID || it == nil {
		return nil, &errUnknownHook
	}
	switch method {
	case "PATCH":
		var in messageBody
		if json.Unmarshal(body, &in) != nil {
			return nil, &errBadBody
		}
		s.recordLocked(it.id, "edit", 0, in)
		return map[string]any{"id": s.newIDLocked(), "channel_id": "0", "content": in.Content, "type": 20}, nil
	case "DELETE":
		s.recordLocked(it.id, "delete", 0, messageBody{})
		return nil, nil
	}
	return nil, &errNotFound
}

func (s *Server) followup(app, token string, body []byte) (any, *apiError) {
	var in messageBody
	if json.Unmarshal(body, &in) != nil {
		return nil, &errBadBody
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.byToken[token]
	if app != s.opts.ApplicationID || it == nil {
		return nil, &errUnknownHook
	}
	s.recordLocked(it.id, "followup", 0, in)
	return map[string]any{"id": s.newIDLocked(), "channel_id": "0", "content": in.Content, "type": 0}, nil
}

func (s *Server) recordLocked(id, kind string, typ int, m messageBody) {
	s.responses = append(s.responses, Response{
		InteractionID: id, Kind: kind, Type: typ, Content: m.Content,
		Flags: m.Flags, Buttons: m.buttons(), Choices: m.Choices,
	})
	s.notifyLocked()
}

// Reply is what the user finally sees for one interaction.
type Reply struct {
	// Type is the first callback's type; Deferred is Type 5.
	Type      int
	Deferred  bool
	Ephemeral bool
	Deleted   bool
	Content   string
	Buttons   []Button
	Choices   []Choice
}

// WaitReply waits until the bot has answered in and returns the visible
// result: the callback's message, or for a deferred callback the edit or
// follow-up that completed it.
func (s *Server) WaitReply(ctx context.Context, in Interaction) (Reply, error) {
	var out Reply
	done := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		var cb, last *Response
		for k := range s.responses {
			resp := &s.responses[k]
			switch {
			case resp.InteractionID != in.ID:
			case resp.Kind == "callback":
				if cb == nil {
					cb = resp
				}
			default:
				last = resp
			}
		}
		if cb == nil {
			return false
		}
		out = Reply{Type: cb.Type, Deferred: cb.Type == 5 || cb.Type == 6, Ephemeral: cb.Flags&64 != 0,
			Content: cb.Content, Buttons: cb.Buttons, Choices: cb.Choices}
		if !out.Deferred {
			return true
		}
		if last == nil {
			return false
		}
		out.Content, out.Buttons, out.Deleted = last.Content, last.Buttons, last.Kind == "delete"
		return true
	}
	if err := s.WaitFor(ctx, done); err != nil {
		return Reply{}, fmt.Errorf("discordtest: no reply to interaction %s: %w", in.ID, err)
	}
	return out, nil
}

// SignInteraction signs body as Discord does for HTTP interactions: an
// Ed25519 signature over timestamp+body. It returns the values of the
// X-Signature-Ed25519 and X-Signature-Timestamp headers.
func SignInteraction(priv ed25519.PrivateKey, body []byte, ts time.Time) (signature, timestamp string) {
	timestamp = strconv.FormatInt(ts.Unix(), 10)
	msg := append([]byte(timestamp), body...)
	return hex.EncodeToString(ed25519.Sign(priv, msg)), timestamp
}

// PostInteraction delivers in to the bot's interactions endpoint at url,
// signed with the fake's private key and timestamped now, as Discord does
// in http mode. A 200 answer is recorded as the interaction's callback.
// It returns the HTTP status.
func (s *Server) PostInteraction(ctx context.Context, url string, in Interaction) (int, error) {
	sig, ts := SignInteraction(s.opts.PrivateKey, in.Body, s.opts.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(in.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Discord-Interactions/1.0 (+https://discord.com)")
	req.Header.Set("X-Signature-Ed25519", sig)
	req.Header.Set("X-Signature-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var out struct {
		Type int         `json:"type"`
		Data messageBody `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Type == 0 {
		return resp.StatusCode, errors.New("discordtest: the bot answered 200 without an interaction response")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.inters[in.ID]; it != nil {
		it.acked = true
	}
	s.recordLocked(in.ID, "callback", out.Type, out.Data)
	return resp.StatusCode, nil
}
