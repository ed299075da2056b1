package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v76/client"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/broadcast"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/dashboard"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/accesslog"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// hooks let tests reach into the wiring without changing it: the zero value
// is what production runs.
type hooks struct {
	// httpClient makes every outgoing call when set (tests: fakes on
	// loopback); nil builds clients with production timeouts.
	httpClient *http.Client
	// listening is told the HTTP server's address once it accepts.
	listening func(addr string)
	// now replaces the clock of the core.
	now func() time.Time
	// unpaced sends chat messages without Telegram's pacing, so tests of
	// other things run at full speed. The crowd tests leave it off.
	unpaced bool
	// retryBase replaces the first wait of the fulfillment worker's
	// backoff (2s) and of start-up retries (1s).
	retryBase time.Duration
	// storeOpened is given the store once it is open, so a test can make
	// the real store fail under the running shop.
	storeOpened func(*store.DB)
	// dashClock replaces the dashboard's clock (sign-in link and session
	// expiry) alone.
	dashClock func() time.Time
}

// Intervals of the background loops.
const (
	sweepInterval = 5 * time.Minute
	// removalFeedEvery spaces the admins' alerts about access removed
	// without a license: a raid of joins makes one alert a minute.
	removalFeedEvery = time.Minute
	catchUpInterval  = 15 * time.Minute
	shutdownTimeout  = 10 * time.Second
	storeLock        = 3 * time.Second
)

// app is the wired shop: one of each part, built in dependency order by
// newApp and stopped in reverse by run.
type app struct {
	cfg    config.Config
	log    *slog.Logger
	db     *store.DB
	router *notify.Router
	lic    *licensing.Service
	stripe *client.API
	worker *checkout.Worker
	hook   *checkout.Webhook
	tg     *telegram.Bot
	dc     *discord.Bot
	mux    *http.ServeMux
	hooks  hooks
	// removals gathers the admin feed's lines about access removed
	// without a license (gate.go).
	removals *removalFeed
	// feed is the admin feed every alert goes through (feed.go).
	feed *notify.Feed
	// broadcasts runs /broadcast jobs (broadcast.go).
	broadcasts *broadcast.Service
	// uses counts gated uses for dispute evidence (terms.go).
	uses *accesslog.Log
	// pay offers the payment rails and takes Stars payments (stars.go).
	pay *payments
	// dash is the web dashboard (dashboard.go); nil when unreachable.
	dash *dashboard.Dashboard
}

// newApp builds everything; nothing receives input until run. On error what
// was opened is closed again.
func newApp(ctx context.Context, cfg config.Config, log *slog.Logger, h hooks) (_ *app, err error) {
	a := &app{cfg: cfg, log: log, router: notify.NewRouter(), mux: http.NewServeMux(), hooks: h, removals: newRemovalFeed()}
	if h.now == nil {
		a.hooks.now = time.Now
	}
	storeKey, err := cfg.StoreKey()
	if err != nil {
		return nil, fmt.Errorf("store.encryption_key: %w", err)
	}
	a.db, err = store.Open(ctx, store.Options{Path: cfg.Store.Path, EncryptionKey: storeKey, LockTimeout: storeLock, Logger: log.With("part", "store")})
	if err != nil {
		return nil, err
	}
	if h.storeOpened != nil {
		h.storeOpened(a.db)
	}
	defer func() {
		if err != nil {
			if a.tg != nil {
				a.tg.Close(ctx)
			}
			a.db.Close()
		}
	}()

	af, err := newAuthForge(cfg, h.httpClient, log)
	if err != nil {
		return nil, err
	}
	a.lic, err = licensing.New(licensing.Options{
		Store:            a.db,
		AuthForge:        af,
		Products:         cfg.Products,
		SessionTTL:       cfg.AuthForge.SessionTTL.Duration,
		Refresh:          cfg.AuthForge.Refresh,
		Notifier:         a.router,
		Clock:            a.hooks.now,
		Logger:           log.With("part", "licensing"),
		ActivationLimit:  cfg.Limits.ActivationAttempts,
		ActivationWindow: cfg.Limits.ActivationWindow.Duration,
		TransferLimit:    cfg.Limits.TransfersPerWindow,
		TransferWindow:   cfg.Limits.TransferWindow.Duration,

		AcceptOutsideKeys: cfg.AuthForge.AcceptOutsideKeys,
		CreditsBalance:    cfg.Alerts.CreditsBalance,
		LowCredits:        cfg.Alerts.LowCreditsMark(),
	})
	if err != nil {
		return nil, err
	}

	if cfg.StripeEnabled() {
		// Without it (a Telegram shop selling only for Stars) a.stripe
		// stays nil: no webhook route, catch-up, checkout or portal.
		a.stripe, err = newStripe(cfg.Stripe, h.httpClient, log)
		if err != nil {
			return nil, err
		}
	}
	a.worker, err = checkout.NewWorker(checkout.WorkerOptions{
		Store:     a.db,
		Licensing: a.lic,
		Notifier:  a.router,
		Products:  cfg.Products,
		Clock:     a.hooks.now,
		Logger:    log.With("part", "fulfillment"),

		BackoffBase:       h.retryBase,
		SubscriptionGrace: cfg.Stripe.SubscriptionGrace.Duration,
		RevokeOnRefund:    cfg.Stripe.RevokeOnRefund,
		RevokeOnDispute:   cfg.Stripe.RevokeOnDispute,
		Evidence:          a.evidence(),
		// a.pay.stars exists once the Telegram bot does, before anything
		// runs.
		StarsRefund: func(ctx context.Context, userID int64, chargeID string) error {
			if a.pay == nil || a.pay.stars == nil {
				return errors.New("telegram is not configured")
			}
			return a.pay.stars.RefundCharge(ctx, userID, chargeID)
		},
		StarsCancel: func(ctx context.Context, userID int64, chargeID string) error {
			if a.pay == nil || a.pay.stars == nil {
				return errors.New("telegram is not configured")
			}
			return a.pay.stars.CancelCharge(ctx, userID, chargeID)
		},
	})
	if err != nil {
		return nil, err
	}

	sh := &shop{lic: a.lic, worker: a.worker, db: a.db, now: a.hooks.now}
	if a.broadcasts, err = a.newBroadcasts(); err != nil {
		return nil, err
	}
	cmdTerms, err := a.wireTerms(sh)
	if err != nil {
		return nil, err
	}
	catalog, err := loadWords(cfg)
	if err != nil {
		return nil, err
	}
	langs := newLanguages(a.db, catalog, log.With("part", "languages"))
	a.router.SetSpeaker(langs)
	a.pay = &payments{cfg: &a.cfg, db: a.db, lic: a.lic, words: catalog}
	var explain func(error) string
	if a.dash, err = a.newDashboard(sh, &explain); err != nil {
		return nil, err
	}
	cmds, err := commands.New(commands.Options{
		Payments:  a.pay,
		Terms:     cmdTerms,
		Shop:      sh,
		Products:  cfg.Products,
		Gated:     cfg.GatedCommands,
		Classify:  classify,
		Logger:    log.With("part", "commands"),
		Announcer: a.broadcasts,
		Words:     catalog,
		Languages: langs,
		Dashboard: dashboardOrNil(a.dash),
	})
	if err != nil {
		return nil, err
	}
	explain = cmds.Explain
	if cfg.TelegramEnabled() {
		opts := telegramOptions(cfg, cmds, h, log.With("part", "telegram"))
		opts.Words, opts.Language = catalog, langs.Of
		opts.Entitled, opts.Members, opts.OnRemoval = a.lic.Entitled, a.db, a.accessRemoved
		opts.Feed = a.router
		opts.Payments = a.pay
		err = a.retryStart(ctx, "telegram", telegram.ErrUnauthorized, func() (err error) {
			a.tg, err = telegram.New(ctx, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		a.router.Register(identity.Telegram, a.tg)
		a.pay.stars, err = checkout.NewStars(checkout.StarsOptions{
			Store: a.db, API: starsAPI{bot: a.tg}, Config: &a.cfg, Wake: a.worker.Wake,
			Logger: log.With("part", "stars"), Clock: a.hooks.now,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.DiscordEnabled() {
		opts, err := discordOptions(cfg, cmds, h, log.With("part", "discord"))
		if err != nil {
			return nil, err
		}
		opts.Entitled = a.lic.Entitled
		opts.OnRemoval = a.accessRemoved
		opts.Feed = a.router
		opts.Words, opts.Language = catalog, langs.Of
		err = a.retryStart(ctx, "discord", discord.ErrUnauthorized, func() (err error) {
			a.dc, err = discord.New(ctx, opts)
			return err
		})
		if err != nil {
			return nil, err
		}
		a.router.Register(identity.Discord, a.dc)
	}
	a.feed = a.newFeed()
	a.router.SetFeed(a.feed)

	if a.stripe != nil {
		sessions, err := checkout.NewSessions(checkout.SessionsOptions{
			Stripe:     a.stripe,
			Store:      a.db,
			Products:   cfg.Products,
			SuccessURL: a.returnURL(cfg.Stripe.SuccessURL, "/checkout/success"),
			CancelURL:  a.returnURL(cfg.Stripe.CancelURL, "/checkout/cancel"),
			Clock:      a.hooks.now,
			Logger:     log.With("part", "checkout"),
		})
		if err != nil {
			return nil, err
		}
		// The sessions come after the bot because the Telegram deep
		// link can be the default return URL; the shop adapter is
		// completed here, before anything receives input.
		sh.sessions = sessions
	}
	sh.billingReturn = a.returnURL("", "/checkout/billing")
	sh.log = log.With("part", "shop")
	sh.chatLoad = a.chatLoad
	sh.sweepAccess = a.sweepAccess

	if err := a.routes(); err != nil {
		return nil, err
	}
	return a, nil
}

// startAttempts bounds retryStart: 1+2+4+8+16 s of waiting by default.
const startAttempts = 6

// retryStart runs a chat adapter's start-up call again while its API is
// unreachable (a restart during a Telegram or Discord outage), with
// doubling waits. A refused token (final) is not retried: the seller must
// fix the config.
func (a *app) retryStart(ctx context.Context, name string, final error, start func() error) error {
	delay := time.Second
	if a.hooks.retryBase > 0 {
		delay = a.hooks.retryBase
	}
	for attempt := 1; ; attempt++ {
		err := start()
		if err == nil || errors.Is(err, final) || attempt == startAttempts {
			return err
		}
		a.log.Warn("chat API unreachable at start; retrying", "part", name, "attempt", attempt, "in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		delay *= 2
	}
}

// returnURL is where Stripe sends the buyer after paying or cancelling: the
// configured URL, else shopbot's own page at public_url, else the bot's chat.
func (a *app) returnURL(configured, page string) string {
	switch {
	case configured != "":
		return configured
	case a.cfg.Server.PublicURL != "":
		return strings.TrimRight(a.cfg.Server.PublicURL, "/") + page
	case a.tg != nil:
		return a.tg.DeepLink("license")
	default:
		return "https://discord.com/channels/" + a.cfg.Discord.GuildID
	}
}

// routes mounts every HTTP endpoint on server.listen.
func (a *app) routes() error {
	a.mux.HandleFunc("GET /healthz", a.health)
	if a.stripe != nil {
		var err error
		a.hook, err = checkout.NewWebhook(checkout.WebhookOptions{
			Secret:       a.cfg.Stripe.WebhookSecret,
			Store:        a.db,
			MaxBodyBytes: a.cfg.Server.MaxBodyBytes,
			Wake:         a.worker.Wake,
			Clock:        a.hooks.now,
			Logger:       a.log.With("part", "webhook"),
		})
		if err != nil {
			return err
		}
		a.mux.Handle("POST /webhooks/stripe", a.hook)
	}
	if a.tg != nil && a.cfg.Telegram.Mode == telegram.ModeWebhook {
		a.mux.Handle("POST "+telegram.WebhookPath, a.tg.WebhookHandler())
	}
	if a.dc != nil && a.cfg.Discord.Interactions == discord.ModeHTTP {
		a.mux.Handle("POST "+discord.InteractionsPath, a.dc.InteractionsHandler())
	}
	if a.cfg.Server.APIToken != "" {
		a.mux.Handle(licensing.EntitlementsPath, a.lic.HTTPHandler(a.cfg.Server.APIToken))
		a.mux.HandleFunc("GET /metrics", a.metrics(a.cfg.Server.APIToken))
		a.mux.HandleFunc("GET "+BackupPath, a.backupHandler(a.cfg.Server.APIToken))
	}
	if a.dash != nil {
		a.mux.Handle(dashboard.Prefix, a.dash)
	}
	a.mux.HandleFunc("GET /checkout/success", returnPage("Payment received",
		"Thank you! Your license key is on its way to your chat. You can close this page."))
	a.mux.HandleFunc("GET /checkout/cancel", returnPage("Payment cancelled",
		"Nothing was charged. You can start again from the chat with /buy."))
	a.mux.HandleFunc("GET /checkout/billing", returnPage("Billing updated",
		"Your subscription settings are saved. You can close this page and return to the chat."))
	return nil
}

// health answers 200 while the store is readable, with the event backlog so
// a monitor can alert on failed fulfillments, and whether commits are
// fsynced (durable: a 200 to Stripe means the event survives a crash).
func (a *app) health(w http.ResponseWriter, r *http.Request) {
	counts, err := a.db.CountEvents(r.Context())
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		a.log.Error("health check: store", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"status":"store unavailable"}`)
		return
	}
	fmt.Fprintf(w, `{"status":"ok","pending_events":%d,"failed_events":%d,"durable":%t}`,
		counts[store.EventPending], counts[store.EventFailed], a.db.Durable())
}

func returnPage(title, text string) http.HandlerFunc {
	page := `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width">` +
		`<title>` + title + `</title><body style="font-family:sans-serif;max-width:32em;margin:4em auto;padding:0 1em">` +
		`<h1>` + title + `</h1><p>` + text + `</p></body>`
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	}
}

// run serves until ctx ends, then stops in order: input first (HTTP and the
// bots), then the fulfillment worker finishes the event in hand, and the
// store closes last. A part that fails stops the others.
func (a *app) run(ctx context.Context) error {
	defer a.db.Close()
	inputCtx, stopInput := context.WithCancelCause(ctx)
	defer stopInput(nil)
	// Work that must finish what it started runs on a context that
	// outlives the input one and is cancelled only after input stopped.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()

	ln, srv, err := a.listen()
	if err != nil {
		return err
	}
	var input, work sync.WaitGroup
	fail := func(part string, err error) {
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("stopping: part failed", "part", part, "err", err)
			stopInput(fmt.Errorf("%s: %w", part, err))
		}
	}
	input.Go(func() { fail("http", a.serve(srv, ln)) })
	if a.tg != nil {
		input.Go(func() { fail("telegram", a.tg.Run(inputCtx)) })
	}
	if a.dc != nil {
		input.Go(func() { fail("discord", a.dc.Run(inputCtx)) })
	}
	work.Go(func() { fail("fulfillment", a.worker.Run(workCtx)) })
	work.Go(func() { fail("sweeper", a.lic.RunSweeper(workCtx, sweepInterval)) })
	if a.hook != nil {
		work.Go(func() { a.runCatchUp(workCtx) })
	}
	if a.pay.stars != nil {
		work.Go(func() { a.pay.stars.RunCatchUp(workCtx, starsCatchUpEvery) })
	}
	if a.cfg.Store.BackupDir != "" {
		work.Go(func() { a.runBackups(workCtx) })
	}
	work.Go(func() { a.runMemberSweep(workCtx, sweepInterval) })
	work.Go(func() { a.runRemovalFeed(workCtx, removalFeedEvery) })
	work.Go(func() { a.feed.Run(workCtx) })
	work.Go(func() { a.broadcasts.Run(workCtx) })
	work.Go(func() { a.uses.Run(workCtx, accessFlushEvery) })
	if a.lic.RefreshMode() == licensing.RefreshEager {
		work.Go(func() { fail("heartbeats", a.lic.RunHeartbeats(workCtx, a.cfg.AuthForge.HeartbeatInterval.Duration)) })
	}
	// public_url is where people and the platforms reach the shop; it
	// differs from listen behind a proxy, and in the demo (the page).
	a.log.Info("shopbot running", "listen", ln.Addr().String(), "public_url", a.cfg.Server.PublicURL, "products", len(a.cfg.Products))
	if a.hooks.listening != nil {
		a.hooks.listening(ln.Addr().String())
	}

	<-inputCtx.Done()
	a.log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		a.log.Warn("http shutdown", "err", err)
	}
	input.Wait()
	stopWork()
	work.Wait()
	if a.tg != nil {
		// Deliveries the worker queued before it stopped still go out.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		a.tg.Close(closeCtx)
		cancel()
	}
	a.log.Info("stopped")
	if cause := context.Cause(inputCtx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// catchUpMeta stores when the last catch-up started, so the next one asks
// Stripe only for what may have been missed since.
const catchUpMeta = "stripe_catchup_since"

// Catch-up windows: the first run looks back over Stripe's own retry
// period; later runs overlap the previous one so an event created while it
// ran is not skipped.
const (
	firstCatchUp   = 72 * time.Hour
	catchUpOverlap = 10 * time.Minute
)

// runCatchUp recovers Stripe events the webhook never delivered (shopbot
// down longer than Stripe retries, a misconfigured endpoint): on start and
// every catchUpInterval, through the same idempotent store and worker. A
// failure is logged and retried at the next tick; the webhook still works.
func (a *app) runCatchUp(ctx context.Context) {
	tick := time.NewTicker(catchUpInterval)
	defer tick.Stop()
	for {
		a.catchUp(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (a *app) catchUp(ctx context.Context) {
	started := a.hooks.now()
	since := started.Add(-firstCatchUp)
	if v, err := a.db.GetMeta(ctx, catchUpMeta); err == nil {
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			since = t.Add(-catchUpOverlap)
		}
	}
	if _, err := a.hook.CatchUp(ctx, a.stripe, since); err != nil {
		if ctx.Err() == nil {
			a.log.Warn("stripe catch-up failed; webhooks still work, retrying later", "err", err)
		}
		return
	}
	if err := a.db.PutMeta(ctx, catchUpMeta, started.UTC().Format(time.RFC3339)); err != nil {
		a.log.Warn("stripe catch-up: saving the watermark", "err", err)
	}
}

// listen opens server.listen before anything is announced, so a port in
// use is a start-up error rather than a log line.
func (a *app) listen() (net.Listener, *http.Server, error) {
	ln, err := net.Listen("tcp", a.cfg.Server.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("server.listen %s: %w", a.cfg.Server.Listen, err)
	}
	srv := &http.Server{
		Handler:           a.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if len(a.cfg.Server.TLSAutocertDomains) > 0 {
		srv.TLSConfig = autocertTLS(a.cfg)
	}
	return ln, srv, nil
}

func (a *app) serve(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}

// newAuthForge builds the AuthForge client from the config.
func newAuthForge(cfg config.Config, hc *http.Client, log *slog.Logger) (*authforge.Client, error) {
	keys, err := cfg.AuthForgePublicKeys()
	if err != nil {
		return nil, fmt.Errorf("authforge.public_keys: %w", err)
	}
	return authforge.New(authforge.Config{
		AppID:      cfg.AuthForge.AppID,
		AppSecret:  cfg.AuthForge.AppSecret,
		PublicKeys: keys,
		APIKey:     cfg.AuthForge.APIKey,
		AuthURL:    cfg.AuthForge.AuthURL,
		APIURL:     cfg.AuthForge.APIURL,
		HTTPClient: hc,
		Logger:     log.With("part", "authforge"),
	})
}

// newStripe builds the Stripe client; api_url points it at stripe-mock in
// tests.
func newStripe(cfg config.Stripe, hc *http.Client, log *slog.Logger) (*client.API, error) {
	return checkout.NewStripeClient(checkout.StripeClientOptions{Key: cfg.SecretKey, APIURL: cfg.APIURL, HTTPClient: hc, Logger: log})
}

// pollingClient has no overall timeout: long polls last PollTimeout, and
// each call is bounded by the adapter's own per-call context.
func pollingClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
}

// telegramOptions is the adapter's configuration, shared by run, check and
// setup.
func telegramOptions(cfg config.Config, cmds *commands.Handler, h hooks, log *slog.Logger) telegram.Options {
	return telegram.Options{
		Token:         cfg.Telegram.Token,
		APIURL:        cfg.Telegram.APIURL,
		Mode:          cfg.Telegram.Mode,
		WebhookSecret: cfg.Telegram.WebhookSecret,
		PublicURL:     cfg.Server.PublicURL,
		Admins:        cfg.Telegram.Admins,
		Commands:      cmds,
		Products:      cfg.Products,
		HTTPClient:    pollingClient(h.httpClient),
		MaxBodyBytes:  cfg.Server.MaxBodyBytes,
		Logger:        log,
		Budget:        commandBudget(cfg.Limits),
		Pacing: telegram.Pacing{
			PerSecond:        float64(cfg.Limits.TelegramPerSecond),
			Burst:            cfg.Limits.TelegramBurst,
			PrivatePerMinute: cfg.Limits.TelegramChatPerMinute,
			GroupPerMinute:   cfg.Limits.TelegramGroupPerMinute,
			ChatBurst:        cfg.Limits.TelegramChatBurst,
			ChatQueue:        cfg.Limits.ReplyQueuePerChat,
			TotalQueue:       cfg.Limits.ReplyQueueTotal,
			Unlimited:        h.unpaced,
		},
	}
}

// commandBudget is one platform's per-identity command budget.
func commandBudget(l config.Limits) *budget.Budget {
	return budget.New(budget.Options{
		PerMinute:   l.CommandsPerMinute,
		Burst:       l.CommandBurst,
		InFlight:    l.CommandsInFlight,
		InFlightAll: l.CommandsInFlightTotal,
	})
}

// discordOptions is the Discord adapter's configuration, shared by run,
// check and setup.
func discordOptions(cfg config.Config, cmds *commands.Handler, h hooks, log *slog.Logger) (discord.Options, error) {
	var pub ed25519.PublicKey
	if cfg.Discord.PublicKey != "" {
		var err error
		if pub, err = discord.ParsePublicKey(cfg.Discord.PublicKey); err != nil {
			return discord.Options{}, fmt.Errorf("discord.public_key: %w", err)
		}
	}
	return discord.Options{
		Token:         cfg.Discord.Token,
		ApplicationID: cfg.Discord.ApplicationID,
		PublicKey:     pub,
		GuildID:       cfg.Discord.GuildID,
		APIURL:        cfg.Discord.APIURL,
		Interactions:  cfg.Discord.Interactions,
		AdminRoleIDs:  cfg.Discord.AdminRoleIDs,
		AdminUserIDs:  cfg.Discord.AdminUserIDs,
		Commands:      cmds,
		Products:      cfg.Products,
		Gated:         cfg.GatedCommands,
		HTTPClient:    h.httpClient,
		MaxBodyBytes:  cfg.Server.MaxBodyBytes,
		Logger:        log,
		Budget:        commandBudget(cfg.Limits),
	}, nil
}
