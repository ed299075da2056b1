package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforge"
)

const e2eTermsURL = "https://shop.example.com/terms"

// TestTermsAndDisputeEvidenceE2E: with [terms], /activate asks for the
// terms and binds nothing until "I accept" is pressed; the button carries
// a token, not the key, and works once. Gated uses are counted and reach
// the store at shutdown. A dispute then sends Stripe the product, the
// service date, the acceptance and the access log, staged (submit=false),
// and the admins are told (issue 13, item 5).
func TestTermsAndDisputeEvidenceE2E(t *testing.T) {
	w := newWorld(t)
	w.stripeExtra = "submit_dispute_evidence = true\n"
	w.extra = "\n[terms]\nurl = \"" + e2eTermsURL + "\"\nversion = \"2\"\n"
	w.start()

	after := w.say(w.buyer, "/start").MessageID
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_terms_paid", SessionID: "cs_terms", Product: "pro", Identity: "tg:5001", PaymentIntentID: "pi_terms"}))
	delivered := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	key := delivered.Code()[0]
	lastID := func() int { ms := w.tg.Messages(w.buyer.ID); return ms[len(ms)-1].MessageID }

	ask := w.say(w.buyer, "/activate "+key)
	if !strings.Contains(ask.Text, "accept the terms of sale: "+e2eTermsURL) {
		t.Fatalf("/activate before acceptance = %q", ask.Text)
	}
	var accept string
	for _, b := range ask.Buttons() {
		if b.Text == "I accept" {
			accept = b.CallbackData
		}
	}
	if !strings.HasPrefix(accept, "terms:") || len(accept) > 64 || strings.Contains(accept, key) || strings.Contains(accept, key[:4]) {
		t.Fatalf("accept button data %q", accept)
	}
	if r := w.say(w.buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command open before the terms were accepted: %q", r.Text)
	}
	if n := w.af.Calls("/auth/validate"); n != 0 {
		t.Fatalf("key validated before acceptance: %d calls", n)
	}

	// The Activate button of the delivered key asks too.
	last := lastID()
	if _, err := w.tg.Press(w.buyer, delivered.MessageID, "act:"+key); err != nil {
		t.Fatal(err)
	}
	w.wait(w.buyer.ID, last, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "accept the terms of sale") }, "terms asked by the Activate button")

	last = lastID()
	if _, err := w.tg.Press(w.buyer, ask.MessageID, accept); err != nil {
		t.Fatal(err)
	}
	done := w.wait(w.buyer.ID, last, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "Activated: Pro") }, "activation after accepting")
	if !strings.Contains(done.Text, "acceptance of the terms is recorded") {
		t.Errorf("activation reply = %q", done.Text)
	}
	// The token works once.
	last = lastID()
	if _, err := w.tg.Press(w.buyer, ask.MessageID, accept); err != nil {
		t.Fatal(err)
	}
	w.wait(w.buyer.ID, last, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "That button has expired") }, "stale button answer")
	// Accepted once: not asked again.
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "Already active") {
		t.Errorf("second /activate = %q", r.Text)
	}
	for range 3 {
		if r := w.say(w.buyer, "/premium"); !strings.Contains(r.Text, testGatedReply) {
			t.Fatalf("gated command after activation = %q", r.Text)
		}
	}
	// Shutdown flushes the counted uses; the dispute comes after a restart.
	w.shutdown()
	w.start()
	adminStart := w.say(w.admin, "/start").MessageID
	w.postEvent(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_terms_dispute", PaymentIntentID: "pi_terms"}))
	w.waitIdle()

	reqs := w.stripe.Requests("/v1/disputes/dp_evt_terms_dispute")
	if len(reqs) != 1 {
		t.Fatalf("want one evidence update, got %d", len(reqs))
	}
	f := reqs[0].Form
	for field, part := range map[string]string{
		"evidence[product_description]":      `"Pro" (product pro)`,
		"evidence[access_activity_log]":      "Chat account tg:5001 used the members' commands 3 times",
		"evidence[refund_policy_disclosure]": "Chat account tg:5001 accepted version 2 of the terms (" + e2eTermsURL + ")",
		"submit":                             "false",
	} {
		if !strings.Contains(f.Get(field), part) {
			t.Errorf("%s = %q, want %q in it", field, f.Get(field), part)
		}
	}
	if !strings.Contains(f.Get("evidence[access_activity_log]"), "Activated by chat account tg:5001 on ") || f.Get("evidence[service_date]") == "" {
		t.Errorf("evidence %v", f)
	}
	if strings.Contains(f.Encode(), key) {
		t.Error("evidence carries the whole license key")
	}
	alert := w.wait(w.admin.ID, adminStart, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "evidence staged") }, "evidence alert")
	if !strings.Contains(alert.Text, "access_activity_log: License "+authforge.MaskKey(key)) {
		t.Errorf("evidence alert = %q", alert.Text)
	}
}

// TestTermsDiscordE2E: on Discord too, /activate asks for the terms with
// an "I accept" button whose custom_id holds a token, and the key is bound
// only when it is clicked.
func TestTermsDiscordE2E(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("gateway")
	w.extra = "\n[terms]\nurl = \"" + e2eTermsURL + "\"\n"
	w.start()
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_terms_dc", SessionID: "cs_terms_dc", Product: "pro", Identity: "discord:" + discordBuyer.ID}))
	key := w.waitDMKey(discordBuyer.ID)

	ask := w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	if !strings.Contains(ask.Content, "accept the terms of sale: "+e2eTermsURL) || !ask.Ephemeral {
		t.Fatalf("/activate before acceptance = %+v", ask)
	}
	var accept string
	for _, b := range ask.Buttons {
		if b.Label == "I accept" {
			accept = b.CustomID
		}
	}
	if !strings.HasPrefix(accept, "terms:") || strings.Contains(accept, key[:4]) {
		t.Fatalf("accept custom_id %q", accept)
	}
	if slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
		t.Fatal("role granted before the terms were accepted")
	}
	ctx := ctxTimeout(t, 20*time.Second)
	in := w.dc.ComponentClick(discordBuyer, accept)
	if err := w.dc.DispatchInteraction(in); err != nil {
		t.Fatal(err)
	}
	r, err := w.dc.WaitReply(ctx, in)
	if err != nil || !strings.Contains(r.Content, "Activated: Pro") {
		t.Fatalf("after accepting: %+v %v", r, err)
	}
	if !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
		t.Fatal("role not granted after activation")
	}
}
