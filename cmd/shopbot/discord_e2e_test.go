package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net/http"
	"regexp"
	"slices"
	"strconv"
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
			w.postEvent(event)
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
	w.postEvent(event)
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
	w.postEvent(event)
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
	if r := w.slash(discordBuyer, "activate", discordtest.StringOption("key", key)); !strings.Contains(r.Content, "Activated") {
		t.Fatalf("/activate with roles refused = %q", r.Content)
	}
	if lic, _ := w.af.License(key); !slices.Contains(lic.HWIDList, "discord:"+discordBuyer.ID) {
		t.Fatalf("AuthForge slots = %v, want the buyer bound", lic.HWIDList)
	}
	if r := w.slash(discordBuyer, "premium"); r.Content != testGatedReply {
		t.Fatalf("/premium with roles refused = %q", r.Content)
	}
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
	w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	r := w.slash(discordBuyer, "revoke", discordtest.StringOption("key", key))
	if r.Content != "This command is for admins." {
		t.Fatalf("non-admin /revoke = %q, want the admin-only refusal", r.Content)
	}
	if lic, _ := w.af.License(key); lic.Status != "active" {
		t.Fatalf("license status = %q after non-admin /revoke", lic.Status)
	}
	if !slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) {
		t.Fatalf("role lost after non-admin /revoke: %v", w.dc.Roles(discordBuyer.ID))
	}
	if r := w.slash(discordBuyer, "premium"); r.Content != testGatedReply {
		t.Fatalf("/premium after non-admin /revoke = %q", r.Content)
	}
}

// TestDiscordBadInteractionSignature: the shop's interactions endpoint
// refuses unsigned, wrongly signed and stale requests with 401 and acts on
// none of them; the same interaction correctly signed is answered. The
// signatures are timestamped on the shop's clock (the world runs on the
// real one), so the signature itself is what is checked, not its age.
func TestDiscordBadInteractionSignature(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	in := w.dc.SlashCommand(discordBuyer, "license")
	now := time.Now()
	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	wrongSig, wrongTS := discordtest.SignInteraction(otherKey, in.Body, now)
	goodSig, goodTS := discordtest.SignInteraction(w.dc.PrivateKey(), in.Body, now)
	staleSig, staleTS := discordtest.SignInteraction(w.dc.PrivateKey(), in.Body, now.Add(-10*time.Minute))
	cases := []struct {
		name, sig, ts string
		body          []byte
	}{
		{"unsigned", "", "", in.Body},
		{"fresh timestamp, wrong key", wrongSig, wrongTS, in.Body},
		{"fresh timestamp, zero signature", strings.Repeat("00", ed25519.SignatureSize), goodTS, in.Body},
		{"signature of another body", goodSig, goodTS, []byte(strings.Replace(string(in.Body), "license", "licenses", 1))},
		{"signature of another timestamp", goodSig, strconv.FormatInt(now.Unix()+1, 10), in.Body},
		{"stale timestamp", staleSig, staleTS, in.Body},
	}
	for _, c := range cases {
		if code := w.postInteraction(c.body, c.sig, c.ts); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", c.name, code)
		}
	}
	if got := w.dc.Responses(); len(got) != 0 {
		t.Fatalf("refused requests were answered: %+v", got)
	}

	// The same interaction with its real signature goes through.
	if code := w.postInteraction(in.Body, goodSig, goodTS); code != http.StatusOK {
		t.Fatalf("correctly signed: status %d, want 200\n%s", code, w.logs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	answered := func() bool {
		return slices.ContainsFunc(w.dc.Responses(), func(r discordtest.Response) bool { return r.InteractionID == in.ID && r.Kind == "edit" })
	}
	if err := w.dc.WaitFor(ctx, answered); err != nil {
		t.Fatalf("correctly signed /license never answered: %v\n%s", err, w.logs)
	}
}

// postInteraction POSTs body to the shop's interactions endpoint with the
// given signature headers (left out when empty) and returns the status.
func (w *world) postInteraction(body []byte, sig, ts string) int {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+w.addr+"/discord/interactions", bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set("X-Signature-Ed25519", sig)
	}
	if ts != "" {
		req.Header.Set("X-Signature-Timestamp", ts)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("POST /discord/interactions: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
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
