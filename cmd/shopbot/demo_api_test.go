package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/demo"
)

// state waits until cond holds for the demo's /api/state.
func (d *demoRun) state(what string, cond func(demo.State) bool) demo.State {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var st demo.State
	for time.Now().Before(deadline) {
		resp, err := http.Get(d.url + "/api/state")
		if err != nil {
			d.t.Fatalf("GET /api/state: %v", err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			d.t.Fatalf("GET /api/state: %v", err)
		}
		if cond(st) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("waiting for %s; last state: %+v", what, st)
	return st
}

// demoEventsSettled reports whether no Stripe event is pending. The
// worker acts on an event (license, key, revocation) before it marks it
// done, so a test that reads event states waits for this too.
func demoEventsSettled(s demo.State) bool {
	return !slices.ContainsFunc(s.Events, func(e demo.Event) bool { return e.State == "pending" })
}

func demoLastReply(entries []demo.Entry) *demo.Reply {
	if len(entries) == 0 {
		return nil
	}
	r := entries[len(entries)-1].Reply
	if r == nil || r.Thinking {
		return nil
	}
	return r
}

var demoKeyPattern = regexp.MustCompile(`[A-Z0-9]{4,}(?:-[A-Z0-9]{4,}){2,}`)

// TestDemoAPISubscriptionStory drives the demo's JSON API (no browser)
// through a Discord subscription: /buy → checkout page → key by DM →
// /activate → role → renewal from the panel extends the license → refund
// revokes it and takes the role away.
func TestDemoAPISubscriptionStory(t *testing.T) {
	d := startDemo(t)
	d.state("the Discord bot", func(s demo.State) bool { return s.Ready })

	if code := d.post("/api/discord/send", map[string]string{"as": "buyer", "text": "/buy pro-monthly"}, nil); code != 200 {
		t.Fatalf("/buy: %d", code)
	}
	st := d.state("checkout link", func(s demo.State) bool {
		r := demoLastReply(s.Discord["buyer"])
		return r != nil && len(r.Buttons) > 0 && r.Buttons[0].URL != ""
	})
	link := demoLastReply(st.Discord["buyer"]).Buttons[0].URL
	if !demoLastReply(st.Discord["buyer"]).Ephemeral || !strings.HasPrefix(link, d.url+"/pay/cs_test_") {
		t.Fatalf("checkout link %q (ephemeral %v)", link, demoLastReply(st.Discord["buyer"]).Ephemeral)
	}
	sessionID := strings.TrimPrefix(link, d.url+"/pay/")
	resp, err := http.PostForm(link, url.Values{"action": {"pay"}})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("pay: %v %v", err, resp)
	}
	resp.Body.Close()

	st = d.state("key by DM", func(s demo.State) bool {
		for _, e := range s.Discord["buyer"] {
			if e.Kind == "dm" && demoKeyPattern.MatchString(e.Text) {
				return true
			}
		}
		return false
	})
	var key string
	for _, e := range st.Discord["buyer"] {
		if e.Kind == "dm" && key == "" {
			key = demoKeyPattern.FindString(e.Text)
		}
	}
	d.post("/api/discord/send", map[string]string{"as": "buyer", "text": "/activate " + key}, nil)
	// The role is given before the deferred reply is edited: wait for both.
	st = d.state("Pro role and the reply", func(s demo.State) bool {
		return len(s.Roles["buyer"]) == 1 && s.Roles["buyer"][0].Name == "Pro" && demoLastReply(s.Discord["buyer"]) != nil
	})
	if r := demoLastReply(st.Discord["buyer"]); r == nil || !strings.Contains(r.Content, "Activated") {
		t.Fatalf("/activate reply = %+v", r)
	}
	before := *st.Licenses[0].ExpiresAt

	if code := d.post("/api/stripe/renew", map[string]string{"session": sessionID}, nil); code != 200 {
		t.Fatalf("renew: %d", code)
	}
	d.state("renewal extends the license", func(s demo.State) bool {
		return len(s.Licenses) == 1 && s.Licenses[0].ExpiresAt != nil && s.Licenses[0].ExpiresAt.After(before.Add(24*time.Hour))
	})
	if code := d.post("/api/stripe/refund", map[string]string{"session": sessionID}, nil); code != 200 {
		t.Fatalf("refund: %d", code)
	}
	// The worker revokes before it marks the event done, and the role
	// goes before that too: wait for no event left pending, then check
	// each ended done.
	st = d.state("refund revokes", func(s demo.State) bool {
		return s.Licenses[0].Status == "revoked" && len(s.Roles["buyer"]) == 0 && demoEventsSettled(s)
	})
	for _, e := range st.Events {
		if e.State != "done" {
			t.Errorf("event %s %s is %s: %s", e.ID, e.Type, e.State, e.LastError)
		}
	}
	if code := d.post("/api/stripe/refund", map[string]string{"session": sessionID}, nil); code != http.StatusConflict {
		t.Errorf("second refund: %d, want 409", code)
	}
}
