package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/demo"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforgetest"
)

// The demo's sample shop: who plays the buyer and the admin, and what is
// for sale.
const (
	demoWebhookSecret = "whsec_shopbot_demo_secret"
	demoStripeKey     = "sk_test_shopbot_demo"
	demoRoleID        = "600000000000000001"
	demoGatedReply    = "Premium content unlocked: https://example.com/premium-guide"
)

// demoBuyer and demoAdmin are the two people the visitor plays.
func demoBuyer() demo.Persona {
	return demo.Persona{Name: "Bea", TelegramID: 5001, DiscordID: "420000000000000001"}
}

func demoAdmin() demo.Persona {
	return demo.Persona{Name: "Ada", TelegramID: 9001, DiscordID: "900000000000000001"}
}

// demoFakes are the in-process stand-ins of every outside service.
type demoFakes struct {
	af    *authforgetest.Server
	tg    *telegramtest.Server
	dc    *discordtest.Server
	front *demo.StripeFront
}

// startDemoFakes starts the fakes on the demo's clock (now), so sessions,
// license expiry and message dates agree with the shop's.
func startDemoFakes(pageURL string, now func() time.Time) (*demoFakes, error) {
	f := &demoFakes{
		af: authforgetest.New(authforgetest.Options{Now: now}),
		tg: telegramtest.New(telegramtest.Options{BotUsername: "shopbot_demo_bot", Now: now}),
		dc: discordtest.New(discordtest.Options{Now: now}),
	}
	front, err := demo.NewStripeFront(pageURL, now)
	if err != nil {
		f.close()
		return nil, err
	}
	f.front = front
	f.dc.SetRole(discordtest.Role{ID: demoRoleID, Name: "Pro", Position: 1})
	f.dc.AddMember(demoBuyer().DiscordID)
	f.dc.AddMember(demoAdmin().DiscordID)
	f.tg.AddChat(demoFeedChat, "Shop feed")
	// A Telegram bot can message only people who opened its chat; the
	// admin has, so alerts (refunds, disputes, failures) reach them.
	admin := demoAdmin()
	f.tg.SendText(telegramtest.User{ID: admin.TelegramID, FirstName: admin.Name}, admin.TelegramID, "/start")
	return f, nil
}

func (f *demoFakes) close() {
	if f.front != nil {
		f.front.Close()
	}
	f.dc.Close()
	f.tg.Close()
	f.af.Close()
}

// demoConfig is what a seller's config.toml would say, pointed at the
// fakes: config.Default() and then the fields a seller fills in.
func demoConfig(f *demoFakes, pageURL, storePath string) config.Config {
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.PublicURL = pageURL
	cfg.Store.Path = storePath
	cfg.Stripe.SecretKey = demoStripeKey
	cfg.Stripe.WebhookSecret = demoWebhookSecret
	cfg.Stripe.APIURL = f.front.URL
	cfg.AuthForge.AppID = authforgetest.DefaultAppID
	cfg.AuthForge.AppSecret = authforgetest.DefaultAppSecret
	cfg.AuthForge.APIKey = authforgetest.DefaultAPIKey
	cfg.AuthForge.PublicKeys = []string{f.af.PublicKeyBase64()}
	cfg.AuthForge.AuthURL = f.af.URL()
	cfg.AuthForge.APIURL = f.af.URL()
	cfg.Telegram.Token = f.tg.Token()
	cfg.Telegram.APIURL = f.tg.URL()
	cfg.Telegram.Admins = []int64{demoAdmin().TelegramID}
	// Telegram buyers get both buttons: Stars (paid on the page's stand-in
	// payment sheet) and the card checkout.
	cfg.Telegram.Payments = config.PaymentsBoth
	cfg.Discord.Token = f.dc.BotToken()
	cfg.Discord.ApplicationID = f.dc.ApplicationID()
	cfg.Discord.GuildID = f.dc.GuildID()
	cfg.Discord.APIURL = f.dc.URL()
	cfg.Discord.Interactions = config.DiscordGateway
	cfg.Discord.AdminUserIDs = []string{demoAdmin().DiscordID}
	cfg.Products = []config.Product{
		{ID: "pro", Name: "Pro", Description: "All premium commands for 30 days", PriceID: "price_demo_pro",
			Mode: config.ModePayment, Duration: config.Duration{Duration: 720 * time.Hour}, MaxHWIDSlots: 2,
			DiscordRoleIDs: []string{demoRoleID}, StarsPrice: 250},
		{ID: "pro-monthly", Name: "Pro (monthly)", Description: "All premium commands, renewed every month",
			PriceID: "price_demo_pro_monthly", Mode: config.ModeSubscription, MaxHWIDSlots: 2,
			DiscordRoleIDs: []string{demoRoleID}, StarsPrice: 100},
	}
	cfg.Alerts.TelegramChatID = demoFeedChat
	cfg.GatedCommands = []config.GatedCommand{
		{Command: "premium", Products: []string{"pro", "pro-monthly"}, Reply: demoGatedReply},
	}
	return cfg
}

// cmdDemo runs the whole shop on this machine against the fakes, with the
// demo page on --listen. hooks.listening, when set, is told the page's
// address once the shop and the page both accept.
func cmdDemo(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) (err error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the demo page")
	storePath := fs.String("store", "", "store file to keep between runs (default: a temporary one, removed on exit)")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	log := newLogger(stderr, env, config.Default().Log)

	path := *storePath
	if path == "" {
		dir, err := os.MkdirTemp("", "shopbot-demo-")
		if err != nil {
			return fmt.Errorf("temporary store: %w", err)
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "shopbot.db")
	}
	// The page listens first: its URL is the shop's public_url and where
	// the stand-in Stripe sends buyers to pay.
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", *listen, err)
	}
	defer ln.Close()
	pageURL := "http://" + ln.Addr().String()

	// The demo's clock runs on the real time (or the test's) plus the
	// days the page skips ahead; the shop and every fake read it.
	clock := demo.NewClock(h.now)
	fakes, err := startDemoFakes(pageURL, clock.Now)
	if err != nil {
		return err
	}
	defer fakes.close()
	cfg := demoConfig(fakes, pageURL, path)
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("demo config: %w", err)
	}

	var mu sync.Mutex
	shopURL := ""
	shopUp := make(chan struct{})
	inner := h
	inner.now = clock.Now
	inner.listening = func(addr string) {
		mu.Lock()
		shopURL = "http://" + addr
		mu.Unlock()
		close(shopUp)
	}
	a, err := newApp(ctx, cfg, log, inner)
	if err != nil {
		return err
	}
	page, err := demo.New(demo.Options{
		Stripe: fakes.front, Telegram: fakes.tg, Discord: fakes.dc, AuthForge: fakes.af, Store: a.db,
		WebhookSecret: demoWebhookSecret,
		ShopURL:       func() string { mu.Lock(); defer mu.Unlock(); return shopURL },
		Buyer:         demoBuyer(), Admin: demoAdmin(), Products: cfg.Products,
		RoleNames: map[string]string{demoRoleID: "Pro"},
		Clock:     clock,
		Sweep:     a.demoSweep,
		FeedChat:  demoFeedChat,
		Logger:    log.With("part", "demo"),
		DashboardLink: func(ctx context.Context) (string, error) {
			if a.dash == nil {
				return "", errors.New("no dashboard: the shop has no reachable HTTP server")
			}
			return a.dash.Link(ctx, identity.TelegramUser(demoAdmin().TelegramID))
		},
	})
	if err != nil {
		a.db.Close()
		return err
	}
	return serveDemo(ctx, a, page, ln, shopUp, stdout, log, h.listening)
}

// serveDemo runs the shop and the page until ctx ends; the page stops
// first so nothing reads the store while the shop closes it.
func serveDemo(ctx context.Context, a *app, page http.Handler, ln net.Listener, shopUp <-chan struct{},
	stdout io.Writer, log *slog.Logger, listening func(string)) error {
	pageCtx, stopPage := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPage()
	srv := &http.Server{
		Handler:           page,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return pageCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	pageDone := make(chan error, 1)
	go func() { pageDone <- srv.Serve(ln) }()
	shopDone := make(chan error, 1)
	go func() { shopDone <- a.run(ctx) }()

	var shopErr error
	select {
	case <-shopUp:
		fmt.Fprintf(stdout, "shopbot demo: open %s in a browser (Ctrl-C stops)\n", "http://"+ln.Addr().String())
		if listening != nil {
			listening(ln.Addr().String())
		}
		select {
		case <-ctx.Done():
		case shopErr = <-shopDone:
			shopDone = nil
		}
	case shopErr = <-shopDone:
		shopDone = nil
	case <-ctx.Done():
	}
	stopPage()
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		log.Warn("demo page shutdown", "err", err)
	}
	if err := <-pageDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("demo page", "err", err)
	}
	if shopDone != nil {
		shopErr = <-shopDone
	}
	return shopErr
}
