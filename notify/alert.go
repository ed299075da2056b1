package notify

import (
	"context"
	"fmt"
	"strings"
)

// Kind names what an admin alert is about. The admin feed ([alerts]
// events) lists the kinds it wants; every alert carries one.
type Kind string

// Alert kinds. Each is one line in the admin feed.
const (
	KindSale         Kind = "sale"           // a new paid order (one-time or first subscription payment)
	KindRenewal      Kind = "renewal"        // a subscription period paid and the license extended
	KindCancellation Kind = "cancellation"   // a subscription ended and its license revoked
	KindPaymentFail  Kind = "payment_failed" // a renewal payment failed
	KindRefund       Kind = "refund"         // money given back
	KindDispute      Kind = "dispute"        // a chargeback opened
	KindFulfillment  Kind = "fulfillment"    // an order that cannot be fulfilled
	KindCredits      Kind = "credits"        // AuthForge out of credits, burn cap reached, app credentials refused
	KindPermission   Kind = "permission"     // the bot lacks a right it needs in a chat or guild
	KindAccess       Kind = "access"         // access taken from someone who held it without a license
)

// Kinds lists every alert kind, in the order the docs give them.
var Kinds = []Kind{KindSale, KindRenewal, KindCancellation, KindPaymentFail, KindRefund,
	KindDispute, KindFulfillment, KindCredits, KindPermission, KindAccess}

// Alert is one line for the admins.
type Alert struct {
	Kind Kind
	Text string
}

// Sale is a new sale, the fields a feed line names. Rail is the payment
// rail ("stripe", "stars"), so every rail reports sales the same way.
type Sale struct {
	Product string
	// Amount is already formatted for people ("12.00 EUR", "250 Stars").
	Amount string
	Rail   string
	Buyer  string
	// Trial: a subscription that starts with a free trial; nothing was
	// paid yet, so the feed does not call it a sale.
	Trial bool
}

// Alert turns the sale into its feed line.
func (s Sale) Alert() Alert {
	if s.Trial {
		return Alert{Kind: KindSale, Text: fmt.Sprintf("New trial: %s via %s, buyer %s (nothing paid until it converts)", s.Product, s.Rail, s.Buyer)}
	}
	amount := s.Amount
	if amount == "" {
		amount = "amount unknown"
	}
	return Alert{Kind: KindSale, Text: fmt.Sprintf("New sale: %s, %s via %s, buyer %s", s.Product, amount, s.Rail, s.Buyer)}
}

// Alerter is how the core tells the admins something; the admin feed
// (Feed) and Router satisfy it.
type Alerter interface {
	Alert(ctx context.Context, a Alert) error
}

// zeroDecimal lists Stripe's currencies whose amounts have no minor unit.
var zeroDecimal = map[string]bool{"bif": true, "clp": true, "djf": true, "gnf": true, "jpy": true, "kmf": true,
	"krw": true, "mga": true, "pyg": true, "rwf": true, "ugx": true, "vnd": true, "vuv": true, "xaf": true, "xof": true, "xpf": true}

// Money formats a Stripe amount in minor units: Money(1250, "eur") is
// "12.50 EUR". An empty currency gives "".
func Money(minor int64, currency string) string {
	if currency == "" {
		return ""
	}
	c := strings.ToLower(currency)
	if c == "xtr" {
		return fmt.Sprintf("%d Stars", minor)
	}
	if zeroDecimal[c] {
		return fmt.Sprintf("%d %s", minor, strings.ToUpper(c))
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	return fmt.Sprintf("%s%d.%02d %s", sign, minor/100, minor%100, strings.ToUpper(c))
}
