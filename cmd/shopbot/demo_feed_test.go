package main

import (
	"strings"
	"testing"

	"github.com/shopbot/shopbot/demo"
)

// TestDemoFeedAndReminder: the demo's Admin feed shows the sale, and
// skipping 28 days on the demo clock brings the buyer the reminder of the
// 30-day license, with its Renew button.
func TestDemoFeedAndReminder(t *testing.T) {
	d := startDemo(t)
	d.state("the Discord bot", func(s demo.State) bool { return s.Ready })
	d.tgBuyPro()
	d.state("the sale in the admin feed", func(s demo.State) bool {
		for _, m := range s.Feed {
			if m.FromBot && strings.Contains(m.Text, "New sale: Pro, ") && strings.Contains(m.Text, "via stripe, buyer tg:") {
				return true
			}
		}
		return false
	})
	if res := d.advance(28); res.Clock.DaysAhead != 28 {
		t.Fatalf("advance 28 days = %+v", res)
	}
	d.state("the reminder with a Renew button", func(s demo.State) bool {
		for _, m := range s.Telegram["buyer"] {
			if m.FromBot && strings.Contains(m.Text, "runs out on") {
				for _, row := range m.Buttons {
					for _, b := range row {
						if b.Data == "buy:pro" {
							return true
						}
					}
				}
			}
		}
		return false
	})
}
