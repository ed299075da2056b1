package licensing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Admin actions. Each takes the acting admin's name (e.g. "tg:123") for the
// audit log, and records one entry whose target is a masked key or an
// identity.

// Revoke revokes key in AuthForge and here, removes every activation of it,
// syncs each former holder's access to what their other licenses still grant,
// and tells the holders and the owner.
//
// The local revocation always happens, so the gate denies at once. When
// AuthForge does not confirm (it is down), the revoked license is returned
// with an error matching ErrNotConfirmed; calling Revoke again is safe. A
// key AuthForge no longer knows is revoked locally without error.
func (s *Service) Revoke(ctx context.Context, actor, rawKey string) (store.License, error) {
	key, lic, err := s.resolve(ctx, rawKey)
	if err != nil {
		return store.License{}, err
	}
	remoteErr := s.af.RevokeLicense(ctx, key)
	if errors.Is(remoteErr, authforge.ErrNotFound) {
		s.log.Warn("revoking a key AuthForge does not know", "key", authforge.MaskKey(key))
		remoteErr = nil
	}

	unlock := s.keyLocks.Lock(key)
	if fresh, err := s.store.GetLicense(ctx, key); err == nil {
		lic = fresh
	}
	f, err := s.retireLocked(ctx, lic, reasonRevoked)
	unlock()
	if f != nil {
		lic = f.lic
		s.settle(ctx, f)
	}
	if err != nil {
		return store.License{}, err
	}
	detail := fmt.Sprintf("product %s, %d activation(s) removed", lic.ProductID, len(f.removed))
	if remoteErr != nil {
		detail += "; AuthForge did not confirm: " + remoteErr.Error()
	}
	s.audit(ctx, actor, "revoke", authforge.MaskKey(key), detail)
	s.log.Info("license revoked", "actor", actor, "key", authforge.MaskKey(key), "removed", len(f.removed), "remote_err", remoteErr)
	if remoteErr != nil {
		return lic, fmt.Errorf("%w: %w", ErrNotConfirmed, s.authError(ctx, remoteErr, 0))
	}
	return lic, nil
}

// RevokeIdentity revokes every license who owns or has activated and that
// is not revoked yet. It returns the licenses it revoked; errors of single
// keys are joined.
func (s *Service) RevokeIdentity(ctx context.Context, actor string, who identity.Identity) ([]store.License, error) {
	if err := who.Validate(); err != nil {
		return nil, fmt.Errorf("licensing: revoke: %w", err)
	}
	lics, err := s.licensesOf(ctx, who)
	if err != nil {
		return nil, err
	}
	var revoked []store.License
	var errs []error
	for _, l := range lics {
		if l.Status == store.LicenseRevoked {
			continue
		}
		got, err := s.Revoke(ctx, actor, l.Key)
		if got.Key != "" {
			revoked = append(revoked, got)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", authforge.MaskKey(l.Key), err))
		}
	}
	s.audit(ctx, actor, "revoke-identity", who.String(), fmt.Sprintf("%d license(s) revoked", len(revoked)))
	return revoked, errors.Join(errs...)
}

// Extend moves the license's end by `by`, counted from now when it has
// already passed, in AuthForge and here. Lifetime licenses give ErrLifetime,
// revoked ones ErrRevoked.
func (s *Service) Extend(ctx context.Context, actor, rawKey string, by time.Duration) (store.License, error) {
	if by <= 0 {
		return store.License{}, fmt.Errorf("%w: extend by %s", ErrInvalidArgument, by)
	}
	key, lic, err := s.extendable(ctx, rawKey)
	if err != nil {
		return store.License{}, err
	}
	base := lic.ExpiresAt
	if now := s.now(); base.Before(now) {
		base = now
	}
	until := base.Add(by).UTC().Truncate(time.Second)
	if lic, err = s.setEnd(ctx, key, until); err != nil {
		return store.License{}, err
	}
	p := s.productOrStub(lic.ProductID)
	s.notice(ctx, lic.Owner, notify.Say("license.extended", textExtended,
		"key", authforge.MaskKey(key), "product", p.Name, "until", until.UTC().Format(notify.TimeLayout)))
	s.audit(ctx, actor, "extend", authforge.MaskKey(key), fmt.Sprintf("by %s until %s", by, until.Format(time.RFC3339)))
	return lic, nil
}

// ResetHWID frees every HWID slot of key in AuthForge and removes its
// activations here; former holders lose the access and are told they can
// activate again.
func (s *Service) ResetHWID(ctx context.Context, actor, rawKey string) (store.License, error) {
	key, lic, err := s.resolve(ctx, rawKey)
	if err != nil {
		return store.License{}, err
	}
	f, err := s.release(ctx, lic)
	if err != nil {
		return store.License{}, err
	}
	s.settle(ctx, f)
	s.audit(ctx, actor, "reset-hwid", authforge.MaskKey(key), fmt.Sprintf("%d activation(s) released", len(f.removed)))
	return lic, nil
}

// release resets the key's HWIDs in AuthForge, then drops its activations.
func (s *Service) release(ctx context.Context, lic store.License) (*fallout, error) {
	if err := s.af.ResetHWID(ctx, lic.Key); err != nil {
		return nil, fmt.Errorf("licensing: reset HWIDs: %w", s.authError(ctx, err, 0))
	}
	unlock := s.keyLocks.Lock(lic.Key)
	defer unlock()
	f, err := s.retireLocked(ctx, lic, reasonReleased)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Grant issues a license of productID to who without payment (lifetime, or
// the product's duration from now) and delivers it with an Activate button.
func (s *Service) Grant(ctx context.Context, actor string, who identity.Identity, productID string) (store.License, error) {
	p, ok := s.products[productID]
	if !ok {
		return store.License{}, fmt.Errorf("%w %q", ErrUnknownProduct, productID)
	}
	req := IssueRequest{ProductID: p.ID, Owner: who, Label: "shopbot:grant:" + randomHex(8), Source: "grant"}
	if p.Duration.Duration > 0 {
		req.ExpiresAt = s.now().Add(p.Duration.Duration).UTC().Truncate(time.Second)
	}
	lic, err := s.Issue(ctx, req)
	if err != nil {
		return store.License{}, err
	}
	n := notify.Say("license.granted", textGranted, "product", p.Name, "key", lic.Key)
	if !lic.ExpiresAt.IsZero() {
		n = notify.Say("license.granted_until", textGrantedUntil, "product", p.Name, "key", lic.Key, "until", lic.ExpiresAt.UTC().Format(notify.TimeLayout))
	}
	n.ActivateKey = lic.Key
	s.notice(ctx, who, n)
	s.audit(ctx, actor, "grant", authforge.MaskKey(lic.Key), fmt.Sprintf("product %s to %s", p.ID, who))
	return lic, nil
}

// resolve normalises a key typed by a person and reads its license.
func (s *Service) resolve(ctx context.Context, rawKey string) (string, store.License, error) {
	key := authforge.NormalizeKey(rawKey)
	if !authforge.ValidKey(key) {
		return "", store.License{}, ErrMalformedKey
	}
	lic, err := s.store.GetLicense(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.License{}, ErrUnknownKey
	}
	if err != nil {
		return "", store.License{}, fmt.Errorf("licensing: read license: %w", err)
	}
	return key, lic, nil
}

// licensesOf lists the licenses who owns or has activated, newest first.
func (s *Service) licensesOf(ctx context.Context, who identity.Identity) ([]store.License, error) {
	owned, err := s.store.LicensesByOwner(ctx, who)
	if err != nil {
		return nil, fmt.Errorf("licensing: licenses of %s: %w", who, err)
	}
	acts, err := s.store.ActivationsFor(ctx, who)
	if err != nil {
		return nil, fmt.Errorf("licensing: activations of %s: %w", who, err)
	}
	out := slices.Clone(owned)
	for _, a := range acts {
		if slices.ContainsFunc(out, func(l store.License) bool { return l.Key == a.Key }) {
			continue
		}
		l, err := s.store.GetLicense(ctx, a.Key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("licensing: read license: %w", err)
		}
		out = append(out, l)
	}
	slices.SortStableFunc(out, func(a, b store.License) int { return b.CreatedAt.Compare(a.CreatedAt) })
	return out, nil
}
