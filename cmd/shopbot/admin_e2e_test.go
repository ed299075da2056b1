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

// adminCommands are the admin commands with arguments that would work for
// an admin; members must be refused each one without effect.
var adminCommands = []string{
	"/grant tg:5001 pro", "/extend ABCD-EFGH-JKLM-NPQR 30d", "/resethwid ABCD-EFGH-JKLM-NPQR",
	"/stats", "/audit", "/failed", "/replay evt_x", "/sync", "/revoke tg:5001", "/lookup tg:5001",
}

// TestAdminCommandsEndToEnd drives every admin command through the real
// wiring in Telegram: grant → the holder gets a key; extend moves the
// expiry in AuthForge; resethwid frees the slots; stats and audit report
// it; an unfulfillable event shows in /failed and /replay says why it
// fails again; /sync reports the accounts it checked.
func TestAdminCommandsEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.start()
	admin := w.admin
	bought := w.buyAndDeliver("evt_admin_paid", "cs_test_admin_paid")
	w.waitIdle()
	w.say(admin, "/start")

	boughtBefore, _ := w.af.License(bought)
	for _, cmd := range adminCommands {
		if r := w.say(w.buyer, cmd); r.Text != "This command is for admins." {
			t.Errorf("member %s = %q", cmd, r.Text)
		}
	}
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("members' admin commands changed AuthForge: %d licenses", n)
	}
	if lic, _ := w.af.License(bought); lic.Status != "active" || lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(*boughtBefore.ExpiresAt) {
		t.Fatalf("members' admin commands changed the bought license: %+v, was %+v", lic, boughtBefore)
	}

	// /grant: the holder, who opened the bot, receives the key.
	friend := telegramtest.User{ID: 5002, FirstName: "Fred"}
	after := w.say(friend, "/start").MessageID
	r := w.say(admin, "/grant tg:5002 pro")
	if !strings.HasPrefix(r.Text, "Granted Pro to tg:5002: key ") {
		t.Fatalf("/grant = %q", r.Text)
	}
	delivery := w.wait(friend.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "granted key")
	key := delivery.Code()[0]
	if strings.Contains(r.Text, key) {
		t.Errorf("/grant reply shows the whole key: %q", r.Text)
	}
	granted, ok := w.af.License(key)
	if !ok || granted.Status != "active" || granted.ExpiresAt == nil {
		t.Fatalf("granted license in AuthForge = %+v, %v", granted, ok)
	}
	if r := w.say(admin, "/grant tg:5002 gold"); !strings.HasPrefix(r.Text, "There is no product gold.") {
		t.Errorf("/grant of an unknown product = %q", r.Text)
	}

	// /extend by days moves AuthForge's expiry.
	before := *granted.ExpiresAt
	if r := w.say(admin, "/extend "+strings.ToLower(key)+" 30d"); !strings.HasPrefix(r.Text, "Extended ") || !strings.Contains(r.Text, "by 30 day(s)") {
		t.Fatalf("/extend = %q", r.Text)
	}
	if lic, _ := w.af.License(key); lic.ExpiresAt == nil || !lic.ExpiresAt.Equal(before.Add(30*24*time.Hour)) {
		t.Errorf("expiry after /extend = %v, want %v", lic.ExpiresAt, before.Add(30*24*time.Hour))
	}
	if r := w.say(admin, "/extend "+key+" soon"); !strings.HasPrefix(r.Text, "Usage: /extend KEY DURATION") {
		t.Errorf("/extend with a bad duration = %q", r.Text)
	}

	// /resethwid frees the slot the friend took; the gate refuses them.
	if r := w.say(friend, "/activate "+key); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate = %q", r.Text)
	}
	if r := w.say(admin, "/resethwid "+key); !strings.HasPrefix(r.Text, "Every slot of ") {
		t.Fatalf("/resethwid = %q", r.Text)
	}
	if lic, _ := w.af.License(key); len(lic.HWIDList) != 0 {
		t.Errorf("AuthForge slots after /resethwid = %v", lic.HWIDList)
	}
	w.waitUntil("the friend's access to end", func() bool {
		return !strings.Contains(w.say(friend, "/premium").Text, testGatedReply)
	})

	// An event for a product the shop does not sell fails visibly.
	alertFrom := w.say(admin, "/help").MessageID
	gold := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_admin_gold", SessionID: "cs_test_admin_gold", Product: "gold", Identity: "tg:5001"})
	w.postEvent(gold)
	w.wait(admin.ID, alertFrom, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "evt_admin_gold") }, "admin alert")
	r = w.say(admin, "/failed")
	if !strings.Contains(r.Text, "evt_admin_gold checkout.session.completed — 1 attempt(s)") || !strings.Contains(r.Text, "gold") {
		t.Errorf("/failed = %q", r.Text)
	}
	// Replaying fails again, which also alerts the admins once more, before
	// or after the reply: wait for both, so later replies are not mixed up
	// with the alert.
	replayAt := w.tg.SendText(admin, admin.ID, "/replay evt_admin_gold")
	r = w.wait(admin.ID, replayAt, func(m telegramtest.SentMessage) bool { return strings.HasPrefix(m.Text, "Replayed") }, "reply to /replay")
	if !strings.HasPrefix(r.Text, "Replayed evt_admin_gold (checkout.session.completed), but it failed again: ") || !strings.Contains(r.Text, "gold") {
		t.Errorf("/replay of a still failing event = %q", r.Text)
	}
	w.wait(admin.ID, replayAt, func(m telegramtest.SentMessage) bool {
		return strings.HasPrefix(m.Text, "Admin alert") && strings.Contains(m.Text, "evt_admin_gold")
	}, "the replay's alert")
	if r := w.say(admin, "/replay evt_admin_paid"); !strings.Contains(r.Text, "already handled successfully") {
		t.Errorf("/replay of a done event = %q", r.Text)
	}
	if r := w.say(admin, "/replay evt_nope"); !strings.HasPrefix(r.Text, "No payment event with that id") {
		t.Errorf("/replay of an unknown event = %q", r.Text)
	}

	// /stats and /audit report what happened, keys masked.
	w.waitIdle()
	r = w.say(admin, "/stats")
	for _, want := range []string{"Orders: 1 (fulfilled 1)", "Licenses: 2 active, 0 revoked", "Payment events: 0 pending, 1 failed", "validation(s)"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("/stats lacks %q:\n%s", want, r.Text)
		}
	}
	w.say(admin, "/lookup tg:5001")
	r = w.say(admin, "/audit 50")
	for _, want := range []string{"tg:9001 grant", "tg:9001 extend", "tg:9001 reset-hwid", "tg:9001 replay evt_admin_gold", "tg:9001 lookup tg:5001"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("/audit lacks %q:\n%s", want, r.Text)
		}
	}
	if strings.Contains(r.Text, key) || strings.Contains(r.Text, bought) {
		t.Errorf("/audit shows a whole key:\n%s", r.Text)
	}

	// /sync checks every account with an activation.
	if r := w.say(w.buyer, "/activate "+bought); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate = %q", r.Text)
	}
	if r := w.say(admin, "/sync"); r.Text != "Synced roles and chat access of 1 account(s)." {
		t.Errorf("/sync = %q", r.Text)
	}
	if strings.Contains(w.logs.String(), key) || strings.Contains(w.logs.String(), bought) {
		t.Error("a whole license key was logged")
	}
}

// TestTransferEndToEnd: the holder moves their key twice, then is told
// when the next move is possible; someone else cannot move it.
func TestTransferEndToEnd(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_transfer", "cs_test_transfer")
	stranger := telegramtest.User{ID: 5003, FirstName: "Sam"}
	if r := w.say(stranger, "/transfer "+key); !strings.Contains(r.Text, "not yours") {
		t.Errorf("stranger /transfer = %q", r.Text)
	}
	for i, want := range []string{"move this key 1 more time(s)", "last move allowed"} {
		if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "Activated") {
			t.Fatalf("/activate %d = %q", i, r.Text)
		}
		r := w.say(w.buyer, "/transfer "+key)
		if !strings.Contains(r.Text, "is free again") || !strings.Contains(r.Text, want) {
			t.Fatalf("/transfer %d = %q", i, r.Text)
		}
		if lic, _ := w.af.License(key); len(lic.HWIDList) != 0 {
			t.Fatalf("AuthForge slots after /transfer = %v", lic.HWIDList)
		}
		if r := w.say(w.buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
			t.Fatalf("gated command answered after the key moved away: %q", r.Text)
		}
	}
	if r := w.say(w.buyer, "/transfer "+key); !strings.Contains(r.Text, "moved 2 time(s) recently") || !strings.Contains(r.Text, "in 30 days") {
		t.Errorf("third /transfer = %q", r.Text)
	}
}

// TestManageSubscriptionButton: a subscription's buyer gets a Stripe
// Billing Portal link on /license; a one-time purchase does not.
func TestManageSubscriptionButton(t *testing.T) {
	w := newWorld(t)
	w.extra = `
[[products]]
id = "club"
name = "Club"
price_id = "price_club"
mode = "subscription"
max_hwid_slots = 1
`
	w.start()
	after := w.say(w.buyer, "/start").MessageID
	p := stripetest.EventParams{
		ID: "evt_club", SessionID: "cs_test_club", Mode: "subscription", SubscriptionID: "sub_e2e_club",
		CustomerID: "cus_e2e_club", Product: "club", Identity: "tg:5001", InvoiceID: "in_e2e_club", PriceID: "price_club",
	}
	checkoutEvent := stripetest.CheckoutCompleted(p)
	p.ID = "evt_club_sub"
	for _, ev := range [][]byte{checkoutEvent, stripetest.SubscriptionCreated(p)} {
		w.postEvent(ev)
	}
	w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "subscription key")
	w.waitIdle()

	// stripe-mock is shared by the package's tests: count this test's calls.
	forCustomer := func() int {
		return len(slices.DeleteFunc(w.stripe.Requests("/v1/billing_portal/sessions"), func(q stripetest.Request) bool {
			return q.Form.Get("customer") != "cus_e2e_club"
		}))
	}
	portalBefore := forCustomer()
	r := w.say(w.buyer, "/license")
	var manage []telegramtest.Button
	for _, b := range r.Buttons() {
		if strings.HasPrefix(b.Text, "Manage subscription") {
			manage = append(manage, b)
		}
	}
	if len(manage) != 1 || !strings.HasPrefix(manage[0].URL, "https://") {
		t.Fatalf("/license buttons = %+v", r.Buttons())
	}
	if n := forCustomer() - portalBefore; n != 1 {
		t.Errorf("%d billing portal sessions for the customer, want 1", n)
	}

	// A portal failure costs only the button.
	w.stripe.FailNext("/v1/billing_portal/sessions", 1, http.StatusInternalServerError)
	r = w.say(w.buyer, "/license")
	if !strings.Contains(r.Text, "Club") || slices.ContainsFunc(r.Buttons(), func(b telegramtest.Button) bool { return strings.HasPrefix(b.Text, "Manage") }) {
		t.Errorf("/license with Stripe down = %q %+v", r.Text, r.Buttons())
	}
}

// TestDiscordAdminCommands: the admin commands take slash-command options
// in Discord and stay closed to members.
func TestDiscordAdminCommands(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	if r := w.slash(discordBuyer, "grant", discordtest.UserOption("user", discordBuyer.ID), discordtest.StringOption("product", "pro")); r.Content != "This command is for admins." {
		t.Errorf("member /grant = %q", r.Content)
	}
	r := w.slash(discordAdmin, "grant", discordtest.StringOption("product", "pro"), discordtest.UserOption("user", discordBuyer.ID))
	if !strings.HasPrefix(r.Content, "Granted Pro to `discord:"+discordBuyer.ID+"`") || !r.Ephemeral {
		t.Fatalf("/grant = %+v", r)
	}
	key := w.waitDMKey(discordBuyer.ID)
	if strings.Contains(r.Content, key) {
		t.Errorf("/grant reply shows the whole key: %q", r.Content)
	}
	r = w.slash(discordAdmin, "extend", discordtest.StringOption("key", key), discordtest.StringOption("duration", "2w"))
	if !strings.Contains(r.Content, "by 14 day(s)") {
		t.Errorf("/extend = %q", r.Content)
	}
	r = w.slash(discordAdmin, "audit", discordtest.IntegerOption("n", 2))
	if !strings.HasPrefix(r.Content, "Last 2 audit entries") || !strings.Contains(r.Content, "extend") {
		t.Errorf("/audit n:2 = %q", r.Content)
	}
	for _, c := range w.dc.Commands() {
		hidden := c.DefaultMemberPermissions != nil && *c.DefaultMemberPermissions == "0"
		if c.Name == "grant" && !hidden || c.Name == "transfer" && hidden {
			t.Errorf("/%s default_member_permissions = %v", c.Name, c.DefaultMemberPermissions)
		}
	}
}

// answer sends text as from and returns the first bot reply after it that
// starts with prefix, passing over alerts that arrive in between.
func (w *world) answer(from telegramtest.User, text, prefix string) telegramtest.SentMessage {
	w.t.Helper()
	after := w.tg.SendText(from, from.ID, text)
	return w.wait(from.ID, after, func(m telegramtest.SentMessage) bool { return strings.HasPrefix(m.Text, prefix) }, "reply to "+text)
}
