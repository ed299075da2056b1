package telegram_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
)

var errNotEntitled = errors.New("not entitled")

// shop is the in-test core behind commands.Shop; it records every call.
type shop struct {
	mu       sync.Mutex
	calls    []string
	entitled map[string]bool
	// With hold set (holdActivate), Activate waits until it is closed:
	// a slow core, like a licensing server taking its time. held counts
	// the calls waiting now, ended those that went on; changed is closed
	// and replaced at each change.
	hold    chan struct{}
	held    int
	ended   int
	changed chan struct{}
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

func (s *shop) CheckoutLink(_ context.Context, who identity.Identity, id, code string) (string, error) {
	if code != "" {
		id += " " + code
	}
	s.record("link " + who.String() + " " + id)
	return "https://checkout.example/" + id, nil
}

func (s *shop) Activate(ctx context.Context, who identity.Identity, key string) (commands.Activation, error) {
	s.record("activate " + who.String() + " " + key)
	s.mu.Lock()
	hold := s.hold
	if hold != nil {
		s.held++
		s.changedLocked()
	}
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
		}
		s.mu.Lock()
		s.held--
		s.ended++
		s.changedLocked()
		s.mu.Unlock()
	}
	return commands.Activation{ProductID: "pro-monthly", SlotsUsed: 1, MaxSlots: 2}, nil
}

// holdActivate makes every later Activate wait until release is called
// (at most once; the test's end calls it if the test did not).
func (s *shop) holdActivate(t *testing.T) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hold := make(chan struct{})
	s.hold = hold
	var once sync.Once
	release = func() { once.Do(func() { close(hold) }) }
	// Registered after start's, so it runs before the adapter is
	// stopped, which waits for the held commands.
	t.Cleanup(release)
	return release
}

// activations reads how many Activate calls are held now and have ended.
func (s *shop) activations() (held, ended int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held, s.ended
}

func (s *shop) changedLocked() {
	if s.changed != nil {
		close(s.changed)
	}
	s.changed = make(chan struct{})
}

// waitActivate waits until cond holds of the Activate calls held now and
// ended so far, or fails the test.
func (s *shop) waitActivate(t *testing.T, what string, cond func(held, ended int) bool) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		held, ended, changed := s.held, s.ended, s.changed
		s.mu.Unlock()
		if cond(held, ended) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("%s: never happened (%d Activate calls held, %d ended)", what, held, ended)
		}
	}
}

func (s *shop) Licenses(_ context.Context, who identity.Identity) ([]commands.License, error) {
	s.record("licenses " + who.String())
	return nil, nil
}

func (s *shop) Check(_ context.Context, who identity.Identity, ids ...string) error {
	s.record("check " + who.String())
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.entitled[id] {
			return nil
		}
	}
	return errNotEntitled
}

func (s *shop) Revoke(_ context.Context, actor identity.Identity, t commands.Target) ([]commands.License, error) {
	s.record("revoke " + actor.String() + " " + t.Key + t.Who.String())
	return []commands.License{{Key: t.Key, ProductID: "pro-monthly"}}, nil
}

func (s *shop) Lookup(_ context.Context, _ identity.Identity, t commands.Target) ([]commands.LicenseDetails, error) {
	s.record("lookup")
	return nil, nil
}

func (s *shop) setEntitled(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entitled[id] = true
}

const (
	adminID     = int64(7)
	membersChat = int64(-1001)
	groupChat   = int64(-2002)
	key         = "ABCD-EFGH-IJKL-MNOP"
)

var (
	buyer = telegramtest.User{ID: 42, FirstName: "Buyer", Username: "buyer"}
	admin = telegramtest.User{ID: adminID, FirstName: "Admin"}
)

var products = []config.Product{
	{ID: "pro-monthly", Name: "Pro (monthly)", TelegramChatIDs: []int64{membersChat}},
	{ID: "lifetime", Name: "Lifetime"},
}

type env struct {
	tg    *telegramtest.Server
	bot   *telegram.Bot
	shop  *shop
	clock *fakeclock.Clock
	stop  func()
	// hookURL is the adapter's webhook endpoint in webhook mode.
	hookURL string
}

const secret = "s3cret_token-1"

// start runs the adapter against a fresh fake in the given mode.
func start(t *testing.T, mode string, tweak ...func(*telegram.Options)) *env {
	t.Helper()
	// The clock advances only when the adapter sleeps, so pacing and 429
	// retries are instant and their waits can be asserted.
	clock := fakeclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	tg := telegramtest.New(telegramtest.Options{Now: clock.Now})
	t.Cleanup(tg.Close)
	s := &shop{entitled: map[string]bool{}}
	h, err := commands.New(commands.Options{
		Shop:     s,
		Products: products,
		Gated:    []config.GatedCommand{{Command: "premium", Products: []string{"pro-monthly"}, Reply: "the secret"}},
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
	var hook atomic.Pointer[http.Handler]
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := hook.Load(); h != nil && r.URL.Path == telegram.WebhookPath {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(web.Close)
	ctx, cancel := context.WithCancel(context.Background())
	opts := telegram.Options{
		Token:         tg.Token(),
		APIURL:        tg.URL(),
		Mode:          mode,
		WebhookSecret: secret,
		PublicURL:     web.URL,
		Admins:        []int64{adminID},
		Commands:      h,
		Products:      products,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		PollTimeout:   2 * time.Second,
		Now:           clock.Now,
		Sleep:         clock.Sleep,
	}
	for _, f := range tweak {
		f(&opts)
	}
	b, err := telegram.New(ctx, opts)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	wh := b.WebhookHandler()
	hook.Store(&wh)
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
		closeCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		b.Close(closeCtx)
	}
	t.Cleanup(stop)
	e := &env{tg: tg, bot: b, shop: s, clock: clock, stop: stop, hookURL: web.URL + telegram.WebhookPath}
	if mode == telegram.ModeWebhook {
		waitCtx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		if err := tg.WaitFor(waitCtx, func() bool { u, _ := tg.Webhook(); return u != "" }); err != nil {
			t.Fatal("webhook never registered")
		}
	}
	return e
}

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// say sends text as from in chat and returns the bot's next message.
func (e *env) say(t *testing.T, from telegramtest.User, chat int64, text string) telegramtest.SentMessage {
	t.Helper()
	id := e.tg.SendText(from, chat, text)
	m, err := e.tg.WaitMessage(waitCtx(t), chat, id, nil)
	if err != nil {
		t.Fatalf("%q: %v", text, err)
	}
	return m
}

func hasCall(calls []string, prefix string) bool {
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}
