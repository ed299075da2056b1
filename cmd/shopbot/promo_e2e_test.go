package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

// sessionsSince are the Checkout sessions created after the first n (the
// stripe-mock is shared by the package's tests).
func (w *world) sessionsSince(n int) []stripetest.Request {
	return w.stripe.Requests("/v1/checkout/sessions")[n:]
}

// TestPromotionCodeAppliedAndRefused: /buy pro CODE looks the code up at
// Stripe and opens a session carrying its discount; an expired or unknown
// code is refused with its message and no session; a plain /buy shows
// Checkout's code field because the product allows codes.
func TestPromotionCodeAppliedAndRefused(t *testing.T) {
	w := newWorld(t)
	w.productExtra = "allow_promotion_codes = true\n"
	w.stripe.SetPromotionCodes(
		stripetest.PromotionCode{ID: "promo_e2e_spring", Code: "SPRING", Active: true},
		stripetest.PromotionCode{ID: "promo_e2e_old", Code: "OLD", Active: true, ExpiresAt: time.Now().Add(-time.Hour)},
	)
	t.Cleanup(func() { w.stripe.SetPromotionCodes() })
	w.start()

	n := len(w.stripe.Requests("/v1/checkout/sessions"))
	r := w.say(w.buyer, "/buy pro spring")
	if !strings.Contains(r.Text, "Promotion code spring applied") || len(r.Buttons()) != 1 || r.Buttons()[0].URL == "" {
		t.Fatalf("/buy pro spring = %q %+v, want the code applied and a pay button", r.Text, r.Buttons())
	}
	got := w.sessionsSince(n)
	if len(got) != 1 {
		t.Fatalf("%d sessions created for /buy pro spring, want 1", len(got))
	}
	f := got[0].Form
	if f.Get("discounts[0][promotion_code]") != "promo_e2e_spring" || f.Get("metadata[shopbot_identity]") != "tg:5001" {
		t.Errorf("session form discount %q identity %q, want promo_e2e_spring for tg:5001",
			f.Get("discounts[0][promotion_code]"), f.Get("metadata[shopbot_identity]"))
	}
	if _, both := f["allow_promotion_codes"]; both {
		t.Error("allow_promotion_codes sent with a discount; Stripe refuses both")
	}

	for _, code := range []string{"OLD", "NOPE"} {
		n = len(w.stripe.Requests("/v1/checkout/sessions"))
		r = w.say(w.buyer, "/buy pro "+code)
		if !strings.Contains(r.Text, "promotion code is unknown or has expired") || len(r.Buttons()) != 0 {
			t.Errorf("/buy pro %s = %q %+v, want the refusal and no pay button", code, r.Text, r.Buttons())
		}
		if s := w.sessionsSince(n); len(s) != 0 {
			t.Errorf("/buy pro %s created %d sessions, want none", code, len(s))
		}
	}

	n = len(w.stripe.Requests("/v1/checkout/sessions"))
	r = w.say(w.buyer, "/buy pro")
	got = w.sessionsSince(n)
	if len(got) != 1 || got[0].Form.Get("allow_promotion_codes") != "true" || got[0].Form.Get("discounts[0][promotion_code]") != "" {
		t.Fatalf("plain /buy: %d sessions %+v, want one with allow_promotion_codes and no discount", len(got), got)
	}
	if strings.Contains(r.Text, "Promotion code") {
		t.Errorf("plain /buy reply mentions a code: %q", r.Text)
	}
}

// trialConfig adds a subscription with a 14-day trial and its gated
// command.
const trialConfig = `
[[products]]
id = "pro-trial"
name = "Pro with trial"
price_id = "price_trial"
mode = "subscription"
max_hwid_slots = 1
trial_days = 14

[[gated_commands]]
command = "members"
products = ["pro-trial"]
reply = "Members area"
`

// startTrial buys pro-trial in the chat (the session asks Stripe for the
// trial) and sends the events Stripe sends when a trial starts. It returns
// the delivered key and the event parameters.
func startTrial(t *testing.T, w *world, subID string) (string, stripetest.EventParams) {
	t.Helper()
	n := len(w.stripe.Requests("/v1/checkout/sessions"))
	w.say(w.buyer, "/buy pro-trial")
	got := w.sessionsSince(n)
	if len(got) != 1 || got[0].Form.Get("subscription_data[trial_period_days]") != "14" {
		t.Fatalf("/buy pro-trial: %d sessions %+v, want one with subscription_data[trial_period_days]=14", len(got), got)
	}
	start := time.Now().Truncate(time.Second)
	p := stripetest.EventParams{
		SessionID: "cs_" + subID, Product: "pro-trial", Identity: "tg:5001", Mode: "subscription",
		SubscriptionID: subID, CustomerID: "cus_" + subID, InvoiceID: "in_" + subID + "_0", PriceID: "price_trial",
		PaymentStatus: "no_payment_required", Created: start, TrialEnd: start.Add(14 * 24 * time.Hour),
	}
	before := lastID(w.tg.BotMessages(w.buyer.ID))
	for _, ev := range [][]byte{
		stripetest.SubscriptionCreated(withID(p, "evt_"+subID+"_created")),
		stripetest.CheckoutCompleted(withID(p, "evt_"+subID+"_checkout")),
		stripetest.TrialInvoicePaid(withID(p, "evt_"+subID+"_trial_invoice")),
	} {
		w.postEvent(ev)
	}
	delivery := w.wait(w.buyer.ID, before, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "trial key")
	w.waitIdle()
	key := delivery.Code()[0]
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(p.TrialEnd.Add(72*time.Hour)) {
		t.Fatalf("trial license expiresAt = %v, want trial end + grace %v", lic.ExpiresAt, p.TrialEnd.Add(72*time.Hour))
	}
	w.say(w.buyer, "/activate "+key)
	if r := w.say(w.buyer, "/members"); r.Text != "Members area" {
		t.Fatalf("/members during the trial = %q", r.Text)
	}
	return key, p
}

func withID(p stripetest.EventParams, id string) stripetest.EventParams {
	p.ID = id
	return p
}

// TestTrialConvertsToPaidPeriod: a trial license runs to the trial end
// plus grace; the first paid invoice moves it to the end of the paid
// period, with the one license.
func TestTrialConvertsToPaidPeriod(t *testing.T) {
	w := newWorld(t)
	w.extra = trialConfig + fmt.Sprintf("\n[alerts]\ntelegram_chat_id = %d\n", testFeedChat)
	w.tg.AddChat(testFeedChat, "Shop feed")
	w.start()
	key, p := startTrial(t, w, "sub_trial_paid")
	// The admins hear of a trial, not of a sale at the list price.
	w.waitUntil("the trial in the admin feed", func() bool {
		for _, m := range w.tg.BotMessages(testFeedChat) {
			if strings.Contains(m.Text, "New trial: Pro with trial via stripe, buyer tg:5001") {
				return true
			}
		}
		return false
	})
	for _, m := range w.tg.BotMessages(testFeedChat) {
		if strings.Contains(m.Text, "New sale") {
			t.Fatalf("a trial was announced as a sale: %q", m.Text)
		}
	}

	paidEnd := p.TrialEnd.Add(30 * 24 * time.Hour)
	paid := p
	paid.InvoiceID, paid.PeriodEnd, paid.Status, paid.PaymentStatus = "in_sub_trial_paid_1", paidEnd, "active", ""
	w.postEvent(stripetest.SubscriptionUpdated(withID(paid, "evt_sub_trial_paid_active")))
	w.postEvent(stripetest.InvoicePaid(withID(paid, "evt_sub_trial_paid_invoice")))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(paidEnd.Add(72*time.Hour)) || lic.Status != "active" {
		t.Fatalf("after the first invoice: status %q expiresAt %v, want active until %v", lic.Status, lic.ExpiresAt, paidEnd.Add(72*time.Hour))
	}
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses = %d, want 1: the trial license became the paid one", n)
	}
	if r := w.say(w.buyer, "/members"); r.Text != "Members area" {
		t.Fatalf("/members after conversion = %q", r.Text)
	}
	// storedOrder stops the shop: last.
	if o := w.storedOrder("sub_trial_paid"); o.Status != store.OrderFulfilled || !o.PeriodEnd.Equal(paidEnd.UTC()) {
		t.Errorf("order = %s until %v, want fulfilled until %v", o.Status, o.PeriodEnd, paidEnd.UTC())
	}
}

// TestTrialCancelledEndsLicense: a trial cancelled before any payment
// revokes its license at once and removes access.
func TestTrialCancelledEndsLicense(t *testing.T) {
	w := newWorld(t)
	w.extra = trialConfig
	w.start()
	key, p := startTrial(t, w, "sub_trial_cancel")

	w.postEvent(stripetest.SubscriptionDeleted(withID(p, "evt_sub_trial_cancel_deleted")))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Fatalf("AuthForge status after the trial was cancelled = %q, want revoked", lic.Status)
	}
	if r := w.say(w.buyer, "/members"); r.Text == "Members area" {
		t.Fatal("gated command answered after the trial was cancelled")
	}
	// storedOrder stops the shop: last.
	if o := w.storedOrder("sub_trial_cancel"); o.Status != store.OrderEnded || !o.Ended {
		t.Errorf("order status %q ended %v, want ended", o.Status, o.Ended)
	}
}
