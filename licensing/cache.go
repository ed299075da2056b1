package licensing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// cachedActivation is what the gate needs to answer for one activation
// without touching the store or the network.
type cachedActivation struct {
	productID        string
	key              string
	sessionExpiresAt time.Time
	// licenseExpiresAt comes from the stored license (zero = lifetime); it
	// is the local authority on expiry, kept current by Extend and by
	// signed sessions that report a different expiry.
	licenseExpiresAt time.Time
	// usable is false when the stored license is revoked or missing.
	usable bool
}

// valid reports whether the stored state grants the product at now,
// whatever the session says.
func (a *cachedActivation) valid(now time.Time) bool {
	return a.usable && (a.licenseExpiresAt.IsZero() || now.Before(a.licenseExpiresAt))
}

// fresh reports whether the gate may answer yes without a network call.
func (a *cachedActivation) fresh(now time.Time) bool {
	return a.valid(now) && now.Before(a.sessionExpiresAt)
}

func (a *cachedActivation) entitlement() Entitlement {
	return Entitlement{ProductID: a.productID, Key: a.key, ExpiresAt: a.licenseExpiresAt, SessionExpiresAt: a.sessionExpiresAt}
}

// maxCached bounds the cache; past it the cache starts over, which costs one
// store read per identity and keeps memory flat whatever the traffic.
const maxCached = 100_000

// cache holds each identity's activations. Slices stored in it are never
// modified, so readers may use them after releasing the lock. Every write
// this service makes to an identity's activations or licenses invalidates
// the identity; gen makes a fill that raced with an invalidation a no-op.
type cache struct {
	mu  sync.RWMutex
	m   map[identity.Identity][]cachedActivation
	gen uint64
}

func newCache() *cache { return &cache{m: map[identity.Identity][]cachedActivation{}} }

func (c *cache) get(who identity.Identity) ([]cachedActivation, bool) {
	c.mu.RLock()
	acts, ok := c.m[who]
	c.mu.RUnlock()
	return acts, ok
}

func (c *cache) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

func (c *cache) fill(who identity.Identity, acts []cachedActivation, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.m) >= maxCached {
		c.m = make(map[identity.Identity][]cachedActivation)
	}
	c.m[who] = acts
}

func (c *cache) invalidate(who ...identity.Identity) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range who {
		delete(c.m, w)
	}
	c.gen++
}

// activations returns who's activations from the cache, reading the store on
// a miss.
func (s *Service) activations(ctx context.Context, who identity.Identity) ([]cachedActivation, error) {
	if acts, ok := s.cache.get(who); ok {
		return acts, nil
	}
	gen := s.cache.generation()
	stored, err := s.store.ActivationsFor(ctx, who)
	if err != nil {
		return nil, fmt.Errorf("licensing: read activations of %s: %w", who, err)
	}
	acts := make([]cachedActivation, 0, len(stored))
	for _, a := range stored {
		ca := cachedActivation{productID: a.ProductID, key: a.Key, sessionExpiresAt: a.SessionExpiresAt}
		lic, err := s.store.GetLicense(ctx, a.Key)
		switch {
		case err == nil:
			ca.usable = lic.Status != store.LicenseRevoked
			ca.licenseExpiresAt = lic.ExpiresAt
			if lic.ProductID != "" {
				ca.productID = lic.ProductID
			}
		case errors.Is(err, store.ErrNotFound):
		default:
			return nil, fmt.Errorf("licensing: read license of %s: %w", who, err)
		}
		acts = append(acts, ca)
	}
	s.cache.fill(who, acts, gen)
	return acts, nil
}

// reset empties the cache; used when the set of identities to invalidate
// cannot be read.
func (c *cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = make(map[identity.Identity][]cachedActivation)
	c.gen++
}
