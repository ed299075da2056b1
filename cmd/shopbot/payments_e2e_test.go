package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// TestUnpaidCheckoutWaitsForAsyncPayment: a Checkout session completed
// with payment_status "unpaid" (a bank debit still clearing) issues
// nothing; the license comes with async_payment_succeeded.
func TestUnpaidCheckoutWaitsForAsyncPayment(t *testing.T) {
	w := newWorld(t)
	w.start()
	after := w.say(w.buyer, "/start").MessageID
	p := stripetest.EventParams{ID: "evt_unpaid", SessionID: "cs_test_unpaid", Product: "pro", Identity: "tg:5001", PaymentStatus: "unpaid"}
	w.postEvent(stripetest.CheckoutCompleted(p))
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("licenses = %d for an unpaid session", n)
	}
	if n := len(w.keyMessages(w.buyer.ID)); n != 0 {
		t.Fatalf("key sent %d time(s) for an unpaid session", n)
	}
	if r := w.say(w.buyer, "/license"); !strings.Contains(r.Text, "no licenses") {
		t.Fatalf("/license before the payment cleared = %q", r.Text)
	}

	p.ID = "evt_unpaid_cleared"
	w.postEvent(stripetest.AsyncPaymentSucceeded(p))
	m := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key after the payment cleared")
	w.waitIdle()
	lics := w.af.Licenses()
	if len(lics) != 1 || lics[0].Key != m.Code()[0] || lics[0].Label != "shopbot:cs_test_unpaid" {
		t.Fatalf("AuthForge licenses = %+v, want the one delivered for cs_test_unpaid", lics)
	}
}

// TestPartialRefundKeepsLicense: refunding part of a payment keeps the
// license and the buyer's access and tells the admins; refunding the rest
// then revokes it.
func TestPartialRefundKeepsLicense(t *testing.T) {
	w := newWorld(t)
	w.start()
	adminStart := w.say(w.admin, "/start").MessageID
	after := w.say(w.buyer, "/start").MessageID
	p := stripetest.EventParams{ID: "evt_partial_paid", SessionID: "cs_test_partial", Product: "pro", Identity: "tg:5001", PaymentIntentID: "pi_partial", ChargeID: "ch_partial", Amount: 2000}
	w.postEvent(stripetest.CheckoutCompleted(p))
	key := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery").Code()[0]
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate = %q", r.Text)
	}

	p.ID, p.AmountRefunded = "evt_partial_refund", 500
	w.postEvent(stripetest.ChargeRefunded(p))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.Status != "active" {
		t.Fatalf("AuthForge status after a partial refund = %q", lic.Status)
	}
	if r := w.say(w.buyer, "/premium"); r.Text != testGatedReply {
		t.Fatalf("gated command after a partial refund = %q", r.Text)
	}
	alert := w.wait(w.admin.ID, adminStart, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "Partial refund") }, "partial refund alert")
	if want := "Partial refund (5.00 USD) of order cs_test_partial (pro, tg:5001): the license is kept."; !slices.Contains(strings.Split(strings.TrimPrefix(alert.Text, "Admin alert: "), "\n"), want) {
		t.Errorf("alert = %q, want %q", alert.Text, want)
	}

	// The rest is refunded: now the payment is fully back and the license goes.
	p.ID, p.AmountRefunded = "evt_partial_rest", 2000
	w.postEvent(stripetest.ChargeRefunded(p))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Fatalf("AuthForge status after the full refund = %q", lic.Status)
	}
	if r := w.say(w.buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command answered after the full refund: %q", r.Text)
	}
	w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool {
		return strings.Contains(m.Text, "Your license "+authforge.MaskKey(key)+" for Pro was revoked")
	}, "revocation notice after the full refund")
}

// TestWebhookStoreFailureAnswers500: when the store cannot take an event
// the webhook answers 500, so Stripe delivers it again; the redelivery to
// a healthy shop is fulfilled once.
func TestWebhookStoreFailureAnswers500(t *testing.T) {
	w := newWorld(t)
	var db *store.DB
	w.storeOpened = func(d *store.DB) { db = d }
	w.start()
	w.say(w.buyer, "/start")
	// The store goes away under the running shop, as a failing disk would.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_not_stored", SessionID: "cs_test_not_stored", Product: "pro", Identity: "tg:5001"})
	if code := w.post(event, stripetest.SignEvent(testWebhookSecret, event, time.Now())); code != http.StatusInternalServerError {
		t.Fatalf("webhook status %d with a failing store, want 500\n%s", code, w.logs)
	}
	if !strings.Contains(w.logs.String(), "stripe event not stored") {
		t.Fatalf("the failure is not logged:\n%s", w.logs)
	}
	w.shutdown()
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("licenses = %d for an event that was not stored", n)
	}

	// Stripe retries once the shop is healthy again.
	w.start()
	w.postEvent(event)
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key after the redelivery")
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses = %d after the redelivery, want 1", n)
	}
}
