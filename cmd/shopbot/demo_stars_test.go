package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/demo"
)

// tgStarsButton sends text as the buyer in Telegram and returns the Stars
// button of the bot's answer, checking the card button is beside it.
func (d *demoRun) tgStarsButton(text string) demo.TGInvoice {
	d.t.Helper()
	var sent map[string]int
	d.post("/api/telegram/send", map[string]string{"as": "buyer", "text": text}, &sent)
	var inv *demo.TGInvoice
	card := false
	d.state("Stars button for "+text, func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			for _, row := range m.Buttons {
				for _, b := range row {
					if m.ID > sent["message_id"] && b.Invoice != nil {
						inv = b.Invoice
					}
					card = card || m.ID > sent["message_id"] && strings.HasPrefix(b.URL, d.url+"/pay/")
				}
			}
		}
		return inv != nil && card
	})
	return *inv
}

// tgPayStars pays the invoice on the stand-in sheet as who.
func (d *demoRun) tgPayStars(who, link string) demo.PayResult {
	d.t.Helper()
	var res demo.PayResult
	if code := d.post("/api/telegram/pay", map[string]string{"as": who, "link": link}, &res); code != 200 {
		d.t.Fatalf("pay %s as %s: HTTP %d", link, who, code)
	}
	return res
}

// tgKeyAfter waits for a license key in a bot message after message id.
func (d *demoRun) tgKeyAfter(id int) string {
	d.t.Helper()
	var key string
	d.state("license key in Telegram", func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			if m.FromBot && m.ID > id && key == "" {
				key = demoKeyPattern.FindString(m.Text)
			}
		}
		return key != ""
	})
	return key
}

func lastTGID(s demo.State) int {
	id := 0
	for _, m := range s.Telegram["buyer"] {
		id = max(id, m.ID)
	}
	return id
}

func hasService(s demo.State, prefix string) bool {
	for _, m := range s.Telegram["buyer"] {
		if strings.HasPrefix(m.Service, prefix) && m.Text == "" {
			return true
		}
	}
	return false
}

// TestDemoAPIStars drives the demo's Stars rail through its JSON API: the
// Stars button beside the card one, a payment refused for someone else's
// invoice, a purchase on the stand-in sheet delivering the key, a Star
// subscription renewed from the panel extending its license, and
// Telegram's own refund revoking a key.
func TestDemoAPIStars(t *testing.T) {
	d := startDemo(t)
	inv := d.tgStarsButton("/buy pro")
	if inv.Title != "Pro" || inv.Stars != 250 || inv.Subscription || !strings.HasPrefix(inv.Link, "https://t.me/$") {
		t.Fatalf("Pro invoice = %+v", inv)
	}
	// The invoice names the buyer: the admin cannot pay it.
	if res := d.tgPayStars("admin", inv.Link); res.OK || res.ErrorMessage == "" {
		t.Fatalf("admin paying the buyer's invoice: %+v", res)
	}
	before := lastTGID(d.state("", func(demo.State) bool { return true }))
	res := d.tgPayStars("buyer", inv.Link)
	if !res.OK || res.ChargeID == "" {
		t.Fatalf("pay: %+v", res)
	}
	key := d.tgKeyAfter(before)
	st := d.state("the payment in the chat and the panel", func(s demo.State) bool {
		return hasService(s, "You paid 250 ⭐ for Pro") && len(s.Stars) == 1 && len(s.Licenses) == 1
	})
	if p := st.Stars[0]; p.ChargeID != res.ChargeID || p.Buyer != "tg:5001" || p.Stars != 250 || p.Title != "Pro" || p.Refunded || p.Renewable || p.PeriodEnd != nil {
		t.Errorf("panel payment = %+v", p)
	}
	if l := st.Licenses[0]; l.Key != key || l.Product != "pro" || l.Owner != "tg:5001" || l.Status != "active" {
		t.Errorf("license = %+v", l)
	}

	// A Star subscription: renewed from the panel, its license runs on.
	sub := d.tgStarsButton("/buy pro-monthly")
	if !sub.Subscription || sub.Stars != 100 {
		t.Fatalf("subscription invoice = %+v", sub)
	}
	before = lastTGID(d.state("", func(demo.State) bool { return true }))
	subRes := d.tgPayStars("buyer", sub.Link)
	if !subRes.OK {
		t.Fatalf("subscribe: %+v", subRes)
	}
	subKey := d.tgKeyAfter(before)
	var ends time.Time
	st = d.state("the subscription's license", func(s demo.State) bool {
		for _, l := range s.Licenses {
			if l.Key == subKey && l.ExpiresAt != nil {
				ends = *l.ExpiresAt
			}
		}
		return !ends.IsZero() && hasService(s, "You subscribed to Pro (monthly) for 100 ⭐ a month") && len(s.Stars) == 2
	})
	if p := st.Stars[0]; !p.Renewable || p.FirstCharge != subRes.ChargeID || p.PeriodEnd == nil {
		t.Fatalf("panel subscription = %+v", p)
	}
	if code := d.post("/api/stars/renew", map[string]string{"charge": inv.Link}, nil); code != http.StatusNotFound {
		t.Errorf("renew of an unknown charge: %d", code)
	}
	if code := d.post("/api/stars/renew", map[string]string{"charge": res.ChargeID}, nil); code != http.StatusConflict {
		t.Errorf("renew of a one-time payment: %d", code)
	}
	if code := d.post("/api/stars/renew", map[string]string{"charge": subRes.ChargeID}, nil); code != 200 {
		t.Fatalf("renew: %d", code)
	}
	st = d.state("the renewal extends the license", func(s demo.State) bool {
		for _, l := range s.Licenses {
			if l.Key == subKey && l.ExpiresAt != nil && l.ExpiresAt.After(ends.Add(24*time.Hour)) {
				return hasService(s, "Your subscription to Pro (monthly) renewed: 100 ⭐") && len(s.Stars) == 3
			}
		}
		return false
	})
	if st.Stars[0].FirstCharge != subRes.ChargeID || !st.Stars[0].Renewable || st.Stars[1].Renewable {
		t.Errorf("after the renewal the panel shows %+v", st.Stars[:2])
	}

	// Telegram refunds the one-time purchase on its own: the key is
	// revoked.
	if code := d.post("/api/stars/refund", map[string]string{"charge": res.ChargeID}, nil); code != 200 {
		t.Fatalf("refund: %d", code)
	}
	d.state("the refund revokes the key", func(s demo.State) bool {
		for _, l := range s.Licenses {
			if l.Key == key {
				return l.Status == "revoked" && hasService(s, "250 ⭐ refunded for Pro") && s.Stars[2].Refunded
			}
		}
		return false
	})
	if code := d.post("/api/stars/refund", map[string]string{"charge": res.ChargeID}, nil); code != http.StatusConflict {
		t.Errorf("second refund: %d, want 409", code)
	}
}
