// Package commands is shopbot's platform-neutral chat layer: it turns a
// parsed chat command (/buy, /activate, /license, gated commands, admin
// commands) into calls on the shop's core through the small Shop interface,
// and answers with a Reply that each bot adapter only renders.
//
// It owns the one table of user-facing messages (messages.go). Errors from
// the core never reach a user as text: Options.Classify maps them to a
// Problem, problemText words it, and anything unclassified becomes a
// generic apology while the error itself is logged.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/words"
)

// Request is one command from one user, already parsed by the adapter.
type Request struct {
	Who identity.Identity
	// Command is the command name without the slash, e.g. "buy".
	Command string
	Args    []string
	// Admin is true when the adapter recognised Who as a configured admin.
	Admin bool
	// Private is true when only Who will see the reply: a Telegram private
	// chat, or a Discord interaction answered ephemerally. Keys and
	// checkout links are only ever put into private replies.
	Private bool
	// Raw is the text after the command as typed (Telegram), line breaks
	// kept; "" when the platform sends options (Discord). /broadcast
	// reads its announcement from it: Args are words, at most 16.
	Raw string
	// Lang is the author's language as the platform reports it
	// (Telegram's language_code "de", Discord's locale "pt-BR"); "" when
	// unknown. Replies use the messages file's table for it.
	Lang string
}

// Reply is what the adapter shows. An empty Reply (no Text) means "say
// nothing", e.g. an unknown command in a group that was meant for another
// bot.
type Reply struct {
	// Text is plain text; `...` spans are monospaced (see messages.go).
	Text    string
	Buttons [][]Button
	// Ephemeral asks platforms that can (Discord) to show the reply to the
	// requester only.
	Ephemeral bool
	// Sensitive is set when Text contains a whole license key: the adapter
	// must never post it where others can read it.
	Sensitive bool
	// DeleteRequest asks the adapter to delete the user's message because
	// it exposed a key in a shared chat. Failure to delete is ignored.
	DeleteRequest bool
}

// Empty reports whether there is nothing to send.
func (r Reply) Empty() bool { return r.Text == "" }

// Button is one inline button. Exactly one of URL, Data and Start is set.
type Button struct {
	Label string
	// URL opens a web page (checkout, invite link).
	URL string
	// Data comes back to Callback when pressed ("buy:<id>", "act:<KEY>").
	Data string
	// Start opens the bot's private chat and sends /start with this
	// payload ([A-Za-z0-9_-], at most 64 bytes). The adapter builds the
	// link (Telegram: https://t.me/<bot>?start=<payload>) so this package
	// needs no bot name and no platform knowledge.
	Start string
}

// Callback payload prefixes; adapters use BuyData and ActivateData to build
// them so Callback can read them back.
const (
	dataBuy      = "buy:"
	dataActivate = "act:"
)

// BuyData is the callback payload of a button that buys productID.
func BuyData(productID string) string { return dataBuy + productID }

// ActivateData is the callback payload of a button that activates key.
func ActivateData(key string) string { return dataActivate + key }

// Options configures a Handler.
type Options struct {
	Shop Shop
	// Admin runs /grant, /extend, /resethwid, /stats, /audit, /failed,
	// /replay and /sync; Account runs /transfer and the billing button of
	// /license. When nil, Shop is used if it implements them; otherwise
	// those commands answer that they are not available (they stay in
	// Menu, so set-up tools publish the full menu).
	Admin    Admin
	Account  Account
	Products []config.Product
	Gated    []config.GatedCommand
	// Classify maps an error returned by Shop to a Problem. Nil, or a
	// KindUnknown answer, yields the generic apology and logs the error.
	// The wiring code writes it once against the core's sentinels, e.g.
	//
	//	var full *licensing.SlotsFullError
	//	switch {
	//	case errors.As(err, &full):
	//		return commands.Problem{Kind: commands.KindSlotsFull, Slots: full.Max}
	//	case errors.Is(err, licensing.ErrMalformedKey):
	//		return commands.Problem{Kind: commands.KindMalformedKey}
	//	...
	//	}
	Classify func(error) Problem
	Logger   *slog.Logger
	// Announcer runs /broadcast, /mute and /unmute (broadcast.go);
	// optional.
	Announcer Announcer
	// Terms, when set, must be accepted before /activate binds a key
	// (terms.go).
	Terms Terms
	// Words is the message catalog (built-in texts plus the messages
	// file); nil means the built-in English texts of Messages.
	Words *words.Catalog
	// Languages, optional, hears the language of every request, so
	// notices sent later can use it.
	Languages Languages
	// Payments offers Telegram Stars beside Stripe and runs /refund
	// (stars.go); optional.
	Payments Payments
	// Dashboard runs /dashboard (dashboard.go); optional.
	Dashboard Dashboard
}

// Languages remembers the language each identity writes in.
type Languages interface {
	Heard(ctx context.Context, who identity.Identity, lang string)
}

// Handler runs commands. It is safe for concurrent use: it holds no state
// besides its configuration.
type Handler struct {
	shop     Shop
	ops      Admin
	account  Account
	products []config.Product
	byID     map[string]config.Product
	gated    map[string]config.GatedCommand
	gatedCmd []string
	classify func(error) Problem
	log      *slog.Logger
	// announcer: broadcast.go.
	announcer Announcer
	terms     Terms
	words     *words.Catalog
	langs     Languages
	pay       Payments
	dash      Dashboard
}

// commandName is the shape Telegram accepts for commands; Discord's slash
// command names are a superset, so one rule serves both.
var commandName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// builtin lists the commands this package answers itself; a gated command
// must not shadow one.
func builtin(name string) bool {
	switch name {
	case "start", "buy", "activate", "license", "licenses", "help", "transfer", "mute", "unmute":
		return true
	}
	return AdminCommand(name)
}

// AdminCommand reports whether name is one of the admin commands, which
// adapters hide from members (Discord) and refuse without a core call.
func AdminCommand(name string) bool {
	switch name {
	case "revoke", "lookup", "grant", "extend", "resethwid", "stats", "audit", "failed", "replay", "sync", "broadcast", "refund", "dashboard":
		return true
	}
	return false
}

// New checks opts and builds a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Shop == nil {
		return nil, errors.New("commands: Options.Shop is required")
	}
	h := &Handler{
		shop:      opts.Shop,
		ops:       opts.Admin,
		account:   opts.Account,
		products:  opts.Products,
		byID:      make(map[string]config.Product, len(opts.Products)),
		gated:     make(map[string]config.GatedCommand, len(opts.Gated)),
		classify:  opts.Classify,
		log:       opts.Logger,
		announcer: opts.Announcer,
		terms:     opts.Terms,
		words:     opts.Words,
		langs:     opts.Languages,
		pay:       opts.Payments,
		dash:      opts.Dashboard,
	}
	if h.words == nil {
		h.words = englishOnly().c
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if a, ok := opts.Shop.(Admin); ok && h.ops == nil {
		h.ops = a
	}
	if a, ok := opts.Shop.(Account); ok && h.account == nil {
		h.account = a
	}
	for _, p := range opts.Products {
		if _, dup := h.byID[p.ID]; dup {
			return nil, fmt.Errorf("commands: product %q is listed twice", p.ID)
		}
		h.byID[p.ID] = p
	}
	for _, g := range opts.Gated {
		name := strings.ToLower(g.Command)
		switch {
		case !commandName.MatchString(name):
			return nil, fmt.Errorf("commands: gated command %q: use 1-32 of a-z, 0-9, _", g.Command)
		case builtin(name):
			return nil, fmt.Errorf("commands: gated command %q shadows a built-in command", g.Command)
		}
		if _, dup := h.gated[name]; dup {
			return nil, fmt.Errorf("commands: gated command %q is listed twice", g.Command)
		}
		h.gated[name] = g
		h.gatedCmd = append(h.gatedCmd, name)
	}
	return h, nil
}

// Handle answers one command.
func (h *Handler) Handle(ctx context.Context, req Request) Reply {
	h.heard(ctx, req)
	cmd := strings.ToLower(strings.TrimPrefix(req.Command, "/"))
	switch cmd {
	case "":
		if req.Private {
			return Reply{Text: h.to(req).say("chat.chatter")}
		}
		return Reply{}
	case "start":
		return h.start(ctx, req)
	case "buy":
		return h.buyCommand(ctx, req)
	case "activate":
		return h.activate(ctx, req, strings.Join(req.Args, " "))
	case "license", "licenses":
		return h.licenses(ctx, req)
	case "help":
		return h.help(req)
	case "transfer":
		return h.transfer(ctx, req)
	case "broadcast":
		return h.broadcast(ctx, req)
	case "mute", "unmute":
		return h.mute(ctx, req, cmd == "mute")
	case "dashboard":
		return h.dashboard(ctx, req)
	case "revoke":
		return h.admin(ctx, req, cmd, h.revoke)
	case "lookup":
		return h.admin(ctx, req, cmd, h.lookup)
	case "refund":
		return h.admin(ctx, req, cmd, h.refund)
	case "grant", "extend", "resethwid", "stats", "audit", "failed", "replay", "sync":
		return h.adminOp(ctx, req, cmd)
	}
	if g, ok := h.gated[cmd]; ok {
		return h.gatedCommand(ctx, req, cmd, g)
	}
	if !req.Private {
		// In a shared chat the command was probably for another bot.
		return Reply{}
	}
	return Reply{Text: h.to(req).say("chat.unknown_command"), Ephemeral: true}
}

// Callback answers a pressed button whose payload is data.
func (h *Handler) Callback(ctx context.Context, req Request, data string) Reply {
	h.heard(ctx, req)
	switch {
	case strings.HasPrefix(data, dataBuy):
		return h.buy(ctx, req, strings.TrimPrefix(data, dataBuy), "")
	case strings.HasPrefix(data, dataActivate):
		return h.activate(ctx, req, strings.TrimPrefix(data, dataActivate))
	case strings.HasPrefix(data, dataBroadcast):
		return h.confirmBroadcast(ctx, req, strings.TrimPrefix(data, dataBroadcast))
	case strings.HasPrefix(data, dataTerms):
		return h.acceptTerms(ctx, req, strings.TrimPrefix(data, dataTerms))
	case strings.HasPrefix(data, dataCancelSub):
		return h.cancelSub(ctx, req, strings.TrimPrefix(data, dataCancelSub))
	}
	return Reply{Text: h.to(req).say("chat.stale_button"), Ephemeral: true}
}

// start is /start, optionally with a deep-link payload.
func (h *Handler) start(ctx context.Context, req Request) Reply {
	payload := firstArg(req.Args)
	l := h.to(req)
	switch {
	case strings.HasPrefix(payload, "buy_"):
		id, code := startBuy(strings.TrimPrefix(payload, "buy_"))
		return h.buy(ctx, req, id, code)
	case payload == "license":
		return h.licenses(ctx, req)
	case payload == "activate":
		return Reply{Text: l.say("activate.usage"), Ephemeral: true}
	case payload == "transfer":
		return Reply{Text: l.say("transfer.usage"), Ephemeral: true}
	case strings.HasPrefix(payload, "cmd_"):
		name := strings.TrimPrefix(payload, "cmd_")
		if g, ok := h.gated[name]; ok {
			return h.gatedCommand(ctx, req, name, g)
		}
	}
	if !req.Private {
		return goPrivate(l, l.say("private.go"), "help")
	}
	r := h.catalog(req)
	r.Text = l.say("start.welcome") + "\n\n" + r.Text
	return r
}

// help lists the commands this user may run.
func (h *Handler) help(req Request) Reply {
	var b strings.Builder
	l := h.to(req)
	b.WriteString(l.say("help.header"))
	userCount := len(h.Menu(false))
	for i, e := range h.Menu(req.Admin) {
		if i < userCount {
			e.Description = l.say(menuKeys[e.Description])
		}
		if i == userCount {
			b.WriteString("\n\n" + msgHelpAdminHeader)
		}
		b.WriteByte('\n')
		if args := helpArgs(e.Command, req.Who.Platform == identity.Discord); args != "" {
			fmt.Fprintf(&b, msgHelpArgsLine, e.Command, args, e.Description)
		} else {
			fmt.Fprintf(&b, msgHelpLine, e.Command, plain(e.Description))
		}
	}
	return Reply{Text: b.String(), Ephemeral: true}
}

// menuKeys maps the description of each buyer command to its message key,
// so /help speaks the reader's language (the platforms' command menus are
// registered once, in English).
var menuKeys = map[string]string{
	descBuy: "help.buy", descActivate: "help.activate", descLicense: "help.license",
	descGated: "help.gated", descTransfer: "help.transfer", descHelp: "help.help",
	descMute: "help.mute", descUnmute: "help.unmute",
}

// MenuEntry is one command for a platform's command menu.
type MenuEntry struct {
	Command     string
	Description string
}

// Menu lists the commands to register with the platform; admin adds the
// admin commands. Both adapters register the same list.
func (h *Handler) Menu(admin bool) []MenuEntry {
	m := []MenuEntry{
		{"buy", descBuy},
		{"activate", descActivate},
		{"license", descLicense},
	}
	for _, name := range h.gatedCmd {
		m = append(m, MenuEntry{name, descGated})
	}
	m = append(m, MenuEntry{"transfer", descTransfer}, MenuEntry{"help", descHelp})
	if h.announcer != nil {
		m = append(m, MenuEntry{"mute", descMute}, MenuEntry{"unmute", descUnmute})
	}
	if admin {
		m = append(m,
			MenuEntry{"revoke", descRevoke},
			MenuEntry{"lookup", descLookup},
			MenuEntry{"grant", descGrant},
			MenuEntry{"extend", descExtend},
			MenuEntry{"resethwid", descReset},
			MenuEntry{"stats", descStats},
			MenuEntry{"audit", descAudit},
			MenuEntry{"failed", descFailed},
			MenuEntry{"replay", descReplay},
			MenuEntry{"sync", descSync},
		)
		if h.announcer != nil {
			m = append(m, MenuEntry{"broadcast", descBroadcast})
		}
		if h.pay != nil {
			m = append(m, MenuEntry{"refund", descRefund})
		}
		if h.dash != nil {
			m = append(m, MenuEntry{"dashboard", descDashboard})
		}
	}
	return m
}

// fail turns a Shop error into a reply. Unclassified errors are logged in
// full (they are ours to fix); classified ones are expected outcomes.
func (h *Handler) fail(ctx context.Context, req Request, op string, err error) Reply {
	p := h.problem(err)
	if p.Kind == KindUnknown {
		h.log.ErrorContext(ctx, "chat command failed", "op", op, "err", err)
	} else {
		h.log.DebugContext(ctx, "chat command refused", "op", op, "kind", int(p.Kind), "err", err)
	}
	return Reply{Text: problemIn(h.to(req), p), Ephemeral: true}
}

func (h *Handler) problem(err error) Problem {
	if h.classify == nil || err == nil {
		return Problem{}
	}
	return h.classify(err)
}

// goPrivate is the answer in a shared chat to something that must happen
// in the private chat.
func goPrivate(l reader, text, payload string) Reply {
	return Reply{
		Text:      text,
		Buttons:   [][]Button{{{Label: l.say("private.open_button"), Start: payload}}},
		Ephemeral: true,
	}
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// plain keeps outside text from opening a monospaced span.
func plain(s string) string { return strings.ReplaceAll(s, "`", "'") }
