package main

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforge"
)

// TestTelegramEndToEnd drives the whole one-time purchase through the real
// wiring: /buy → signed webhook delivered twice → key sent once → /activate
// → gated command answered → admin /revoke → gated command refused.
func TestTelegramEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.start()
	buyer, admin := w.buyer, w.admin

	// /buy pro answers with a Stripe Checkout link.
	m := w.say(buyer, "/buy pro")
	if !slices.ContainsFunc(m.Buttons(), func(b telegramtest.Button) bool { return strings.HasPrefix(b.URL, "https://") }) {
		t.Fatalf("/buy reply has no checkout link button: %q %+v", m.Text, m.Buttons())
	}
	created := w.stripe.Requests("/v1/checkout/sessions")
	if len(created) == 0 {
		t.Fatal("no Checkout session was created at Stripe")
	}
	form := created[len(created)-1].Form
	if got := form.Get("metadata[shopbot_identity]"); got != "tg:5001" {
		t.Errorf("session metadata identity = %q", got)
	}
	if got := form.Get("client_reference_id"); got != "tg:5001" {
		t.Errorf("client_reference_id = %q", got)
	}

	// Stripe delivers the paid session twice (a retry after a lost 200).
	event := stripetest.CheckoutCompleted(stripetest.EventParams{
		ID: "evt_e2e_paid", SessionID: "cs_test_e2e", Product: "pro", Identity: "tg:5001",
	})
	for range 2 {
		w.postEvent(event)
	}
	delivery := w.wait(buyer.ID, m.MessageID, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	key := delivery.Code()[0]
	if !slices.ContainsFunc(delivery.Buttons(), func(b telegramtest.Button) bool { return b.Text == "Activate" }) {
		t.Errorf("delivery has no Activate button: %+v", delivery.Buttons())
	}
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("AuthForge has %d licenses, want exactly 1", n)
	}
	if n := len(w.keyMessages(buyer.ID)); n != 1 {
		t.Fatalf("key sent %d times, want once", n)
	}

	// Before activation the gated command is refused with a buy button.
	if r := w.say(buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command answered before activation: %q", r.Text)
	}

	r := w.say(buyer, "/activate "+strings.ToLower(key))
	if !strings.Contains(r.Text, "Pro") || !strings.Contains(r.Text, "1") {
		t.Fatalf("/activate reply = %q", r.Text)
	}
	lic, _ := w.af.License(key)
	if !slices.Contains(lic.HWIDList, "tg:5001") {
		t.Fatalf("AuthForge slots = %v, want tg:5001 bound", lic.HWIDList)
	}

	creditsBefore := w.af.CreditsUsed()
	for range 3 {
		if r := w.say(buyer, "/premium"); !strings.Contains(r.Text, testGatedReply) {
			t.Fatalf("gated command after activation = %q", r.Text)
		}
	}
	if used := w.af.CreditsUsed() - creditsBefore; used != 0 {
		t.Errorf("gated commands with a fresh session cost %d credits, want 0", used)
	}

	// The admin revokes; the holder is told and loses access at once.
	told := lastID(w.tg.BotMessages(buyer.ID))
	r = w.say(admin, "/revoke "+key)
	if !strings.Contains(strings.ToLower(r.Text), "revoked") {
		t.Fatalf("/revoke reply = %q", r.Text)
	}
	w.wait(buyer.ID, told, func(m telegramtest.SentMessage) bool {
		return strings.HasPrefix(m.Text, "Your license "+authforge.MaskKey(key)+" for Pro was revoked")
	}, "the holder's revocation notice")
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Errorf("AuthForge status after /revoke = %q", lic.Status)
	}
	if r := w.say(buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command answered after revoke: %q", r.Text)
	}
	if r := w.say(buyer, "/license"); !strings.Contains(strings.ToLower(r.Text), "revoked") {
		t.Errorf("/license after revoke = %q", r.Text)
	}
}

// waitIdle waits until the fulfillment worker has no pending event.
func (w *world) waitIdle() {
	w.t.Helper()
	w.waitUntil("no pending events", func() bool { return w.health().Pending == 0 })
}

// waitUntil polls cond (state of the fakes) until it holds.
func (w *world) waitUntil(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s:\n%s", what, w.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestNonAdminRevokeRefused: a buyer cannot revoke, even their own key:
// the refusal is the admin-only message, and the license stays active in
// AuthForge with the holder still let through the gate.
func TestNonAdminRevokeRefused(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_na_1", "cs_test_na")
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate = %q", r.Text)
	}
	if r := w.say(w.buyer, "/revoke "+key); r.Text != "This command is for admins." {
		t.Fatalf("non-admin /revoke reply = %q, want the admin-only refusal", r.Text)
	}
	if lic, _ := w.af.License(key); lic.Status != "active" {
		t.Fatalf("license status after non-admin /revoke = %q", lic.Status)
	}
	if r := w.say(w.buyer, "/premium"); r.Text != testGatedReply {
		t.Fatalf("gated command after non-admin /revoke = %q", r.Text)
	}
}

// buyAndDeliver posts a paid session for the buyer and returns the key the
// bot delivered.
func (w *world) buyAndDeliver(eventID, sessionID string) string {
	w.t.Helper()
	// A Telegram bot can only message users who opened its chat.
	after := w.say(w.buyer, "/start").MessageID
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: eventID, SessionID: sessionID, Product: "pro", Identity: "tg:5001"})
	w.postEvent(event)
	m := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	return m.Code()[0]
}

// ctxTimeout is a test context that ends with the test.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestTelegramWebhookMode: in webhook mode the shop registers its webhook,
// answers updates posted to /webhooks/telegram, and refuses a wrong secret.
func TestTelegramWebhookMode(t *testing.T) {
	w := newWorld(t)
	w.env["TELEGRAM_WEBHOOK_SECRET"] = "tg-secret-e2e"
	w.telegramExtra = "mode = \"webhook\"\nwebhook_secret = \"${TELEGRAM_WEBHOOK_SECRET}\"\n"
	w.start()
	w.waitUntil("webhook registered", func() bool { url, _ := w.tg.Webhook(); return url != "" })
	if url, secret := w.tg.Webhook(); url != "https://shop.example.com/webhooks/telegram" || secret != "tg-secret-e2e" {
		t.Fatalf("setWebhook url %q secret %q", url, secret)
	}
	hook := "http://" + w.addr + "/webhooks/telegram"
	ctx := ctxTimeout(t, 20*time.Second)
	update := w.tg.TextUpdate(w.buyer, w.buyer.ID, "/buy pro")
	if code, err := w.tg.DeliverWebhook(ctx, hook, "wrong", update); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d %v", code, err)
	}
	if code, err := w.tg.DeliverWebhook(ctx, hook, "tg-secret-e2e", update); err != nil || code != http.StatusOK {
		t.Fatalf("webhook delivery: %d %v", code, err)
	}
	m := w.wait(w.buyer.ID, update.Message.MessageID, nil, "reply to a webhook update")
	if !slices.ContainsFunc(m.Buttons(), func(b telegramtest.Button) bool { return strings.HasPrefix(b.URL, "https://") }) {
		t.Fatalf("reply = %q %+v", m.Text, m.Buttons())
	}
}
