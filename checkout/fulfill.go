package checkout

import (
	"context"
	"encoding/json"
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

// actor is the audit name of the worker's licensing actions.
const actor = "stripe"

// handle decodes a stored event and acts on it. It returns nil (done), an
// *ignoredError, a *permanentError, or any other error (retry).
func (w *Worker) handle(ctx context.Context, ev store.Event, attempt int, replay bool) error {
	switch ev.Type {
	case EventStarsPaid, EventStarsRefunded:
		return w.starsEvent(ctx, ev, attempt, replay)
	}
	var env eventEnvelope
	if err := json.Unmarshal(ev.Payload, &env); err != nil {
		return permanent("stored payload is not a Stripe event: %v", err)
	}
	obj := env.Data.Object
	switch env.Type {
	case EventCheckoutCompleted, EventAsyncPaymentSucceeded:
		var s checkoutSession
		if err := json.Unmarshal(obj, &s); err != nil {
			return permanent("checkout session undecodable: %v", err)
		}
		return w.checkoutPaid(ctx, env, s, attempt, replay)
	case EventAsyncPaymentFailed:
		return w.asyncFailed(ctx, obj)
	case EventCheckoutExpired:
		return w.sessionExpired(ctx, obj)
	case EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted:
		var sub subscription
		if err := json.Unmarshal(obj, &sub); err != nil {
			return permanent("subscription undecodable: %v", err)
		}
		return w.subscriptionChanged(ctx, env.Type, sub, attempt, replay)
	case EventInvoicePaid, EventInvoicePaymentFailed:
		var in invoice
		if err := json.Unmarshal(obj, &in); err != nil {
			return permanent("invoice undecodable: %v", err)
		}
		return w.invoiceEvent(ctx, env.Type, in, attempt, replay)
	case EventChargeRefunded:
		var c charge
		if err := json.Unmarshal(obj, &c); err != nil {
			return permanent("charge undecodable: %v", err)
		}
		return w.refunded(ctx, c, attempt)
	case EventDisputeCreated:
		var d dispute
		if err := json.Unmarshal(obj, &d); err != nil {
			return permanent("dispute undecodable: %v", err)
		}
		return w.disputed(ctx, d, attempt)
	default:
		return ignore("event type %s not used by shopbot", env.Type)
	}
}

// buyer reads the product and identity from shopbot's metadata (identity
// falling back to client_reference_id, product to a configured price).
func (w *Worker) buyer(meta map[string]string, clientRef string, priceIDs []string) (config.Product, identity.Identity, error) {
	pid := meta[MetaProduct]
	p, ok := w.products[pid]
	if pid == "" {
		p, ok = w.productByPrice(priceIDs)
		if !ok {
			// A Stripe account often sells more than shopbot's catalog:
			// a session with neither our metadata nor our prices is
			// someone else's sale, not a failed one.
			return config.Product{}, identity.Identity{}, ignore("not a shopbot sale (no %s metadata and no configured price)", MetaProduct)
		}
	}
	if !ok {
		return config.Product{}, identity.Identity{}, permanent("unknown product %q (not in the config's [[products]])", pid)
	}
	raw := meta[MetaIdentity]
	if raw == "" {
		raw = clientRef
	}
	if raw == "" {
		return config.Product{}, identity.Identity{}, permanent("no buyer identity (metadata %s, client_reference_id)", MetaIdentity)
	}
	who, err := identity.Parse(raw)
	if err != nil {
		return config.Product{}, identity.Identity{}, permanent("buyer identity %q: %v", raw, err)
	}
	return p, who, nil
}

func (w *Worker) productByPrice(priceIDs []string) (config.Product, bool) {
	for _, id := range priceIDs {
		for _, p := range w.products {
			if p.PriceID != "" && p.PriceID == id {
				return p, true
			}
		}
	}
	return config.Product{}, false
}

// checkoutPaid fulfills a paid Checkout session (one-time purchase), or
// starts a subscription bought through Checkout.
func (w *Worker) checkoutPaid(ctx context.Context, env eventEnvelope, s checkoutSession, attempt int, replay bool) error {
	if env.Type == EventCheckoutCompleted && s.PaymentStatus != "paid" && s.PaymentStatus != "no_payment_required" {
		return ignore("payment_status %q: waiting for checkout.session.async_payment_succeeded", s.PaymentStatus)
	}
	p, who, err := w.buyer(s.Metadata, s.ClientReferenceID, nil)
	if err != nil {
		return err
	}
	if s.Mode == config.ModeSubscription || s.Subscription != "" {
		return w.subscriptionCheckout(ctx, s, p, who, attempt, replay)
	}
	if p.Mode == config.ModeSubscription {
		return permanent("product %s is a subscription but session %s was paid in %q mode", p.ID, s.ID, s.Mode)
	}
	now := w.now()
	var reconcile, refused bool
	reversed := w.reversed(ctx, string(s.PaymentIntent))
	order, err := w.store.UpsertOrder(ctx, s.ID, func(o *store.Order, exists bool) error {
		if !exists {
			o.Mode, o.ProductID, o.Identity, o.SessionID, o.CreatedAt = config.ModePayment, p.ID, who, s.ID, now
		}
		o.CustomerID = orString(o.CustomerID, string(s.Customer))
		o.PaymentIntentID = orString(o.PaymentIntentID, string(s.PaymentIntent))
		o.Rail = store.RailStripe
		if s.Currency != "" {
			o.Amount, o.Currency = s.AmountTotal, s.Currency
		}
		o.UpdatedAt = now
		if o.LicenseKey == "" && o.Status == store.OrderPending {
			if reversed != "" {
				o.Status, refused = store.OrderRevoked, true
				return nil
			}
			reconcile = o.CreateAttempts > 0
			o.CreateAttempts++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save order %s: %w", s.ID, err)
	}
	if refused {
		w.alert(ctx, notify.KindFulfillment, fmt.Sprintf("Order %s (%s, %s) arrived after its payment's %s: no license issued.", order.ID, p.ID, who, reversed))
	}
	if order.LicenseKey == "" {
		if order.Status != store.OrderPending {
			return ignore("order %s is %s: no license issued", order.ID, order.Status)
		}
		var expires time.Time
		if p.Duration.Duration > 0 {
			expires = order.CreatedAt.Add(p.Duration.Duration).UTC().Truncate(time.Second)
		}
		if order, err = w.issue(ctx, order, p, "shopbot:"+s.ID, expires, reconcile); err != nil {
			return err
		}
		w.sale(ctx, order, p, notify.Money(s.AmountTotal, s.Currency), false)
	}
	if order.Status == store.OrderFulfilled && s.Currency != "" {
		if err := w.ledger(ctx, store.Payment{ID: s.ID, Kind: store.PaymentSale, ProductID: p.ID,
			Rail: store.RailStripe, Currency: s.Currency, Amount: s.AmountTotal}); err != nil {
			return err
		}
	}
	w.forgetSession(ctx, s.ID)
	return w.deliver(ctx, order, p, attempt, replay)
}

// issue creates (or, reconciling, finds) the order's license and attaches
// it. CreateAttempts was saved before, so a crash anywhere here is
// reconciled by label on the next attempt.
func (w *Worker) issue(ctx context.Context, order store.Order, p config.Product, label string, expires time.Time, reconcile bool) (store.Order, error) {
	reconcile = reconcile || w.beforeRecovery(ctx)
	lic, err := w.lic.Issue(ctx, licensing.IssueRequest{
		ProductID: p.ID, Owner: order.Identity, OrderID: order.ID, Label: label,
		ExpiresAt: expires, Reconcile: reconcile, Source: "order",
	})
	if err != nil {
		if errors.Is(err, licensing.ErrUnknownProduct) || errors.Is(err, licensing.ErrInvalidArgument) || errors.Is(err, identity.ErrInvalid) {
			return store.Order{}, &permanentError{err: fmt.Errorf("issue license for order %s: %w", order.ID, err)}
		}
		return store.Order{}, fmt.Errorf("issue license for order %s: %w", order.ID, err)
	}
	out, err := w.store.AttachLicense(ctx, order.ID, lic)
	if err != nil {
		return store.Order{}, fmt.Errorf("attach license %s to order %s: %w", authforge.MaskKey(lic.Key), order.ID, err)
	}
	w.log.Info("order fulfilled", "order", order.ID, "product", p.ID, "identity", order.Identity.String(),
		"key", authforge.MaskKey(lic.Key), "reconciled", reconcile)
	return out, nil
}

// ledger records a payment in the store's payments ledger (once per
// payment id, so a retried event does not count twice).
func (w *Worker) ledger(ctx context.Context, p store.Payment) error {
	if p.At.IsZero() {
		p.At = w.now()
	}
	if _, err := w.store.RecordPayment(ctx, p); err != nil {
		return fmt.Errorf("record %s %s in the ledger: %w", p.Kind, p.ID, err)
	}
	return nil
}

// eventCreatedKey carries the Stripe creation time of the event in hand
// down to issue, past handlers that have no use for it.
type eventCreatedKey struct{}

// beforeRecovery reports whether the event in hand was created before the
// store was restored from a snapshot or rebuilt: the lost store may have
// created its license already, so the first attempt must look for it by
// label too, or a restore would give the buyer a second license.
func (w *Worker) beforeRecovery(ctx context.Context) bool {
	at, err := w.store.RecoveredAt(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false
	case err != nil:
		w.log.Warn("reading the store's recovery time; reconciling by label to be safe", "err", err)
		return true
	}
	created, ok := ctx.Value(eventCreatedKey{}).(time.Time)
	return !ok || created.IsZero() || !created.After(at)
}

// deliver sends the key to the buyer once. A failure is recorded on the
// order and never leads to another license; a transient one makes the event
// retry (Issue is skipped then, the order has its key) for DeliveryAttempts.
func (w *Worker) deliver(ctx context.Context, order store.Order, p config.Product, attempt int, replay bool) error {
	if order.Delivered || (order.DeliveryError != "" && !replay) || order.LicenseKey == "" {
		return nil
	}
	n := purchaseNotice(p, order.LicenseKey, w.licenseEnd(ctx, order.LicenseKey))
	n.ActivateKey = order.LicenseKey
	sendErr := w.notifier.Notify(ctx, order.Identity, n)
	permanentFail := errors.Is(sendErr, notify.ErrUndeliverable) || errors.Is(sendErr, notify.ErrNoRoute)
	if sendErr != nil && !permanentFail && attempt < w.deliverAtt {
		return fmt.Errorf("deliver key %s to %s: %w", authforge.MaskKey(order.LicenseKey), order.Identity, sendErr)
	}
	_, err := w.store.UpsertOrder(ctx, order.ID, func(o *store.Order, _ bool) error {
		o.Delivered = sendErr == nil
		o.DeliveryError = ""
		if sendErr != nil {
			o.DeliveryError = sendErr.Error()
		}
		return nil
	})
	if sendErr != nil {
		w.log.Warn("license key not delivered; the buyer can get it with /license", "order", order.ID,
			"identity", order.Identity.String(), "key", authforge.MaskKey(order.LicenseKey), "err", sendErr)
	} else {
		w.log.Info("license key delivered", "order", order.ID, "identity", order.Identity.String(), "key", authforge.MaskKey(order.LicenseKey))
	}
	if err != nil {
		return fmt.Errorf("record delivery of order %s: %w", order.ID, err)
	}
	return nil
}

func (w *Worker) licenseEnd(ctx context.Context, key string) time.Time {
	l, err := w.store.GetLicense(ctx, key)
	if err != nil {
		return time.Time{}
	}
	return l.ExpiresAt
}

// How to activate differs by chat (a button in Telegram, a slash command
// in the Discord server): the adapters add it, because the notice carries
// the key as ActivateKey.
func purchaseNotice(p config.Product, key string, end time.Time) notify.Notice {
	if end.IsZero() {
		return notify.Say("delivery.lifetime", textDeliveryLifetime, "product", p.Name, "key", key)
	}
	return notify.Say("delivery.until", textDeliveryUntil, "product", p.Name, "key", key, "until", end.UTC().Format(notify.TimeLayout))
}

// forgetSession drops the buyer's open Checkout session once it is paid or
// expired, so the next /buy opens a new one.
func (w *Worker) forgetSession(ctx context.Context, sessionID string) {
	if err := w.store.DeleteOpenSessionByID(ctx, sessionID); err != nil {
		w.log.Warn("open session not forgotten", "session", sessionID, "err", err)
	}
}

// asyncFailed tells the buyer a delayed payment method failed.
func (w *Worker) asyncFailed(ctx context.Context, obj json.RawMessage) error {
	var s checkoutSession
	if err := json.Unmarshal(obj, &s); err != nil {
		return permanent("checkout session undecodable: %v", err)
	}
	p, who, err := w.buyer(s.Metadata, s.ClientReferenceID, nil)
	if err != nil {
		return err
	}
	w.forgetSession(ctx, s.ID)
	n := notify.Say("payment.async_failed", textAsyncFailed, "product", p.Name, "id", p.ID)
	if err := w.notifier.Notify(ctx, who, n); err != nil {
		w.log.Warn("buyer not told about failed payment", "session", s.ID, "identity", who.String(), "err", err)
	}
	return nil
}

// sessionExpired forgets an unpaid session that Stripe closed.
func (w *Worker) sessionExpired(ctx context.Context, obj json.RawMessage) error {
	var s checkoutSession
	if err := json.Unmarshal(obj, &s); err != nil {
		return permanent("checkout session undecodable: %v", err)
	}
	if err := w.store.DeleteOpenSessionByID(ctx, s.ID); err != nil {
		return fmt.Errorf("forget expired session %s: %w", s.ID, err)
	}
	return nil
}

func orString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
