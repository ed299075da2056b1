package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
)

// cmdRun runs the shop until ctx ends.
func cmdRun(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path, err := parseFlags(fs, args, env, stderr)
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	log := newLogger(stderr, env, cfg.Log)
	a, err := newApp(ctx, cfg, log, h)
	if err != nil {
		return err
	}
	return a.run(ctx)
}

// cmdCheck validates the config offline and, with --online, calls each
// configured service once, reporting every failure rather than the first.
func cmdCheck(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	online := fs.Bool("online", false, "also call each configured service once")
	path, err := parseFlags(fs, args, env, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "config %s: ok (%d products, %d gated commands)\n", path, len(cfg.Products), len(cfg.GatedCommands))
	if cfg.Messages.File != "" {
		c, err := loadWords(cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "messages %s: ok (languages: %s; default %s)\n", cfg.Messages.File, strings.Join(c.Languages(), ", "), c.Default())
	}
	if !*online {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	failed := 0
	report := func(what string, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "FAIL %s: %v\n", what, err)
			return
		}
		fmt.Fprintf(stdout, "ok   %s\n", what)
	}
	for _, c := range onlineChecks(cfg, h) {
		report(c.what, c.run(ctx))
	}
	if failed > 0 {
		return fmt.Errorf("%d online check(s) failed", failed)
	}
	return nil
}

type onlineCheck struct {
	what string
	run  func(context.Context) error
}

// onlineChecks lists one call per configured service (SPEC §3).
func onlineChecks(cfg config.Config, h hooks) []onlineCheck {
	var checks []onlineCheck
	quiet := slog.New(slog.DiscardHandler)
	if cfg.StripeEnabled() {
		sc, err := newStripe(cfg.Stripe, h.httpClient, quiet)
		if err != nil {
			return []onlineCheck{{"stripe", func(context.Context) error { return err }}}
		}
		checks = stripeChecks(cfg, sc)
	}
	checks = append(checks, onlineCheck{"authforge developer API (list licenses)", func(ctx context.Context) error {
		af, err := newAuthForge(cfg, h.httpClient, quiet)
		if err != nil {
			return err
		}
		_, _, err = af.ListLicenses(ctx, "", 1)
		return err
	}})
	if cfg.TelegramEnabled() {
		checks = append(checks, onlineCheck{"telegram getMe", func(ctx context.Context) error {
			b, err := newTelegram(ctx, cfg, h, quiet)
			if err == nil {
				b.Close(ctx)
			}
			return err
		}})
	}
	if cfg.DiscordEnabled() {
		checks = append(checks, onlineCheck{"discord bot, guild and role permissions", func(ctx context.Context) error {
			b, err := newDiscord(ctx, cfg, h, quiet)
			if err != nil {
				return err
			}
			return b.CheckPermissions(ctx)
		}})
	}
	return checks
}

// stripeChecks checks each product's Stripe Price; a product without
// one (sold only for Stars) has none to check.
func stripeChecks(cfg config.Config, sc *client.API) []onlineCheck {
	var checks []onlineCheck
	for _, p := range cfg.Products {
		if p.PriceID == "" {
			continue
		}
		checks = append(checks, onlineCheck{"stripe price " + p.PriceID + " of product " + p.ID, func(ctx context.Context) error {
			params := &stripe.PriceParams{}
			params.Context = ctx
			price, err := sc.Prices.Get(p.PriceID, params)
			if err != nil {
				return stripeProblem(err)
			}
			return priceMatches(p, price)
		}})
	}
	return checks
}

// priceMatches catches the commonest catalog mistake: a one-time price on a
// subscription product or the reverse, which Stripe only refuses when a
// buyer tries to pay.
func priceMatches(p config.Product, price *stripe.Price) error {
	if !price.Active {
		return errors.New("the price is archived in Stripe; buyers cannot pay it")
	}
	recurring := price.Type == stripe.PriceTypeRecurring
	switch {
	case p.Mode == config.ModeSubscription && !recurring:
		return errors.New("product mode is subscription but the Stripe price is one-time; use a recurring price")
	case p.Mode == config.ModePayment && recurring:
		return errors.New("product mode is payment but the Stripe price is recurring; use a one-time price or mode = \"subscription\"")
	}
	return nil
}

func stripeProblem(err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		return fmt.Errorf("stripe said %d %s: %s", se.HTTPStatusCode, se.Code, se.Msg)
	}
	return err
}

// cmdSetup does the one-time platform set-up.
func cmdSetup(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{errors.New("which platform? shopbot setup stripe|telegram|discord")}
	}
	platform, rest := args[0], args[1:]
	fs := flag.NewFlagSet("setup "+platform, flag.ContinueOnError)
	path, err := parseFlags(fs, rest, env, stderr)
	if err != nil {
		return err
	}
	var waived []string
	if platform == "stripe" {
		// The signing secret is what this command prints.
		waived = []string{"stripe.webhook_secret"}
	}
	cfg, err := loadConfig(path, env, waived...)
	if err != nil {
		return err
	}
	log := newLogger(stderr, env, cfg.Log)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	switch platform {
	case "stripe":
		return setupStripe(ctx, cfg, h, stdout)
	case "telegram":
		if !cfg.TelegramEnabled() {
			return errors.New("telegram.token is not set")
		}
		b, err := newTelegram(ctx, cfg, h, log)
		if err != nil {
			return err
		}
		defer b.Close(ctx)
		if err := b.Setup(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "telegram: command menu set for @%s", b.Username())
		if cfg.Telegram.Mode == telegram.ModeWebhook {
			fmt.Fprintf(stdout, "; webhook set to %s%s", strings.TrimRight(cfg.Server.PublicURL, "/"), telegram.WebhookPath)
		}
		fmt.Fprintln(stdout)
		return nil
	case "discord":
		if !cfg.DiscordEnabled() {
			return errors.New("discord.token is not set")
		}
		b, err := newDiscord(ctx, cfg, h, log)
		if err != nil {
			return err
		}
		if err := b.RegisterCommands(ctx); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "discord: slash commands registered for guild %s\n", cfg.Discord.GuildID)
		if err := b.CheckPermissions(ctx); err != nil {
			fmt.Fprintf(stdout, "warning: %v\n", err)
		}
		return nil
	default:
		return usageError{fmt.Errorf("unknown platform %q (stripe, telegram or discord)", platform)}
	}
}

// newTelegram builds a Telegram adapter outside the running shop (check
// and setup): its commands answer nothing because nothing receives input.
func newTelegram(ctx context.Context, cfg config.Config, h hooks, log *slog.Logger) (*telegram.Bot, error) {
	cmds, err := offlineCommands(cfg, log)
	if err != nil {
		return nil, err
	}
	return telegram.New(ctx, telegramOptions(cfg, cmds, h, log))
}

// newDiscord builds a Discord adapter outside the running shop.
func newDiscord(ctx context.Context, cfg config.Config, h hooks, log *slog.Logger) (*discord.Bot, error) {
	cmds, err := offlineCommands(cfg, log)
	if err != nil {
		return nil, err
	}
	opts, err := discordOptions(cfg, cmds, h, log)
	if err != nil {
		return nil, err
	}
	return discord.New(ctx, opts)
}

// offlineCommands is the command set of set-up tools: it gives the menus
// to publish but never runs a command.
func offlineCommands(cfg config.Config, log *slog.Logger) (*commands.Handler, error) {
	return commands.New(commands.Options{Shop: offlineShop{}, Products: cfg.Products, Gated: cfg.GatedCommands, Classify: classify, Logger: log, Announcer: offlineShop{}})
}

// offlineShop backs the command handler of set-up tools, which publish
// the command menu but never run a command.
type offlineShop struct{}

var errOffline = errors.New("the shop is not running")

func (offlineShop) CheckoutLink(context.Context, identity.Identity, string, string) (string, error) {
	return "", errOffline
}
func (offlineShop) Activate(context.Context, identity.Identity, string) (commands.Activation, error) {
	return commands.Activation{}, errOffline
}
func (offlineShop) Licenses(context.Context, identity.Identity) ([]commands.License, error) {
	return nil, errOffline
}
func (offlineShop) Check(context.Context, identity.Identity, ...string) error { return errOffline }
func (offlineShop) Revoke(context.Context, identity.Identity, commands.Target) ([]commands.License, error) {
	return nil, errOffline
}
func (offlineShop) Lookup(context.Context, identity.Identity, commands.Target) ([]commands.LicenseDetails, error) {
	return nil, errOffline
}

// setupStripe creates, or updates, the webhook endpoint at
// public_url/webhooks/stripe, pinned to the API version shopbot reads, with
// exactly the events it handles. Stripe shows a signing secret only when
// the endpoint is created, so it is printed then and only then.
func setupStripe(ctx context.Context, cfg config.Config, h hooks, stdout io.Writer) error {
	if cfg.Server.PublicURL == "" {
		return errors.New("server.public_url is required: Stripe must reach /webhooks/stripe from the internet")
	}
	endpointURL := strings.TrimRight(cfg.Server.PublicURL, "/") + "/webhooks/stripe"
	sc, err := newStripe(cfg.Stripe, h.httpClient, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	events := checkout.EventTypes()

	list := &stripe.WebhookEndpointListParams{}
	list.Context = ctx
	it := sc.WebhookEndpoints.List(list)
	for it.Next() {
		ep := it.WebhookEndpoint()
		if ep.URL != endpointURL {
			continue
		}
		params := &stripe.WebhookEndpointParams{EnabledEvents: stripe.StringSlice(events)}
		params.Context = ctx
		if _, err := sc.WebhookEndpoints.Update(ep.ID, params); err != nil {
			return fmt.Errorf("update webhook endpoint %s: %w", ep.ID, stripeProblem(err))
		}
		fmt.Fprintf(stdout, "stripe: webhook endpoint %s (%s) updated with %d events.\n", ep.ID, endpointURL, len(events))
		if ep.APIVersion != stripe.APIVersion {
			fmt.Fprintf(stdout, "note: it is pinned to API version %s; shopbot reads %s events. Delete the endpoint and run setup again to re-pin it.\n", ep.APIVersion, stripe.APIVersion)
		}
		fmt.Fprintln(stdout, "Its signing secret is unchanged (Stripe shows it only at creation; see the Dashboard).")
		return nil
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("list webhook endpoints: %w", stripeProblem(err))
	}
	params := &stripe.WebhookEndpointParams{
		URL:           stripe.String(endpointURL),
		EnabledEvents: stripe.StringSlice(events),
		APIVersion:    stripe.String(stripe.APIVersion),
		Description:   stripe.String("shopbot fulfillment"),
	}
	params.Context = ctx
	ep, err := sc.WebhookEndpoints.New(params)
	if err != nil {
		return fmt.Errorf("create webhook endpoint: %w", stripeProblem(err))
	}
	fmt.Fprintf(stdout, "stripe: webhook endpoint %s created for %s (API version %s, %d events).\n", ep.ID, endpointURL, stripe.APIVersion, len(events))
	fmt.Fprintf(stdout, "Signing secret (set it as stripe.webhook_secret; it is shown only now):\n%s\n", ep.Secret)
	return nil
}
