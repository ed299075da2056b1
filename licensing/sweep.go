package licensing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// RunSweeper runs Sweep and Remind now and every interval until ctx is
// cancelled, then returns nil. It needs no AuthForge call: it acts on the
// stored licenses.
func (s *Service) RunSweeper(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: sweep interval %s", ErrInvalidArgument, interval)
	}
	return s.every(ctx, interval, func() {
		n, err := s.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("sweep incomplete", "removed", n, "err", err)
		} else if n > 0 {
			s.log.Info("sweep removed activations", "removed", n)
		}
		if n, err := s.Remind(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("reminders incomplete", "sent", n, "err", err)
		} else {
			s.log.Debug("reminders checked", "sent", n)
		}
	})
}

// RunHeartbeats heartbeats every activation not refreshed in the last half
// interval, now and every interval, until ctx is cancelled; then it returns
// nil. Used in eager refresh mode so revocations made in the AuthForge
// dashboard are noticed within one interval. Activations are refreshed one
// at a time to stay inside AuthForge's rate limits.
func (s *Service) RunHeartbeats(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("%w: heartbeat interval %s", ErrInvalidArgument, interval)
	}
	return s.every(ctx, interval, func() {
		n, err := s.HeartbeatAll(ctx, interval/2)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("heartbeats incomplete", "refreshed", n, "err", err)
		} else {
			s.log.Debug("heartbeats done", "refreshed", n)
		}
	})
}

func (s *Service) every(ctx context.Context, interval time.Duration, fn func()) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		fn()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sweepPage is how many due licenses Sweep reads per store transaction.
const sweepPage = 256

// Sweep retires the holders of every license that is due: expired, or
// revoked with holders left behind by a revocation cut off partway. It
// reads only the store's index of due licenses (not every activation),
// syncs the holders' access and tells them how to renew, then clears the
// entries it handled; one that fails stays for the next sweep. It returns
// how many activations it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	removed := 0
	var errs []error
	var after *store.DueLicense
	for ctx.Err() == nil {
		due, err := s.store.LicensesDue(ctx, s.now(), after, sweepPage)
		if err != nil {
			return removed, fmt.Errorf("licensing: due licenses: %w", err)
		}
		for _, d := range due {
			if ctx.Err() != nil {
				break
			}
			f, err := s.sweepKey(ctx, d.Key)
			if f != nil {
				removed += len(f.removed)
				s.settle(ctx, f)
			}
			if err == nil {
				err = s.store.ClearLicenseDue(ctx, d)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if len(due) < sweepPage {
			break
		}
		after = &due[len(due)-1]
	}
	return removed, errors.Join(errs...)
}

func (s *Service) sweepKey(ctx context.Context, key string) (*fallout, error) {
	unlock := s.keyLocks.Lock(key)
	defer unlock()
	lic, err := s.store.GetLicense(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		holders, err := s.store.ActivationsForKey(ctx, key)
		if err != nil {
			return nil, err
		}
		f := &fallout{reason: reasonSilent}
		for _, h := range holders {
			if err := s.store.DeleteActivation(ctx, h.Identity, key); err != nil {
				return f, err
			}
			f.removed = append(f.removed, h.Identity)
		}
		s.cache.invalidate(f.removed...)
		s.log.Warn("removed activations of a key missing from the store", "key", authforge.MaskKey(key), "count", len(f.removed))
		return f, nil
	case err != nil:
		return nil, fmt.Errorf("licensing: sweep %s: %w", authforge.MaskKey(key), err)
	case lic.Status == store.LicenseRevoked:
		return s.retireLocked(ctx, lic, reasonRevoked)
	case expired(lic, s.now()):
		s.log.Info("license expired", "key", authforge.MaskKey(key), "product", lic.ProductID)
		if err := s.endStarSubscription(ctx, lic); err != nil {
			return nil, err
		}
		return s.retireLocked(ctx, lic, reasonExpired)
	}
	return nil, nil
}

// endStarSubscription ends the order of a Star subscription whose license
// ran out: Telegram sends nothing when a Star subscription is not renewed
// (a renewal would have extended the license), so its license's end is the
// subscription's end. Stripe subscriptions end by Stripe's own event.
func (s *Service) endStarSubscription(ctx context.Context, lic store.License) error {
	if lic.OrderID == "" {
		return nil
	}
	o, err := s.store.GetOrder(ctx, lic.OrderID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("licensing: order of %s: %w", authforge.MaskKey(lic.Key), err)
	}
	if o.Mode != config.ModeSubscription || o.OrderRail() != store.RailStars || o.Ended {
		return nil
	}
	_, err = s.store.UpsertOrder(ctx, o.ID, func(o *store.Order, _ bool) error {
		o.Ended = true
		if o.Status == store.OrderFulfilled || o.Status == store.OrderPending {
			o.Status = store.OrderEnded
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("licensing: end order %s: %w", o.ID, err)
	}
	how := "not renewed"
	if o.Canceled {
		how = "canceled by the buyer"
	}
	name := lic.ProductID
	if p, ok := s.products[lic.ProductID]; ok && p.Name != "" {
		name = p.Name
	}
	text := fmt.Sprintf("Star subscription ended (%s): %s, buyer %s (order %s); license %s expired.",
		how, name, o.Identity, o.ID, authforge.MaskKey(lic.Key))
	if err := s.notifier.Alert(ctx, notify.Alert{Kind: notify.KindCancellation, Text: text}); err != nil {
		s.log.Error("admin alert failed", "err", err)
	}
	return nil
}

// heartbeatPage is how many due activations HeartbeatAll reads per store
// transaction.
const heartbeatPage = 256

// HeartbeatAll refreshes, one by one, every activation last verified more
// than minAge ago, oldest first, reading only those from the store's
// refresh index. It returns how many sessions were refreshed; activations
// AuthForge calls revoked or expired are removed as in Check. A session
// that expires sooner than minAge after its refresh is renewed by the
// gate on its next use, as in lazy mode.
func (s *Service) HeartbeatAll(ctx context.Context, minAge time.Duration) (int, error) {
	cutoff := s.now().Add(-minAge)
	refreshed := 0
	var errs []error
	var cur store.RefreshCursor
	for ctx.Err() == nil {
		acts, next, err := s.store.ActivationsRefreshedBefore(ctx, cutoff, cur, heartbeatPage)
		if err != nil {
			errs = append(errs, fmt.Errorf("licensing: due activations: %w", err))
			break
		}
		for _, a := range acts {
			if ctx.Err() != nil {
				break
			}
			_, err := s.refreshActivation(ctx, a.Identity, a.Key, true)
			switch {
			case err == nil:
				refreshed++
			case errors.Is(err, ErrNotEntitled):
			default:
				errs = append(errs, fmt.Errorf("%s %s: %w", a.Identity, authforge.MaskKey(a.Key), err))
			}
		}
		if len(acts) < heartbeatPage {
			break
		}
		cur = next
	}
	return refreshed, errors.Join(errs...)
}

// holdersOf lists the identities holding key.
func (s *Service) holdersOf(ctx context.Context, key string) ([]identity.Identity, error) {
	acts, err := s.store.ActivationsForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	who := make([]identity.Identity, 0, len(acts))
	for _, a := range acts {
		who = append(who, a.Identity)
	}
	return who, nil
}
