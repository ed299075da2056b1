package licensing

import (
	"context"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// ExtendTo moves the license's end forward to until, in AuthForge and here
// (subscription renewals: the period end plus grace). It only ever moves
// the end forward: an until at or before the current end returns the
// license unchanged, so events applied in any order end in the same state.
// Lifetime licenses give ErrLifetime, revoked ones ErrRevoked. The owner is
// not notified; the caller decides what to tell them.
func (s *Service) ExtendTo(ctx context.Context, actor, rawKey string, until time.Time) (store.License, error) {
	if until.IsZero() {
		return store.License{}, fmt.Errorf("%w: extend to the zero time", ErrInvalidArgument)
	}
	until = until.UTC().Truncate(time.Second)
	key, lic, err := s.extendable(ctx, rawKey)
	if err != nil {
		return store.License{}, err
	}
	if !until.After(lic.ExpiresAt) {
		return lic, nil
	}
	lic, err = s.setEnd(ctx, key, until)
	if err != nil {
		return store.License{}, err
	}
	s.audit(ctx, actor, "extend", authforge.MaskKey(key), "until "+until.Format(time.RFC3339))
	s.log.Info("license extended", "actor", actor, "key", authforge.MaskKey(key), "until", until)
	return lic, nil
}

// extendable resolves rawKey to a license whose end can move: revoked
// licenses give ErrRevoked, lifetime ones ErrLifetime.
func (s *Service) extendable(ctx context.Context, rawKey string) (string, store.License, error) {
	key, lic, err := s.resolve(ctx, rawKey)
	switch {
	case err != nil:
		return "", store.License{}, err
	case lic.Status == store.LicenseRevoked:
		return "", store.License{}, ErrRevoked
	case lic.ExpiresAt.IsZero():
		return "", store.License{}, ErrLifetime
	}
	return key, lic, nil
}

// setEnd sets key's end to until in AuthForge, then here, and syncs the
// access of everyone holding it. A stored end that is already later (a
// renewal or another extension got there first) is kept: ends only move
// forward.
func (s *Service) setEnd(ctx context.Context, key string, until time.Time) (store.License, error) {
	if err := s.af.ExtendLicense(ctx, key, until); err != nil {
		return store.License{}, fmt.Errorf("licensing: extend: %w", s.authError(ctx, err, 0))
	}
	unlock := s.keyLocks.Lock(key)
	lic, err := s.store.UpdateLicense(ctx, key, func(l *store.License) error {
		if until.After(l.ExpiresAt) {
			l.ExpiresAt = until
		}
		return nil
	})
	if err == nil {
		s.invalidateHolders(ctx, key)
	}
	unlock()
	if err != nil {
		return store.License{}, fmt.Errorf("licensing: extend: AuthForge extended, store not updated: %w", err)
	}
	if holders, err := s.holdersOf(ctx, key); err == nil {
		for _, h := range holders {
			s.sync(ctx, h)
		}
	}
	return lic, nil
}
