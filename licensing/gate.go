package licensing

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// Entitlement is one product an identity may use now.
type Entitlement struct {
	ProductID string
	// Key is the license key that grants it (never log it whole).
	Key string
	// ExpiresAt is the license's end; zero is a lifetime license.
	ExpiresAt time.Time
	// SessionExpiresAt is when the signed AuthForge session must be
	// refreshed.
	SessionExpiresAt time.Time
}

// Check is the entitlement gate: it reports an activation of who for any of
// productIDs (any product when none are given), or ErrNotEntitled.
//
// While the activation's signed session is unexpired (and the stored license
// neither revoked nor expired) Check answers from memory: no store read, no
// network call, no credit. After expiry it refreshes the session with a
// heartbeat (validate when the session is gone); a revoked, expired or
// unknown answer removes the activation, marks the license, syncs access and
// tells the holder. When AuthForge cannot be asked (down, throttled, out of
// credits) the activation is kept but does not count: Check fails closed
// with an error matching ErrUnavailable unless another activation entitles.
func (s *Service) Check(ctx context.Context, who identity.Identity, productIDs ...string) (Entitlement, error) {
	acts, err := s.activations(ctx, who)
	if err != nil {
		return Entitlement{}, err
	}
	now := s.now()
	stale := false
	for i := range acts {
		a := &acts[i]
		if !wanted(a.productID, productIDs) {
			continue
		}
		if a.fresh(now) {
			return a.entitlement(), nil
		}
		stale = true
	}
	if !stale {
		return Entitlement{}, ErrNotEntitled
	}
	return s.checkStale(ctx, who, acts, productIDs)
}

// checkStale refreshes the matching activations one by one until one
// entitles.
func (s *Service) checkStale(ctx context.Context, who identity.Identity, acts []cachedActivation, productIDs []string) (Entitlement, error) {
	var transient error
	for _, a := range acts {
		if !wanted(a.productID, productIDs) {
			continue
		}
		ent, err := s.refreshActivation(ctx, who, a.key, false)
		if err == nil {
			return ent, nil
		}
		if !errors.Is(err, ErrNotEntitled) && transient == nil {
			transient = err
		}
	}
	if transient != nil {
		return Entitlement{}, transient
	}
	return Entitlement{}, ErrNotEntitled
}

// Entitlements is the gate for every product at once: one entitlement per
// product who may use now, refreshing expired sessions like Check. The
// error matches ErrUnavailable only when nothing entitles and some
// activation could not be refreshed.
func (s *Service) Entitlements(ctx context.Context, who identity.Identity) ([]Entitlement, error) {
	acts, err := s.activations(ctx, who)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []Entitlement{}
	var transient error
	for _, a := range acts {
		var ent Entitlement
		if a.fresh(now) {
			ent = a.entitlement()
		} else {
			ent, err = s.refreshActivation(ctx, who, a.key, false)
			if err != nil {
				if !errors.Is(err, ErrNotEntitled) && transient == nil {
					transient = err
				}
				continue
			}
		}
		i := slices.IndexFunc(out, func(e Entitlement) bool { return e.ProductID == ent.ProductID })
		switch {
		case i < 0:
			out = append(out, ent)
		case outlasts(ent, out[i]):
			out[i] = ent
		}
	}
	if len(out) == 0 && transient != nil {
		return nil, transient
	}
	slices.SortFunc(out, func(a, b Entitlement) int { return cmp.Compare(a.ProductID, b.ProductID) })
	return out, nil
}

// Entitled lists the product ids who holds a valid activation of, from the
// stored state only (no network): the list handed to SyncAccess.
func (s *Service) Entitled(ctx context.Context, who identity.Identity) ([]string, error) {
	acts, err := s.activations(ctx, who)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := []string{}
	for i := range acts {
		if acts[i].valid(now) && !slices.Contains(out, acts[i].productID) {
			out = append(out, acts[i].productID)
		}
	}
	slices.Sort(out)
	return out, nil
}

func wanted(id string, ids []string) bool {
	if len(ids) == 0 {
		return true
	}
	for _, w := range ids {
		if w == id {
			return true
		}
	}
	return false
}

// outlasts reports whether a's license ends after b's.
func outlasts(a, b Entitlement) bool {
	switch {
	case b.ExpiresAt.IsZero():
		return false
	case a.ExpiresAt.IsZero():
		return true
	default:
		return a.ExpiresAt.After(b.ExpiresAt)
	}
}
