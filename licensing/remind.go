package licensing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Remind tells owners whose licenses run out within their product's
// reminder days (config Product.Reminders), once per reminder and license
// period, even across restarts: the store records each reminder once it
// was sent. A license already past one reminder day gets only the nearest
// one. It reads only the licenses that end within the widest window, from
// the store's index, never every license. Reminders are bulk messages:
// they go out after replies and deliveries. It returns how many were sent.
func (s *Service) Remind(ctx context.Context) (int, error) {
	widest := 0
	for _, p := range s.products {
		for _, d := range p.Reminders() {
			widest = max(widest, d)
		}
	}
	if widest == 0 {
		return 0, nil
	}
	now := s.now()
	sent := 0
	var errs []error
	var after *store.DueLicense
	for ctx.Err() == nil {
		due, err := s.store.LicensesDueBetween(ctx, now, now.Add(time.Duration(widest)*24*time.Hour), after, sweepPage)
		if err != nil {
			return sent, fmt.Errorf("licensing: licenses ending soon: %w", err)
		}
		for _, d := range due {
			ok, err := s.remindOne(ctx, d, now)
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				sent++
			}
		}
		if len(due) < sweepPage {
			break
		}
		after = &due[len(due)-1]
	}
	return sent, errors.Join(errs...)
}

// remindOne sends d's nearest due reminder if it was not sent before.
func (s *Service) remindOne(ctx context.Context, d store.DueLicense, now time.Time) (bool, error) {
	lic, err := s.store.GetLicense(ctx, d.Key)
	if err != nil {
		return false, fmt.Errorf("licensing: remind %s: %w", authforge.MaskKey(d.Key), err)
	}
	p, ok := s.products[lic.ProductID]
	if !ok || lic.Status != store.LicenseActive || lic.Owner.IsZero() || !lic.ExpiresAt.Equal(d.At) {
		return false, nil
	}
	left := lic.ExpiresAt.Sub(now)
	// The nearest reminder day the license is already within: with
	// [3, 1] and 30 hours left, the 3-day one.
	days := 0
	for _, r := range p.Reminders() {
		if left <= time.Duration(r)*24*time.Hour {
			days = r
		}
	}
	if days == 0 {
		return false, nil
	}
	sent, err := s.store.Reminded(ctx, lic.Key, lic.ExpiresAt, days)
	if err != nil || sent {
		return false, err
	}
	n := reminderNotice(authforge.MaskKey(lic.Key), p.Name, p.ID, lic.ExpiresAt.UTC().Format(notify.TimeLayout), left)
	n.Renew, n.Priority = p.ID, notify.Bulk
	err = s.notifier.Notify(ctx, lic.Owner, n)
	// A buyer who blocked the bot will not read it later either; any
	// other failure (shutdown, an outage) is tried again at the next
	// sweep. Only a crash between the send and the record below can
	// repeat a reminder.
	if err != nil && !errors.Is(err, notify.ErrUndeliverable) {
		return false, fmt.Errorf("licensing: remind %s: %w", authforge.MaskKey(lic.Key), err)
	}
	// This one and those further out, which are past: a late start must
	// not send them out of order. Recorded even when shutdown has begun:
	// the message is out, and the store closes only after the sweeper.
	record := context.WithoutCancel(ctx)
	for _, r := range p.Reminders() {
		if r >= days {
			if _, markErr := s.store.MarkReminded(record, lic.Key, lic.ExpiresAt, r); markErr != nil {
				return err == nil, fmt.Errorf("licensing: record reminder of %s: %w", authforge.MaskKey(lic.Key), markErr)
			}
		}
	}
	if err != nil {
		s.log.Info("expiry reminder undeliverable", "key", authforge.MaskKey(lic.Key), "owner", lic.Owner.String())
		return false, nil
	}
	s.log.Info("expiry reminder sent", "key", authforge.MaskKey(lic.Key), "owner", lic.Owner.String(), "days", days)
	return true, nil
}

// daysText is a time left in whole days, or hours under two days.
func reminderNotice(key, product, id, on string, left time.Duration) notify.Notice {
	args := []any{"key", key, "product", product, "on", on, "id", id}
	switch h := int(math.Ceil(left.Hours())); {
	case left >= 48*time.Hour:
		return notify.Say("reminder.days", textReminderDays, append(args, "n", int(math.Round(left.Hours()/24)))...)
	case h == 1:
		return notify.Say("reminder.hour", textReminderHour, args...)
	default:
		return notify.Say("reminder.hours", textReminderHours, append(args, "n", h)...)
	}
}
