package checkout

import (
	"context"
	"errors"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// ErrNoCustomer: the order has no Stripe customer, so there is no billing
// portal to open (one-time payments, orders from before the customer was
// recorded).
var ErrNoCustomer = errors.New("checkout: no Stripe customer for the billing portal")

// PortalLink opens a Stripe Billing Portal session where the customer
// manages their subscription (card, invoices, cancellation) and returns its
// URL. The URL is short-lived and single-use, so it is made when it is
// shown, never stored. returnURL is where the portal's "return" link
// leads; empty uses the default return URL of the portal configuration in
// the Stripe Dashboard. Errors match ErrNoCustomer, ErrRateLimited or
// ErrStripe; the Stripe call honours ctx's deadline.
func (s *Sessions) PortalLink(ctx context.Context, customerID, returnURL string) (string, error) {
	customerID = strings.TrimSpace(customerID)
	if customerID == "" {
		return "", ErrNoCustomer
	}
	params := &stripe.BillingPortalSessionParams{Customer: stripe.String(customerID)}
	if returnURL != "" {
		params.ReturnURL = stripe.String(returnURL)
	}
	params.Context = ctx
	sess, err := s.stripe.BillingPortalSessions.New(params)
	if err != nil {
		s.log.Warn("billing portal session not created", "customer", customerID, "err", err)
		return "", stripeError("create billing portal session", err)
	}
	if sess.URL == "" {
		return "", stripeError("create billing portal session", errors.New("session "+sess.ID+" has no URL"))
	}
	s.log.Debug("billing portal session created", "customer", customerID, "session", sess.ID)
	return sess.URL, nil
}
