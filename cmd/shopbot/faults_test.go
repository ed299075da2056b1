package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

// TestWebhookRejectsHostileInput: bad and stale signatures, oversized and
// malformed bodies are refused with the right status and store nothing.
func TestWebhookRejectsHostileInput(t *testing.T) {
	w := newWorld(t)
	w.extra = "" // defaults: max_body_bytes = 1 MiB
	w.start()
	good := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_hostile", SessionID: "cs_test_hostile", Product: "pro", Identity: "tg:5001"})
	cases := []struct {
		name      string
		body      []byte
		signature string
		want      int
	}{
		{"no signature", good, "", http.StatusBadRequest},
		{"wrong secret", good, stripetest.SignEvent("whsec_wrong", good, time.Now()), http.StatusBadRequest},
		{"stale timestamp", good, stripetest.SignEvent(testWebhookSecret, good, time.Now().Add(-10*time.Minute)), http.StatusBadRequest},
		{"tampered body", bytes.Replace(good, []byte("pro"), []byte("pra"), 1), stripetest.SignEvent(testWebhookSecret, good, time.Now()), http.StatusBadRequest},
		{"malformed JSON", []byte(`{"id": "evt_x", "type":`), "", http.StatusBadRequest},
		{"oversized", bytes.Repeat([]byte("x"), 2<<20), "", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		sig := c.signature
		if c.name == "malformed JSON" || c.name == "oversized" {
			sig = stripetest.SignEvent(testWebhookSecret, c.body, time.Now())
		}
		if got := w.post(c.body, sig); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	h := w.health()
	if h.Pending != 0 || h.Failed != 0 {
		t.Fatalf("hostile deliveries were stored: %+v", h)
	}
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("hostile deliveries created %d licenses", n)
	}
}

// TestUnknownProductFailsVisibly: a paid event naming a product the shop
// does not sell is kept as failed and the admins are told.
func TestUnknownProductFailsVisibly(t *testing.T) {
	w := newWorld(t)
	w.start()
	adminStart := w.say(w.admin, "/start").MessageID
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_unknown_product", SessionID: "cs_test_unknown", Product: "gold", Identity: "tg:5001"})
	w.postEvent(event)
	alert := w.wait(w.admin.ID, adminStart, func(m telegramtest.SentMessage) bool {
		return strings.Contains(m.Text, "evt_unknown_product")
	}, "admin alert")
	if !strings.Contains(alert.Text, "gold") {
		t.Errorf("alert does not name the product: %q", alert.Text)
	}
	if h := w.health(); h.Failed != 1 {
		t.Fatalf("failed events = %d, want 1", h.Failed)
	}
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("licenses = %d for an unknown product", n)
	}
}

// TestActivationRefusals: malformed and unknown keys, full slots, a
// tampered AuthForge signature and a wrong nonce each end in a clear
// message and no activation.
func TestActivationRefusals(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_refusals", "cs_test_refusals")

	if r := w.say(w.buyer, "/activate not-a-key"); !strings.Contains(r.Text, "doesn't look like a license key") {
		t.Errorf("malformed key: %q", r.Text)
	}
	if r := w.say(w.buyer, "/activate ABCD-EFGH-JKLM-NPQR"); !strings.Contains(r.Text, "not issued by this shop") {
		t.Errorf("unknown key: %q", r.Text)
	}
	if n := w.af.Calls("/auth/validate"); n != 0 {
		t.Errorf("%d validate calls for keys that never left the shop", n)
	}

	w.af.TamperNext("/auth/validate")
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "can't be reached") {
		t.Errorf("tampered signature: %q", r.Text)
	}
	w.af.WrongNonceNext("/auth/validate")
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "can't be reached") {
		t.Errorf("wrong nonce: %q", r.Text)
	}
	if r := w.say(w.buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command answered after untrusted answers: %q", r.Text)
	}

	// Two slots: the buyer and a friend fit, a third account does not.
	friend := telegramtest.User{ID: 5002, FirstName: "Fred"}
	third := telegramtest.User{ID: 5003, FirstName: "Tess"}
	for _, u := range []telegramtest.User{w.buyer, friend} {
		if r := w.say(u, "/activate "+key); !strings.Contains(r.Text, "Activated") {
			t.Fatalf("activation of %d: %q", u.ID, r.Text)
		}
	}
	if r := w.say(third, "/activate "+key); !strings.Contains(r.Text, "all 2 account(s)") {
		t.Errorf("slots full: %q", r.Text)
	}
	if r := w.say(third, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("third account got in: %q", r.Text)
	}
}

// TestActivationRateLimit: guessing keys through the bot is cut off after
// the configured attempts.
func TestActivationRateLimit(t *testing.T) {
	w := newWorld(t)
	w.limits += "activation_attempts = 3\n"
	w.start()
	w.buyAndDeliver("evt_guess", "cs_test_guess")
	var last string
	for _, guess := range []string{"AAAA-BBBB-CCCC-DDDD", "AAAA-BBBB-CCCC-DDDE", "AAAA-BBBB-CCCC-DDDF", "AAAA-BBBB-CCCC-DDDG"} {
		last = w.say(w.buyer, "/activate "+guess).Text
	}
	if !strings.Contains(last, "Too many activation attempts") {
		t.Fatalf("fourth guess: %q", last)
	}
}

// TestAuthForgeOutageRecovers: AuthForge answers 500 to license creation
// twice, then recovers; the buyer gets exactly one license.
func TestAuthForgeOutageRecovers(t *testing.T) {
	w := newWorld(t)
	w.start()
	w.say(w.buyer, "/start")
	w.af.FailNext("POST /v1/licenses", 2, http.StatusInternalServerError, "server_error")
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_outage", SessionID: "cs_test_outage", Product: "pro", Identity: "tg:5001"})
	w.postEvent(event)
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key after outage")
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("AuthForge licenses = %d, want 1", n)
	}
	if n := len(w.keyMessages(w.buyer.ID)); n != 1 {
		t.Fatalf("key messages = %d, want 1", n)
	}
}

// TestCrashAfterCreateReconciles: AuthForge creates the license but the
// answer is lost (as if shopbot crashed before saving it); the retry finds
// it by label instead of creating a second one.
func TestCrashAfterCreateReconciles(t *testing.T) {
	w := newWorld(t)
	w.start()
	w.say(w.buyer, "/start")
	w.af.HangUpAfterCreateNext()
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_hangup", SessionID: "cs_test_hangup", Product: "pro", Identity: "tg:5001"})
	w.postEvent(event)
	m := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key after lost answer")
	w.waitIdle()
	lics := w.af.Licenses()
	if len(lics) != 1 || lics[0].Key != m.Code()[0] {
		t.Fatalf("AuthForge licenses = %d (delivered %s), want the one delivered", len(lics), m.Code()[0])
	}
}

// TestRestartFinishesUnfinishedEvent: the shop stops while an event is
// still failing; after a restart on the same store it is fulfilled once.
func TestRestartFinishesUnfinishedEvent(t *testing.T) {
	w := newWorld(t)
	w.start()
	w.say(w.buyer, "/start")
	w.af.FailNext("POST /v1/licenses", 1000, http.StatusServiceUnavailable, "server_error")
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_restart", SessionID: "cs_test_restart", Product: "pro", Identity: "tg:5001"})
	w.postEvent(event)
	w.waitUntil("a failed license creation", func() bool { return w.af.Calls("POST /v1/licenses") > 0 })
	w.shutdown()
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("licenses before restart = %d", n)
	}
	if ev := w.storedEvent("evt_restart"); ev.State != store.EventPending || ev.Attempts == 0 || ev.LastError == "" {
		t.Fatalf("event before restart: %s after %d attempt(s) (%q), want pending after a failed attempt", ev.State, ev.Attempts, ev.LastError)
	}

	w.af.ClearFaults()
	w.start()
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key after restart")
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses after restart = %d, want 1", n)
	}
	// Stripe retries the delivery after the restart: still one license.
	w.postEvent(event)
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses after redelivery = %d, want 1", n)
	}
	if n := len(w.keyMessages(w.buyer.ID)); n != 1 {
		t.Fatalf("key sent %d times, want once", n)
	}
}

// TestBlockedBuyerKeepsKey: a buyer who blocked the bot still finds the
// key with /license, the failed delivery creates nothing more, and the
// admin's /replay sends the key once the buyer is back.
func TestBlockedBuyerKeepsKey(t *testing.T) {
	w := newWorld(t)
	w.start()
	w.say(w.buyer, "/start")
	w.tg.BlockBot(w.buyer.ID)
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_blocked", SessionID: "cs_test_blocked", Product: "pro", Identity: "tg:5001"})
	w.postEvent(event)
	w.waitIdle()
	w.tg.UnblockBot(w.buyer.ID)
	lics := w.af.Licenses()
	if len(lics) != 1 {
		t.Fatalf("licenses = %d, want 1", len(lics))
	}
	if r := w.say(w.buyer, "/license"); !strings.Contains(r.Text, lics[0].Key) {
		t.Fatalf("/license = %q", r.Text)
	}
	if n := len(w.keyMessages(w.buyer.ID)); n != 0 {
		t.Fatalf("%d key deliveries reached a buyer who had blocked the bot", n)
	}
	// Once unblocked, the admin can have the key sent again: /replay of
	// the paid event resends it, and makes no second license.
	if r := w.say(w.admin, "/replay evt_blocked"); !strings.HasPrefix(r.Text, "Replayed") {
		t.Fatalf("/replay of the undelivered order's event = %q", r.Text)
	}
	w.waitUntil("the key sent again", func() bool { return len(w.keyMessages(w.buyer.ID)) == 1 })
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses after the replay = %d, want 1", n)
	}
	if r := w.say(w.admin, "/replay evt_blocked"); !strings.Contains(r.Text, "already handled successfully") {
		t.Fatalf("a second /replay once delivered = %q", r.Text)
	}
}

// TestEntitlementsAPI: the seller's services ask the gate over HTTP, and
// the answer follows the license.
func TestEntitlementsAPI(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_api", "cs_test_api")
	const path = "/api/v1/entitlements/tg:5001"
	if code, _ := w.getAuthorized(path, "wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, body := w.getAuthorized(path, testAPIToken); code != http.StatusOK || !strings.Contains(body, `"entitled":false`) {
		t.Fatalf("before activation: %d %s", code, body)
	}
	w.say(w.buyer, "/activate "+key)
	if code, body := w.getAuthorized(path, testAPIToken); code != http.StatusOK || !strings.Contains(body, `"entitled":true`) || !strings.Contains(body, `"pro"`) {
		t.Fatalf("after activation: %d %s", code, body)
	}
	w.say(w.admin, "/revoke "+key)
	if code, body := w.getAuthorized(path, testAPIToken); code != http.StatusOK || !strings.Contains(body, `"entitled":false`) {
		t.Fatalf("after revoke: %d %s", code, body)
	}
}

// TestCatchUpRecoversMissedEvent: a payment whose webhook never arrived is
// found in Stripe's Events API at start and fulfilled once.
func TestCatchUpRecoversMissedEvent(t *testing.T) {
	w := newWorld(t)
	missed := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_missed", SessionID: "cs_test_missed", Product: "pro", Identity: "tg:5001", Created: time.Now().Add(-time.Hour)})
	w.stripe.SetEvents(missed)
	t.Cleanup(w.stripe.Reset)
	w.start()
	w.waitUntil("catch-up fulfilled", func() bool { return len(w.af.Licenses()) > 0 })
	w.waitIdle()
	lics := w.af.Licenses()
	if len(lics) != 1 || lics[0].Label != "shopbot:cs_test_missed" {
		t.Fatalf("licenses after catch-up = %+v, want one for cs_test_missed", lics)
	}
	// The webhook arrives late after all: still one license.
	w.postEvent(missed)
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses after late webhook = %d", n)
	}
	if r := w.say(w.buyer, "/license"); !strings.Contains(r.Text, lics[0].Key) {
		t.Fatalf("/license = %q", r.Text)
	}
}

// TestMetrics: /metrics needs the API token and reports the sale.
func TestMetrics(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_metrics", "cs_test_metrics")
	w.say(w.buyer, "/activate "+key)
	w.waitIdle() // the key is sent before the event is marked done
	if code, _ := w.getAuthorized("/metrics", "wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	code, body := w.getAuthorized("/metrics", testAPIToken)
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`shopbot_orders{status="fulfilled"} 1`,
		`shopbot_licenses{status="active"} 1`,
		`shopbot_activations{product="pro"} 1`,
		`shopbot_stripe_events{state="done"} 1`,
		"shopbot_authforge_validations_total 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}
