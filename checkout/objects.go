package checkout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The Stripe objects shopbot reads from events. Only the fields it needs are
// declared, so events of any API version decode as long as those fields
// keep their meaning; fields that moved between versions are read from both
// places (see periodEnd and invoiceSubscription).

// Stripe event types shopbot acts on.
const (
	EventCheckoutCompleted     = "checkout.session.completed"
	EventAsyncPaymentSucceeded = "checkout.session.async_payment_succeeded"
	EventAsyncPaymentFailed    = "checkout.session.async_payment_failed"
	EventCheckoutExpired       = "checkout.session.expired"
	EventSubscriptionCreated   = "customer.subscription.created"
	EventSubscriptionUpdated   = "customer.subscription.updated"
	EventSubscriptionDeleted   = "customer.subscription.deleted"
	EventInvoicePaid           = "invoice.paid"
	EventInvoicePaymentFailed  = "invoice.payment_failed"
	EventChargeRefunded        = "charge.refunded"
	EventDisputeCreated        = "charge.dispute.created"
)

// EventTypes lists every event type shopbot handles: the set a webhook
// endpoint should subscribe to (`shopbot setup stripe`).
func EventTypes() []string {
	return []string{
		EventCheckoutCompleted, EventAsyncPaymentSucceeded, EventAsyncPaymentFailed, EventCheckoutExpired,
		EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted,
		EventInvoicePaid, EventInvoicePaymentFailed,
		EventChargeRefunded, EventDisputeCreated,
	}
}

func handledType(t string) bool {
	for _, h := range EventTypes() {
		if h == t {
			return true
		}
	}
	return false
}

// Metadata keys set on every Checkout session (and its subscription).
const (
	MetaProduct  = "shopbot_product"
	MetaIdentity = "shopbot_identity"
)

// expandable is a Stripe field that is an id string, null, or an expanded
// object with an "id".
type expandable string

func (e *expandable) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*e = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = expandable(s)
		return nil
	default:
		var obj struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return fmt.Errorf("expandable field: %w", err)
		}
		*e = expandable(obj.ID)
		return nil
	}
}

// eventEnvelope is the part of a stored event payload the worker reads.
type eventEnvelope struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

type checkoutSession struct {
	ID                string            `json:"id"`
	Mode              string            `json:"mode"`
	Status            string            `json:"status"`
	PaymentStatus     string            `json:"payment_status"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	Customer          expandable        `json:"customer"`
	PaymentIntent     expandable        `json:"payment_intent"`
	Subscription      expandable        `json:"subscription"`
	AmountTotal       int64             `json:"amount_total"`
	Currency          string            `json:"currency"`
}

type subscription struct {
	ID               string            `json:"id"`
	Status           string            `json:"status"`
	Customer         expandable        `json:"customer"`
	Metadata         map[string]string `json:"metadata"`
	CurrentPeriodEnd int64             `json:"current_period_end"`
	EndedAt          int64             `json:"ended_at"`
	Items            struct {
		Data []struct {
			CurrentPeriodEnd int64 `json:"current_period_end"`
			Price            struct {
				ID         string `json:"id"`
				UnitAmount int64  `json:"unit_amount"`
				Currency   string `json:"currency"`
			} `json:"price"`
		} `json:"data"`
	} `json:"items"`
}

// periodEnd is current_period_end: on the subscription up to API version
// 2025-03-31, on its items after.
func (s subscription) periodEnd() time.Time {
	end := s.CurrentPeriodEnd
	for _, it := range s.Items.Data {
		end = max(end, it.CurrentPeriodEnd)
	}
	if end == 0 {
		return time.Time{}
	}
	return time.Unix(end, 0).UTC()
}

func (s subscription) priceIDs() []string {
	var out []string
	for _, it := range s.Items.Data {
		if it.Price.ID != "" {
			out = append(out, it.Price.ID)
		}
	}
	return out
}

type invoice struct {
	ID                  string     `json:"id"`
	Customer            expandable `json:"customer"`
	Subscription        expandable `json:"subscription"`
	BillingReason       string     `json:"billing_reason"`
	HostedInvoiceURL    string     `json:"hosted_invoice_url"`
	PaymentIntent       expandable `json:"payment_intent"`
	AmountPaid          int64      `json:"amount_paid"`
	AmountDue           int64      `json:"amount_due"`
	Currency            string     `json:"currency"`
	SubscriptionDetails struct {
		Metadata map[string]string `json:"metadata"`
	} `json:"subscription_details"`
	Parent struct {
		SubscriptionDetails struct {
			Subscription expandable        `json:"subscription"`
			Metadata     map[string]string `json:"metadata"`
		} `json:"subscription_details"`
	} `json:"parent"`
	Lines struct {
		Data []struct {
			Period struct {
				End int64 `json:"end"`
			} `json:"period"`
			Price *struct {
				ID string `json:"id"`
			} `json:"price"`
		} `json:"data"`
	} `json:"lines"`
}

// subscriptionID is the invoice's subscription: top level up to API
// version 2025-03-31, under parent.subscription_details after.
func (in invoice) subscriptionID() string {
	if in.Subscription != "" {
		return string(in.Subscription)
	}
	return string(in.Parent.SubscriptionDetails.Subscription)
}

func (in invoice) metadata() map[string]string {
	if len(in.SubscriptionDetails.Metadata) > 0 {
		return in.SubscriptionDetails.Metadata
	}
	return in.Parent.SubscriptionDetails.Metadata
}

// periodEnd is the latest line period end: for a subscription invoice, the
// end of the period it pays for.
func (in invoice) periodEnd() time.Time {
	var end int64
	for _, l := range in.Lines.Data {
		end = max(end, l.Period.End)
	}
	if end == 0 {
		return time.Time{}
	}
	return time.Unix(end, 0).UTC()
}

type charge struct {
	ID             string            `json:"id"`
	Amount         int64             `json:"amount"`
	AmountRefunded int64             `json:"amount_refunded"`
	Currency       string            `json:"currency"`
	Refunded       bool              `json:"refunded"`
	PaymentIntent  expandable        `json:"payment_intent"`
	Invoice        expandable        `json:"invoice"`
	Metadata       map[string]string `json:"metadata"`
}

type dispute struct {
	ID            string     `json:"id"`
	Charge        expandable `json:"charge"`
	PaymentIntent expandable `json:"payment_intent"`
	Reason        string     `json:"reason"`
	Status        string     `json:"status"`
	Amount        int64      `json:"amount"`
	Currency      string     `json:"currency"`
}

// orderKey names the order an event is about, so the worker processes the
// events of one order in arrival order: the subscription for subscription
// checkouts, subscriptions and invoices; the Checkout session for one-time
// checkouts; the payment intent for charges and disputes. Types shopbot
// does not handle get "" and ok=false.
func orderKey(eventType string, object json.RawMessage) (key string, ok bool, err error) {
	if !handledType(eventType) {
		return "", false, nil
	}
	switch eventType {
	case EventCheckoutCompleted, EventAsyncPaymentSucceeded, EventAsyncPaymentFailed, EventCheckoutExpired:
		var s checkoutSession
		if err := json.Unmarshal(object, &s); err != nil {
			return "", true, fmt.Errorf("checkout session: %w", err)
		}
		if s.Subscription != "" {
			return string(s.Subscription), true, nil
		}
		return s.ID, true, nil
	case EventSubscriptionCreated, EventSubscriptionUpdated, EventSubscriptionDeleted:
		var s subscription
		if err := json.Unmarshal(object, &s); err != nil {
			return "", true, fmt.Errorf("subscription: %w", err)
		}
		return s.ID, true, nil
	case EventInvoicePaid, EventInvoicePaymentFailed:
		var in invoice
		if err := json.Unmarshal(object, &in); err != nil {
			return "", true, fmt.Errorf("invoice: %w", err)
		}
		if sub := in.subscriptionID(); sub != "" {
			return sub, true, nil
		}
		return in.ID, true, nil
	case EventChargeRefunded:
		var c charge
		if err := json.Unmarshal(object, &c); err != nil {
			return "", true, fmt.Errorf("charge: %w", err)
		}
		if c.PaymentIntent != "" {
			return string(c.PaymentIntent), true, nil
		}
		return c.ID, true, nil
	default: // EventDisputeCreated
		var d dispute
		if err := json.Unmarshal(object, &d); err != nil {
			return "", true, fmt.Errorf("dispute: %w", err)
		}
		if d.PaymentIntent != "" {
			return string(d.PaymentIntent), true, nil
		}
		return string(d.Charge), true, nil
	}
}
