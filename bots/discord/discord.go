// Package discord is shopbot's Discord adapter, built on
// github.com/bwmarrin/discordgo. It registers the shop's slash commands
// for one guild, turns interactions into commands.Requests and renders
// commands.Replies as ephemeral messages with link and custom_id buttons,
// and implements notify.Sender: direct messages to buyers, admin alerts,
// and product roles (SyncAccess).
//
// Interactions arrive over the gateway websocket (Run, mode "gateway") or
// as signed HTTP POSTs (InteractionsHandler, mounted by the caller at
// /discord/interactions, mode "http"); one handler serves both. Anything
// that may call Stripe or AuthForge is answered DEFERRED at once and
// edited when done, because Discord wants a first answer within three
// seconds.
//
// REST calls go through a per-Session http.Client whose transport sends
// discord.com requests to Options.APIURL, so nothing in discordgo's
// package-level endpoints is changed. 429 answers are retried after their
// retry_after (bounded by MaxRetryAfter and the call's context). Keys
// never appear in logs.
package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/run"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/words"
)

// Interaction modes.
const (
	ModeGateway = "gateway"
	ModeHTTP    = "http"
)

// InteractionsPath is where the caller mounts InteractionsHandler; the
// Interactions Endpoint URL in the Developer Portal is public_url + this.
const InteractionsPath = "/discord/interactions"

// DefaultAPIURL is Discord's REST root.
const DefaultAPIURL = "https://discord.com"

// Options configures the adapter. Fields after Logger have defaults that
// suit production; tests shorten them.
type Options struct {
	Token         string
	ApplicationID string
	// PublicKey verifies HTTP interactions; required in http mode.
	PublicKey ed25519.PublicKey
	GuildID   string
	// APIURL is the REST root serving /api/v10/...; default
	// https://discord.com.
	APIURL string
	// Interactions is ModeGateway (default) or ModeHTTP.
	Interactions string
	// GatewayURL, when set, is used instead of the URL that GET /gateway
	// returns (tests, emulators).
	GatewayURL   string
	AdminRoleIDs []string
	AdminUserIDs []string
	// Commands answers every command; its Menu is what gets registered.
	Commands *commands.Handler
	// Budget admits each command before any work; nil makes one with
	// the defaults.
	Budget *budget.Budget
	// Products give DiscordRoleIDs for SyncAccess and /buy's choices.
	Products []config.Product
	// Gated are the gated commands (also in Commands' menu); optional.
	Gated []config.GatedCommand
	// Entitled lists the products who is entitled to now; when set, a
	// member who rejoins the guild gets their roles back at once.
	Entitled func(ctx context.Context, who identity.Identity) ([]string, error)
	// OnRemoval is told of each product role taken back because no
	// license grants it (gate.go); optional.
	OnRemoval  func(ctx context.Context, r notify.Removal)
	HTTPClient *http.Client
	Logger     *slog.Logger

	MaxBodyBytes   int64         // HTTP interaction body limit; default 1 MiB
	HandlerTimeout time.Duration // per interaction; default 60s
	CallTimeout    time.Duration // per REST call, 429 waits included; default 30s
	MaxRetryAfter  time.Duration // longer 429 waits fail; default 60s
	AlertEvery     time.Duration // role permission alerts per role; default 1h
	// Now and Sleep drive timestamp checks, alert pacing and 429 waits.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Feed is the admin feed a missing permission is told through;
	// nil: the admins' private chats.
	Feed notify.Alerter
	// Words renders the texts the adapter adds to notices (how to
	// activate, button labels) in the recipient's language
	// (notify.Notice.Lang); nil: English.
	Words *words.Catalog
	// Language, optional, is an identity's remembered language, for the
	// messages the adapter sends on its own (invites, removals).
	Language func(ctx context.Context, who identity.Identity) string
}

// Bot is the running adapter.
type Bot struct {
	// words renders the texts added to notices (Options.Words).
	words    *words.Catalog
	lang     func(ctx context.Context, who identity.Identity) string
	s        *discordgo.Session
	cmds     *commands.Handler
	log      *slog.Logger
	appID    string
	guild    string
	botID    string
	mode     string
	pub      ed25519.PublicKey
	entitled func(context.Context, identity.Identity) ([]string, error)

	adminUsers map[string]bool
	adminRoles map[string]bool
	adminIDs   []string
	products   []config.Product
	known      map[string]bool // registered command names
	// productRoles maps product id → role ids; allRoles lists every role
	// any product grants, sorted.
	productRoles map[string][]string
	allRoles     []string
	// isProductRole marks allRoles; exemptRoles maps a user id to the
	// product roles discord_exempt_user_ids lets them keep.
	isProductRole map[string]bool
	exemptRoles   map[string]map[string]bool
	onRemoval     func(context.Context, notify.Removal)
	cursorMu      sync.Mutex
	cursor        string // where the bounded SweepRoles stopped

	maxBody        int64
	handlerTimeout time.Duration
	callTimeout    time.Duration
	maxRetryAfter  time.Duration
	alertEvery     time.Duration
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error

	budget      *budget.Budget
	rateLimited atomic.Uint64 // 429 answers
	inflight    run.Gate      // interactions in progress; Run waits for them
	alerts      alertMemo
	feed        notify.Alerter
	runOnce     sync.Once
}

var _ notify.Sender = (*Bot)(nil)

// Stats are the adapter's crowd counters for /metrics and /stats.
type Stats struct {
	Budget      budget.Stats
	RateLimited uint64 // 429 answers from Discord's REST API
}

// Stats reads the counters.
func (b *Bot) Stats() Stats {
	return Stats{Budget: b.budget.Stats(), RateLimited: b.rateLimited.Load()}
}

// ErrUnauthorized means Discord refused the bot token: retrying cannot
// help.
var ErrUnauthorized = errors.New("discord: the bot token was refused")

// ParsePublicKey reads the hex public key shown in the Developer Portal.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("discord: public_key must be the 64 hex characters shown under General Information in the Developer Portal")
	}
	return ed25519.PublicKey(b), nil
}

// New checks opts, asks Discord who the bot is (GET /users/@me, which also
// proves the token) and returns the adapter. Nothing is received until Run
// or InteractionsHandler.
func New(ctx context.Context, opts Options) (*Bot, error) {
	apiURL, err := check(&opts)
	if err != nil {
		return nil, err
	}
	token := opts.Token
	if !strings.HasPrefix(token, "Bot ") {
		token = "Bot " + token
	}
	s, err := discordgo.New(token)
	if err != nil {
		return nil, fmt.Errorf("discord: %w", err)
	}
	client := *opts.HTTPClient
	client.Transport = &rewriter{base: opts.HTTPClient.Transport, api: apiURL, gateway: opts.GatewayURL}
	s.Client = &client
	s.StateEnabled = false
	s.ShouldRetryOnRateLimit = false
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMembers

	b := &Bot{
		words:          opts.Words,
		lang:           opts.Language,
		s:              s,
		cmds:           opts.Commands,
		log:            opts.Logger,
		appID:          opts.ApplicationID,
		guild:          opts.GuildID,
		mode:           opts.Interactions,
		pub:            opts.PublicKey,
		entitled:       opts.Entitled,
		adminUsers:     map[string]bool{},
		adminRoles:     map[string]bool{},
		products:       opts.Products,
		known:          map[string]bool{},
		productRoles:   map[string][]string{},
		isProductRole:  map[string]bool{},
		exemptRoles:    map[string]map[string]bool{},
		onRemoval:      opts.OnRemoval,
		maxBody:        opts.MaxBodyBytes,
		handlerTimeout: opts.HandlerTimeout,
		callTimeout:    opts.CallTimeout,
		maxRetryAfter:  opts.MaxRetryAfter,
		alertEvery:     opts.AlertEvery,
		now:            opts.Now,
		sleep:          opts.Sleep,
		budget:         opts.Budget,
		alerts:         alertMemo{m: map[string]time.Time{}},
		feed:           opts.Feed,
	}
	for _, id := range opts.AdminUserIDs {
		if !b.adminUsers[id] {
			b.adminUsers[id] = true
			b.adminIDs = append(b.adminIDs, id)
		}
	}
	for _, id := range opts.AdminRoleIDs {
		b.adminRoles[id] = true
	}
	// Every command the handler serves; gated commands are among them,
	// and Options.Gated is only a cross-check of the same list.
	for _, e := range opts.Commands.Menu(true) {
		b.known[e.Command] = true
	}
	for _, g := range opts.Gated {
		b.known[strings.ToLower(g.Command)] = true
	}
	seen := map[string]bool{}
	for _, p := range opts.Products {
		b.productRoles[p.ID] = p.DiscordRoleIDs
		for _, r := range p.DiscordRoleIDs {
			if !seen[r] {
				seen[r] = true
				b.allRoles = append(b.allRoles, r)
			}
			b.isProductRole[r] = true
			for _, u := range p.DiscordExemptUserIDs {
				if b.exemptRoles[u] == nil {
					b.exemptRoles[u] = map[string]bool{}
				}
				b.exemptRoles[u][r] = true
			}
		}
	}
	sort.Strings(b.allRoles)

	var me *discordgo.User
	err = b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		me, err = s.User("@me", o...)
		return err
	})
	if err != nil {
		var rest *discordgo.RESTError
		if errors.As(err, &rest) && rest.Response != nil && rest.Response.StatusCode == http.StatusUnauthorized {
			return nil, fmt.Errorf("%w: GET /users/@me (check discord.token): %w", ErrUnauthorized, err)
		}
		return nil, fmt.Errorf("discord: GET /users/@me (check discord.api_url, or Discord is unreachable): %w", err)
	}
	b.botID = me.ID
	s.AddHandler(b.onInteractionCreate)
	s.AddHandler(b.onMemberAdd)
	s.AddHandler(b.onMemberUpdate)
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Disconnect) { b.log.Info("discord gateway disconnected") })
	s.AddHandler(func(_ *discordgo.Session, _ *discordgo.Connect) { b.log.Info("discord gateway connected") })
	b.log.Info("discord bot ready", "user", me.Username, "mode", b.mode, "guild", b.guild,
		"admin_users", len(b.adminIDs), "admin_roles", len(b.adminRoles), "product_roles", len(b.allRoles))
	return b, nil
}

// check fills defaults, rejects unusable options and returns the parsed
// API root.
func check(o *Options) (*url.URL, error) {
	switch {
	case strings.TrimSpace(o.Token) == "":
		return nil, errors.New("discord: discord.token is required")
	case strings.TrimSpace(o.ApplicationID) == "":
		return nil, errors.New("discord: discord.application_id is required")
	case strings.TrimSpace(o.GuildID) == "":
		return nil, errors.New("discord: discord.guild_id is required (the server the shop runs in)")
	case o.Commands == nil:
		return nil, errors.New("discord: Options.Commands is required")
	}
	if o.Interactions == "" {
		o.Interactions = ModeGateway
	}
	switch o.Interactions {
	case ModeGateway:
	case ModeHTTP:
		if len(o.PublicKey) != ed25519.PublicKeySize {
			return nil, errors.New("discord: http interactions need discord.public_key (64 hex characters from the Developer Portal)")
		}
	default:
		return nil, fmt.Errorf("discord: interactions %q: want %q or %q", o.Interactions, ModeGateway, ModeHTTP)
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	u, err := url.Parse(strings.TrimRight(o.APIURL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("discord: api_url %q is not an http(s) URL", o.APIURL)
	}
	if o.GatewayURL != "" {
		if g, err := url.Parse(o.GatewayURL); err != nil || (g.Scheme != "ws" && g.Scheme != "wss") {
			return nil, fmt.Errorf("discord: gateway URL %q is not a ws(s) URL", o.GatewayURL)
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	if o.AlertEvery <= 0 {
		o.AlertEvery = time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Budget == nil {
		o.Budget = budget.New(budget.Options{Now: o.Now})
	}
	if o.Sleep == nil {
		o.Sleep = run.Sleep
	}
	return u, nil
}

// BotUserID is the bot's own user id.
func (b *Bot) BotUserID() string { return b.botID }

// Run registers the slash commands for the guild, then receives
// interactions until ctx ends: over the gateway websocket, or (http mode)
// leaving the receiving to InteractionsHandler. It returns after
// interactions in progress have finished. Run is meant to be called once.
func (b *Bot) Run(ctx context.Context) error {
	started := false
	b.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("discord: Run called twice")
	}
	defer b.inflight.Close()
	if err := b.RegisterCommands(ctx); err != nil {
		// Commands registered earlier keep working; a bad token or a
		// missing scope shows up here and in `shopbot check --online`.
		b.log.Error("discord: could not register slash commands", "err", err)
	}
	if b.mode == ModeHTTP {
		b.log.Info("discord: waiting for HTTP interactions", "path", InteractionsPath)
		<-ctx.Done()
		return nil
	}
	if err := b.s.Open(); err != nil {
		if strings.Contains(err.Error(), "4014") {
			return fmt.Errorf("discord: gateway refused the Server Members intent: enable it in the Developer Portal → Bot → Privileged Gateway Intents: %w", err)
		}
		return fmt.Errorf("discord: open gateway: %w", err)
	}
	b.log.Info("discord gateway session open")
	<-ctx.Done()
	if err := b.s.Close(); err != nil {
		b.log.Warn("discord: closing gateway", "err", err)
	}
	return nil
}

// say renders a catalog message for who in their remembered language.
func (b *Bot) say(ctx context.Context, who identity.Identity, key string, args ...any) string {
	lang := ""
	if b.lang != nil {
		lang = b.lang(ctx, who)
	}
	return commands.Say(b.words, lang, key, args...)
}
