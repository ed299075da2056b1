package discord_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/internal/testlog"
)

var errNotEntitled = errors.New("not entitled")

// shop is the in-test core behind commands.Shop; it records every call
// and, like the real core, syncs access after an activation.
type shop struct {
	mu       sync.Mutex
	calls    []string
	entitled map[string][]string // identity → products
	sync     func(ctx context.Context, who identity.Identity, products []string) error
}

func (s *shop) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *shop) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *shop) Entitled(_ context.Context, who identity.Identity) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.entitled[who.String()]...), nil
}

func (s *shop) entitle(who identity.Identity, products ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entitled[who.String()] = append(s.entitled[who.String()], products...)
}

func (s *shop) CheckoutLink(_ context.Context, who identity.Identity, id, code string) (string, error) {
	if code != "" {
		id += " " + code
	}
	s.record("link " + who.String() + " " + id)
	return "https://checkout.example/" + id, nil
}

func (s *shop) Activate(ctx context.Context, who identity.Identity, key string) (commands.Activation, error) {
	s.record("activate " + who.String() + " " + key)
	s.entitle(who, "pro-monthly")
	products, _ := s.Entitled(ctx, who)
	if err := s.sync(ctx, who, products); err != nil {
		return commands.Activation{}, err
	}
	return commands.Activation{ProductID: "pro-monthly", SlotsUsed: 1, MaxSlots: 2}, nil
}

func (s *shop) Licenses(_ context.Context, who identity.Identity) ([]commands.License, error) {
	s.record("licenses " + who.String())
	return []commands.License{{Key: key, ProductID: "pro-monthly", Status: commands.StatusActive, SlotsUsed: 1, MaxSlots: 2, Activated: true, Billing: true}}, nil
}

func (s *shop) Check(ctx context.Context, who identity.Identity, ids ...string) error {
	s.record("check " + who.String())
	have, _ := s.Entitled(ctx, who)
	for _, id := range ids {
		for _, h := range have {
			if h == id {
				return nil
			}
		}
	}
	return errNotEntitled
}

func (s *shop) Revoke(_ context.Context, actor identity.Identity, t commands.Target) ([]commands.License, error) {
	s.record("revoke " + actor.String() + " " + t.Key + t.Who.String())
	return []commands.License{{Key: key, ProductID: "pro-monthly"}}, nil
}

func (s *shop) Lookup(_ context.Context, _ identity.Identity, t commands.Target) ([]commands.LicenseDetails, error) {
	s.record("lookup " + t.Key + t.Who.String())
	return []commands.LicenseDetails{{License: commands.License{Key: key, ProductID: "pro-monthly", Status: commands.StatusActive}}}, nil
}

const (
	key       = "ABCD-EFGH-IJKL-MNOP"
	roleA     = "111"
	roleB     = "222"
	adminRole = "333"
	adminID   = "900"
)

var (
	buyer   = discordtest.User{ID: "42", Username: "buyer"}
	admin   = discordtest.User{ID: adminID, Username: "admin"}
	modUser = discordtest.User{ID: "77", Username: "mod"}
)

var products = []config.Product{
	{ID: "pro-monthly", Name: "Pro (monthly)", DiscordRoleIDs: []string{roleA}},
	{ID: "lifetime", Name: "Lifetime", DiscordRoleIDs: []string{roleA, roleB}},
}

type env struct {
	dc    *discordtest.Server
	bot   *discord.Bot
	shop  *shop
	clock *fakeclock.Clock
	mode  string
	url   string // interactions endpoint in http mode
	logs  *testlog.Buffer
}

// newEnv builds the adapter against a fresh fake without running it.
func newEnv(t *testing.T, mode string, adjust ...func(*discord.Options)) *env {
	t.Helper()
	// The clock advances only when the adapter sleeps (or a test moves it),
	// so 429 waits are instant and can be asserted.
	clock := fakeclock.New(time.Now().Truncate(time.Second))
	dc := discordtest.New(discordtest.Options{Now: clock.Now})
	t.Cleanup(dc.Close)
	dc.SetRole(discordtest.Role{ID: roleA, Name: "Pro", Position: 1})
	dc.SetRole(discordtest.Role{ID: roleB, Name: "Lifetime", Position: 2})
	dc.SetRole(discordtest.Role{ID: adminRole, Name: "Mods", Position: 3})
	s := &shop{entitled: map[string][]string{}}
	h := newHandler(t, s)
	logs := &testlog.Buffer{}
	opts := discord.Options{
		Token:         dc.BotToken(),
		ApplicationID: dc.ApplicationID(),
		PublicKey:     dc.PublicKey(),
		GuildID:       dc.GuildID(),
		APIURL:        dc.URL(),
		Interactions:  mode,
		AdminRoleIDs:  []string{adminRole},
		AdminUserIDs:  []string{adminID},
		Commands:      h,
		Products:      products,
		Gated:         gated,
		Entitled:      s.Entitled,
		Logger:        slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:           clock.Now,
		Sleep:         clock.Sleep,
		// The clock stands still, so budgets never refill: a generous
		// one keeps tests of other things from hitting it.
		Budget: budget.New(budget.Options{Burst: 1000, InFlight: 100, Now: clock.Now}),
	}
	if mode == discord.ModeGateway {
		opts.GatewayURL = dc.GatewayURL()
	}
	for _, f := range adjust {
		f(&opts)
	}
	b, err := discord.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s.sync = b.SyncAccess
	e := &env{dc: dc, bot: b, shop: s, clock: clock, mode: mode, logs: logs}
	if mode == discord.ModeHTTP {
		web := httptest.NewServer(b.InteractionsHandler())
		t.Cleanup(web.Close)
		e.url = web.URL + discord.InteractionsPath
	}
	return e
}

// start builds the adapter and runs it until the test ends.
func start(t *testing.T, mode string, adjust ...func(*discord.Options)) *env {
	t.Helper()
	e := newEnv(t, mode, adjust...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.bot.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	ready := func() bool { return len(e.dc.Commands()) > 0 }
	if mode == discord.ModeGateway {
		ready = func() bool { return len(e.dc.Commands()) > 0 && e.dc.Connected() }
	}
	if err := e.dc.WaitFor(waitCtx(t), ready); err != nil {
		t.Fatalf("adapter never became ready: %v", err)
	}
	return e
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// do delivers in the way the mode does and returns what the user sees.
func (e *env) do(t *testing.T, in discordtest.Interaction) discordtest.Reply {
	t.Helper()
	if e.mode == discord.ModeHTTP {
		status, err := e.dc.PostInteraction(waitCtx(t), e.url, in)
		if err != nil || status != 200 {
			t.Fatalf("post interaction: %d %v", status, err)
		}
	} else if err := e.dc.DispatchInteraction(in); err != nil {
		t.Fatal(err)
	}
	r, err := e.dc.WaitReply(waitCtx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) command(t *testing.T, u discordtest.User, name string, opts ...discordtest.Option) discordtest.Reply {
	t.Helper()
	return e.do(t, e.dc.SlashCommand(u, name, opts...))
}

var modes = []string{discord.ModeGateway, discord.ModeHTTP}

// eachMode runs f as a subtest against a running adapter in each mode.
func eachMode(t *testing.T, f func(t *testing.T, e *env)) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f(t, start(t, mode))
		})
	}
}

func hasCall(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func who(u discordtest.User) identity.Identity { return identity.DiscordUser(u.ID) }

var gated = []config.GatedCommand{{Command: "premium", Products: []string{"pro-monthly"}, Reply: "the secret"}}

func newHandler(t *testing.T, s *shop) *commands.Handler {
	t.Helper()
	h, err := commands.New(commands.Options{
		Shop:     s,
		Products: products,
		Gated:    gated,
		Classify: func(err error) commands.Problem {
			if errors.Is(err, errNotEntitled) {
				return commands.Problem{Kind: commands.KindNotEntitled}
			}
			return commands.Problem{}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}
