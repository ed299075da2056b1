package checkout_test

import (
	"context"
	"crypto/ed25519"

	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

const secret = "whsec_test_secret"

var (
	alice = identity.TelegramUser(1001)
	bob   = identity.DiscordUser("123456789012345678")
)

var testProducts = []config.Product{
	{ID: "pro", Name: "Pro", PriceID: "price_pro", Mode: config.ModePayment, Duration: config.Duration{Duration: 30 * 24 * time.Hour}, MaxHWIDSlots: 2},
	{ID: "life", Name: "Lifetime", PriceID: "price_life", Mode: config.ModePayment, MaxHWIDSlots: 1},
	{ID: "sub", Name: "Pro monthly", PriceID: "price_sub", Mode: config.ModeSubscription, MaxHWIDSlots: 2},
}

// recorder is the chat boundary (notify.Sender): it records what would be
// sent and can fail sends.
type recorder struct {
	mu       sync.Mutex
	notices  []sent
	alerts   []string
	kinds    []notify.Kind
	failNext int
	failErr  error
}

type sent struct {
	To identity.Identity
	N  notify.Notice
}

func (r *recorder) Notify(_ context.Context, to identity.Identity, n notify.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failNext > 0 {
		r.failNext--
		return r.failErr
	}
	r.notices = append(r.notices, sent{to, n})
	return nil
}

func (r *recorder) Alert(_ context.Context, a notify.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a.Text)
	r.kinds = append(r.kinds, a.Kind)
	return nil
}

func (r *recorder) SyncAccess(context.Context, identity.Identity, []string) error { return nil }

func (r *recorder) failSends(n int, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failNext, r.failErr = n, err
}

// keyNotices are the notices that delivered a key.
func (r *recorder) keyNotices() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []sent
	for _, s := range r.notices {
		if s.N.ActivateKey != "" {
			out = append(out, s)
		}
	}
	return out
}

func (r *recorder) allNotices() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.notices)
}

// alertsOf lists the alerts of one admin feed kind.
func (r *recorder) alertsOf(k notify.Kind) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for i, a := range r.alerts {
		if r.kinds[i] == k {
			out = append(out, a)
		}
	}
	return out
}

func (r *recorder) alertList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.alerts)
}

type harness struct {
	t        testing.TB
	ctx      context.Context
	clock    *fakeclock.Clock
	path     string
	db       *store.DB
	fake     *authforgetest.Server
	svc      *licensing.Service
	rec      *recorder
	worker   *checkout.Worker
	hook     *checkout.Webhook
	products []config.Product
	wopts    func(*checkout.WorkerOptions)
}

func newHarness(t testing.TB, wopts ...func(*checkout.WorkerOptions)) *harness {
	t.Helper()
	h := &harness{
		t: t, ctx: context.Background(), rec: &recorder{},
		clock:    fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)),
		path:     t.TempDir() + "/shop.db",
		products: testProducts,
	}
	if len(wopts) > 0 {
		h.wopts = wopts[0]
	}
	h.fake = authforgetest.New(authforgetest.Options{Now: h.clock.Now})
	t.Cleanup(h.fake.Close)
	h.open()
	t.Cleanup(func() { h.db.Close() })
	return h
}

// open (re)opens the store and builds licensing, worker and webhook on it,
// as a restart does.
func (h *harness) open() {
	h.t.Helper()
	db, err := store.Open(h.ctx, store.Options{Path: h.path})
	if err != nil {
		h.t.Fatalf("open store: %v", err)
	}
	h.db = db
	fo := h.fake.Options()
	af, err := authforge.New(authforge.Config{
		AppID: fo.AppID, AppSecret: fo.AppSecret, APIKey: fo.APIKey,
		PublicKeys: []ed25519.PublicKey{h.fake.PublicKey()}, AuthURL: h.fake.URL(), APIURL: h.fake.URL(),
		Timeout: 5 * time.Second, RetryDelays: []time.Duration{time.Millisecond},
		Sleep: func(context.Context, time.Duration) error { return nil },
	})
	if err != nil {
		h.t.Fatalf("authforge client: %v", err)
	}
	h.svc, err = licensing.New(licensing.Options{Store: db, AuthForge: af, Products: h.products, Notifier: h.rec, Clock: h.clock.Now, Logger: quiet()})
	if err != nil {
		h.t.Fatalf("licensing: %v", err)
	}
	opts := checkout.WorkerOptions{
		Store: db, Licensing: h.svc, Notifier: h.rec, Products: h.products, Clock: h.clock.Now,
		SubscriptionGrace: 72 * time.Hour, RevokeOnRefund: true, RevokeOnDispute: true, Logger: quiet(),
	}
	if h.wopts != nil {
		h.wopts(&opts)
	}
	h.worker, err = checkout.NewWorker(opts)
	if err != nil {
		h.t.Fatalf("worker: %v", err)
	}
	h.hook, err = checkout.NewWebhook(checkout.WebhookOptions{Secret: secret, Store: db, MaxBodyBytes: 64 << 10, Wake: h.worker.Wake, Logger: quiet(), Clock: h.clock.Now})
	if err != nil {
		h.t.Fatalf("webhook: %v", err)
	}
}

// restart closes the store and opens everything anew on the same file.
func (h *harness) restart() {
	h.t.Helper()
	if err := h.db.Close(); err != nil {
		h.t.Fatalf("close store: %v", err)
	}
	h.open()
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// post sends payload to the webhook signed now, as Stripe does.
func (h *harness) post(payload []byte) *httptest.ResponseRecorder {
	h.t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(payload)))
	req.Header.Set("Stripe-Signature", stripetest.SignEvent(secret, payload, time.Now()))
	rr := httptest.NewRecorder()
	h.hook.ServeHTTP(rr, req)
	return rr
}

func (h *harness) deliver(payloads ...[]byte) {
	h.t.Helper()
	for _, p := range payloads {
		if rr := h.post(p); rr.Code != http.StatusOK {
			h.t.Fatalf("webhook answered %d %q", rr.Code, rr.Body.String())
		}
	}
}

// drain runs passes, moving the clock past every backoff, until nothing is
// pending or rounds run out.
func (h *harness) drain() {
	h.t.Helper()
	for range 40 {
		if _, err := h.worker.ProcessDue(h.ctx); err != nil {
			h.t.Fatalf("ProcessDue: %v", err)
		}
		pending, err := h.db.PendingEvents(h.ctx, 0)
		if err != nil {
			h.t.Fatalf("pending: %v", err)
		}
		if len(pending) == 0 {
			return
		}
		h.clock.Advance(11 * time.Minute)
	}
	h.t.Fatalf("events still pending after 40 passes")
}

func (h *harness) event(id string) store.Event {
	h.t.Helper()
	ev, err := h.db.GetEvent(h.ctx, id)
	if err != nil {
		h.t.Fatalf("event %s: %v", id, err)
	}
	return ev
}

func (h *harness) order(id string) store.Order {
	h.t.Helper()
	o, err := h.db.GetOrder(h.ctx, id)
	if err != nil {
		h.t.Fatalf("order %s: %v", id, err)
	}
	return o
}

// licenses are the licenses who owns in the store.
func (h *harness) licenses(who identity.Identity) []store.License {
	h.t.Helper()
	ls, err := h.db.LicensesByOwner(h.ctx, who)
	if err != nil {
		h.t.Fatalf("licenses: %v", err)
	}
	return ls
}

// created is how many licenses AuthForge made.
func (h *harness) created() int { return len(h.fake.Licenses()) }

func (h *harness) wantOneLicense(who identity.Identity) store.License {
	h.t.Helper()
	ls := h.licenses(who)
	if len(ls) != 1 || h.created() != 1 {
		h.t.Fatalf("want exactly one license; store has %d, AuthForge created %d", len(ls), h.created())
	}
	return ls[0]
}

// mock is one stripe-mock for the whole test binary: parsing its spec takes
// seconds. Tests using it do not run in parallel.
var mock *stripetest.Mock

func TestMain(m *testing.M) {
	mock = stripetest.NewMock()
	code := m.Run()
	mock.Close()
	os.Exit(code)
}

func sharedMock(t testing.TB) *stripetest.Mock {
	t.Helper()
	mock.Reset()
	return mock
}

func newHookWithWake(h *harness, wake func()) (*checkout.Webhook, error) {
	return checkout.NewWebhook(checkout.WebhookOptions{Secret: secret, Store: h.db, MaxBodyBytes: 64 << 10, Wake: wake, Logger: quiet(), Clock: h.clock.Now})
}

func contextWithCancel(h *harness) (context.Context, context.CancelFunc) {
	return context.WithCancel(h.ctx)
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
