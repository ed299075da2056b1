// Package terms asks buyers to accept the shop's terms before a key is
// bound, and keeps the pending "I accept" buttons. A button carries a short
// random token, never the key: Telegram's callback_data holds 64 bytes and
// a key in a button would sit in the chat's history. Pending tokens live in
// memory only, bounded and expiring; a lost token just means /activate
// again.
package terms

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// ErrNotAccepted: who has not accepted the current terms version.
var ErrNotAccepted = errors.New("terms: the current terms are not accepted")

// ErrStaleToken: the button's token is unknown, expired or someone else's.
var ErrStaleToken = errors.New("terms: acceptance button expired")

// Store is the part of the store the terms need.
type Store interface {
	AcceptTerms(ctx context.Context, a store.TermsAcceptance) error
	TermsAccepted(ctx context.Context, who identity.Identity) (store.TermsAcceptance, error)
}

// Defaults for Options.
const (
	DefaultTTL        = 15 * time.Minute
	DefaultMaxPending = 10000
)

// Options configure New.
type Options struct {
	Store   Store
	URL     string
	Version string
	Clock   func() time.Time
	// TTL of a pending button; MaxPending bounds them (the oldest goes).
	TTL        time.Duration
	MaxPending int
}

type pending struct {
	who identity.Identity
	key string
	at  time.Time
}

// Terms is safe for concurrent use.
type Terms struct {
	store   Store
	url     string
	version string
	now     func() time.Time
	ttl     time.Duration
	max     int

	mu      sync.Mutex
	pending map[string]pending
}

// New returns the terms of url at version (default "1").
func New(opts Options) (*Terms, error) {
	if opts.Store == nil || opts.URL == "" {
		return nil, errors.New("terms: Store and URL are required")
	}
	t := &Terms{store: opts.Store, url: opts.URL, version: opts.Version, now: opts.Clock,
		ttl: opts.TTL, max: opts.MaxPending, pending: map[string]pending{}}
	if t.version == "" {
		t.version = "1"
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.ttl <= 0 {
		t.ttl = DefaultTTL
	}
	if t.max <= 0 {
		t.max = DefaultMaxPending
	}
	return t, nil
}

// URL is the terms' address.
func (t *Terms) URL() string { return t.url }

// Version is the current terms version.
func (t *Terms) Version() string { return t.version }

// Accepted reports whether who accepted the current version.
func (t *Terms) Accepted(ctx context.Context, who identity.Identity) (bool, error) {
	a, err := t.store.TermsAccepted(ctx, who)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("terms: read acceptance of %s: %w", who, err)
	}
	return a.Version == t.version, nil
}

// Ask remembers that who wants key activated once the terms are accepted
// and returns the button's token.
func (t *Terms) Ask(who identity.Identity, key string) (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("terms: token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropExpired(now)
	if len(t.pending) >= t.max {
		t.dropOldest()
	}
	t.pending[token] = pending{who: who, key: key, at: now}
	return token, nil
}

// Accept records who's acceptance for the button token and returns the
// key to activate. The token is used once.
func (t *Terms) Accept(ctx context.Context, who identity.Identity, token string) (string, error) {
	now := t.now()
	t.mu.Lock()
	p, ok := t.pending[token]
	if ok && p.who == who {
		delete(t.pending, token)
	}
	t.mu.Unlock()
	if !ok || p.who != who || now.Sub(p.at) > t.ttl {
		return "", ErrStaleToken
	}
	a := store.TermsAcceptance{Identity: who, Version: t.version, URL: t.url, AcceptedAt: now}
	if err := t.store.AcceptTerms(ctx, a); err != nil {
		return "", fmt.Errorf("terms: record acceptance of %s: %w", who, err)
	}
	return p.key, nil
}

func (t *Terms) dropExpired(now time.Time) {
	for k, p := range t.pending {
		if now.Sub(p.at) > t.ttl {
			delete(t.pending, k)
		}
	}
}

func (t *Terms) dropOldest() {
	var oldest string
	var at time.Time
	for k, p := range t.pending {
		if oldest == "" || p.at.Before(at) {
			oldest, at = k, p.at
		}
	}
	delete(t.pending, oldest)
}
