package demo

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
)

// Entry is one line of a Discord user's view: a slash command or button
// click with the bot's reply, or a direct message from the bot.
type Entry struct {
	Kind          string  `json:"kind"` // command | click | dm
	Text          string  `json:"text"`
	InteractionID string  `json:"interaction_id,omitempty"`
	Reply         *Reply  `json:"reply,omitempty"`
	Buttons       []DCBtn `json:"buttons,omitempty"` // of a DM
}

// Reply is what the user sees of the bot's answer to an interaction.
type Reply struct {
	Content   string  `json:"content"`
	Ephemeral bool    `json:"ephemeral"`
	Thinking  bool    `json:"thinking"` // deferred, not yet completed
	Deleted   bool    `json:"deleted,omitempty"`
	Buttons   []DCBtn `json:"buttons,omitempty"`
}

// DCBtn is a message button.
type DCBtn struct {
	Label    string `json:"label"`
	Style    int    `json:"style"`
	URL      string `json:"url,omitempty"`
	CustomID string `json:"custom_id,omitempty"`
}

// transcript is one Discord user's view, in the order things happened.
// DMs carry no time in the fake, so they are placed where they were
// first seen.
type transcript struct {
	entries []Entry
	dmsSeen int
}

func dcButtons(in []discordtest.Button) []DCBtn {
	var out []DCBtn
	for _, b := range in {
		out = append(out, DCBtn{Label: b.Label, Style: b.Style, URL: b.URL, CustomID: b.CustomID})
	}
	return out
}

// discordChat brings the transcript up to date and returns it with every
// interaction's current reply.
func (s *Server) discordChat(role, userID string) []Entry {
	dms := s.opts.Discord.DMs(userID)
	responses := s.opts.Discord.Responses()
	s.mu.Lock()
	t := s.transcripts[role]
	for _, m := range dms[min(t.dmsSeen, len(dms)):] {
		t.entries = append(t.entries, Entry{Kind: "dm", Text: m.Content, Buttons: dcButtons(m.Buttons)})
	}
	t.dmsSeen = max(t.dmsSeen, len(dms))
	out := slices.Clone(t.entries)
	s.mu.Unlock()
	for i := range out {
		if out[i].InteractionID != "" {
			out[i].Reply = replyOf(responses, out[i].InteractionID)
		}
	}
	return out
}

// replyOf is the visible reply to interaction id, as discordtest.WaitReply
// computes it, or nil while the bot has not answered.
func replyOf(responses []discordtest.Response, id string) *Reply {
	var cb, last *discordtest.Response
	for i := range responses {
		r := &responses[i]
		switch {
		case r.InteractionID != id:
		case r.Kind == "callback":
			if cb == nil {
				cb = r
			}
		default:
			last = r
		}
	}
	if cb == nil {
		return nil
	}
	out := &Reply{Content: cb.Content, Ephemeral: cb.Flags&64 != 0, Buttons: dcButtons(cb.Buttons)}
	if cb.Type == 5 || cb.Type == 6 {
		out.Thinking = last == nil
		if last != nil {
			out.Content, out.Buttons, out.Deleted = last.Content, dcButtons(last.Buttons), last.Kind == "delete"
		}
	}
	return out
}

// parseSlash turns what a user types ("/activate KEY", "/revoke
// user:123", "/buy product:pro") into a registered command and its
// options. Positional values fill the options in order; a value that
// looks like a user goes to a user option when there is one.
func parseSlash(text string, cmds []discordtest.Command) (string, []discordtest.Option, error) {
	fields := strings.Fields(strings.TrimSpace(text))
	if len(fields) == 0 || !strings.HasPrefix(fields[0], "/") || len(fields[0]) < 2 {
		return "", nil, errors.New("type a slash command, like /buy or /activate KEY")
	}
	name := strings.ToLower(fields[0][1:])
	i := slices.IndexFunc(cmds, func(c discordtest.Command) bool { return c.Name == name })
	if i < 0 {
		names := make([]string, 0, len(cmds))
		for _, c := range cmds {
			names = append(names, "/"+c.Name)
		}
		return "", nil, fmt.Errorf("this server has no /%s command; try %s", name, strings.Join(names, " "))
	}
	cmd := cmds[i]
	values := map[string]string{}
	var positional []string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, ":"); ok && slices.ContainsFunc(cmd.Options, func(o discordtest.CommandOption) bool { return o.Name == k }) {
			values[k] = v
			continue
		}
		positional = append(positional, f)
	}
	for _, v := range positional {
		o := pickOption(cmd.Options, values, v)
		if o == nil {
			return "", nil, fmt.Errorf("/%s takes no more options (%q)", name, v)
		}
		values[o.Name] = v
	}
	var opts []discordtest.Option
	for _, o := range cmd.Options {
		v, ok := values[o.Name]
		if !ok {
			if o.Required {
				return "", nil, fmt.Errorf("/%s needs %s:", name, o.Name)
			}
			continue
		}
		if o.Type == discordtest.OptionUser {
			opts = append(opts, discordtest.UserOption(o.Name, userID(v)))
			continue
		}
		opts = append(opts, discordtest.StringOption(o.Name, v))
	}
	return name, opts, nil
}

// pickOption is the unfilled option a positional value goes to.
func pickOption(opts []discordtest.CommandOption, filled map[string]string, v string) *discordtest.CommandOption {
	free := func(o discordtest.CommandOption) bool { _, ok := filled[o.Name]; return !ok }
	if looksLikeUser(v) {
		for i, o := range opts {
			if o.Type == discordtest.OptionUser && free(o) {
				return &opts[i]
			}
		}
	}
	for i, o := range opts {
		if o.Type == discordtest.OptionString && free(o) {
			return &opts[i]
		}
	}
	return nil
}

func looksLikeUser(v string) bool {
	id := userID(v)
	return id != "" && strings.Trim(id, "0123456789") == "" && (id != v || len(id) >= 15)
}

// userID reads "discord:123", "<@123>", "<@!123>" or "123".
func userID(v string) string {
	v = strings.TrimPrefix(v, "discord:")
	v = strings.TrimPrefix(strings.TrimPrefix(v, "<@"), "!")
	return strings.TrimSuffix(v, ">")
}

// dcUser is the persona as a Discord user.
func dcUser(p Persona) discordtest.User {
	return discordtest.User{ID: p.DiscordID, Username: strings.ToLower(p.Name)}
}

// handleDiscordSend is POST /api/discord/send {"as", "text"}: the persona
// runs a slash command in the shop's channel.
func (s *Server) handleDiscordSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		asField
		Text string `json:"text"`
	}
	p, ok := s.readAs(w, r, &in, needAs, nil)
	if !ok {
		return
	}
	dc := s.opts.Discord
	if !dc.Connected() || len(dc.Commands()) == 0 {
		apiError(w, http.StatusServiceUnavailable, "the Discord bot is not connected yet")
		return
	}
	name, opts, err := parseSlash(in.Text, dc.Commands())
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	in.Text = strings.Join(strings.Fields(in.Text), " ")
	it := dc.SlashCommand(dcUser(p), name, opts...)
	s.dispatch(w, in.As, Entry{Kind: "command", Text: in.Text, InteractionID: it.ID}, it)
}

// handleDiscordClick is POST /api/discord/click {"as", "custom_id",
// "label"}: the persona presses a button of a bot message.
func (s *Server) handleDiscordClick(w http.ResponseWriter, r *http.Request) {
	var in struct {
		asField
		CustomID string `json:"custom_id"`
		Label    string `json:"label"`
	}
	p, ok := s.readAs(w, r, &in, `need "as" (buyer or admin) and "custom_id"`,
		func() bool { return in.CustomID != "" })
	if !ok {
		return
	}
	it := s.opts.Discord.ComponentClick(dcUser(p), in.CustomID)
	s.dispatch(w, in.As, Entry{Kind: "click", Text: in.Label, InteractionID: it.ID}, it)
}

// dispatch records e in role's transcript and delivers the interaction
// over the gateway.
func (s *Server) dispatch(w http.ResponseWriter, role string, e Entry, it discordtest.Interaction) {
	s.mu.Lock()
	s.transcripts[role].entries = append(s.transcripts[role].entries, e)
	s.mu.Unlock()
	if err := s.opts.Discord.DispatchInteraction(it); err != nil {
		apiError(w, http.StatusServiceUnavailable, "the Discord bot is not connected: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"interaction_id": it.ID})
}
