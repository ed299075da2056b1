// Package telegram is shopbot's Telegram adapter, built on
// github.com/go-telegram/bot. It parses messages and button presses into
// commands.Requests, renders commands.Replies as HTML messages with inline
// keyboards, and implements notify.Sender: direct messages to buyers,
// admin alerts, and members-only group access (SyncAccess).
//
// Updates arrive by long polling or by webhook (WebhookHandler, mounted
// by the caller at /webhooks/telegram). Each command is first admitted by
// the sender's budget (bots/budget): a flood is dropped before any work.
// Every outgoing message goes through an outbox (bots/outbox) paced like
// Telegram's limits, where deliveries and alerts go before replies and a
// busy chat waits alone; a 429 holds the chat for its retry_after. Keys
// never appear in logs.
package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-telegram/bot"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/outbox"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/keylock"
	"github.com/shopbot/shopbot/internal/run"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/words"
)

// Modes of receiving updates.
const (
	ModePolling = "polling"
	ModeWebhook = "webhook"
)

// WebhookPath is where the caller mounts WebhookHandler; the webhook URL
// registered with Telegram is PublicURL + WebhookPath.
const WebhookPath = "/webhooks/telegram"

// Options configures the adapter. Fields after Logger have defaults that
// suit production; tests shorten them.
type Options struct {
	Token string
	// APIURL is the Bot API root; default https://api.telegram.org.
	APIURL        string
	Mode          string // ModePolling (default) or ModeWebhook
	WebhookSecret string // required in webhook mode
	PublicURL     string // required in webhook mode
	Admins        []int64
	Commands      *commands.Handler
	Products      []config.Product
	// Entitled lists the products who is entitled to now, from stored
	// state. With it the members-only chats are gated (gate.go): members
	// without a license are removed and join requests answered.
	Entitled func(ctx context.Context, who identity.Identity) ([]string, error)
	// Members remembers who was seen in those chats, for SweepMembers;
	// optional.
	Members MemberStore
	// OnRemoval is told of each removal by the gate (audit, counters,
	// admin feed); optional.
	OnRemoval func(ctx context.Context, r notify.Removal)
	// Budget admits each command before any work; nil makes one with
	// the defaults. Give each platform its own, so their counters and
	// caps stay apart.
	Budget *budget.Budget
	// Pacing limits outgoing messages; zero fields take Telegram's limits.
	Pacing Pacing
	// HTTPClient makes every API call. Its Timeout, if set, must exceed
	// PollTimeout or long polls are cut short.
	HTTPClient *http.Client
	Logger     *slog.Logger

	PollTimeout    time.Duration // long-poll wait; default 30s
	Workers        int           // library workers dispatching polled updates; default 16
	MaxBodyBytes   int64         // webhook body limit; default 1 MiB
	HandlerTimeout time.Duration // per update; default 60s
	CallTimeout    time.Duration // per API call; default 15s
	MaxRetryAfter  time.Duration // longer 429 waits fail; default 60s
	// Now and Sleep drive pacing and 429 retries; tests inject a fake
	// clock so nothing really waits.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Feed is the admin feed told when the bot lacks its admin rights in
	// a members-only chat (feed.go); nil: not told.
	Feed notify.Alerter
	// Words renders the texts the adapter adds to notices (how to
	// activate, button labels) in the recipient's language
	// (notify.Notice.Lang); nil: English.
	Words *words.Catalog
	// Language, optional, is an identity's remembered language, for the
	// messages the adapter sends on its own (invites, removals).
	Language func(ctx context.Context, who identity.Identity) string
	// Payments takes Telegram Stars payments (stars.go); nil: payments
	// are not handled (pre-checkout queries are refused).
	Payments Payments
	// PreCheckoutTimeout bounds Payments.PreCheckout; a later decision is
	// a refusal the buyer may retry. Default 6s, at most 7s (Telegram
	// waits 10s for the answer).
	PreCheckoutTimeout time.Duration
}

// Bot is the running adapter.
type Bot struct {
	// words renders the texts added to notices (Options.Words).
	words    *words.Catalog
	lang     func(ctx context.Context, who identity.Identity) string
	api      *bot.Bot
	cmds     *commands.Handler
	log      *slog.Logger
	username string
	token    string
	apiURL   string
	client   *http.Client
	mode     string
	secret   string
	hookURL  string
	admins   map[int64]bool
	adminIDs []int64

	// chats maps each members-only chat to the products that grant it.
	chats   map[int64][]config.Product
	chatIDs []int64
	// exempts maps each chat to the user ids its products exempt from
	// the gate.
	exempts   map[int64]map[int64]bool
	entitled  func(context.Context, identity.Identity) ([]string, error)
	members   MemberStore
	onRemoval func(context.Context, notify.Removal)
	gateLocks keylock.Map
	cursorMu  sync.Mutex
	cursor    sweepCursor // where the periodic SweepMembers stopped

	maxBody        int64
	handlerTimeout time.Duration
	callTimeout    time.Duration
	maxRetryAfter  time.Duration
	now            func() time.Time
	sleep          func(context.Context, time.Duration) error
	out            *outbox.Outbox
	budget         *budget.Budget
	rateLimited    atomic.Uint64
	inflight       run.Gate // webhook updates in progress; Run waits for them
	detached       run.Gate // polled commands running off the library's workers; Run waits for them
	seen           *recent
	processed      atomic.Int64
	invites        inviteMemo
	runOnce        sync.Once
	feed           notify.Alerter
	rightsAlerts   rightsMemo
	payments       Payments
	decideWithin   time.Duration // Options.PreCheckoutTimeout
}

var _ notify.Sender = (*Bot)(nil)

// secretShape is what Telegram accepts as secret_token.
var secretShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

// allowedUpdates are the only update kinds the adapter handles; asking
// for no others keeps Telegram from sending them.
// chat_member and chat_join_request feed the members-only gate;
// pre_checkout_query is asked for even without Payments, so that a stray
// Stars invoice is refused at once instead of left to time out.
func allowedUpdates() []string {
	return []string{"message", "callback_query", "chat_member", "chat_join_request", "pre_checkout_query"}
}

// New checks opts, asks Telegram who the bot is (getMe, for deep links
// and @mentions) and returns the adapter. Nothing is received until Run.
func New(ctx context.Context, opts Options) (_ *Bot, err error) {
	// A Sleep given by the caller is a test clock; the outbox then waits
	// through it too. Production's outbox waits on timers.
	paceSleep := opts.Sleep
	if err := check(&opts); err != nil {
		return nil, err
	}
	pacing := opts.Pacing.outboxOptions()
	pacing.RetryAfter, pacing.Now, pacing.Sleep = retryAfter, opts.Now, paceSleep
	pacing.Logger = opts.Logger
	b := &Bot{
		words:          opts.Words,
		lang:           opts.Language,
		feed:           opts.Feed,
		payments:       opts.Payments,
		decideWithin:   opts.PreCheckoutTimeout,
		rightsAlerts:   rightsMemo{m: map[int64]time.Time{}},
		cmds:           opts.Commands,
		log:            opts.Logger,
		token:          opts.Token,
		apiURL:         strings.TrimRight(opts.APIURL, "/"),
		client:         opts.HTTPClient,
		mode:           opts.Mode,
		secret:         opts.WebhookSecret,
		admins:         map[int64]bool{},
		chats:          map[int64][]config.Product{},
		exempts:        map[int64]map[int64]bool{},
		entitled:       opts.Entitled,
		members:        opts.Members,
		onRemoval:      opts.OnRemoval,
		maxBody:        opts.MaxBodyBytes,
		handlerTimeout: opts.HandlerTimeout,
		callTimeout:    opts.CallTimeout,
		maxRetryAfter:  opts.MaxRetryAfter,
		now:            opts.Now,
		sleep:          opts.Sleep,
		out:            outbox.New(pacing),
		budget:         opts.Budget,
		seen:           newRecent(1024),
		invites:        inviteMemo{m: map[[2]int64]time.Time{}},
	}
	defer func() {
		if err != nil {
			b.out.Close(ctx)
		}
	}()
	if b.mode == ModeWebhook {
		b.hookURL = strings.TrimRight(opts.PublicURL, "/") + WebhookPath
	}
	for _, id := range opts.Admins {
		if !b.admins[id] {
			b.admins[id] = true
			b.adminIDs = append(b.adminIDs, id)
		}
	}
	for _, p := range opts.Products {
		for _, c := range p.TelegramChatIDs {
			if len(b.chats[c]) == 0 {
				b.chatIDs = append(b.chatIDs, c)
			}
			b.chats[c] = append(b.chats[c], p)
			for _, id := range p.TelegramExemptUserIDs {
				if b.exempts[c] == nil {
					b.exempts[c] = map[int64]bool{}
				}
				b.exempts[c][id] = true
			}
		}
	}
	sort.Slice(b.chatIDs, func(i, j int) bool { return b.chatIDs[i] < b.chatIDs[j] })

	api, err := bot.New(opts.Token,
		bot.WithSkipGetMe(),
		bot.WithServerURL(b.apiURL),
		bot.WithHTTPClient(opts.PollTimeout, opts.HTTPClient),
		bot.WithDefaultHandler(b.onUpdate),
		// onUpdate runs inside the library's workers, so Start returns
		// only after every update taken is dispatched (the commands it
		// detached are waited for by Run); and an unbuffered queue
		// means no update is taken from Telegram that no worker holds.
		bot.WithNotAsyncHandlers(),
		bot.WithWorkers(opts.Workers),
		bot.WithUpdatesChannelCap(0),
		bot.WithAllowedUpdates(allowedUpdates()),
		bot.WithErrorsHandler(func(err error) {
			b.log.Warn("telegram client error", "err", b.redact(err))
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("telegram: %w", err)
	}
	b.api = api
	err = b.do(ctx, 0, func(ctx context.Context) error {
		me, err := api.GetMe(ctx)
		if err == nil {
			b.username = me.Username
		}
		return err
	})
	if err != nil {
		if errors.Is(err, bot.ErrorUnauthorized) {
			return nil, fmt.Errorf("%w: getMe: %s (check telegram.token)", ErrUnauthorized, b.redact(err))
		}
		return nil, fmt.Errorf("telegram: getMe (check telegram.api_url, or Telegram is unreachable): %s", b.redact(err))
	}
	if len(b.chatIDs) > 0 && b.entitled == nil {
		b.log.Warn("telegram: members-only chats are not gated: no entitlement source")
	}
	b.log.Info("telegram bot ready", "username", b.username, "mode", b.mode, "admins", len(b.adminIDs), "access_chats", len(b.chatIDs))
	return b, nil
}

// check fills defaults and rejects unusable options.
func check(o *Options) error {
	switch {
	case strings.TrimSpace(o.Token) == "":
		return errors.New("telegram: token is required")
	case o.Commands == nil:
		return errors.New("telegram: Options.Commands is required")
	}
	if o.Mode == "" {
		o.Mode = ModePolling
	}
	switch o.Mode {
	case ModePolling:
	case ModeWebhook:
		if !secretShape.MatchString(o.WebhookSecret) {
			return errors.New("telegram: webhook mode needs telegram.webhook_secret of 1-256 characters A-Z, a-z, 0-9, _ and -")
		}
		if u, err := url.Parse(o.PublicURL); err != nil || u.Host == "" {
			return errors.New("telegram: webhook mode needs server.public_url (the webhook is public_url + " + WebhookPath + ")")
		}
	default:
		return fmt.Errorf("telegram: mode %q: want %q or %q", o.Mode, ModePolling, ModeWebhook)
	}
	if o.APIURL == "" {
		o.APIURL = "https://api.telegram.org"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollTimeout <= 0 {
		o.PollTimeout = 30 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: o.PollTimeout + 15*time.Second}
	}
	if t := o.HTTPClient.Timeout; t > 0 && t <= o.PollTimeout+time.Second {
		// A client timeout shorter than the long poll would cut every
		// poll off with an error; poll for less instead.
		o.PollTimeout = max(t/2, 2*time.Second)
	}
	if o.Workers <= 0 {
		// Commands do not hold a worker; several let a slow payment or
		// gate check (each bounded by its own timeout) leave the others
		// reading.
		o.Workers = 16
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = time.Minute
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PreCheckoutTimeout <= 0 {
		o.PreCheckoutTimeout = preCheckoutDecideWithin
	}
	// The answer itself needs the rest of the 8 s.
	o.PreCheckoutTimeout = min(o.PreCheckoutTimeout, preCheckoutAnswerWithin-time.Second)
	if o.Budget == nil {
		o.Budget = budget.New(budget.Options{Now: o.Now})
	}
	if o.Sleep == nil {
		o.Sleep = run.Sleep
	}
	return nil
}

// ErrUnauthorized means Telegram refused the token: retrying cannot help.
var ErrUnauthorized = errors.New("telegram: the bot token was refused")

// Username is the bot's @username without the @.
func (b *Bot) Username() string { return b.username }

// DeepLink opens the bot's private chat and sends /start payload.
func (b *Bot) DeepLink(payload string) string {
	return "https://t.me/" + b.username + "?start=" + url.QueryEscape(payload)
}

// Run registers the command menu, then receives updates until ctx ends:
// long polling, or (webhook mode) registering the webhook and leaving the
// receiving to WebhookHandler. It returns after in-flight updates have
// finished. Run is meant to be called once.
func (b *Bot) Run(ctx context.Context) error {
	started := false
	b.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("telegram: Run called twice")
	}
	defer b.inflight.Close()
	if err := b.setCommands(ctx); err != nil {
		b.log.Warn("telegram: could not set the command menu", "err", err)
	}
	if b.mode == ModeWebhook {
		if err := b.setWebhook(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	}
	// Telegram refuses getUpdates while a webhook is set (409), e.g. after
	// switching modes; dropping it keeps pending updates.
	err := b.do(ctx, 0, func(ctx context.Context) error {
		_, err := b.api.DeleteWebhook(ctx, &bot.DeleteWebhookParams{})
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: deleteWebhook: %s", b.redact(err))
	}
	b.log.Info("telegram polling started")
	b.api.Start(ctx)
	// The workers have stopped, so no command is detached any more;
	// the ones running finish before their updates are confirmed.
	b.detached.Close()
	b.confirmProcessed(ctx)
	return nil
}

// Setup does the one-time platform set-up of `shopbot setup telegram`: the
// command menus, and the webhook in webhook mode (Run does both again at
// every start, so a changed config takes effect without it).
func (b *Bot) Setup(ctx context.Context) error {
	if err := b.setCommands(ctx); err != nil {
		return err
	}
	if b.mode == ModeWebhook {
		return b.setWebhook(ctx)
	}
	return nil
}

func (b *Bot) setWebhook(ctx context.Context) error {
	err := b.do(ctx, 0, func(ctx context.Context) error {
		_, err := b.api.SetWebhook(ctx, &bot.SetWebhookParams{URL: b.hookURL, SecretToken: b.secret, AllowedUpdates: allowedUpdates()})
		return err
	})
	if err != nil {
		return fmt.Errorf("telegram: setWebhook %s: %s", b.hookURL, b.redact(err))
	}
	b.log.Info("telegram webhook registered", "url", b.hookURL)
	return nil
}

// setCommands publishes the command menu: the user list for everyone and
// the longer list in each admin's private chat. Only the first can fail the
// call: an admin who never opened the bot has no chat to scope a menu to.
func (b *Bot) setCommands(ctx context.Context) error {
	set := func(admin bool, scope int64) error {
		params := &bot.SetMyCommandsParams{Commands: menu(b.cmds.Menu(admin))}
		if scope != 0 {
			params.Scope = scopeChat(scope)
		}
		return b.do(ctx, 0, func(ctx context.Context) error {
			_, err := b.api.SetMyCommands(ctx, params)
			return err
		})
	}
	if err := set(false, 0); err != nil {
		return fmt.Errorf("telegram: setMyCommands: %s", b.redact(err))
	}
	for _, id := range b.adminIDs {
		if err := set(true, id); err != nil {
			// Usually "chat not found": the admin never opened the bot.
			b.log.Info("telegram: could not set the admin command menu", "admin", id, "err", b.redact(err))
		}
	}
	return nil
}

// confirmProcessed tells Telegram, after polling stopped, that every
// update handled so far is done, so a restart does not handle them
// again. Updates taken but not handled stay unconfirmed and come back.
func (b *Bot) confirmProcessed(ctx context.Context) {
	last := b.processed.Load()
	if last == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	form := url.Values{"offset": {strconv.FormatInt(last+1, 10)}, "limit": {"1"}, "timeout": {"0"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.apiURL+"/bot"+b.token+"/getUpdates", strings.NewReader(form.Encode()))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		b.log.Warn("telegram: could not confirm handled updates; they may be handled again after restart", "err", b.redact(err))
		return
	}
	resp.Body.Close()
}

// redact removes the token from error text before it is logged or
// wrapped: the library's errors can carry request URLs.
func (b *Bot) redact(err error) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), b.token, "<token>")
}

// say renders a catalog message for who in their remembered language.
func (b *Bot) say(ctx context.Context, who identity.Identity, key string, args ...any) string {
	lang := ""
	if b.lang != nil {
		lang = b.lang(ctx, who)
	}
	return commands.Say(b.words, lang, key, args...)
}
