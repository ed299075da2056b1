package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
)

// period is one subscription billing period in the demo.
const period = 30 * 24 * time.Hour

// errState is a payment action that does not fit the session's state; the
// visitor sees its message.
type errState struct{ msg string }

func (e errState) Error() string { return e.msg }

func stateErr(format string, args ...any) error { return errState{fmt.Sprintf(format, args...)} }

// params are the event builder fields of one session.
func (s *Server) params(sess Session) stripetest.EventParams {
	p := stripetest.EventParams{
		SessionID: sess.ID, Product: sess.Product, Identity: sess.Identity, Mode: sess.Mode,
		CustomerID: sess.Customer, PaymentIntentID: sess.PaymentIntent, SubscriptionID: sess.Subscription,
		InvoiceID: sess.Invoice, PriceID: sess.PriceID, PeriodEnd: sess.PeriodEnd, Created: s.opts.Now(),
	}
	if sess.PaymentIntent != "" {
		p.ChargeID = "ch_" + sess.PaymentIntent[len("pi_"):]
	}
	return p
}

// eventID is a new id, unique across runs that share a store.
func (s *Server) eventID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextEvt++
	return fmt.Sprintf("evt_%s%04d", s.opts.Stripe.prefix, s.nextEvt)
}

// deliver posts one signed event to the shop's webhook, as Stripe does.
func (s *Server) deliver(ctx context.Context, build func(stripetest.EventParams) []byte, p stripetest.EventParams) error {
	p.ID = s.eventID()
	payload := build(p)
	if err := s.opts.Stripe.RecordEvent(payload); err != nil {
		return err
	}
	base := s.shopBase()
	if base == "" {
		return errors.New("the shop is not listening yet")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks/stripe", bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	// Signed at the real time, not the demo's: stripe-go checks the
	// signature's age against the real clock.
	req.Header.Set("Stripe-Signature", stripetest.SignEvent(s.opts.WebhookSecret, payload, time.Now()))
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("post event %s: %w", p.ID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the shop answered %d to event %s", resp.StatusCode, p.ID)
	}
	s.log.Info("demo: webhook event delivered", "event", p.ID, "session", p.SessionID)
	return nil
}

// updateAndDeliver applies change to session id and posts the one event
// build makes of the updated session.
func (s *Server) updateAndDeliver(ctx context.Context, id string, change func(*Session), build func(stripetest.EventParams) []byte) (Session, error) {
	sess, err := s.opts.Stripe.Update(id, func(x *Session) error { change(x); return nil })
	if err != nil {
		return sess, err
	}
	return sess, s.deliver(ctx, build, s.params(sess))
}

// Pay actions of the checkout page.
const (
	actPay       = "pay"
	actDecline   = "decline"
	actAsync     = "async"
	actAsyncOK   = "async_ok"
	actAsyncFail = "async_fail"
)

// pay runs one checkout page action on session id.
func (s *Server) pay(ctx context.Context, id, action string) (Session, error) {
	sess, ok := s.opts.Stripe.Session(id)
	if !ok {
		return Session{}, stateErr("This checkout session does not exist.")
	}
	if sess.Status == StatusPaid || sess.Status == StatusFailed {
		return sess, stateErr("This checkout session is already complete.")
	}
	if sess.Status == StatusPending && action != actAsyncOK && action != actAsyncFail {
		return sess, stateErr("The bank has not answered yet.")
	}
	if !s.opts.Now().Before(sess.ExpiresAt) {
		return sess, stateErr("This checkout session has expired. Ask the bot again with /buy.")
	}
	switch action {
	case actDecline:
		return s.opts.Stripe.Update(id, func(x *Session) error { x.Status = StatusDeclined; return nil })
	case actPay, actAsync:
		sess, err := s.opts.Stripe.Update(id, func(x *Session) error {
			x.PaymentIntent = "pi_" + x.ID[len("cs_test_"):]
			if x.Mode == "subscription" {
				x.Subscription = "sub_" + x.ID[len("cs_test_"):]
				x.Invoice = "in_" + x.ID[len("cs_test_"):]
				x.PeriodEnd = s.opts.Now().Add(period).Truncate(time.Second)
			}
			x.Status = StatusPaid
			if action == actAsync {
				x.Status = StatusPending
			}
			return nil
		})
		if err != nil {
			return sess, err
		}
		p := s.params(sess)
		if action == actAsync {
			p.PaymentStatus = "unpaid"
			return sess, s.deliver(ctx, stripetest.CheckoutCompleted, p)
		}
		if err := s.deliver(ctx, stripetest.CheckoutCompleted, p); err != nil {
			return sess, err
		}
		if sess.Mode == "subscription" {
			if err := s.deliver(ctx, stripetest.SubscriptionCreated, p); err != nil {
				return sess, err
			}
			return sess, s.deliver(ctx, stripetest.InvoicePaid, p)
		}
		return sess, nil
	case actAsyncOK, actAsyncFail:
		if sess.Status != StatusPending {
			return sess, stateErr("No bank payment is waiting on this session.")
		}
		status, build := StatusPaid, stripetest.AsyncPaymentSucceeded
		if action == actAsyncFail {
			status, build = StatusFailed, stripetest.AsyncPaymentFailed
		}
		return s.updateAndDeliver(ctx, id, func(x *Session) { x.Status = status }, build)
	}
	return sess, stateErr("Unknown action %q.", action)
}

// Panel actions on a paid session.
const (
	actRenew   = "renew"
	actRefund  = "refund"
	actDispute = "dispute"
	actCancel  = "cancel"
)

// afterSale runs a panel action (renewal, refund, dispute, cancellation)
// on the paid session id and posts the events Stripe would send.
func (s *Server) afterSale(ctx context.Context, id, action string) (Session, error) {
	sess, ok := s.opts.Stripe.Session(id)
	if !ok {
		return Session{}, stateErr("No checkout session %q.", id)
	}
	if sess.Status != StatusPaid {
		return sess, stateErr("Session %s is not paid.", id)
	}
	sub := sess.Mode == "subscription"
	switch action {
	case actRenew, actCancel:
		if !sub {
			return sess, stateErr("Only subscriptions renew or cancel; %s was a one-time payment.", id)
		}
		if sess.Canceled {
			return sess, stateErr("The subscription is already canceled.")
		}
		if action == actCancel {
			return s.updateAndDeliver(ctx, id, func(x *Session) { x.Canceled = true }, stripetest.SubscriptionDeleted)
		}
		sess, err := s.opts.Stripe.Update(id, func(x *Session) error {
			x.Renewals++
			x.PeriodEnd = x.PeriodEnd.Add(period)
			x.Invoice = fmt.Sprintf("in_%s_%d", x.ID[len("cs_test_"):], x.Renewals)
			return nil
		})
		if err != nil {
			return sess, err
		}
		p := s.params(sess)
		if err := s.deliver(ctx, stripetest.InvoicePaid, p); err != nil {
			return sess, err
		}
		return sess, s.deliver(ctx, stripetest.SubscriptionUpdated, p)
	case actRefund:
		if sess.Refunded {
			return sess, stateErr("Already refunded.")
		}
		return s.updateAndDeliver(ctx, id, func(x *Session) { x.Refunded = true }, stripetest.ChargeRefunded)
	case actDispute:
		if sess.Disputed {
			return sess, stateErr("Already disputed.")
		}
		return s.updateAndDeliver(ctx, id, func(x *Session) { x.Disputed = true }, stripetest.DisputeCreated)
	}
	return sess, stateErr("Unknown action %q.", action)
}

// handleStripeAction is POST /api/stripe/{action} {"session": id}.
func (s *Server) handleStripeAction(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Session string `json:"session"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	sess, err := s.afterSale(r.Context(), in.Session, r.PathValue("action"))
	if err != nil {
		s.actionError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// actionError answers 409 for a state mistake and 502 when the shop did
// not take the event.
func (s *Server) actionError(w http.ResponseWriter, err error) {
	var se errState
	if errors.As(err, &se) {
		apiError(w, http.StatusConflict, se.msg)
		return
	}
	s.log.Warn("demo: action failed", "err", err)
	apiError(w, http.StatusBadGateway, err.Error())
}
