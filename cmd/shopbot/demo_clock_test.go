package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/demo"
)

// tgSay has the buyer write text in Telegram and returns the first bot
// message after it that satisfies want.
func (d *demoRun) tgSay(text string, want func(string) bool) string {
	d.t.Helper()
	var id map[string]int
	if code := d.post("/api/telegram/send", map[string]string{"as": "buyer", "text": text}, &id); code != 200 {
		d.t.Fatalf("Telegram %q: %d", text, code)
	}
	var reply string
	d.state("Telegram reply to "+text, func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			if m.FromBot && m.ID > id["message_id"] && want(m.Text) {
				reply = m.Text
				return true
			}
		}
		return false
	})
	return reply
}

// dcSay has the buyer run a slash command in Discord and returns the
// bot's reply.
func (d *demoRun) dcSay(text string) string {
	d.t.Helper()
	var out map[string]string
	if code := d.post("/api/discord/send", map[string]string{"as": "buyer", "text": text}, &out); code != 200 {
		d.t.Fatalf("Discord %q: %d", text, code)
	}
	var reply string
	d.state("Discord reply to "+text, func(s demo.State) bool {
		for _, e := range s.Discord["buyer"] {
			if e.InteractionID == out["interaction_id"] && e.Reply != nil && !e.Reply.Thinking {
				reply = e.Reply.Content
				return true
			}
		}
		return false
	})
	return reply
}

// tgBuyPro buys the one-time Pro license in Telegram on the stand-in
// checkout page and returns the key the bot sends.
func (d *demoRun) tgBuyPro() string {
	d.t.Helper()
	st := d.state("nothing pending", func(demo.State) bool { return true })
	seen := 0
	for _, m := range st.Telegram["buyer"] {
		seen = max(seen, m.ID)
	}
	var id map[string]int
	d.post("/api/telegram/send", map[string]string{"as": "buyer", "text": "/buy pro"}, &id)
	var link string
	d.state("checkout link", func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			for _, row := range m.Buttons {
				for _, b := range row {
					if m.ID > id["message_id"] && strings.HasPrefix(b.URL, d.url+"/pay/") {
						link = b.URL
					}
				}
			}
		}
		return link != ""
	})
	resp, err := http.PostForm(link, url.Values{"action": {"pay"}})
	if err != nil || resp.StatusCode != 200 {
		d.t.Fatalf("pay %s: %v %v", link, err, resp)
	}
	resp.Body.Close()
	var key string
	d.state("license key in Telegram", func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			if m.FromBot && m.ID > seen && key == "" {
				key = demoKeyPattern.FindString(m.Text)
			}
		}
		return key != ""
	})
	return key
}

// advance moves the demo's clock days ahead through the JSON API.
func (d *demoRun) advance(days int) demo.AdvanceResult {
	d.t.Helper()
	var res demo.AdvanceResult
	if code := d.post("/api/clock/advance", map[string]int{"days": days}, &res); code != 200 || res.SweepError != "" {
		d.t.Fatalf("advance %d days: %d %+v", days, code, res)
	}
	return res
}

// TestDemoClockStory buys the 30-day Pro license in Telegram, activates it
// in both chats, and skips ahead: after a day the signed sessions have
// expired and /premium costs an AuthForge call; after 31 more the license
// has expired, the sweeper took the role, told the buyer how to renew, and
// /premium is refused. Buying again while the clock runs ahead works.
func TestDemoClockStory(t *testing.T) {
	d := startDemo(t)
	st := d.state("the Discord bot", func(s demo.State) bool { return s.Ready })
	if st.Clock.DaysAhead != 0 || time.Since(st.Clock.Now).Abs() > time.Minute {
		t.Fatalf("the demo's clock starts at %+v, not the real time", st.Clock)
	}
	if code := d.post("/api/clock/advance", map[string]int{"days": 0}, nil); code != http.StatusBadRequest {
		t.Errorf("advance 0 days: %d, want 400", code)
	}

	key := d.tgBuyPro()
	if r := d.tgSay("/activate "+key, func(string) bool { return true }); !strings.Contains(r, "Activated") {
		t.Fatalf("Telegram /activate = %q", r)
	}
	if r := d.dcSay("/activate " + key); !strings.Contains(r, "Activated") {
		t.Fatalf("Discord /activate = %q", r)
	}
	d.state("Pro role", func(s demo.State) bool { return len(s.Roles["buyer"]) == 1 })
	gated := func(r string) bool {
		return strings.Contains(r, demoGatedReply) || strings.Contains(strings.ToLower(r), "buy")
	}
	if r := d.tgSay("/premium", gated); !strings.Contains(r, demoGatedReply) {
		t.Fatalf("/premium after activation = %q", r)
	}

	// A day later the 24h sessions have expired: the gate asks AuthForge.
	before := d.state("counts", func(demo.State) bool { return true })
	if res := d.advance(1); res.Clock.DaysAhead != 1 || res.Removed != 0 {
		t.Fatalf("advance 1 day = %+v", res)
	}
	if r := d.tgSay("/premium", gated); !strings.Contains(r, demoGatedReply) {
		t.Fatalf("/premium a day later = %q", r)
	}
	after := d.state("counts", func(demo.State) bool { return true })
	if after.Validations+after.Heartbeats <= before.Validations+before.Heartbeats {
		t.Errorf("/premium with an expired session made no AuthForge call: %d+%d then %d+%d",
			before.Validations, before.Heartbeats, after.Validations, after.Heartbeats)
	}
	if after.Clock.DaysAhead != 1 || after.Clock.Now.Sub(time.Now()) < 23*time.Hour {
		t.Errorf("state clock after a day = %+v", after.Clock)
	}

	// 31 more days: the 30-day license has expired; the sweep ran at once.
	if res := d.advance(31); res.Clock.DaysAhead != 32 || res.Removed != 2 {
		t.Fatalf("advance 31 days = %+v, want both activations removed", res)
	}
	st = d.state("access removed", func(s demo.State) bool {
		return len(s.Roles["buyer"]) == 0 && len(s.Licenses) == 1 && s.Licenses[0].Key == key
	})
	renew := func(text string) bool { return strings.Contains(text, "expired") && strings.Contains(text, "/buy pro") }
	var told bool
	for _, m := range st.Telegram["buyer"] {
		told = told || (m.FromBot && renew(m.Text))
	}
	if !told {
		t.Errorf("the buyer was not told in Telegram how to renew: %+v", st.Telegram["buyer"])
	}
	d.state("renew notice by Discord DM", func(s demo.State) bool {
		for _, e := range s.Discord["buyer"] {
			if e.Kind == "dm" && renew(e.Text) {
				return true
			}
		}
		return false
	})
	if r := d.dcSay("/premium"); strings.Contains(r, demoGatedReply) || !strings.Contains(strings.ToLower(r), "buy") {
		t.Fatalf("Discord /premium after expiry = %q, want a refusal offering to buy", r)
	}
	if r := d.tgSay("/premium", gated); strings.Contains(r, demoGatedReply) {
		t.Fatalf("Telegram /premium after expiry = %q", r)
	}

	// Renewing while the clock runs ahead: signed events still pass.
	renewed := d.tgBuyPro()
	if renewed == key {
		t.Fatalf("renewal delivered the expired key again")
	}
	st = d.state("new license", func(s demo.State) bool { return len(s.Licenses) == 2 && demoEventsSettled(s) })
	if exp := st.Licenses[0].ExpiresAt; exp == nil || exp.Sub(st.Clock.Now) < 29*24*time.Hour {
		t.Errorf("the renewed license expires at %v, want 30 days after the demo's %s", exp, st.Clock.Now)
	}
	for _, e := range st.Events {
		if e.State != "done" {
			t.Errorf("event %s %s is %s: %s", e.ID, e.Type, e.State, e.LastError)
		}
	}
}
