package licensing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// Activation is the result of a successful Activate.
type Activation struct {
	License    store.License
	Product    config.Product
	Activation store.Activation
	// SlotsUsed and MaxSlots are the key's HWID slots after activation.
	SlotsUsed int
	MaxSlots  int
	// Renewed is true when who had already activated the key; activating
	// again refreshes the session and takes no extra slot.
	Renewed bool
}

// Activate binds the key to who (the identity string is the AuthForge HWID)
// and gives who the product's access.
//
// Order of checks: shape (ErrMalformedKey, no network, not counted against
// the rate limit), per-identity rate limit (*RateLimitError, counted for
// every later outcome), the key must be one this shop issued (ErrUnknownKey)
// — or, with Options.AcceptOutsideKeys, an active key of the app found with
// the Developer API whose label matches a product (see outsideLicense) —
// and not revoked or expired locally, then AuthForge validate. AuthForge
// refusals map to ErrInvalidKey, ErrExpired, ErrRevoked, *SlotsFullError,
// ErrBlocked, ErrNoCredits, ErrRateLimited or ErrUnavailable; nothing is
// stored unless the signed answer verified.
func (s *Service) Activate(ctx context.Context, who identity.Identity, rawKey string) (Activation, error) {
	key := authforge.NormalizeKey(rawKey)
	if !authforge.ValidKey(key) {
		return Activation{}, ErrMalformedKey
	}
	if err := who.Validate(); err != nil {
		return Activation{}, fmt.Errorf("licensing: activate: %w", err)
	}
	if wait, ok := s.limiter.allow(who, s.now()); !ok {
		s.log.Info("activation rate limited", "identity", who.String(), "retry_after", wait)
		return Activation{}, &RateLimitError{RetryAfter: wait}
	}
	res, err := s.activateKey(ctx, who, key)
	if err != nil {
		return Activation{}, err
	}
	s.sync(ctx, who)
	return res, nil
}

// activateKey is the part of Activate that runs under the key's lock.
func (s *Service) activateKey(ctx context.Context, who identity.Identity, key string) (Activation, error) {
	unlock := s.keyLocks.Lock(key)
	defer unlock()

	now := s.now()
	lic, err := s.store.GetLicense(ctx, key)
	imported := false
	switch {
	case errors.Is(err, store.ErrNotFound) && s.acceptOutside:
		// Not stored yet: it is written only after AuthForge's signed
		// answer verified, like every other activation.
		if lic, err = s.outsideLicense(ctx, who, key, now); err != nil {
			return Activation{}, err
		}
		imported = true
	case errors.Is(err, store.ErrNotFound):
		s.log.Info("activation of unknown key", "identity", who.String(), "key", authforge.MaskKey(key))
		return Activation{}, ErrUnknownKey
	case err != nil:
		return Activation{}, fmt.Errorf("licensing: activate: read license: %w", err)
	}
	switch {
	case lic.Status == store.LicenseRevoked:
		return Activation{}, ErrRevoked
	case expired(lic, now):
		return Activation{}, ErrExpired
	}
	holders, err := s.store.ActivationsForKey(ctx, key)
	if err != nil {
		return Activation{}, fmt.Errorf("licensing: activate: read activations: %w", err)
	}
	var previous *store.Activation
	for i := range holders {
		if holders[i].Identity == who {
			previous = &holders[i]
		}
	}

	sess, err := s.af.Validate(ctx, key, who.String(), s.ttl)
	if err != nil {
		mapped := s.authError(ctx, err, lic.MaxSlots)
		level := s.log.Info
		if errors.Is(mapped, ErrUnavailable) {
			level = s.log.Warn
		}
		level("activation refused", "identity", who.String(), "key", authforge.MaskKey(key), "err", err)
		return Activation{}, mapped
	}
	s.count(ctx, metaValidations, &s.validations)
	if imported {
		if err := s.importLicense(ctx, who, lic); err != nil {
			return Activation{}, err
		}
	}

	act := activationRecord(who, lic, sess, now, previous)
	if err := s.store.PutActivation(ctx, act); err != nil {
		return Activation{}, fmt.Errorf("licensing: activate: store activation: %w", err)
	}
	lic = s.reconcileLicense(ctx, lic, sess)
	s.cache.invalidate(who)
	s.clearBackoff(who, key)
	s.log.Info("license activated", "identity", who.String(), "key", authforge.MaskKey(key),
		"product", lic.ProductID, "session_expires", act.SessionExpiresAt)

	res := Activation{
		License:    lic,
		Product:    s.productOrStub(lic.ProductID),
		Activation: act,
		SlotsUsed:  sess.HWIDCount,
		MaxSlots:   sess.MaxHWIDSlots,
		Renewed:    previous != nil,
	}
	if res.SlotsUsed == 0 {
		res.SlotsUsed = len(holders)
		if previous == nil {
			res.SlotsUsed++
		}
	}
	if res.MaxSlots == 0 {
		res.MaxSlots = lic.MaxSlots
	}
	return res, nil
}

// activationRecord builds the stored activation from a verified session.
func activationRecord(who identity.Identity, lic store.License, sess authforge.Session, now time.Time, previous *store.Activation) store.Activation {
	act := store.Activation{
		Identity:         who,
		Key:              lic.Key,
		ProductID:        lic.ProductID,
		SessionToken:     sess.Token,
		SessionExpiresAt: sess.ExpiresAt,
		Payload:          sess.Payload,
		Signature:        sess.Signature,
		KeyID:            sess.KeyID,
		LicenseExpiresAt: sess.LicenseExpiresAt,
		HWIDCount:        sess.HWIDCount,
		MaxSlots:         sess.MaxHWIDSlots,
		ActivatedAt:      now,
		RefreshedAt:      now,
	}
	if act.MaxSlots == 0 {
		act.MaxSlots = lic.MaxSlots
	}
	if previous != nil && !previous.ActivatedAt.IsZero() {
		act.ActivatedAt = previous.ActivatedAt
	}
	return act
}

// reconcileLicense updates the stored license when a verified session
// reports a different expiry or slot count (AuthForge is the authority, e.g.
// after a change in its dashboard). Failures are logged: the stored value is
// only a cache of AuthForge's.
func (s *Service) reconcileLicense(ctx context.Context, lic store.License, sess authforge.Session) store.License {
	exp := !sess.LicenseExpiresAt.IsZero() && !sess.LicenseExpiresAt.Equal(lic.ExpiresAt)
	slots := sess.MaxHWIDSlots > 0 && sess.MaxHWIDSlots != lic.MaxSlots
	if !exp && !slots {
		return lic
	}
	updated, err := s.store.UpdateLicense(ctx, lic.Key, func(l *store.License) error {
		if exp {
			l.ExpiresAt = sess.LicenseExpiresAt
		}
		if slots {
			l.MaxSlots = sess.MaxHWIDSlots
		}
		return nil
	})
	if err != nil {
		s.log.Warn("license not updated from session", "key", authforge.MaskKey(lic.Key), "err", err)
		return lic
	}
	s.invalidateHolders(ctx, lic.Key)
	return updated
}

// invalidateHolders drops the cache of every identity holding key.
func (s *Service) invalidateHolders(ctx context.Context, key string) {
	holders, err := s.store.ActivationsForKey(ctx, key)
	if err != nil {
		s.log.Warn("cache not invalidated", "key", authforge.MaskKey(key), "err", err)
		s.cache.reset()
		return
	}
	who := make([]identity.Identity, 0, len(holders))
	for _, h := range holders {
		who = append(who, h.Identity)
	}
	s.cache.invalidate(who...)
}

// expired reports whether the stored license has passed its end at now.
func expired(l store.License, now time.Time) bool {
	return !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt)
}

// authError maps an AuthForge error to the licensing sentinel the chat layer
// understands, keeping the original in the chain for logs. maxSlots fills
// *SlotsFullError. Credit exhaustion and broken app configuration alert the
// admins (at most hourly per kind).
func (s *Service) authError(ctx context.Context, err error, maxSlots int) error {
	var sentinel error
	switch {
	case errors.Is(err, authforge.ErrHWIDMismatch):
		return fmt.Errorf("%w: %w", &SlotsFullError{Max: maxSlots}, err)
	case errors.Is(err, authforge.ErrInvalidKey), errors.Is(err, authforge.ErrNotFound):
		sentinel = ErrInvalidKey
	case errors.Is(err, authforge.ErrExpired):
		sentinel = ErrExpired
	case errors.Is(err, authforge.ErrRevoked):
		sentinel = ErrRevoked
	case errors.Is(err, authforge.ErrBlocked):
		sentinel = ErrBlocked
	case errors.Is(err, authforge.ErrNoCredits):
		s.alertOnce(ctx, "no_credits", "AuthForge is out of credits: activations and session refreshes fail until the AuthForge account is topped up.")
		sentinel = ErrNoCredits
	case errors.Is(err, authforge.ErrBurnCap):
		s.alertOnce(ctx, "burn_cap", "AuthForge app burn cap reached: activations and session refreshes fail until the cap is raised in the AuthForge dashboard.")
		sentinel = ErrNoCredits
	case errors.Is(err, authforge.ErrRateLimited):
		sentinel = ErrRateLimited
	case errors.Is(err, authforge.ErrInvalidApp), errors.Is(err, authforge.ErrAppDisabled), errors.Is(err, authforge.ErrForbidden):
		s.alertOnce(ctx, "app_config", "AuthForge rejects shopbot's app credentials ("+err.Error()+"): check authforge.app_id, app_secret and api_key.")
		sentinel = ErrUnavailable
	default:
		sentinel = ErrUnavailable
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}
