package checkout

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// orderWaitAttempts is how many attempts a refund or dispute waits for the
// order it is about to be recorded (its checkout event may come later).
const orderWaitAttempts = 4

// refunded handles charge.refunded: a full refund revokes the order's
// license when stripe.revoke_on_refund is on.
func (w *Worker) refunded(ctx context.Context, c charge, attempt int) error {
	full := c.Refunded || (c.Amount > 0 && c.AmountRefunded >= c.Amount)
	return w.moneyBack(ctx, "refund", string(c.PaymentIntent), c.ID, full, w.onRefund, "stripe.revoke_on_refund", attempt)
}

// disputed handles charge.dispute.created: revoked when
// stripe.revoke_on_dispute is on.
func (w *Worker) disputed(ctx context.Context, d dispute, attempt int) error {
	return w.moneyBack(ctx, "dispute", string(d.PaymentIntent), string(d.Charge), true, w.onDispute, "stripe.revoke_on_dispute", attempt)
}

func (w *Worker) moneyBack(ctx context.Context, what, pi, chargeID string, full, revoke bool, key string, attempt int) error {
	if pi == "" {
		return ignore("%s of charge %s has no payment intent: not a Checkout payment", what, chargeID)
	}
	order, err := w.store.OrderByPaymentIntent(ctx, pi)
	if errors.Is(err, store.ErrNotFound) {
		if attempt < orderWaitAttempts {
			return fmt.Errorf("%s of payment %s: no order yet", what, pi)
		}
		return ignore("%s of payment %s: no shopbot order has that payment", what, pi)
	}
	if err != nil {
		return fmt.Errorf("find order of payment %s: %w", pi, err)
	}
	if !full {
		w.alert(ctx, fmt.Sprintf("Partial %s of order %s (%s, %s): the license is kept.", what, order.ID, order.ProductID, order.Identity))
		return nil
	}
	if !revoke {
		w.alert(ctx, fmt.Sprintf("%s of order %s (%s, %s): the license %s is kept because %s is off.",
			capital(what), order.ID, order.ProductID, order.Identity, authforge.MaskKey(order.LicenseKey), key))
		return nil
	}
	wasRevoked := order.Status == store.OrderRevoked
	order, err = w.store.UpsertOrder(ctx, order.ID, func(o *store.Order, _ bool) error {
		o.Status = store.OrderRevoked
		o.UpdatedAt = w.now()
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark order %s revoked: %w", order.ID, err)
	}
	if err := w.revokeOrder(ctx, order, what); err != nil {
		return err
	}
	if !wasRevoked {
		w.alert(ctx, fmt.Sprintf("%s of order %s (%s, %s): license %s revoked.",
			capital(what), order.ID, order.ProductID, order.Identity, authforge.MaskKey(order.LicenseKey)))
	}
	return nil
}

func (w *Worker) alert(ctx context.Context, text string) {
	if err := w.notifier.AlertAdmins(ctx, text); err != nil {
		w.log.Error("admin alert failed", "err", err)
	}
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
