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
	return w.starsPaid(ctx, p, ev.Source, attempt, replay)
}

// starsPaid handles a successful payment; source is the event's
// (SourceTelegram or SourceStarsCatchUp).
func (w *Worker) starsPaid(ctx context.Context, pay StarsPayment, source string, attempt int, replay bool) error {
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
	if dup, err := w.secondStarsPayment(ctx, pl.OrderID(), pay, source); dup || err != nil {
		return err
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

// secondStarsPayment handles a payment that paid an order a second time:
// two taps on Pay, both past the pre-checkout before either payment was
// stored. The order and its license stay as the first payment made them.
// A second payment of a one-time order is refunded. For a subscription
// product the second tap started a second Star subscription at Telegram,
// which would charge the buyer twice every period: it is canceled (by its
// own charge id) and its payment refunded. The charge is recorded on the
// order before Telegram is called, so a retry (after a crash, or an answer
// lost on the way) decides the same, and the refunded_payment Telegram
// sends for it leaves the order alone. It reports whether pay was such a
// payment; an error means the event must be tried again.
func (w *Worker) secondStarsPayment(ctx context.Context, orderID string, pay StarsPayment, source string) (bool, error) {
	o, err := w.store.GetOrder(ctx, orderID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("read order %s: %w", orderID, err)
	case !isSecondPayment(o, pay, source):
		return false, nil
	}
	subscription := o.Mode == config.ModeSubscription
	switch {
	case w.starsRefund == nil:
		return true, permanent("order %s was paid twice (charges %s and %s); refund the second in Telegram", orderID, o.ChargeID, pay.ChargeID)
	case subscription && w.starsCancel == nil:
		return true, permanent("order %s got a second Star subscription (charges %s and %s); cancel and refund the second in Telegram", orderID, o.ChargeID, pay.ChargeID)
	}
	if !o.IsDuplicateCharge(pay.ChargeID) {
		_, err := w.store.UpsertOrder(ctx, orderID, func(o *store.Order, _ bool) error {
			o.AddDuplicateCharge(pay.ChargeID)
			return nil
		})
		if err != nil {
			return true, fmt.Errorf("record the second payment %s of order %s: %w", pay.ChargeID, orderID, err)
		}
	}
	what := "the second payment " + pay.ChargeID + " was refunded automatically"
	if subscription {
		// Canceled before the refund: whatever happens to the refund,
		// the second subscription must not charge again. Canceling a
		// canceled subscription succeeds, so a retry may do it again.
		if err := w.starsCancel(ctx, pay.UserID, pay.ChargeID); err != nil {
			return true, fmt.Errorf("cancel the second Star subscription %s of order %s: %w", pay.ChargeID, orderID, err)
		}
		what = "a second Star subscription was started (charge " + pay.ChargeID + "); it was canceled and its payment refunded automatically"
	}
	if err := w.starsRefund(ctx, pay.UserID, pay.ChargeID); err != nil && !errors.Is(err, ErrAlreadyRefunded) {
		return true, fmt.Errorf("refund the second payment %s of order %s: %w", pay.ChargeID, orderID, err)
	}
	w.alert(ctx, notify.KindRefund, fmt.Sprintf("Order %s was paid twice with Stars (%d Stars from tg:%d): %s.",
		orderID, pay.TotalAmount, pay.UserID, what))
	return true, ignore("second payment %s of order %s: refunded", pay.ChargeID, orderID)
}

// isSecondPayment reports whether pay paid order o again rather than
// starting it (the same charge again) or renewing its Star subscription.
func isSecondPayment(o store.Order, pay StarsPayment, source string) bool {
	switch {
	case o.ChargeID == "" || pay.ChargeID == o.ChargeID:
		return false
	case o.IsDuplicateCharge(pay.ChargeID), o.Mode != config.ModeSubscription:
		return true
	case pay.ChargeID == o.LastChargeID:
		return false // a renewal handled before
	case pay.IsFirstRecurring:
		return true
	case source == SourceStarsCatchUp:
		// The history does not tell a subscription's first payment
		// from a renewal. Telegram charges a renewal when the paid
		// period ends; a payment made while the order had more than
		// half a period left started another subscription.
		return !pay.Date.IsZero() && pay.Date.Before(o.PeriodEnd.Add(-StarsSubscriptionPeriod/2))
	}
	return false
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
	if refundOfSecondPayment(order, pay.ChargeID) {
		// Refunded by secondStarsPayment: the license was paid for by
		// the first payment.
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

// refundOfSecondPayment reports whether refunding chargeID leaves order
// alone: the charge paid the order a second time. For a one-time order
// that is any charge but its own (orders from before DuplicateCharges was
// recorded included); a Star subscription's renewals are other charges,
// so only those recorded as second payments count.
func refundOfSecondPayment(order store.Order, chargeID string) bool {
	if order.ChargeID == "" || chargeID == order.ChargeID {
		return false
	}
	return order.Mode != config.ModeSubscription || order.IsDuplicateCharge(chargeID)
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
