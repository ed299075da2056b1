package checkout

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// subFact is what one event tells about a subscription. Facts only move
// the order forward (a later period end, an end), so applying them in any
// order gives the same result.
type subFact struct {
	subID     string
	product   config.Product
	who       identity.Identity // zero when the event does not name the buyer
	customer  string
	sessionID string
	payment   string    // payment intent of a paid invoice
	periodEnd time.Time // zero when unknown
	live      bool      // evidence the subscription is paid: license may start
	ended     bool
	amount    string // what the event says was paid, for the admin feed; "" when it does not
	trial     bool   // the event shows a free trial (nothing paid yet)
}

// subscriptionCheckout records a subscription bought through Checkout. The
// session does not carry the period end; the license starts as soon as a
// subscription or invoice event has told it.
func (w *Worker) subscriptionCheckout(ctx context.Context, s checkoutSession, p config.Product, who identity.Identity, attempt int, replay bool) error {
	if s.Subscription == "" {
		return permanent("subscription checkout %s has no subscription id", s.ID)
	}
	w.forgetSession(ctx, s.ID)
	return w.applySub(ctx, subFact{
		subID: string(s.Subscription), product: p, who: who, customer: string(s.Customer),
		sessionID: s.ID, live: true, amount: notify.Money(s.AmountTotal, s.Currency),
		trial: s.PaymentStatus == "no_payment_required" && s.AmountTotal == 0,
	}, attempt, replay)
}

// endedStatuses are subscription statuses after which it never pays again.
func endedStatus(status string) bool {
	switch status {
	case "canceled", "unpaid", "incomplete_expired":
		return true
	}
	return false
}

func (w *Worker) subscriptionChanged(ctx context.Context, typ string, sub subscription, attempt int, replay bool) error {
	f := subFact{
		subID: sub.ID, customer: string(sub.Customer), periodEnd: sub.periodEnd(),
		live:  sub.Status == "active" || sub.Status == "trialing",
		ended: typ == EventSubscriptionDeleted || endedStatus(sub.Status),
		trial: sub.Status == "trialing",
	}
	if len(sub.Items.Data) > 0 {
		price := sub.Items.Data[0].Price
		f.amount = notify.Money(price.UnitAmount, price.Currency)
	}
	if err := w.subBuyer(ctx, &f, sub.Metadata, sub.priceIDs()); err != nil {
		return err
	}
	return w.applySub(ctx, f, attempt, replay)
}

func (w *Worker) invoiceEvent(ctx context.Context, typ string, in invoice, attempt int, replay bool) error {
	subID := in.subscriptionID()
	if subID == "" {
		return ignore("invoice %s belongs to no subscription", in.ID)
	}
	f := subFact{subID: subID, customer: string(in.Customer)}
	var prices []string
	for _, l := range in.Lines.Data {
		if l.Price != nil {
			prices = append(prices, l.Price.ID)
		}
	}
	if err := w.subBuyer(ctx, &f, in.metadata(), prices); err != nil {
		return err
	}
	if typ == EventInvoicePaymentFailed {
		return w.paymentFailed(ctx, f, in)
	}
	f.periodEnd, f.live, f.payment = in.periodEnd(), true, string(in.PaymentIntent)
	f.amount = notify.Money(in.AmountPaid, in.Currency)
	f.trial = in.AmountPaid == 0 && in.BillingReason == "subscription_create"
	if err := w.applySub(ctx, f, attempt, replay); err != nil {
		return err
	}
	if in.AmountPaid <= 0 || in.Currency == "" {
		return nil
	}
	// The first invoice is the sale (the Checkout session's amount is the
	// same money); every later one a renewal.
	kind := store.PaymentRenewal
	if in.BillingReason == "subscription_create" {
		kind = store.PaymentSale
	}
	return w.ledger(ctx, store.Payment{ID: in.ID, Kind: kind, ProductID: f.product.ID,
		Rail: store.RailStripe, Currency: in.Currency, Amount: in.AmountPaid})
}

// subBuyer fills the product and buyer from the event's metadata, or from
// the order an earlier event recorded. A subscription that neither names
// nor is known to shopbot belongs to something else on the Stripe account.
func (w *Worker) subBuyer(ctx context.Context, f *subFact, meta map[string]string, prices []string) error {
	if meta[MetaProduct] != "" || meta[MetaIdentity] != "" {
		p, who, err := w.buyer(meta, "", prices)
		if err != nil {
			return err
		}
		f.product, f.who = p, who
		return nil
	}
	o, err := w.store.GetOrder(ctx, f.subID)
	if errors.Is(err, store.ErrNotFound) {
		return ignore("subscription %s has no shopbot metadata and no order", f.subID)
	}
	if err != nil {
		return fmt.Errorf("read order %s: %w", f.subID, err)
	}
	p, ok := w.products[o.ProductID]
	if !ok {
		return permanent("unknown product %q (not in the config's [[products]])", o.ProductID)
	}
	f.product = p
	return nil
}

// applySub merges f into the subscription's order and brings the license in
// line: created once when the subscription is live and its period end is
// known, extended when the period end moves forward, revoked for good
// when the subscription ends.
func (w *Worker) applySub(ctx context.Context, f subFact, attempt int, replay bool) error {
	now := w.now()
	var reconcile bool
	order, err := w.store.UpsertOrder(ctx, f.subID, func(o *store.Order, exists bool) error {
		if !exists {
			o.Mode, o.SubscriptionID, o.CreatedAt = config.ModeSubscription, f.subID, now
		}
		if o.Identity.IsZero() && !f.who.IsZero() {
			o.Identity = f.who
		}
		o.ProductID = orString(o.ProductID, f.product.ID)
		o.CustomerID = orString(o.CustomerID, f.customer)
		o.SessionID = orString(o.SessionID, f.sessionID)
		o.Rail = orString(o.Rail, store.RailStripe)
		if f.payment != "" {
			o.PaymentIntentID = f.payment // the latest paid invoice, for refunds
		}
		if f.periodEnd.After(o.PeriodEnd) {
			o.PeriodEnd = f.periodEnd
		}
		if f.ended {
			o.Ended = true
			if o.Status == store.OrderPending || o.Status == store.OrderFulfilled {
				o.Status = store.OrderEnded
			}
		}
		o.UpdatedAt = now
		if w.mayStart(*o, f) {
			reconcile = o.CreateAttempts > 0
			o.CreateAttempts++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save order %s: %w", f.subID, err)
	}
	if order.LicenseKey == "" {
		if !w.mayStart(order, f) {
			return nil
		}
		order, err = w.issue(ctx, order, f.product, "shopbot:"+f.subID, order.PeriodEnd.Add(w.grace), reconcile)
		if err != nil {
			return err
		}
		w.sale(ctx, order, f.product, f.amount, f.trial)
	}
	if order.Ended || order.Status == store.OrderRevoked {
		revoked, err := w.revokeOrder(ctx, order, "subscription ended")
		if revoked && order.Ended {
			w.alert(ctx, notify.KindCancellation, fmt.Sprintf("Subscription ended: %s, buyer %s (order %s); license %s revoked.",
				f.product.Name, order.Identity, order.ID, authforge.MaskKey(order.LicenseKey)))
		}
		return err
	}
	if err := w.extend(ctx, order, f); err != nil {
		return err
	}
	return w.deliver(ctx, order, f.product, attempt, replay)
}

// mayStart reports whether the license of a subscription order can be
// created now.
func (w *Worker) mayStart(o store.Order, f subFact) bool {
	return o.LicenseKey == "" && o.Status == store.OrderPending && !o.Ended &&
		f.live && !o.Identity.IsZero() && !o.PeriodEnd.IsZero()
}

// extend moves the license end to the order's period end plus grace when
// that is later (renewals).
func (w *Worker) extend(ctx context.Context, order store.Order, f subFact) error {
	if order.PeriodEnd.IsZero() {
		return nil
	}
	until := order.PeriodEnd.Add(w.grace).UTC().Truncate(time.Second)
	lic, err := w.store.GetLicense(ctx, order.LicenseKey)
	if err != nil {
		return fmt.Errorf("read license of order %s: %w", order.ID, err)
	}
	if lic.Status == store.LicenseRevoked || lic.ExpiresAt.IsZero() || !until.After(lic.ExpiresAt) {
		return nil
	}
	if _, err := w.lic.ExtendTo(ctx, actor, order.LicenseKey, until); err != nil {
		if errors.Is(err, licensing.ErrRevoked) || errors.Is(err, licensing.ErrLifetime) {
			return nil
		}
		return fmt.Errorf("extend license %s of order %s: %w", authforge.MaskKey(order.LicenseKey), order.ID, err)
	}
	w.log.Info("subscription renewed", "order", order.ID, "key", authforge.MaskKey(order.LicenseKey), "until", until)
	w.alert(ctx, notify.KindRenewal, fmt.Sprintf("Renewal: %s, %s, buyer %s; license runs to %s.",
		f.product.Name, orUnknown(f.amount), order.Identity, until.Format(notify.TimeLayout)))
	return nil
}

// revokeOrder revokes the order's license. It asks AuthForge every time,
// even when the license is already revoked here: a revocation AuthForge did
// not confirm (ErrNotConfirmed) is retried with the event, and the seller's
// own software checks keys against AuthForge, not against shopbot. Revoke
// tells holders and owner only when something changed, so repeating it is
// quiet.
// It reports whether this call revoked it (false when it was already).
func (w *Worker) revokeOrder(ctx context.Context, order store.Order, why string) (bool, error) {
	if order.LicenseKey == "" {
		return false, nil
	}
	_, err := w.lic.Revoke(ctx, actor, order.LicenseKey)
	if errors.Is(err, licensing.ErrRevoked) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("revoke license %s of order %s (%s): %w", authforge.MaskKey(order.LicenseKey), order.ID, why, err)
	}
	w.log.Info("license revoked", "order", order.ID, "key", authforge.MaskKey(order.LicenseKey), "reason", why)
	return true, nil
}

// paymentFailed warns the buyer that a renewal payment failed.
func (w *Worker) paymentFailed(ctx context.Context, f subFact, in invoice) error {
	who := f.who
	if who.IsZero() {
		if o, err := w.store.GetOrder(ctx, f.subID); err == nil {
			who = o.Identity
		}
	}
	if who.IsZero() {
		return ignore("no buyer known for subscription %s", f.subID)
	}
	n := notify.Say("payment.renewal_failed", textRenewalFailed, "product", f.product.Name)
	if in.HostedInvoiceURL != "" {
		n.Links = []notify.Link{{Label: "Pay invoice", URL: in.HostedInvoiceURL}}
	}
	w.alert(ctx, notify.KindPaymentFail, fmt.Sprintf("Renewal payment failed: %s, %s, buyer %s (subscription %s).",
		f.product.Name, orUnknown(notify.Money(in.AmountDue, in.Currency)), who, f.subID))
	if err := w.notifier.Notify(ctx, who, n); err != nil {
		w.log.Warn("buyer not warned about failed payment", "subscription", f.subID, "identity", who.String(), "err", err)
	}
	return nil
}
