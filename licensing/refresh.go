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

// reason says why activations were removed; it picks the buyer's message.
type reason int

const (
	reasonRevoked  reason = iota // revoked here or in AuthForge
	reasonExpired                // the license ran out
	reasonReleased               // the slot was freed (reset, transfer)
	reasonSilent                 // bookkeeping: no message
)

// fallout is what to do after activations were removed under a key's lock:
// sync the access of every identity that lost one and tell the people
// concerned. It runs after the lock is released.
type fallout struct {
	lic     store.License
	reason  reason
	removed []identity.Identity
	tell    []identity.Identity
}

// refreshBackoff is how long the gate denies an activation without asking
// AuthForge again after a refresh could not get an answer.
const refreshBackoff = 30 * time.Second

// refreshActivation re-checks one activation of who with AuthForge (force:
// even when its session is still fresh). It returns ErrNotEntitled when the
// activation is gone and an error matching ErrUnavailable when AuthForge
// could not say.
func (s *Service) refreshActivation(ctx context.Context, who identity.Identity, key string, force bool) (Entitlement, error) {
	if !force {
		if until, paused := s.backingOff(who, key); paused {
			return Entitlement{}, fmt.Errorf("%w: refresh of %s paused until %s after a failure",
				ErrUnavailable, authforge.MaskKey(key), until.Format(time.TimeOnly))
		}
	}
	ent, f, err := s.refreshLocked(ctx, who, key, force)
	s.settle(ctx, f)
	return ent, err
}

func (s *Service) refreshLocked(ctx context.Context, who identity.Identity, key string, force bool) (Entitlement, *fallout, error) {
	unlock := s.keyLocks.Lock(key)
	defer unlock()

	act, found, err := s.storedActivation(ctx, who, key)
	if err != nil {
		return Entitlement{}, nil, err
	}
	if !found {
		s.cache.invalidate(who)
		return Entitlement{}, nil, ErrNotEntitled
	}
	lic, err := s.store.GetLicense(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if err := s.store.DeleteActivation(ctx, who, key); err != nil {
			return Entitlement{}, nil, fmt.Errorf("licensing: drop activation: %w", err)
		}
		s.cache.invalidate(who)
		return Entitlement{}, &fallout{reason: reasonSilent, removed: []identity.Identity{who}}, ErrNotEntitled
	case err != nil:
		return Entitlement{}, nil, fmt.Errorf("licensing: read license: %w", err)
	}
	now := s.now()
	switch {
	case lic.Status == store.LicenseRevoked:
		return s.retireDenied(ctx, lic, reasonRevoked)
	case expired(lic, now):
		return s.retireDenied(ctx, lic, reasonExpired)
	case !force && now.Before(act.SessionExpiresAt):
		// Another caller refreshed it while this one waited for the lock.
		s.cache.invalidate(who)
		return entitlementOf(act, lic), nil, nil
	}

	sess, err := s.renew(ctx, who, act)
	if err == nil {
		updateActivation(&act, sess, s.now())
		if err := s.store.PutActivation(ctx, act); err != nil {
			return Entitlement{}, nil, fmt.Errorf("licensing: store refreshed session: %w", err)
		}
		lic = s.reconcileLicense(ctx, lic, sess)
		s.cache.invalidate(who)
		s.clearBackoff(who, key)
		return entitlementOf(act, lic), nil, nil
	}

	mapped := s.authError(ctx, err, lic.MaxSlots)
	switch {
	case errors.Is(mapped, ErrRevoked), errors.Is(mapped, ErrInvalidKey):
		s.log.Info("AuthForge reports license revoked", "key", authforge.MaskKey(key), "identity", who.String(), "err", err)
		return s.retireDenied(ctx, lic, reasonRevoked)
	case errors.Is(mapped, ErrExpired):
		s.log.Info("AuthForge reports license expired", "key", authforge.MaskKey(key), "identity", who.String())
		return s.retireDenied(ctx, lic, reasonExpired)
	case errors.Is(mapped, ErrSlotsFull):
		// Our HWID is no longer bound and the slots are taken: the key was
		// reset and reused elsewhere.
		s.log.Info("activation lost its slot", "key", authforge.MaskKey(key), "identity", who.String())
		if err := s.store.DeleteActivation(ctx, who, key); err != nil {
			return Entitlement{}, nil, fmt.Errorf("licensing: drop activation: %w", err)
		}
		s.cache.invalidate(who)
		who := []identity.Identity{who}
		return Entitlement{}, &fallout{lic: lic, reason: reasonReleased, removed: who, tell: who}, ErrNotEntitled
	}
	s.log.Warn("session refresh failed; access denied until AuthForge answers",
		"key", authforge.MaskKey(key), "identity", who.String(), "err", err)
	s.startBackoff(who, key, now)
	if !errors.Is(mapped, ErrUnavailable) {
		mapped = fmt.Errorf("%w: %w", ErrUnavailable, mapped)
	}
	return Entitlement{}, nil, mapped
}

func (s *Service) retireDenied(ctx context.Context, lic store.License, r reason) (Entitlement, *fallout, error) {
	f, err := s.retireLocked(ctx, lic, r)
	if err != nil {
		return Entitlement{}, f, err
	}
	return Entitlement{}, f, ErrNotEntitled
}

// renew gets a new session: heartbeat while there is a token, validate when
// the session is gone.
func (s *Service) renew(ctx context.Context, who identity.Identity, act store.Activation) (authforge.Session, error) {
	if act.SessionToken != "" {
		sess, err := s.af.Heartbeat(ctx, act.SessionToken, who.String())
		if err == nil {
			s.count(ctx, metaHeartbeats, &s.heartbeats)
			return sess, nil
		}
		if !errors.Is(err, authforge.ErrSessionExpired) {
			return authforge.Session{}, err
		}
	}
	sess, err := s.af.Validate(ctx, act.Key, who.String(), s.ttl)
	if err == nil {
		s.count(ctx, metaValidations, &s.validations)
	}
	return sess, err
}

// updateActivation stores a refreshed session in act, keeping what the
// answer leaves out.
func updateActivation(act *store.Activation, sess authforge.Session, now time.Time) {
	act.SessionToken = sess.Token
	act.SessionExpiresAt = sess.ExpiresAt
	act.Payload = sess.Payload
	act.Signature = sess.Signature
	act.KeyID = sess.KeyID
	if !sess.LicenseExpiresAt.IsZero() {
		act.LicenseExpiresAt = sess.LicenseExpiresAt
	}
	if sess.HWIDCount > 0 {
		act.HWIDCount = sess.HWIDCount
	}
	if sess.MaxHWIDSlots > 0 {
		act.MaxSlots = sess.MaxHWIDSlots
	}
	act.RefreshedAt = now
}

func entitlementOf(act store.Activation, lic store.License) Entitlement {
	return Entitlement{ProductID: lic.ProductID, Key: lic.Key, ExpiresAt: lic.ExpiresAt, SessionExpiresAt: act.SessionExpiresAt}
}

// storedActivation reads who's activation of key from the store.
func (s *Service) storedActivation(ctx context.Context, who identity.Identity, key string) (store.Activation, bool, error) {
	acts, err := s.store.ActivationsFor(ctx, who)
	if err != nil {
		return store.Activation{}, false, fmt.Errorf("licensing: read activations of %s: %w", who, err)
	}
	for _, a := range acts {
		if a.Key == key {
			return a, true, nil
		}
	}
	return store.Activation{}, false, nil
}

// retireLocked ends every activation of lic (the caller holds the key's
// lock) and marks the license revoked or expired in the store.
func (s *Service) retireLocked(ctx context.Context, lic store.License, r reason) (*fallout, error) {
	now := s.now()
	changed := false
	switch {
	case r == reasonRevoked && lic.Status != store.LicenseRevoked:
		updated, err := s.store.UpdateLicense(ctx, lic.Key, func(l *store.License) error {
			l.Status = store.LicenseRevoked
			if l.RevokedAt.IsZero() {
				l.RevokedAt = now
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("licensing: mark license revoked: %w", err)
		}
		lic, changed = updated, true
	case r == reasonExpired && !expired(lic, now):
		updated, err := s.store.UpdateLicense(ctx, lic.Key, func(l *store.License) error {
			l.ExpiresAt = now
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("licensing: mark license expired: %w", err)
		}
		lic, changed = updated, true
	}
	holders, err := s.store.ActivationsForKey(ctx, lic.Key)
	if err != nil {
		if changed {
			// The gate answers from memory; with the holders unknown,
			// only forgetting everyone keeps it from admitting them.
			s.cache.reset()
		}
		return nil, fmt.Errorf("licensing: read holders: %w", err)
	}
	// Every holder's cached view is stale now, also one whose activation
	// fails to be deleted below.
	for _, h := range holders {
		s.cache.invalidate(h.Identity)
	}
	f := &fallout{lic: lic, reason: r}
	var errs []error
	for _, h := range holders {
		if err := s.store.DeleteActivation(ctx, h.Identity, lic.Key); err != nil {
			errs = append(errs, err)
			continue
		}
		f.removed = append(f.removed, h.Identity)
	}
	f.tell = slices.Clone(f.removed)
	// The owner hears about a revocation or expiry once: when it happens,
	// or when it removes someone's access.
	ownerConcerned := r != reasonReleased && (changed || len(f.removed) > 0)
	if ownerConcerned && !lic.Owner.IsZero() && !slices.Contains(f.tell, lic.Owner) {
		f.tell = append(f.tell, lic.Owner)
	}
	if len(errs) > 0 {
		return f, fmt.Errorf("licensing: drop activations: %w", errors.Join(errs...))
	}
	return f, nil
}

// settle syncs and notifies after activations were removed.
func (s *Service) settle(ctx context.Context, f *fallout) {
	if f == nil {
		return
	}
	for _, who := range f.removed {
		s.sync(ctx, who)
	}
	if f.reason == reasonSilent {
		return
	}
	n := s.lossNotice(f.lic, f.reason)
	for _, who := range f.tell {
		s.notice(ctx, who, n)
	}
}

// lossNotice tells a buyer that a license no longer gives access, and how to
// get it back.
func (s *Service) lossNotice(lic store.License, r reason) notify.Notice {
	p := s.productOrStub(lic.ProductID)
	key := authforge.MaskKey(lic.Key)
	switch r {
	case reasonExpired:
		n := notify.Say("loss.expired", textLossExpired, "key", key, "product", p.Name, "id", p.ID)
		n.Renew = p.ID
		return n
	case reasonReleased:
		return notify.Say("loss.released", textLossReleased, "key", key, "product", p.Name)
	default:
		return notify.Say("loss.revoked", textLossRevoked, "key", key, "product", p.Name, "id", p.ID)
	}
}

func backoffKey(who identity.Identity, key string) string { return who.String() + "|" + key }

func (s *Service) backingOff(who identity.Identity, key string) (time.Time, bool) {
	s.backoffMu.Lock()
	defer s.backoffMu.Unlock()
	until, ok := s.backoff[backoffKey(who, key)]
	if !ok {
		return time.Time{}, false
	}
	if !s.now().Before(until) {
		delete(s.backoff, backoffKey(who, key))
		return time.Time{}, false
	}
	return until, true
}

func (s *Service) startBackoff(who identity.Identity, key string, now time.Time) {
	s.backoffMu.Lock()
	defer s.backoffMu.Unlock()
	if len(s.backoff) >= maxCached {
		clear(s.backoff)
	}
	s.backoff[backoffKey(who, key)] = now.Add(refreshBackoff)
}

func (s *Service) clearBackoff(who identity.Identity, key string) {
	s.backoffMu.Lock()
	defer s.backoffMu.Unlock()
	delete(s.backoff, backoffKey(who, key))
}
