package stripetest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// APIVersion is the version the builders render, the one stripe-go v76
// pins and `shopbot setup stripe` pins the endpoint to.
const APIVersion = "2023-10-16"

// SignEvent returns the Stripe-Signature header for payload signed with
// secret at ts (zero: now).
func SignEvent(secret string, payload []byte, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts}).Header
}

// EventParams fill the builders. Zero fields get plausible values; ids
// that the event needs and that are empty are generated from ID.
type EventParams struct {
	ID        string // evt_...
	SessionID string // cs_test_...
	// Product and Identity go into metadata shopbot_product /
	// shopbot_identity; empty leaves the key out.
	Product  string
	Identity string
	// PaymentStatus of a Checkout session (default "paid").
	PaymentStatus   string
	Mode            string // payment (default) | subscription
	SubscriptionID  string
	CustomerID      string
	PaymentIntentID string
	InvoiceID       string
	ChargeID        string
	PriceID         string
	// Status of a subscription (default "active").
	Status string
	// PeriodEnd of a subscription or invoice (default TrialEnd when set,
	// else Created + 30 days).
	PeriodEnd time.Time
	// TrialEnd, when set, is the subscription's trial_end (trial_start is
	// Created); Status then defaults to "trialing".
	TrialEnd time.Time
	// Amount and AmountRefunded of a charge (default 2000 and 2000).
	Amount         int64
	AmountRefunded int64
	Created        time.Time
	// APIVersion overrides the rendered version string.
	APIVersion string
	// BillingReason of an invoice (default "subscription_cycle", a
	// renewal; "subscription_create" is the first invoice).
	BillingReason string
}

func (p EventParams) withDefaults() EventParams {
	if p.ID == "" {
		p.ID = "evt_test"
	}
	if p.Created.IsZero() {
		p.Created = time.Now()
	}
	if p.PaymentStatus == "" {
		p.PaymentStatus = "paid"
	}
	if p.Mode == "" {
		p.Mode = "payment"
	}
	if p.Status == "" {
		p.Status = "active"
		if !p.TrialEnd.IsZero() {
			p.Status = "trialing"
		}
	}
	if p.PeriodEnd.IsZero() {
		p.PeriodEnd = p.Created.Add(30 * 24 * time.Hour)
		if !p.TrialEnd.IsZero() {
			p.PeriodEnd = p.TrialEnd
		}
	}
	if p.Amount == 0 {
		p.Amount = 2000
	}
	if p.APIVersion == "" {
		p.APIVersion = APIVersion
	}
	if p.CustomerID == "" {
		p.CustomerID = "cus_" + p.ID
	}
	if p.PriceID == "" {
		p.PriceID = "price_test"
	}
	return p
}

func (p EventParams) metadata() map[string]string {
	m := map[string]string{}
	if p.Product != "" {
		m["shopbot_product"] = p.Product
	}
	if p.Identity != "" {
		m["shopbot_identity"] = p.Identity
	}
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Event wraps object into a Stripe event envelope of type typ.
func Event(typ string, p EventParams, object map[string]any) []byte {
	p = p.withDefaults()
	ev := map[string]any{
		"id":               p.ID,
		"object":           "event",
		"api_version":      p.APIVersion,
		"created":          p.Created.Unix(),
		"data":             map[string]any{"object": object},
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": nil, "idempotency_key": nil},
		"type":             typ,
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("stripetest: marshal event: %v", err))
	}
	return b
}

// CheckoutSession is the checkout.session object of p.
func CheckoutSession(p EventParams, status string) map[string]any {
	p = p.withDefaults()
	sess := map[string]any{
		"id": p.SessionID, "object": "checkout.session",
		"amount_subtotal": p.Amount, "amount_total": p.Amount, "currency": "usd",
		"cancel_url": "https://shop.example.com/cancel", "success_url": "https://shop.example.com/success",
		"client_reference_id": nullable(p.Identity), "created": p.Created.Add(-5 * time.Minute).Unix(),
		"customer": nullable(p.CustomerID), "customer_details": map[string]any{"email": "buyer@example.com", "name": nil, "phone": nil, "tax_exempt": "none"},
		"expires_at": p.Created.Add(25 * time.Minute).Unix(), "invoice": nil, "livemode": false, "locale": nil,
		"metadata": p.metadata(), "mode": p.Mode, "payment_intent": nullable(p.PaymentIntentID),
		"payment_link": nil, "payment_method_types": []string{"card"}, "payment_status": p.PaymentStatus,
		"status": status, "subscription": nullable(p.SubscriptionID), "url": nil,
		"total_details": map[string]any{"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
	}
	return sess
}

// CheckoutCompleted is checkout.session.completed.
func CheckoutCompleted(p EventParams) []byte {
	return Event("checkout.session.completed", p, CheckoutSession(p, "complete"))
}

// AsyncPaymentSucceeded is checkout.session.async_payment_succeeded.
func AsyncPaymentSucceeded(p EventParams) []byte {
	p.PaymentStatus = "paid"
	return Event("checkout.session.async_payment_succeeded", p, CheckoutSession(p, "complete"))
}

// AsyncPaymentFailed is checkout.session.async_payment_failed.
func AsyncPaymentFailed(p EventParams) []byte {
	p.PaymentStatus = "unpaid"
	return Event("checkout.session.async_payment_failed", p, CheckoutSession(p, "complete"))
}

// CheckoutExpired is checkout.session.expired.
func CheckoutExpired(p EventParams) []byte {
	p.PaymentStatus = "unpaid"
	return Event("checkout.session.expired", p, CheckoutSession(p, "expired"))
}

// Subscription is the subscription object of p (current_period_end at the
// top level, as in 2023-10-16).
func Subscription(p EventParams) map[string]any {
	p = p.withDefaults()
	start := p.PeriodEnd.Add(-30 * 24 * time.Hour).Unix()
	sub := map[string]any{
		"id": p.SubscriptionID, "object": "subscription", "billing_cycle_anchor": start,
		"cancel_at": nil, "cancel_at_period_end": false, "canceled_at": nil, "collection_method": "charge_automatically",
		"created": start, "currency": "usd", "current_period_end": p.PeriodEnd.Unix(), "current_period_start": start,
		"customer": p.CustomerID, "ended_at": nil, "latest_invoice": nullable(p.InvoiceID), "livemode": false,
		"metadata": p.metadata(), "status": p.Status,
		"items": map[string]any{"object": "list", "has_more": false, "url": "/v1/subscription_items?subscription=" + p.SubscriptionID,
			"data": []any{map[string]any{
				"id": "si_" + p.SubscriptionID, "object": "subscription_item", "quantity": 1, "subscription": p.SubscriptionID,
				"price": map[string]any{"id": p.PriceID, "object": "price", "currency": "usd", "unit_amount": p.Amount, "type": "recurring",
					"recurring": map[string]any{"interval": "month", "interval_count": 1, "usage_type": "licensed"}},
			}}},
	}
	if p.Status == "canceled" {
		sub["canceled_at"] = p.Created.Unix()
		sub["ended_at"] = p.Created.Unix()
	}
	sub["trial_start"], sub["trial_end"] = nil, nil
	if !p.TrialEnd.IsZero() {
		sub["trial_start"], sub["trial_end"] = p.Created.Unix(), p.TrialEnd.Unix()
		if p.Status == "trialing" {
			sub["current_period_start"] = p.Created.Unix()
		}
	}
	return sub
}

// SubscriptionCreated, SubscriptionUpdated and SubscriptionDeleted are the
// customer.subscription.* events.
func SubscriptionCreated(p EventParams) []byte {
	return Event("customer.subscription.created", p, Subscription(p))
}

func SubscriptionUpdated(p EventParams) []byte {
	return Event("customer.subscription.updated", p, Subscription(p))
}

func SubscriptionDeleted(p EventParams) []byte {
	p.Status = "canceled"
	return Event("customer.subscription.deleted", p, Subscription(p))
}

// Invoice is the invoice object of p for its subscription.
func Invoice(p EventParams, paid bool) map[string]any {
	p = p.withDefaults()
	start := p.PeriodEnd.Add(-30 * 24 * time.Hour).Unix()
	status, amountPaid := "open", int64(0)
	if paid {
		status, amountPaid = "paid", p.Amount
	}
	return map[string]any{
		"id": p.InvoiceID, "object": "invoice", "amount_due": p.Amount, "amount_paid": amountPaid,
		"amount_remaining": p.Amount - amountPaid, "attempt_count": 1, "attempted": true,
		"billing_reason": orID(p.BillingReason, "subscription_cycle"), "charge": nullable(p.ChargeID), "collection_method": "charge_automatically",
		"created": p.Created.Unix(), "currency": "usd", "customer": p.CustomerID,
		"hosted_invoice_url": "https://invoice.stripe.com/i/" + p.InvoiceID, "livemode": false,
		"metadata": map[string]string{}, "paid": paid, "payment_intent": nullable(p.PaymentIntentID),
		"period_end": start, "period_start": start, "status": status, "subscription": nullable(p.SubscriptionID),
		"subscription_details": map[string]any{"metadata": p.metadata()},
		"lines": map[string]any{"object": "list", "has_more": false, "url": "/v1/invoices/" + p.InvoiceID + "/lines",
			"data": []any{map[string]any{
				"id": "il_" + p.InvoiceID, "object": "line_item", "amount": p.Amount, "currency": "usd",
				"period": map[string]any{"start": start, "end": p.PeriodEnd.Unix()},
				"price":  map[string]any{"id": p.PriceID, "object": "price"}, "proration": false, "quantity": 1,
				"subscription": nullable(p.SubscriptionID), "type": "subscription",
			}}},
	}
}

// TrialInvoicePaid is the invoice.paid Stripe sends when a subscription
// starts with a trial: nothing due, for the trial period (Created to
// TrialEnd).
func TrialInvoicePaid(p EventParams) []byte {
	p = p.withDefaults()
	end := p.TrialEnd
	if end.IsZero() {
		end = p.PeriodEnd
	}
	in := Invoice(p, true)
	in["amount_due"], in["amount_paid"], in["amount_remaining"] = 0, 0, 0
	in["billing_reason"], in["period_start"], in["period_end"] = "subscription_create", p.Created.Unix(), p.Created.Unix()
	line := in["lines"].(map[string]any)["data"].([]any)[0].(map[string]any)
	line["amount"] = 0
	line["period"] = map[string]any{"start": p.Created.Unix(), "end": end.Unix()}
	return Event("invoice.paid", p, in)
}

// InvoicePaid and InvoicePaymentFailed are the invoice events.
func InvoicePaid(p EventParams) []byte { return Event("invoice.paid", p, Invoice(p, true)) }

func InvoicePaymentFailed(p EventParams) []byte {
	return Event("invoice.payment_failed", p, Invoice(p, false))
}

// ChargeRefunded is charge.refunded for p.PaymentIntentID; a zero
// AmountRefunded is a full refund.
func ChargeRefunded(p EventParams) []byte {
	p = p.withDefaults()
	refunded := p.AmountRefunded
	if refunded == 0 {
		refunded = p.Amount
	}
	ch := map[string]any{
		"id": orID(p.ChargeID, "ch_"+p.ID), "object": "charge", "amount": p.Amount, "amount_captured": p.Amount,
		"amount_refunded": refunded, "captured": true, "created": p.Created.Unix(), "currency": "usd",
		"customer": nullable(p.CustomerID), "disputed": false, "invoice": nullable(p.InvoiceID), "livemode": false,
		"metadata": p.metadata(), "paid": true, "payment_intent": nullable(p.PaymentIntentID),
		"refunded": refunded >= p.Amount, "status": "succeeded",
	}
	return Event("charge.refunded", p, ch)
}

// DisputeCreated is charge.dispute.created for p.PaymentIntentID.
func DisputeCreated(p EventParams) []byte {
	p = p.withDefaults()
	d := map[string]any{
		"id": "dp_" + p.ID, "object": "dispute", "amount": p.Amount, "charge": orID(p.ChargeID, "ch_"+p.ID),
		"created": p.Created.Unix(), "currency": "usd", "is_charge_refundable": true, "livemode": false,
		"metadata": map[string]string{}, "payment_intent": nullable(p.PaymentIntentID),
		"reason": "fraudulent", "status": "needs_response",
	}
	return Event("charge.dispute.created", p, d)
}

func orID(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
