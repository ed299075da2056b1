package checkout

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// orderWaitAttempts is how many attempts a refund or dispute waits for the
// order it is about to be recorded (its checkout event may come later).
const orderWaitAttempts = 4

// refunded handles charge.refunded: a full refund revokes the order's
// license when stripe.revoke_on_refund is on.
func (w *Worker) refunded(ctx context.Context, c charge, attempt int) error {
	full := c.Refunded || (c.Amount > 0 && c.AmountRefunded >= c.Amount)
	if err := w.moneyBack(ctx, "refund", notify.Money(c.AmountRefunded, c.Currency), string(c.PaymentIntent), c.ID, full, w.onRefund, "stripe.revoke_on_refund", attempt); err != nil {
		return err
	}
	return w.refundLedger(ctx, c)
}

// refundLedger files the refund under the refunded order's product. A
// charge refunded in several parts is filed once, with the amount of the
// first refund event that reached shopbot.
func (w *Worker) refundLedger(ctx context.Context, c charge) error {
	if c.PaymentIntent == "" || c.AmountRefunded <= 0 || c.Currency == "" {
		return nil
	}
	order, err := w.store.OrderByPaymentIntent(ctx, string(c.PaymentIntent))
	if errors.Is(err, store.ErrNotFound) {
		return nil // not a shopbot order (moneyBack said why)
	}
	if err != nil {
		return fmt.Errorf("find order of payment %s: %w", c.PaymentIntent, err)
	}
	return w.ledger(ctx, store.Payment{ID: c.ID, Kind: store.PaymentRefund, ProductID: order.ProductID,
		Rail: store.RailStripe, Currency: c.Currency, Amount: c.AmountRefunded})
}

// disputed handles charge.dispute.created: revoked when
// stripe.revoke_on_dispute is on.
// With evidence on, the evidence is gathered before the revocation drops
// the activations it describes, and sent after it (evidence.go).
func (w *Worker) disputed(ctx context.Context, d dispute, attempt int) error {
	if w.evidence != nil && d.PaymentIntent != "" {
		order, err := w.store.OrderByPaymentIntent(ctx, string(d.PaymentIntent))
		switch {
		case err == nil:
			if err := w.gatherEvidence(ctx, d.ID, order); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("find order of payment %s: %w", d.PaymentIntent, err)
		}
	}
	if err := w.moneyBack(ctx, "dispute", notify.Money(d.Amount, d.Currency), string(d.PaymentIntent), string(d.Charge), true, w.onDispute, "stripe.revoke_on_dispute", attempt); err != nil {
		return err
	}
	if w.evidence == nil {
		return nil
	}
	return w.sendEvidence(ctx, d.ID)
}

func (w *Worker) moneyBack(ctx context.Context, what, amount, pi, chargeID string, full, revoke bool, key string, attempt int) error {
	if pi == "" {
		return ignore("%s of charge %s has no payment intent: not a Checkout payment", what, chargeID)
	}
	order, err := w.store.OrderByPaymentIntent(ctx, pi)
	if errors.Is(err, store.ErrNotFound) {
		if full && revoke {
			// The checkout event may still come (Stripe redelivering it
			// late, or an admin's /replay): remember the money went back
			// so it issues no license.
			if err := w.store.PutMeta(ctx, reversedKey(pi), what); err != nil {
				return fmt.Errorf("record %s of payment %s: %w", what, pi, err)
			}
		}
		if attempt < orderWaitAttempts {
			return fmt.Errorf("%s of payment %s: no order yet", what, pi)
		}
		return ignore("%s of payment %s: no shopbot order has that payment yet (recorded: a later checkout of it issues no license)", what, pi)
	}
	if err != nil {
		return fmt.Errorf("find order of payment %s: %w", pi, err)
	}
	if !full {
		w.alert(ctx, moneyBackKind(what), fmt.Sprintf("Partial %s%s of order %s (%s, %s): the license is kept.", what, amountNote(amount), order.ID, order.ProductID, order.Identity))
		return nil
	}
	if !revoke {
		w.alert(ctx, moneyBackKind(what), fmt.Sprintf("%s%s of order %s (%s, %s): the license %s is kept because %s is off.",
			capital(what), amountNote(amount), order.ID, order.ProductID, order.Identity, authforge.MaskKey(order.LicenseKey), key))
		return nil
	}
	order, wasRevoked, err := w.takeBack(ctx, order, what)
	if err != nil {
		return err
	}
	if !wasRevoked {
		w.alert(ctx, moneyBackKind(what), fmt.Sprintf("%s%s of order %s (%s, %s): license %s revoked.",
			capital(what), amountNote(amount), order.ID, order.ProductID, order.Identity, authforge.MaskKey(order.LicenseKey)))
	}
	return nil
}

// takeBack marks the order revoked (money went back) and revokes its
// license; wasRevoked reports the order was revoked before.
func (w *Worker) takeBack(ctx context.Context, order store.Order, why string) (_ store.Order, wasRevoked bool, err error) {
	wasRevoked = order.Status == store.OrderRevoked
	order, err = w.store.UpsertOrder(ctx, order.ID, func(o *store.Order, _ bool) error {
		o.Status = store.OrderRevoked
		o.UpdatedAt = w.now()
		return nil
	})
	if err != nil {
		return order, wasRevoked, fmt.Errorf("mark order %s revoked: %w", order.ID, err)
	}
	if _, err := w.revokeOrder(ctx, order, why); err != nil {
		return order, wasRevoked, err
	}
	return order, wasRevoked, nil
}

// reversedKey is the store meta key recording a refund or dispute that came
// before its order.
func reversedKey(pi string) string { return "stripe_reversed:" + pi }

// reversed reports "refund" or "dispute" when the payment's money went back
// before its order was recorded, else "".
func (w *Worker) reversed(ctx context.Context, pi string) string {
	if pi == "" {
		return ""
	}
	what, err := w.store.GetMeta(ctx, reversedKey(pi))
	if err != nil {
		return ""
	}
	return what
}

// amountNote is " (12.00 EUR)" or "" when the amount is unknown.
func amountNote(amount string) string {
	if amount == "" {
		return ""
	}
	return " (" + amount + ")"
}

// moneyBackKind is the admin feed kind of a refund or a dispute.
func moneyBackKind(what string) notify.Kind {
	if what == "dispute" {
		return notify.KindDispute
	}
	return notify.KindRefund
}

func (w *Worker) alert(ctx context.Context, kind notify.Kind, text string) {
	if err := w.notifier.Alert(ctx, notify.Alert{Kind: kind, Text: text}); err != nil {
		w.log.Error("admin alert failed", "err", err)
	}
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// sale puts a new sale in the admin feed, once: callers call it right
// after the order's license was created.
func (w *Worker) sale(ctx context.Context, order store.Order, p config.Product, amount string, trial bool) {
	s := notify.Sale{Product: p.Name, Amount: amount, Rail: RailStripe, Buyer: order.Identity.String(), Trial: trial}
	if err := w.notifier.Alert(ctx, s.Alert()); err != nil {
		w.log.Error("admin alert failed", "err", err)
	}
}

// RailStripe is the payment rail name of Stripe sales in the admin feed.
const RailStripe = "stripe"

func orUnknown(amount string) string {
	if amount == "" {
		return "amount unknown"
	}
	return amount
}
