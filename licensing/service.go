package licensing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/keylock"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Notifier is how licensing reaches buyers and admins; notify.Router
// satisfies it. Errors are logged, never returned to the caller of the
// licensing action that triggered them.
type Notifier interface {
	Notify(ctx context.Context, to identity.Identity, n notify.Notice) error
	// Alert tells the admins (the admin feed); it must not wait for a chat.
	Alert(ctx context.Context, a notify.Alert) error
	SyncAccess(ctx context.Context, who identity.Identity, products []string) error
}

var _ Notifier = (*notify.Router)(nil)

// Refresh modes (config authforge.refresh).
const (
	// RefreshLazy refreshes a session when a check finds it expired.
	RefreshLazy = "lazy"
	// RefreshEager also heartbeats every activation periodically
	// (RunHeartbeats), so revocations made elsewhere are noticed within the
	// heartbeat interval even for idle buyers.
	RefreshEager = "eager"
)

// Defaults for Options fields left zero.
const (
	DefaultSessionTTL       = 24 * time.Hour
	DefaultActivationLimit  = 5
	DefaultActivationWindow = 10 * time.Minute
	DefaultTransferLimit    = 2
	DefaultTransferWindow   = 30 * 24 * time.Hour
)

// alertInterval is the minimum time between two admin alerts of one kind.
const alertInterval = time.Hour

// Options configure a Service. Store and AuthForge are required.
type Options struct {
	Store     *store.DB
	AuthForge *authforge.Client
	Products  []config.Product
	// SessionTTL is the session lifetime asked of AuthForge (default 24h).
	SessionTTL time.Duration
	// Refresh is RefreshLazy (default) or RefreshEager. It is reported by
	// RefreshMode; the caller starts RunHeartbeats in eager mode.
	Refresh string
	// Notifier receives notices, admin alerts and access syncs. Nil sends
	// nothing (useful only in tests of other packages).
	Notifier Notifier
	// Clock defaults to time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
	// ActivationLimit attempts per identity in ActivationWindow (5, 10m).
	ActivationLimit  int
	ActivationWindow time.Duration
	// TransferLimit self-service moves per key in TransferWindow (2, 720h).
	TransferLimit  int
	TransferWindow time.Duration
	// AcceptOutsideKeys imports keys of the app that shopbot did not issue
	// (config authforge.accept_outside_keys), matched to a product by its
	// OutsideKeyLabels.
	AcceptOutsideKeys bool
	// CreditsBalance is the AuthForge credit balance the seller stated
	// (config alerts.credits_balance; 0: unknown, no low-credit alert);
	// LowCredits is the estimate left at which admins are alerted once.
	CreditsBalance int64
	LowCredits     int64
}

// Service is the licensing core. It is safe for concurrent use.
type Service struct {
	store    *store.DB
	af       *authforge.Client
	products map[string]config.Product
	// outside holds, in config order, the products outside keys may be
	// imported as; nil unless Options.AcceptOutsideKeys.
	outside  []config.Product
	ttl      time.Duration
	refresh  string
	notifier Notifier
	now      func() time.Time
	log      *slog.Logger

	acceptOutside bool

	limiter *limiter
	cache   *cache

	// keyLocks serialises work on one license key: activation, refresh
	// and retirement of its activations, so a heartbeat in flight cannot
	// re-create an activation that a concurrent revoke just removed.
	keyLocks keylock.Map

	transferLimit  int
	transferWindow time.Duration
	transferMu     sync.Mutex

	alertMu    sync.Mutex
	lastAlerts map[string]time.Time

	backoffMu sync.Mutex
	backoff   map[string]time.Time

	validations atomic.Int64
	heartbeats  atomic.Int64
	countersMu  sync.Mutex
	// Low-credit alert state (credits.go), guarded by countersMu after New.
	creditsBalance, lowCredits int64
	creditsRef                 float64
	creditsAlerted             bool
}

// New checks opts and builds a Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("licensing: Options.Store is required")
	}
	if opts.AuthForge == nil {
		return nil, errors.New("licensing: Options.AuthForge is required")
	}
	s := &Service{
		store:          opts.Store,
		af:             opts.AuthForge,
		products:       make(map[string]config.Product, len(opts.Products)),
		ttl:            opts.SessionTTL,
		refresh:        opts.Refresh,
		notifier:       opts.Notifier,
		now:            opts.Clock,
		log:            opts.Logger,
		transferLimit:  opts.TransferLimit,
		transferWindow: opts.TransferWindow,
		cache:          newCache(),
		lastAlerts:     map[string]time.Time{},
		backoff:        map[string]time.Time{},
		creditsBalance: opts.CreditsBalance,
		lowCredits:     opts.LowCredits,
	}
	for _, p := range opts.Products {
		if p.ID == "" {
			return nil, fmt.Errorf("licensing: product without id")
		}
		if _, dup := s.products[p.ID]; dup {
			return nil, fmt.Errorf("licensing: product %q configured twice", p.ID)
		}
		s.products[p.ID] = p
		if opts.AcceptOutsideKeys && len(p.OutsideKeyLabels) > 0 {
			s.outside = append(s.outside, p)
		}
	}
	s.acceptOutside = opts.AcceptOutsideKeys
	if s.ttl == 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.ttl < 0 {
		return nil, fmt.Errorf("licensing: SessionTTL %s is negative", s.ttl)
	}
	switch s.refresh {
	case "":
		s.refresh = RefreshLazy
	case RefreshLazy, RefreshEager:
	default:
		return nil, fmt.Errorf("licensing: Refresh %q: want %q or %q", s.refresh, RefreshLazy, RefreshEager)
	}
	if s.notifier == nil {
		s.notifier = nopNotifier{}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	limit, window := opts.ActivationLimit, opts.ActivationWindow
	if limit == 0 {
		limit = DefaultActivationLimit
	}
	if window == 0 {
		window = DefaultActivationWindow
	}
	if limit < 0 || window < 0 {
		return nil, fmt.Errorf("licensing: activation limit %d per %s is negative", limit, window)
	}
	s.limiter = newLimiter(limit, window)
	if s.transferLimit == 0 {
		s.transferLimit = DefaultTransferLimit
	}
	if s.transferWindow == 0 {
		s.transferWindow = DefaultTransferWindow
	}
	if s.transferLimit < 0 || s.transferWindow < 0 {
		return nil, fmt.Errorf("licensing: transfer limit %d per %s is negative", s.transferLimit, s.transferWindow)
	}
	s.loadCounters(context.Background())
	s.loadCreditsRef(context.Background())
	s.loadCreditsAlerted(context.Background())
	return s, nil
}

// RefreshMode reports RefreshLazy or RefreshEager.
func (s *Service) RefreshMode() string { return s.refresh }

// Product returns the configured product with id.
func (s *Service) Product(id string) (config.Product, bool) {
	p, ok := s.products[id]
	return p, ok
}

// productOrStub returns the configured product, or a stand-in named by its
// id for licenses of products the seller has since removed from the config.
func (s *Service) productOrStub(id string) config.Product {
	if p, ok := s.products[id]; ok {
		return p
	}
	return config.Product{ID: id, Name: id}
}

// audit records an admin or lifecycle action; failures are logged only,
// because the action itself already happened.
func (s *Service) audit(ctx context.Context, actor, action, target, detail string) {
	e := store.AuditEntry{Time: s.now(), Actor: actor, Action: action, Target: target, Detail: detail}
	if err := s.store.Audit(ctx, e); err != nil {
		s.log.Error("audit entry not written", "action", action, "target", target, "err", err)
	}
}

// notice sends one message to a buyer, logging failures.
func (s *Service) notice(ctx context.Context, to identity.Identity, n notify.Notice) {
	if to.IsZero() {
		return
	}
	if err := s.notifier.Notify(ctx, to, n); err != nil {
		s.log.Warn("buyer not notified", "identity", to.String(), "err", err)
	}
}

// sync hands who's full current entitlement to the chat adapters.
func (s *Service) sync(ctx context.Context, who identity.Identity) {
	products, err := s.Entitled(ctx, who)
	if err != nil {
		s.log.Error("access not synced: entitlements unreadable", "identity", who.String(), "err", err)
		return
	}
	if err := s.notifier.SyncAccess(ctx, who, products); err != nil {
		s.log.Warn("access sync failed", "identity", who.String(), "products", products, "err", err)
	}
}

// Sync recomputes who's entitlements from the stored state and syncs their
// chat access (used after a member rejoins, and by the admin /sync).
func (s *Service) Sync(ctx context.Context, who identity.Identity) ([]string, error) {
	s.cache.invalidate(who)
	products, err := s.Entitled(ctx, who)
	if err != nil {
		return nil, err
	}
	if err := s.notifier.SyncAccess(ctx, who, products); err != nil {
		return products, fmt.Errorf("licensing: sync %s: %w", who, err)
	}
	return products, nil
}

// SyncAll syncs every identity that holds an activation; it returns how
// many identities it synced. It streams the activations, which the store
// keeps in identity order, so it holds one page in memory however many
// buyers there are.
func (s *Service) SyncAll(ctx context.Context) (int, error) {
	var errs []error
	synced := 0
	var last identity.Identity
	err := s.store.ForEachActivation(ctx, func(a store.Activation) error {
		if synced > 0 && a.Identity == last {
			return nil
		}
		last = a.Identity
		synced++
		if _, err := s.Sync(ctx, a.Identity); err != nil {
			errs = append(errs, err)
		}
		return ctx.Err()
	})
	if err != nil && ctx.Err() == nil {
		errs = append(errs, fmt.Errorf("licensing: list activations: %w", err))
	}
	return synced, errors.Join(errs...)
}

// alertOnce alerts the admins about kind at most once per alertInterval.
func (s *Service) alertOnce(ctx context.Context, kind, text string) {
	now := s.now()
	s.alertMu.Lock()
	last, seen := s.lastAlerts[kind]
	if seen && now.Sub(last) < alertInterval {
		s.alertMu.Unlock()
		return
	}
	s.lastAlerts[kind] = now
	s.alertMu.Unlock()
	if err := s.notifier.Alert(ctx, notify.Alert{Kind: notify.KindCredits, Text: text}); err != nil {
		s.log.Error("admin alert failed", "kind", kind, "err", err)
	}
}

// Counters of AuthForge calls that cost credits, persisted in store meta so
// Stats survives restarts.
const (
	metaValidations = "licensing.validations"
	metaHeartbeats  = "licensing.heartbeats"
)

func (s *Service) loadCounters(ctx context.Context) {
	for _, c := range []struct {
		key string
		v   *atomic.Int64
	}{{metaValidations, &s.validations}, {metaHeartbeats, &s.heartbeats}} {
		raw, err := s.store.GetMeta(ctx, c.key)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
			c.v.Store(n)
		}
	}
}

// count adds a credit-costing call. The counter rides along with the
// store's next commit instead of costing one of its own (an fsync per
// AuthForge call, with every other caller waiting for it): a crash may
// forget the last few milliseconds of calls, which only nudges an
// estimate.
func (s *Service) count(ctx context.Context, key string, v *atomic.Int64) {
	v.Add(1)
	if err := s.store.DeferMeta(key, func() string { return strconv.FormatInt(v.Load(), 10) }); err != nil {
		s.log.Warn("credit counter not saved", "key", key, "err", err)
	}
	s.countersMu.Lock()
	defer s.countersMu.Unlock()
	s.checkCredits(ctx)
}

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, identity.Identity, notify.Notice) error { return nil }
func (nopNotifier) Alert(context.Context, notify.Alert) error                      { return nil }
func (nopNotifier) SyncAccess(context.Context, identity.Identity, []string) error  { return nil }
