package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// The worker's side of the Stars rail: the same order, license, delivery
// and ledger steps as a Stripe payment, keyed by the invoice payload's
// order id.

// starsChargeIndex is how a Stars order's latest charge is indexed: in
// the payment-intent index, under a prefix no Stripe id has.
func starsChargeIndex(chargeID string) string { return "tgcharge:" + chargeID }

func (w *Worker) starsEvent(ctx context.Context, ev store.Event, attempt int, replay bool) error {
	var p StarsPayment
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return permanent("stored payload is not a Stars payment: %v", err)
	}
	if ev.Type == EventStarsRefunded {
		return w.starsRefunded(ctx, p)
	}
	return w.starsPaid(ctx, p, attempt, replay)
}

func (w *Worker) starsPaid(ctx context.Context, pay StarsPayment, attempt int, replay bool) error {
	pl, err := parseStarsPayload(pay.Payload)
	if err != nil {
		return ignore("%v: not a shopbot sale", err)
	}
	p, ok := w.products[pl.Product]
	if !ok && w.starsRefund != nil {
		// Paid for something no longer sold (the config changed after
		// the pre-checkout answer): the money goes back at once.
		err := w.starsRefund(ctx, pay.UserID, pay.ChargeID)
		if err != nil && !errors.Is(err, ErrAlreadyRefunded) {
			return fmt.Errorf("refund Stars payment %s for unknown product %q: %w", pay.ChargeID, pl.Product, err)
		}
		w.alert(ctx, notify.KindRefund, fmt.Sprintf("Stars payment %s (%d Stars from tg:%d) was for product %q, which is not in the config: refunded automatically, no license issued.",
			pay.ChargeID, pay.TotalAmount, pay.UserID, pl.Product))
		return ignore("product %q not in the config: payment refunded", pl.Product)
	}
	if !ok {
		return permanent("Stars payment %s (%d Stars from tg:%d) is for unknown product %q (not in the config's [[products]]); refund it with /refund or add the product back",
			pay.ChargeID, pay.TotalAmount, pay.UserID, pl.Product)
	}
	if pay.UserID != pl.UserID {
		return permanent("Stars payment %s came from tg:%d but its invoice was made for tg:%d", pay.ChargeID, pay.UserID, pl.UserID)
	}
	if pay.Currency != CurrencyStars {
		return permanent("Stars payment %s is in %q, not XTR", pay.ChargeID, pay.Currency)
	}
	who := identity.TelegramUser(pl.UserID)
	now := w.now()
	subscription := p.Mode == config.ModeSubscription
	if !subscription {
		if dup, err := w.duplicateStarsPayment(ctx, pl.OrderID(), pay); dup || err != nil {
			return err
		}
	}
	var reconcile, renewal bool
	order, err := w.store.UpsertOrder(ctx, pl.OrderID(), func(o *store.Order, exists bool) error {
		if !exists {
			o.Mode, o.ProductID, o.Identity, o.CreatedAt = p.Mode, p.ID, who, now
			o.Rail, o.Amount, o.Currency, o.ChargeID = store.RailStars, int64(pay.TotalAmount), CurrencyStars, pay.ChargeID
		}
		renewal = exists && o.ChargeID != pay.ChargeID
		o.LastChargeID = pay.ChargeID
		o.PaymentIntentID = starsChargeIndex(pay.ChargeID)
		if subscription {
			end := pay.SubscriptionExpiration
			if end.IsZero() {
				end = orTime(pay.Date, now).Add(StarsSubscriptionPeriod)
			}
			if end.After(o.PeriodEnd) {
				o.PeriodEnd = end.UTC().Truncate(time.Second)
			}
		}
		o.UpdatedAt = now
		if o.LicenseKey == "" && o.Status == store.OrderPending {
			reconcile = o.CreateAttempts > 0
			o.CreateAttempts++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save order %s: %w", pl.OrderID(), err)
	}
	amount := notify.Money(int64(pay.TotalAmount), CurrencyStars)
	if order.LicenseKey == "" {
		if order.Status != store.OrderPending {
			return ignore("order %s is %s: no license issued", order.ID, order.Status)
		}
		var expires time.Time
		switch {
		case subscription:
			expires = order.PeriodEnd.Add(w.grace)
		case p.Duration.Duration > 0:
			expires = order.CreatedAt.Add(p.Duration.Duration)
		}
		if !expires.IsZero() {
			expires = expires.UTC().Truncate(time.Second)
		}
		if order, err = w.issue(ctx, order, p, "shopbot:"+order.ID, expires, reconcile); err != nil {
			return err
		}
		s := notify.Sale{Product: p.Name, Amount: amount, Rail: store.RailStars, Buyer: who.String()}
		if err := w.notifier.Alert(ctx, s.Alert()); err != nil {
			w.log.Error("admin alert failed", "err", err)
		}
	} else if subscription && order.Status == store.OrderFulfilled {
		if err := w.extend(ctx, order, subFact{product: p, amount: amount}); err != nil {
			return err
		}
	}
	kind := store.PaymentSale
	if renewal {
		kind = store.PaymentRenewal
	}
	if order.LicenseKey != "" {
		if err := w.ledger(ctx, store.Payment{ID: pay.ChargeID, Kind: kind, At: orTime(pay.Date, now), ProductID: p.ID,
			Rail: store.RailStars, Currency: CurrencyStars, Amount: int64(pay.TotalAmount)}); err != nil {
			return err
		}
	}
	return w.deliver(ctx, order, p, attempt, replay)
}

// duplicateStarsPayment refunds a second payment of a one-time order (two
// taps on Pay, both past the pre-checkout before either was stored): the
// buyer gets one license and their money back for the other. It reports
// whether pay was such a duplicate; an error means the refund must be
// tried again.
func (w *Worker) duplicateStarsPayment(ctx context.Context, orderID string, pay StarsPayment) (bool, error) {
	o, err := w.store.GetOrder(ctx, orderID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read order %s: %w", orderID, err)
	case o.ChargeID == "" || o.ChargeID == pay.ChargeID:
		return false, nil
	case w.starsRefund == nil:
		return true, permanent("order %s was paid twice (charges %s and %s); refund the second in Telegram", orderID, o.ChargeID, pay.ChargeID)
	}
	if err := w.starsRefund(ctx, pay.UserID, pay.ChargeID); err != nil && !errors.Is(err, ErrAlreadyRefunded) {
		return true, fmt.Errorf("refund the second payment %s of order %s: %w", pay.ChargeID, orderID, err)
	}
	w.alert(ctx, notify.KindRefund, fmt.Sprintf("Order %s was paid twice with Stars (%d Stars from tg:%d): the second payment %s was refunded automatically.",
		orderID, pay.TotalAmount, pay.UserID, pay.ChargeID))
	return true, ignore("second payment of order %s: refunded", orderID)
}

func orTime(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// starsRefunded revokes the order a refunded Stars payment paid for.
func (w *Worker) starsRefunded(ctx context.Context, pay StarsPayment) error {
	order, err := w.starsOrder(ctx, pay)
	if errors.Is(err, store.ErrNotFound) {
		return ignore("refund of Stars charge %s: no shopbot order has it", pay.ChargeID)
	}
	if err != nil {
		return err
	}
	if order.Mode != config.ModeSubscription && order.ChargeID != "" && pay.ChargeID != order.ChargeID {
		// The refund of a second payment of the order (refunded by
		// duplicateStarsPayment): the license was paid for by the first.
		return ignore("refund of charge %s, a second payment of order %s: the order keeps its license", pay.ChargeID, order.ID)
	}
	amount := int64(pay.TotalAmount)
	if amount == 0 {
		amount = order.Amount
	}
	order, wasRevoked, err := w.takeBack(ctx, order, "refund")
	if err != nil {
		return err
	}
	if err := w.ledger(ctx, store.Payment{ID: pay.ChargeID, Kind: store.PaymentRefund, At: orTime(pay.Date, w.now()),
		ProductID: order.ProductID, Rail: store.RailStars, Currency: CurrencyStars, Amount: amount}); err != nil {
		return err
	}
	if !wasRevoked {
		w.alert(ctx, notify.KindRefund, fmt.Sprintf("Refund (%s) of order %s (%s, %s): license %s revoked.",
			notify.Money(amount, CurrencyStars), order.ID, order.ProductID, order.Identity, authforge.MaskKey(order.LicenseKey)))
	}
	return nil
}

// starsOrder finds the order of a Stars payment: by its invoice payload,
// else (a refund from the history carries none) by the charge.
func (w *Worker) starsOrder(ctx context.Context, pay StarsPayment) (store.Order, error) {
	if pl, err := parseStarsPayload(pay.Payload); err == nil {
		o, err := w.store.GetOrder(ctx, pl.OrderID())
		if err == nil || !errors.Is(err, store.ErrNotFound) {
			return o, err
		}
	}
	return w.store.OrderByPaymentIntent(ctx, starsChargeIndex(pay.ChargeID))
}
