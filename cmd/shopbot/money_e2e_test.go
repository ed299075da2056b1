package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforge"
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
		w.postEvent(ev)
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

// TestSubscriptionPeriodEndNeverMovesBack: Stripe delivers a newer period
// end before the events of the older period. The license, first created
// by an older-period event, ends with the newer period; late events of the
// older period move neither the license nor the recorded period end back.
func TestSubscriptionPeriodEndNeverMovesBack(t *testing.T) {
	w := newWorld(t)
	w.extra = subscriptionConfig
	w.start()
	w.say(w.buyer, "/start")
	grace := 72 * time.Hour
	start := time.Now().Truncate(time.Second)
	end1 := start.Add(30 * 24 * time.Hour)
	end2 := end1.Add(30 * 24 * time.Hour)
	p := func(id string, end time.Time, status string) stripetest.EventParams {
		return stripetest.EventParams{
			ID: id, Product: "pro-monthly", Identity: "tg:5001", Mode: "subscription", SubscriptionID: "sub_back",
			CustomerID: "cus_back", InvoiceID: "in_" + id, PriceID: "price_monthly", Created: start, PeriodEnd: end, Status: status,
		}
	}

	// Not paid yet: the newer period end is recorded, no license starts.
	w.postEvent(stripetest.SubscriptionUpdated(p("evt_back_u2", end2, "incomplete")))
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 0 {
		t.Fatalf("licenses = %d for an incomplete subscription", n)
	}
	// The older period's paid invoice starts the license.
	w.postEvent(stripetest.InvoicePaid(p("evt_back_i1", end1, "")))
	key := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "subscription key").Code()[0]
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("license first created by an older-period event: expiresAt %v, want %v", lic.ExpiresAt, end2.Add(grace))
	}
	// Late events of the older period.
	w.postEvent(stripetest.SubscriptionCreated(p("evt_back_s1", end1, "")))
	w.postEvent(stripetest.SubscriptionUpdated(p("evt_back_u1", end1, "")))
	w.waitIdle()
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("after late events expiresAt = %v, want %v", lic.ExpiresAt, end2.Add(grace))
	}
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("licenses = %d, want 1", n)
	}
	if o := w.storedOrder("sub_back"); !o.PeriodEnd.Equal(end2) || o.LicenseKey != key {
		t.Fatalf("stored order period end %s key %s, want %s and %s", o.PeriodEnd, authforge.MaskKey(o.LicenseKey), end2, authforge.MaskKey(key))
	}
}

// TestRefundAndDisputeRevoke: a full refund, and a dispute, revoke the
// license and remove the Discord role; the buyer is told in their DMs and
// the admins get an alert naming the order, the masked key and what
// happened. With the switch off nothing is revoked, the buyer hears
// nothing and the admins are told the license was kept.
func TestRefundAndDisputeRevoke(t *testing.T) {
	cases := []struct {
		name   string
		event  func(stripetest.EventParams) []byte
		revoke bool
		alert  string // how the admin alert starts, after its prefix
	}{
		{"refund", stripetest.ChargeRefunded, true, "Refund (20.00 USD) of order cs_test_money"},
		{"dispute", stripetest.DisputeCreated, true, "Dispute (20.00 USD) of order cs_test_money"},
		{"refund, switch off", stripetest.ChargeRefunded, false, "Refund (20.00 USD) of order cs_test_money"},
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
			w.postEvent(c.event(p))
			w.waitIdle()

			masked := authforge.MaskKey(key)
			want := fmt.Sprintf("%s (pro, discord:%s): license %s revoked.", c.alert, discordBuyer.ID, masked)
			if !c.revoke {
				want = fmt.Sprintf("%s (pro, discord:%s): the license %s is kept because stripe.revoke_on_refund is off.", c.alert, discordBuyer.ID, masked)
			}
			alert := w.wait(w.admin.ID, adminStart, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, c.alert) }, "admin alert")
			// The admin feed may put several lines in one message.
			if !strings.HasPrefix(alert.Text, "Admin alert: ") || !slices.Contains(strings.Split(strings.TrimPrefix(alert.Text, "Admin alert: "), "\n"), want) {
				t.Errorf("admin alert = %q, want a line %q", alert.Text, want)
			}
			revokedDM := func() bool {
				return slices.ContainsFunc(w.dc.DMs(discordBuyer.ID), func(m discordtest.Message) bool {
					return strings.Contains(m.Content, "Your license "+masked+" for Pro was revoked")
				})
			}
			lic, _ := w.af.License(key)
			if c.revoke {
				if lic.Status != "revoked" || slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
					t.Fatalf("after %s: status %q roles %v", c.name, lic.Status, w.dc.Roles(discordBuyer.ID))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := w.dc.WaitFor(ctx, revokedDM); err != nil {
					t.Fatalf("buyer not told of the revocation: %v; DMs %+v", err, w.dc.DMs(discordBuyer.ID))
				}
				if r := w.slash(discordBuyer, "premium"); strings.Contains(r.Content, testGatedReply) {
					t.Fatalf("gated command answered after the %s: %q", c.name, r.Content)
				}
				return
			}
			if lic.Status != "active" || !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
				t.Fatalf("switch off but license %q roles %v", lic.Status, w.dc.Roles(discordBuyer.ID))
			}
			if revokedDM() {
				t.Fatalf("buyer told of a revocation with the switch off: %+v", w.dc.DMs(discordBuyer.ID))
			}
			if r := w.slash(discordBuyer, "premium"); !strings.Contains(r.Content, testGatedReply) {
				t.Fatalf("gated command refused with the switch off: %q", r.Content)
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
