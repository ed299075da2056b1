package discord

import (
	"context"
	"math"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/identity"
)

// plan is how one interaction is answered: now is the first response
// (within Discord's three seconds); later, when set, computes the reply
// that replaces a deferred first response.
type plan struct {
	now   *discordgo.InteractionResponse
	later func(ctx context.Context) commands.Reply
	// ticket holds the command's place in the in-flight caps until its
	// work, deferred or not, is done.
	ticket budget.Ticket
}

// onInteractionCreate is the gateway handler. discordgo runs each event
// handler in its own goroutine.
func (b *Bot) onInteractionCreate(_ *discordgo.Session, e *discordgo.InteractionCreate) {
	if e.Interaction == nil || !b.inflight.Enter() {
		return
	}
	defer b.inflight.Exit()
	ctx, cancel := context.WithTimeout(context.Background(), b.handlerTimeout)
	defer cancel()
	defer b.catchPanic("interaction")
	i := e.Interaction
	p := b.plan(ctx, i)
	defer p.ticket.Done()
	if p.now == nil {
		return
	}
	err := b.call(ctx, func(o ...discordgo.RequestOption) error {
		return b.s.InteractionRespond(i, p.now, o...)
	})
	if err != nil {
		b.log.Warn("discord: interaction response not sent", "interaction", i.ID, "err", redact(err, i.Token))
		return
	}
	if p.later != nil {
		b.finish(ctx, i, p.later)
	}
}

// finish runs the slow part of a deferred interaction and puts its reply
// in place of the "thinking…" message.
func (b *Bot) finish(ctx context.Context, i *discordgo.Interaction, later func(context.Context) commands.Reply) {
	r := later(ctx)
	var err error
	if r.Empty() {
		err = b.call(ctx, func(o ...discordgo.RequestOption) error {
			return b.s.InteractionResponseDelete(i, o...)
		})
	} else {
		err = b.call(ctx, func(o ...discordgo.RequestOption) error {
			_, err := b.s.InteractionResponseEdit(i, edit(r), o...)
			return err
		})
	}
	if err != nil {
		b.log.Warn("discord: deferred reply not delivered", "interaction", i.ID, "err", redact(err, i.Token))
	}
}

// plan decides the answer to one interaction. Anything that may call the
// shop's core is deferred; help, the catalog and refusals are answered at
// once.
func (b *Bot) plan(ctx context.Context, i *discordgo.Interaction) plan {
	user := interactionUser(i)
	if user == nil || user.Bot {
		return plan{}
	}
	req := commands.Request{
		Who:   identity.DiscordUser(user.ID),
		Admin: b.isAdmin(i, user.ID),
		// Every answer is ephemeral: only the requester reads it.
		Private: true,
		Lang:    string(i.Locale),
	}
	switch i.Type {
	case discordgo.InteractionPing:
		return plan{now: &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong}}
	case discordgo.InteractionApplicationCommandAutocomplete:
		// One per keystroke and answered from the config alone: not a
		// command, so it spends no budget.
		return plan{now: b.autocomplete(i.ApplicationCommandData())}
	}
	// Discord wants an answer to every interaction, so a command over
	// budget still gets one, at once and without any other work.
	verdict, reason, ticket := b.budget.Admit(req.Who.String())
	if verdict != budget.Allow {
		if verdict == budget.DropNotify {
			b.log.Info("discord: identity over its command budget", "identity", req.Who.String(), "reason", reason)
		}
		return plan{now: message(commands.Reply{Text: commands.SlowDownIn(b.words, req.Lang, reason == budget.ReasonFull)})}
	}
	p := b.planAdmitted(ctx, i, req)
	p.ticket = ticket
	return p
}

// planAdmitted is plan for a command within budget.
func (b *Bot) planAdmitted(ctx context.Context, i *discordgo.Interaction, req commands.Request) plan {
	switch i.Type {
	case discordgo.InteractionApplicationCommand:
		data := i.ApplicationCommandData()
		req.Command, req.Args = strings.ToLower(data.Name), optionArgs(data.Options)
		if req.Command == "buy" {
			req.Args = buyArgs(data.Options)
		}
		// Arguments are not logged: they may be license keys.
		b.log.Info("discord command", "command", req.Command, "identity", req.Who.String(), "admin", req.Admin)
		if b.quick(req) {
			return plan{now: message(b.cmds.Handle(ctx, req))}
		}
		return plan{now: deferred(), later: func(ctx context.Context) commands.Reply {
			return b.cmds.Handle(ctx, req)
		}}
	case discordgo.InteractionMessageComponent:
		customID := i.MessageComponentData().CustomID
		b.log.Info("discord button", "identity", req.Who.String())
		return plan{now: deferred(), later: func(ctx context.Context) commands.Reply {
			return b.cmds.Callback(ctx, req, customID)
		}}
	}
	return plan{now: message(b.cmds.Callback(ctx, req, ""))}
}

// quick reports whether a command is answered without the shop's core.
func (b *Bot) quick(req commands.Request) bool {
	switch req.Command {
	case "help":
		return true
	case "buy":
		return len(req.Args) == 0
	case "activate", "license", "licenses", "start", "transfer":
		return false
	}
	if commands.AdminCommand(req.Command) {
		// Refused for non-admins without any call.
		return !req.Admin
	}
	// Gated commands ask the gate; unknown names get a quick "unknown".
	return !b.known[req.Command]
}

// optionArgs flattens slash-command options into Request.Args, in order:
// strings as typed, users as discord:<id> so commands.ParseTarget reads
// them as identities, integers in decimal.
func optionArgs(opts []*discordgo.ApplicationCommandInteractionDataOption) []string {
	var args []string
	for _, o := range opts {
		if o == nil {
			continue
		}
		switch o.Type {
		case discordgo.ApplicationCommandOptionUser:
			if id, ok := o.Value.(string); ok && id != "" {
				args = append(args, identity.DiscordUser(id).String())
			}
		case discordgo.ApplicationCommandOptionString:
			if s, ok := o.Value.(string); ok && strings.TrimSpace(s) != "" {
				args = append(args, strings.TrimSpace(s))
			}
		case discordgo.ApplicationCommandOptionInteger:
			// JSON numbers decode as float64.
			if f, ok := o.Value.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1e15 {
				args = append(args, strconv.FormatInt(int64(f), 10))
			}
		}
	}
	return args
}

// buyArgs orders /buy's options as commands reads them: product, then
// code; an empty product holds the place when only a code was given.
// Discord sends options in the order they were filled in.
func buyArgs(opts []*discordgo.ApplicationCommandInteractionDataOption) []string {
	var product, code string
	for _, o := range opts {
		if o == nil {
			continue
		}
		s, _ := o.Value.(string)
		switch o.Name {
		case "product":
			product = strings.TrimSpace(s)
		case "code":
			code = strings.TrimSpace(s)
		}
	}
	switch {
	case code != "":
		return []string{product, code}
	case product != "":
		return []string{product}
	}
	return nil
}

func interactionUser(i *discordgo.Interaction) *discordgo.User {
	if i.Member != nil && i.Member.User != nil {
		return i.Member.User
	}
	return i.User
}

// isAdmin: a configured admin user anywhere, or a member of the shop's
// guild holding a configured admin role. Roles of other guilds mean
// nothing here.
func (b *Bot) isAdmin(i *discordgo.Interaction, userID string) bool {
	if b.adminUsers[userID] {
		return true
	}
	if i.GuildID != b.guild || i.Member == nil {
		return false
	}
	for _, r := range i.Member.Roles {
		if b.adminRoles[r] {
			return true
		}
	}
	return false
}

// autocomplete suggests products for /buy product: when there are too
// many for a fixed choice list.
func (b *Bot) autocomplete(data discordgo.ApplicationCommandInteractionData) *discordgo.InteractionResponse {
	typed := ""
	for _, o := range data.Options {
		if o != nil && o.Focused {
			typed, _ = o.Value.(string)
		}
	}
	typed = strings.ToLower(strings.TrimSpace(typed))
	choices := []*discordgo.ApplicationCommandOptionChoice{}
	if name := strings.ToLower(data.Name); name == "buy" || name == "grant" {
		for _, p := range b.products {
			name := productName(p.ID, p.Name)
			if typed != "" && !strings.Contains(strings.ToLower(name), typed) && !strings.Contains(p.ID, typed) {
				continue
			}
			choices = append(choices, &discordgo.ApplicationCommandOptionChoice{Name: truncateRunes(name, 100), Value: p.ID})
			if len(choices) == maxChoices {
				break
			}
		}
	}
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionApplicationCommandAutocompleteResult,
		Data: &discordgo.InteractionResponseData{Choices: choices},
	}
}

// catchPanic keeps one bad interaction or event from taking the bot down.
func (b *Bot) catchPanic(what string) {
	if r := recover(); r != nil {
		b.log.Error("discord: handler panicked", "handler", what, "panic", r, "stack", string(debug.Stack()))
	}
}

// redact removes an interaction token from error text: transport errors
// carry the webhook URL, and the token answers for the user for 15 minutes.
func redact(err error, token string) string {
	if err == nil {
		return ""
	}
	if token == "" {
		return err.Error()
	}
	return strings.ReplaceAll(err.Error(), token, "<token>")
}

func productName(id, name string) string {
	if name != "" {
		return name
	}
	return id
}
