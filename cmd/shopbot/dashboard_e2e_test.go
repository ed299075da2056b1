package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// TestDashboardSignIn: the link from /dashboard works once and only for a
// few minutes; the session cookie is HttpOnly, Secure and SameSite=Strict;
// without a session, with an expired one, or after /dashboard logout every
// page and action is refused.
func TestDashboardSignIn(t *testing.T) {
	w := newWorld(t)
	clock := fakeclock.New(time.Now())
	w.dashClock = clock.Now
	w.start()

	anon := &dashClient{w: w}
	for _, path := range []string{"/admin/", "/admin/licenses", "/admin/events", "/admin/audit"} {
		if p := anon.get(path); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Send /dashboard") {
			t.Errorf("GET %s without a session: %d", path, p.status)
		}
	}
	if p := anon.do(http.MethodPost, "/admin/licenses/grant", url.Values{"who": {"tg:5001"}, "product": {"pro"}}); p.status != http.StatusUnauthorized {
		t.Errorf("grant without a session: %d", p.status)
	}
	if r := w.say(w.buyer, "/dashboard"); r.Text != "This command is for admins." {
		t.Errorf("member /dashboard = %q", r.Text)
	}

	link := w.dashLink()
	b := &dashClient{w: w}
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.location != "/admin/" {
		t.Fatalf("sign-in: %d to %q", p.status, p.location)
	}
	c := p.setCookie
	if c == nil || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, Secure, SameSite=Strict on /admin/", c)
	}
	b.cookie = c.Value
	home := b.get("/admin/")
	if home.status != http.StatusOK || !strings.Contains(home.body, "active licenses") || !strings.Contains(home.body, "tg:9001") {
		t.Fatalf("overview: %d\n%s", home.status, home.body)
	}
	if again := (&dashClient{w: w}).get(link); again.status != http.StatusUnauthorized || again.setCookie != nil {
		t.Errorf("second use of the link: %d, cookie %v", again.status, again.setCookie)
	}

	// A link expires after five minutes.
	late := w.dashLink()
	clock.Advance(5*time.Minute + time.Second)
	if p := (&dashClient{w: w}).get(late); p.status != http.StatusUnauthorized || p.setCookie != nil {
		t.Errorf("expired link: %d, cookie %v", p.status, p.setCookie)
	}
	// The session survived five idle minutes, not thirty.
	if p := b.get("/admin/events"); p.status != http.StatusOK {
		t.Fatalf("session after 5 minutes: %d", p.status)
	}
	clock.Advance(30*time.Minute + time.Second)
	if p := b.get("/admin/events"); p.status != http.StatusUnauthorized {
		t.Errorf("session idle for 30 minutes: %d", p.status)
	}

	// /dashboard logout ends every session of the admin.
	b2 := &dashClient{w: w}
	b2.signIn(w.dashLink())
	b3 := &dashClient{w: w}
	b3.signIn(w.dashLink())
	if r := w.say(w.admin, "/dashboard logout"); r.Text != "Dashboard sessions ended: 2." {
		t.Errorf("/dashboard logout = %q", r.Text)
	}
	for _, br := range []*dashClient{b2, b3} {
		if p := br.get("/admin/"); p.status != http.StatusUnauthorized {
			t.Errorf("session after /dashboard logout: %d", p.status)
		}
	}
	// A session is cut off after twelve hours however busy.
	b4 := &dashClient{w: w}
	b4.signIn(w.dashLink())
	for range 25 {
		clock.Advance(29 * time.Minute)
		if p := b4.get("/admin/audit"); p.status != http.StatusOK {
			break
		}
	}
	if p := b4.get("/admin/audit"); p.status != http.StatusUnauthorized {
		t.Errorf("session 12 hours old: %d", p.status)
	}
}

// TestDashboardCSRF: an action without the session's CSRF token, or with
// another session's, is refused and changes nothing.
func TestDashboardCSRF(t *testing.T) {
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_dash_csrf", "cs_test_dash_csrf")
	b := &dashClient{w: w}
	b.signIn(w.dashLink())
	other := &dashClient{w: w}
	other.signIn(w.dashLink())
	otherToken := field(t, csrfField, other.get("/admin/").body)
	h := b.handleOf(key)
	for name, token := range map[string]string{"no token": "", "another session's token": otherToken} {
		form := url.Values{"h": {h}}
		if token != "" {
			form.Set("csrf", token)
		}
		if p := b.do(http.MethodPost, "/admin/licenses/revoke", form); p.status != http.StatusForbidden {
			t.Errorf("revoke with %s: %d", name, p.status)
		}
		grant := url.Values{"who": {"tg:5002"}, "product": {"pro"}, "csrf": {token}}
		if p := b.do(http.MethodPost, "/admin/licenses/grant", grant); p.status != http.StatusForbidden {
			t.Errorf("grant with %s: %d", name, p.status)
		}
	}
	if lic, _ := w.af.License(key); lic.Status != "active" {
		t.Fatalf("license after refused revokes: %q", lic.Status)
	}
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("refused grants created licenses: %d in AuthForge", n)
	}
	// The same form with the token works.
	if msg := b.act("/admin/licenses/revoke", url.Values{"h": {h}}); !strings.HasPrefix(msg, "Revoked ") {
		t.Fatalf("revoke with the token: %q", msg)
	}
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Fatalf("license after revoke: %q", lic.Status)
	}
}

// TestDashboardActionsMatchChat runs each action once from the chat and
// once from the dashboard, on twin licenses, and finds the same effect in
// AuthForge and the same audit entry, the admin as actor.
func TestDashboardActionsMatchChat(t *testing.T) {
	w := newWorld(t)
	w.start()
	admin := w.admin
	chatKey := w.buyAndDeliver("evt_dash_a", "cs_test_dash_a")
	dashKey := w.buyAndDeliver("evt_dash_b", "cs_test_dash_b")
	b := &dashClient{w: w}
	b.signIn(w.dashLink())

	// The overview counts both sales from the payments ledger.
	home := b.get("/admin/")
	for _, want := range []string{"<td>Pro</td><td>2</td><td>0</td><td>0</td><td>40.00 USD</td>", "<td>Stripe</td><td>2</td>", "<td>USD</td><td>2</td>", "<b>2</b>active licenses", "<svg"} {
		if !strings.Contains(home.body, want) {
			t.Errorf("overview lacks %q:\n%s", want, home.body)
		}
	}

	// Search by key, by user and by order shows the license, key masked.
	for _, q := range []string{dashKey, strings.ToLower(dashKey), "cs_test_dash_b"} {
		p := b.get("/admin/licenses?q=" + url.QueryEscape(q))
		if p.status != http.StatusOK || !strings.Contains(p.body, html.EscapeString(authforge.MaskKey(dashKey))) {
			t.Fatalf("search %q: %d\n%s", q, p.status, p.body)
		}
		if strings.Contains(p.body, dashKey) {
			t.Fatalf("search %q shows the whole key", q)
		}
	}
	if p := b.get("/admin/licenses?q=tg:5001"); strings.Count(p.body, `name="h"`) < 2 {
		t.Fatalf("search by user: %d, fewer than 2 licenses' forms\n%s", p.status, p.body)
	}
	w.answer(admin, "/lookup "+chatKey, authforge.MaskKey(chatKey))
	// Revealing is on purpose, once, and recorded.
	if msg := b.act("/admin/licenses/reveal", url.Values{"h": {b.handleOf(dashKey)}}); !strings.HasSuffix(msg, dashKey) {
		t.Fatalf("reveal: %q", msg)
	}

	// extend 30d
	w.answer(admin, "/extend "+chatKey+" 30d", "Extended ")
	if msg := b.act("/admin/licenses/extend", url.Values{"h": {b.handleOf(dashKey)}, "by": {"30d"}}); !strings.HasPrefix(msg, "Extended ") {
		t.Fatalf("dashboard extend: %q", msg)
	}
	// reset slots, after the buyer took one of each
	for _, k := range []string{chatKey, dashKey} {
		if r := w.say(w.buyer, "/activate "+k); !strings.Contains(r.Text, "Activated") {
			t.Fatalf("/activate = %q", r.Text)
		}
	}
	w.answer(admin, "/resethwid "+chatKey, "Every slot of ")
	if msg := b.act("/admin/licenses/reset", url.Values{"h": {b.handleOf(dashKey)}}); !strings.HasPrefix(msg, "Freed every slot") {
		t.Fatalf("dashboard reset: %q", msg)
	}
	chatLic, _ := w.af.License(chatKey)
	dashLic, _ := w.af.License(dashKey)
	if chatLic.ExpiresAt == nil || dashLic.ExpiresAt == nil || dashLic.ExpiresAt.Sub(*chatLic.ExpiresAt).Abs() > time.Minute || len(chatLic.HWIDList)+len(dashLic.HWIDList) != 0 {
		t.Fatalf("after extend and reset: chat %+v, dashboard %+v", chatLic, dashLic)
	}
	// revoke
	w.answer(admin, "/revoke "+chatKey, "Revoked 1 license(s)")
	if msg := b.act("/admin/licenses/revoke", url.Values{"h": {b.handleOf(dashKey)}}); !strings.HasPrefix(msg, "Revoked ") {
		t.Fatalf("dashboard revoke: %q", msg)
	}
	chatLic, _ = w.af.License(chatKey)
	dashLic, _ = w.af.License(dashKey)
	if chatLic.Status != "revoked" || dashLic.Status != "revoked" {
		t.Fatalf("after revoke: chat %q, dashboard %q", chatLic.Status, dashLic.Status)
	}
	// grant, each to a user who opened the bot
	for _, u := range []telegramtest.User{{ID: 5002, FirstName: "Fred"}, {ID: 5003, FirstName: "Gus"}} {
		w.say(u, "/start")
	}
	w.answer(admin, "/grant tg:5002 pro", "Granted Pro to tg:5002")
	after := w.lastID(5003)
	if msg := b.act("/admin/licenses/grant", url.Values{"who": {"tg:5003"}, "product": {"pro"}}); !strings.HasPrefix(msg, "Granted Pro to tg:5003: ") {
		t.Fatalf("dashboard grant: %q", msg)
	}
	w.wait(5003, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "the granted key")
	// replay, of two events that fail the same way
	for _, id := range []string{"evt_dash_gold_a", "evt_dash_gold_b"} {
		w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: id, SessionID: "cs_" + id, Product: "gold", Identity: "tg:5001"}))
	}
	w.waitUntil("two failed events", func() bool { return w.health().Failed == 2 })
	w.answer(admin, "/replay evt_dash_gold_a", "Replayed")
	events := b.get("/admin/events?state=failed")
	if !strings.Contains(events.body, "evt_dash_gold_b") || !strings.Contains(events.body, "unknown product") && !strings.Contains(events.body, "gold") {
		t.Fatalf("failed events page:\n%s", events.body)
	}
	if msg := b.act("/admin/events/replay", url.Values{"id": {"evt_dash_gold_b"}, "state": {"failed"}}); !strings.Contains(msg, "evt_dash_gold_b") {
		t.Fatalf("dashboard replay: %q", msg)
	}

	var entries []store.AuditEntry
	w.readStore(func(ctx context.Context, db *store.DB) (err error) {
		entries, err = db.RecentAudit(ctx, 0)
		return err
	})
	find := func(action, target string) store.AuditEntry {
		for _, e := range entries {
			if e.Action == action && e.Target == target {
				return e
			}
		}
		t.Fatalf("no audit entry %s %s in %+v", action, target, entries)
		return store.AuditEntry{}
	}
	same := func(action, chatTarget, dashTarget string, detail func(string) string) {
		c, d := find(action, chatTarget), find(action, dashTarget)
		if c.Actor != "tg:9001" || d.Actor != "tg:9001" || detail(c.Detail) != detail(d.Detail) {
			t.Errorf("%s: chat %+v, dashboard %+v", action, c, d)
		}
	}
	chatMask, dashMask := authforge.MaskKey(chatKey), authforge.MaskKey(dashKey)
	untilCut := func(s string) string { before, _, _ := strings.Cut(s, " until "); return before }
	same("extend", chatMask, dashMask, untilCut)
	same("reset-hwid", chatMask, dashMask, func(s string) string { return s })
	same("revoke", chatMask, dashMask, func(s string) string { return s })
	same("replay", "evt_dash_gold_a", "evt_dash_gold_b", func(s string) string { return s })
	same("lookup", chatMask, dashMask, func(s string) string { return s })
	var grants []store.AuditEntry
	for _, e := range entries {
		if e.Action == "grant" {
			grants = append(grants, e)
		}
	}
	if len(grants) != 2 || grants[0].Actor != "tg:9001" || grants[1].Actor != "tg:9001" ||
		grants[0].Detail != "product pro to tg:5003" || grants[1].Detail != "product pro to tg:5002" {
		t.Errorf("grant entries = %+v", grants)
	}
	if e := find("reveal key", dashMask); e.Actor != "tg:9001" {
		t.Errorf("reveal entry = %+v", e)
	}
	if strings.Contains(w.logs.String(), dashKey) || strings.Contains(w.logs.String(), chatKey) {
		t.Error("a whole license key was logged")
	}
}

// TestDashboardFromDiscord: /dashboard in Discord answers the admin
// ephemerally with a sign-in link (and a button to it) that starts a
// session as the Discord admin; a member is refused; action:logout ends
// the session.
func TestDashboardFromDiscord(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("gateway")
	w.start()
	if r := w.slash(discordBuyer, "dashboard"); r.Content != "This command is for admins." {
		t.Fatalf("member /dashboard = %q", r.Content)
	}
	r := w.slash(discordAdmin, "dashboard")
	m := signInLink.FindStringSubmatch(r.Content)
	if !r.Ephemeral || m == nil || len(r.Buttons) != 1 || r.Buttons[0].URL != "https://shop.example.com"+m[1] {
		t.Fatalf("admin /dashboard = %+v, want an ephemeral sign-in link and its button", r)
	}
	b := &dashClient{w: w}
	b.signIn(m[1])
	if p := b.get("/admin/"); p.status != http.StatusOK || !strings.Contains(p.body, "discord:"+testDiscordAdminID) {
		t.Fatalf("overview as the Discord admin: %d\n%s", p.status, p.body)
	}
	if r := w.slash(discordAdmin, "dashboard", discordtest.StringOption("action", "logout")); r.Content != "Dashboard sessions ended: 1." {
		t.Fatalf("/dashboard action:logout = %q", r.Content)
	}
	if p := b.get("/admin/"); p.status != http.StatusUnauthorized {
		t.Fatalf("session after logout: %d", p.status)
	}
}

// TestDashboardStars: a Telegram Stars sale shows in the overview under
// its rail and currency, and its event in the event log; searching its
// order finds the license.
func TestDashboardStars(t *testing.T) {
	w := starsWorld(t)
	w.start()
	after := w.say(w.buyer, "/start").MessageID
	charge := w.pay(w.starsLink("pro"))
	w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "the Stars key")
	w.waitIdle()
	b := &dashClient{w: w}
	b.signIn(w.dashLink())
	home := b.get("/admin/")
	for _, want := range []string{"<td>Telegram Stars</td><td>1</td><td>0</td><td>0</td><td>250 Stars</td>", "<td>XTR</td><td>1</td>"} {
		if !strings.Contains(home.body, want) {
			t.Errorf("overview lacks %q:\n%s", want, home.body)
		}
	}
	events := b.get("/admin/events?state=done")
	if !strings.Contains(events.body, "tgpay:"+charge) || !strings.Contains(events.body, "telegram.successful_payment") {
		t.Errorf("events page lacks the Stars payment %s:\n%s", charge, events.body)
	}
}
