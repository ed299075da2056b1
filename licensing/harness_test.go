package licensing

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// recorder is the Notifier of the tests: the interface belongs to the chat
// adapters, so recording what licensing asks of them is the contract.
type recorder struct {
	mu      sync.Mutex
	notices []sentNotice
	alerts  []string
	kinds   []notify.Kind
	syncs   []syncCall
}

type sentNotice struct {
	To     identity.Identity
	Notice notify.Notice
}

type syncCall struct {
	Who      identity.Identity
	Products []string
}

func (r *recorder) Notify(_ context.Context, to identity.Identity, n notify.Notice) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notices = append(r.notices, sentNotice{to, n})
	return nil
}

func (r *recorder) Alert(_ context.Context, a notify.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a.Text)
	r.kinds = append(r.kinds, a.Kind)
	return nil
}

func (r *recorder) SyncAccess(_ context.Context, who identity.Identity, products []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.syncs = append(r.syncs, syncCall{who, slices.Clone(products)})
	return nil
}

// lastSync is the product list of the latest SyncAccess for who.
func (r *recorder) lastSync(who identity.Identity) ([]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.syncs) - 1; i >= 0; i-- {
		if r.syncs[i].Who == who {
			return r.syncs[i].Products, true
		}
	}
	return nil, false
}

func (r *recorder) noticesTo(who identity.Identity) []notify.Notice {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []notify.Notice
	for _, n := range r.notices {
		if n.To == who {
			out = append(out, n.Notice)
		}
	}
	return out
}

func (r *recorder) alertCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.alerts)
}

var testProducts = []config.Product{
	{ID: "pro", Name: "Pro", Mode: config.ModePayment, Duration: config.Duration{Duration: 30 * 24 * time.Hour}, MaxHWIDSlots: 2},
	{ID: "team", Name: "Team", Mode: config.ModePayment, MaxHWIDSlots: 1},
}

var (
	alice = identity.TelegramUser(1001)
	bob   = identity.TelegramUser(1002)
	carol = identity.DiscordUser("123456789012345678")
)

type harness struct {
	t     testing.TB
	ctx   context.Context
	clock *fakeclock.Clock
	db    *store.DB
	fake  *authforgetest.Server
	af    *authforge.Client
	rec   *recorder
	svc   *Service
}

func newHarness(t testing.TB, edit ...func(*Options)) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, ctx: ctx, clock: fakeclock.New(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)), rec: &recorder{}}
	db, err := store.Open(ctx, store.Options{Path: t.TempDir() + "/shop.db"})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	h.db = db
	h.startFake()
	opts := Options{
		Store:      db,
		AuthForge:  h.af,
		Products:   testProducts,
		SessionTTL: 24 * time.Hour,
		Notifier:   h.rec,
		Clock:      h.clock.Now,
		Logger:     slog.New(slog.DiscardHandler),
	}
	for _, e := range edit {
		e(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.svc = svc
	return h
}

// issue creates and stores a license of product for owner through the
// service (the admin-grant path: no order).
func (h *harness) issue(product string, owner identity.Identity, expiresAt time.Time) store.License {
	h.t.Helper()
	lic, err := h.svc.Issue(h.ctx, IssueRequest{ProductID: product, Owner: owner, ExpiresAt: expiresAt, Source: "test"})
	if err != nil {
		h.t.Fatalf("issue %s: %v", product, err)
	}
	return lic
}

func (h *harness) activate(who identity.Identity, key string) Activation {
	h.t.Helper()
	res, err := h.svc.Activate(h.ctx, who, key)
	if err != nil {
		h.t.Fatalf("activate %s: %v", who, err)
	}
	return res
}

func (h *harness) activations(who identity.Identity) []store.Activation {
	h.t.Helper()
	acts, err := h.db.ActivationsFor(h.ctx, who)
	if err != nil {
		h.t.Fatalf("activations: %v", err)
	}
	return acts
}

func (h *harness) license(key string) store.License {
	h.t.Helper()
	l, err := h.db.GetLicense(h.ctx, key)
	if err != nil {
		h.t.Fatalf("license: %v", err)
	}
	return l
}

// startFake starts the AuthForge fake on the harness clock and a client of
// it that never really sleeps between retries.
func (h *harness) startFake() {
	h.t.Helper()
	// The lazy gate heartbeats sessions shortly after they end; the grace
	// lets such a heartbeat renew the session instead of forcing a new
	// validation.
	h.fake = authforgetest.New(authforgetest.Options{Now: h.clock.Now, HeartbeatGrace: 24 * time.Hour, AccountApps: []string{siblingApp}})
	h.t.Cleanup(h.fake.Close)
	o := h.fake.Options()
	af, err := authforge.New(authforge.Config{
		AppID:      o.AppID,
		AppSecret:  o.AppSecret,
		APIKey:     o.APIKey,
		PublicKeys: []ed25519.PublicKey{h.fake.PublicKey()},
		AuthURL:    h.fake.URL(),
		APIURL:     h.fake.URL(),
		Timeout:    5 * time.Second,
		Sleep:      func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		h.t.Fatalf("authforge client: %v", err)
	}
	h.af = af
}

// authCalls counts every request the fake received (both APIs).
func (h *harness) authCalls() int { return h.fake.Calls("/") }

func (h *harness) validateCalls() int { return h.fake.Calls("/auth/validate") }

func (h *harness) heartbeatCalls() int { return h.fake.Calls("/auth/heartbeat") }

func (h *harness) creditsUsed() int { return h.fake.CreditsUsed() }

// remoteRevoke revokes key in AuthForge only, as from its dashboard.
func (h *harness) remoteRevoke(key string) {
	h.t.Helper()
	if !h.fake.Revoke(key) {
		h.t.Fatalf("fake does not know %s", authforge.MaskKey(key))
	}
}

// remoteExpire makes key end a second ago in AuthForge only.
func (h *harness) remoteExpire(key string) {
	h.t.Helper()
	l, ok := h.fake.License(key)
	if !ok {
		h.t.Fatalf("fake does not know %s", authforge.MaskKey(key))
	}
	past := h.clock.Now().Add(-time.Second)
	l.ExpiresAt = &past
	h.fake.SeedLicense(l)
}

// brokenAnswers is how many Auth API answers tamperSignatures and
// wrongNonces spoil: more than any test makes.
const brokenAnswers = 100

// tamperSignatures makes every Auth API answer fail signature checks until
// repairFake.
func (h *harness) tamperSignatures() {
	for range brokenAnswers {
		h.fake.TamperNext("/auth/")
	}
}

// wrongNonces makes every Auth API answer echo a foreign nonce until
// repairFake.
func (h *harness) wrongNonces() {
	for range brokenAnswers {
		h.fake.WrongNonceNext("/auth/")
	}
}

// outOfCredits empties the AuthForge balance.
func (h *harness) outOfCredits() { h.fake.SetCredits(0) }

// repairFake cancels every injected fault.
func (h *harness) repairFake() { h.fake.ClearFaults() }
