package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// subscriptionConfig adds a monthly product with its own gated command.
const subscriptionConfig = `
[[products]]
id = "pro-monthly"
name = "Pro monthly"
price_id = "price_monthly"
mode = "subscription"
max_hwid_slots = 2

[[gated_commands]]
command = "members"
products = ["pro-monthly"]
reply = "Members area"
`

// TestSubscriptionLifecycle drives a subscription through the real wiring:
// start → license until period end + grace → renewal extends it → payment
// failure warns the buyer → deletion revokes it and removes access; a late
// renewal event does not bring it back.
func TestSubscriptionLifecycle(t *testing.T) {
	w := newWorld(t)
	w.extra = subscriptionConfig
	w.start()
	w.say(w.buyer, "/start")

	start := time.Now().Truncate(time.Second)
	p := stripetest.EventParams{
		SessionID: "cs_test_sub", Product: "pro-monthly", Identity: "tg:5001", Mode: "subscription",
		SubscriptionID: "sub_e2e", CustomerID: "cus_e2e", InvoiceID: "in_1", PriceID: "price_monthly",
		Created: start, PeriodEnd: start.Add(30 * 24 * time.Hour),
	}
	with := func(id string, edit func(*stripetest.EventParams)) stripetest.EventParams {
		q := p
		q.ID = id
		if edit != nil {
			edit(&q)
		}
		return q
	}
	for _, ev := range [][]byte{
		stripetest.SubscriptionCreated(with("evt_sub_created", nil)),
		stripetest.CheckoutCompleted(with("evt_sub_checkout", nil)),
		stripetest.InvoicePaid(with("evt_sub_paid_1", nil)),
	} {
		if code := w.postEvent(ev); code != http.StatusOK {
			t.Fatalf("webhook status %d", code)
		}
	}
	delivery := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "subscription key")
	key := delivery.Code()[0]
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses = %d, want 1 for one subscription", n)
	}
	grace := 72 * time.Hour
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(p.PeriodEnd.Add(grace)) {
		t.Fatalf("expiresAt = %v, want period end + grace %v", lic.ExpiresAt, p.PeriodEnd.Add(grace))
	}
	w.say(w.buyer, "/activate "+key)
	if r := w.say(w.buyer, "/members"); r.Text != "Members area" {
		t.Fatalf("/members = %q", r.Text)
	}

	// Renewal: the next invoice moves the period end a month on.
	renewed := p.PeriodEnd.Add(30 * 24 * time.Hour)
	w.postEvent(stripetest.InvoicePaid(with("evt_sub_paid_2", func(q *stripetest.EventParams) { q.InvoiceID = "in_2"; q.PeriodEnd = renewed })))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(renewed.Add(grace)) {
		t.Fatalf("after renewal expiresAt = %v, want %v", lic.ExpiresAt, renewed.Add(grace))
	}

	// A failed payment warns the buyer in chat with a way to pay.
	before := lastID(w.tg.BotMessages(w.buyer.ID))
	w.postEvent(stripetest.InvoicePaymentFailed(with("evt_sub_failed", func(q *stripetest.EventParams) { q.InvoiceID = "in_3"; q.PeriodEnd = renewed })))
	warn := w.wait(w.buyer.ID, before, nil, "payment failure warning")
	if len(warn.Buttons()) == 0 || !strings.Contains(strings.ToLower(warn.Text), "payment") {
		t.Errorf("payment failure warning = %q %+v", warn.Text, warn.Buttons())
	}

	// Cancellation ends it; a late, out-of-order renewal does not revive it.
	w.postEvent(stripetest.SubscriptionDeleted(with("evt_sub_deleted", nil)))
	w.postEvent(stripetest.InvoicePaid(with("evt_sub_paid_late", func(q *stripetest.EventParams) { q.InvoiceID = "in_4"; q.PeriodEnd = renewed.Add(30 * 24 * time.Hour) })))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Fatalf("AuthForge status after cancellation = %q", lic.Status)
	}
	if r := w.say(w.buyer, "/members"); r.Text == "Members area" {
		t.Fatal("gated command answered after the subscription ended")
	}
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses = %d at the end, want 1", n)
	}
}

// TestRefundAndDisputeRevoke: a full refund, and a dispute, revoke the
// license and remove the Discord role; buyer and admins are told. With the
// switches off nothing is revoked.
func TestRefundAndDisputeRevoke(t *testing.T) {
	cases := []struct {
		name   string
		event  func(stripetest.EventParams) []byte
		revoke bool
	}{
		{"refund", stripetest.ChargeRefunded, true},
		{"dispute", stripetest.DisputeCreated, true},
		{"refund, switch off", stripetest.ChargeRefunded, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			w.withDiscord("http")
			if !c.revoke {
				w.stripeExtra = "revoke_on_refund = false\n"
			}
			w.start()
			adminStart := w.say(w.admin, "/start").MessageID
			p := stripetest.EventParams{ID: "evt_paid_" + c.name, SessionID: "cs_test_money", Product: "pro", Identity: "discord:" + discordBuyer.ID, PaymentIntentID: "pi_money", ChargeID: "ch_money"}
			w.postEvent(stripetest.CheckoutCompleted(p))
			key := w.waitDMKey(discordBuyer.ID)
			w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
			if !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
				t.Fatal("role not granted")
			}
			p.ID = "evt_money_" + c.name
			if code := w.postEvent(c.event(p)); code != http.StatusOK {
				t.Fatalf("webhook status %d", code)
			}
			w.waitIdle()
			lic, _ := w.af.License(key)
			if c.revoke {
				if lic.Status != "revoked" || slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
					t.Fatalf("after %s: status %q roles %v", c.name, lic.Status, w.dc.Roles(discordBuyer.ID))
				}
				w.wait(w.admin.ID, adminStart, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "Admin alert") }, "admin told")
				return
			}
			if lic.Status != "active" || !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
				t.Fatalf("switch off but license %q roles %v", lic.Status, w.dc.Roles(discordBuyer.ID))
			}
		})
	}
}

func lastID(ms []telegramtest.SentMessage) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].MessageID
}
