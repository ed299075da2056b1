package main

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// keyPattern finds a license key in a message.
var keyPattern = regexp.MustCompile(`[A-HJ-NP-Z2-9]{4}(-[A-HJ-NP-Z2-9]{4}){3}`)

// TestDiscordEndToEnd repeats the purchase story in Discord, in both
// interaction modes: /buy → signed webhook → key DM'd → /activate → role
// granted and gated command answered → admin /revoke → role removed and
// gated command refused.
func TestDiscordEndToEnd(t *testing.T) {
	for _, mode := range []string{"gateway", "http"} {
		t.Run(mode, func(t *testing.T) {
			w := newWorld(t)
			w.withDiscord(mode)
			w.start()
			buyer := discordBuyer

			r := w.slash(buyer, "buy", discordtest.StringOption("product", "pro"))
			if !r.Ephemeral || !slices.ContainsFunc(r.Buttons, func(b discordtest.Button) bool { return strings.HasPrefix(b.URL, "https://") }) {
				t.Fatalf("/buy reply = %+v, want an ephemeral link button", r)
			}
			event := stripetest.CheckoutCompleted(stripetest.EventParams{
				ID: "evt_dc_" + mode, SessionID: "cs_test_dc_" + mode, Product: "pro", Identity: "discord:" + buyer.ID,
			})
			if code := w.postEvent(event); code != http.StatusOK {
				t.Fatalf("webhook status %d", code)
			}
			key := w.waitDMKey(buyer.ID)

			r = w.slash(buyer, "activate", discordtest.StringOption("key", key))
			if !strings.Contains(r.Content, "Pro") {
				t.Fatalf("/activate reply = %q", r.Content)
			}
			if !slices.Contains(w.dc.Roles(buyer.ID), testRoleID) {
				t.Fatalf("roles after /activate = %v, want %s", w.dc.Roles(buyer.ID), testRoleID)
			}
			if r := w.slash(buyer, "premium"); !strings.Contains(r.Content, testGatedReply) {
				t.Fatalf("/premium after activation = %q", r.Content)
			}

			r = w.slash(discordAdmin, "revoke", discordtest.StringOption("key", key))
			if !strings.Contains(strings.ToLower(r.Content), "revoked") {
				t.Fatalf("/revoke reply = %q", r.Content)
			}
			if slices.Contains(w.dc.Roles(buyer.ID), testRoleID) {
				t.Fatalf("role still held after revoke: %v", w.dc.Roles(buyer.ID))
			}
			if r := w.slash(buyer, "premium"); strings.Contains(r.Content, testGatedReply) {
				t.Fatalf("/premium after revoke = %q", r.Content)
			}
		})
	}
}

// TestOneKeyTwoPlatforms: a key bought in Telegram and activated in
// Discord too takes two slots, and /license shows it on both sides.
func TestOneKeyTwoPlatforms(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("gateway")
	w.start()
	key := w.buyAndDeliver("evt_two_1", "cs_test_two")
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "1 of 2") {
		t.Fatalf("Telegram /activate = %q", r.Text)
	}
	r := w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	if !strings.Contains(r.Content, "2 of 2") {
		t.Fatalf("Discord /activate = %q", r.Content)
	}
	lic, _ := w.af.License(key)
	if !slices.Equal(lic.HWIDList, []string{"tg:5001", "discord:" + discordBuyer.ID}) {
		t.Fatalf("AuthForge slots = %v", lic.HWIDList)
	}
	if !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
		t.Fatalf("Discord role not granted: %v", w.dc.Roles(discordBuyer.ID))
	}
	if r := w.slash(discordBuyer, "license"); !strings.Contains(r.Content, key) || !r.Ephemeral {
		t.Fatalf("Discord /license = %+v", r)
	}
	if r := w.say(w.buyer, "/license"); !strings.Contains(r.Text, key) {
		t.Fatalf("Telegram /license = %q", r.Text)
	}
}

// TestDiscordRejoinGetsRolesBack: a licensed member who leaves and rejoins
// gets the product role again at once (gateway member-join event).
func TestDiscordRejoinGetsRolesBack(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("gateway")
	w.start()
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_rejoin", SessionID: "cs_test_rejoin", Product: "pro", Identity: "discord:" + discordBuyer.ID})
	if code := w.postEvent(event); code != http.StatusOK {
		t.Fatalf("webhook status %d", code)
	}
	key := w.waitDMKey(discordBuyer.ID)
	w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	w.dc.MemberLeave(discordBuyer.ID)
	if err := w.dc.MemberJoin(discordBuyer.ID); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := w.dc.WaitFor(ctx, func() bool { return slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) }); err != nil {
		t.Fatalf("role not restored after rejoin: %v\n%s", err, w.logs)
	}
}

// TestDiscordDMsClosed: a buyer with closed DMs still gets the key with
// /license, and no second license is made.
func TestDiscordDMsClosed(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	w.dc.CloseDMs(discordBuyer.ID)
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_closed", SessionID: "cs_test_closed", Product: "pro", Identity: "discord:" + discordBuyer.ID})
	if code := w.postEvent(event); code != http.StatusOK {
		t.Fatalf("webhook status %d", code)
	}
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("AuthForge licenses = %d, want 1", n)
	}
	r := w.slash(discordBuyer, "license")
	if key := w.af.Licenses()[0].Key; !strings.Contains(r.Content, key) {
		t.Fatalf("/license with DMs closed = %q", r.Content)
	}
}

// TestDiscordMissingPermissions: a refused role change (50013) is
// explained to the admins, and the activation still succeeds.
func TestDiscordMissingPermissions(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	w.dc.DenyRoles()
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_perm", SessionID: "cs_test_perm", Product: "pro", Identity: "discord:" + discordBuyer.ID})
	w.postEvent(event)
	key := w.waitDMKey(discordBuyer.ID)
	w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := w.dc.WaitFor(ctx, func() bool {
		return slices.ContainsFunc(w.dc.DMs(discordAdmin.ID), func(m discordtest.Message) bool { return strings.Contains(m.Content, "Manage Roles") })
	})
	if err != nil {
		t.Fatalf("admins not told about the missing permission: %v\n%s", err, w.logs)
	}
}

// TestDiscordNonAdminRevoke: a buyer's /revoke is refused and nothing is
// revoked.
func TestDiscordNonAdminRevoke(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("gateway")
	w.start()
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_na_dc", SessionID: "cs_test_na_dc", Product: "pro", Identity: "discord:" + discordBuyer.ID})
	w.postEvent(event)
	key := w.waitDMKey(discordBuyer.ID)
	r := w.slash(discordBuyer, "revoke", discordtest.StringOption("key", key))
	if !strings.Contains(r.Content, "admins") {
		t.Fatalf("non-admin /revoke = %q", r.Content)
	}
	if lic, _ := w.af.License(key); lic.Status != "active" {
		t.Fatalf("license status = %q after non-admin /revoke", lic.Status)
	}
}

// TestDiscordBadInteractionSignature: the shop's interactions endpoint
// refuses unsigned and wrongly signed requests.
func TestDiscordBadInteractionSignature(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	in := w.dc.SlashCommand(discordBuyer, "license")
	req, _ := http.NewRequest(http.MethodPost, "http://"+w.addr+"/discord/interactions", strings.NewReader(string(in.Body)))
	req.Header.Set("X-Signature-Ed25519", strings.Repeat("00", 64))
	req.Header.Set("X-Signature-Timestamp", "1700000000")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad signature: status %d, want 401", resp.StatusCode)
	}
}

// waitDMKey waits for a direct message carrying a key and returns it.
func (w *world) waitDMKey(userID string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var key string
	err := w.dc.WaitFor(ctx, func() bool {
		for _, m := range w.dc.DMs(userID) {
			if k := keyPattern.FindString(m.Content); k != "" {
				key = k
				return true
			}
		}
		return false
	})
	if err != nil {
		w.t.Fatalf("no key DM'd to %s: %v\n%s", userID, err, w.logs)
	}
	return key
}
