package main

import (
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// TestExpiryReminderOnceAcrossRestarts: a license that runs out in 30
// hours is reminded by the sweeper, with a Renew button, once: a restart
// does not send it again.
func TestExpiryReminderOnceAcrossRestarts(t *testing.T) {
	w := newWorld(t)
	w.env["SHOPBOT_LOG"] = "debug" // to see when each start's sweep has run
	w.extra = `
[[products]]
id = "day-pass"
name = "Day pass"
price_id = "price_day_pass"
mode = "payment"
duration = "30h"
`
	w.start()
	after := w.say(w.buyer, "/start").MessageID
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{
		ID: "evt_remind", SessionID: "cs_test_remind", Product: "day-pass", Identity: "tg:5001",
	}))
	w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	w.waitIdle()
	if n := len(reminders(w)); n != 0 {
		t.Fatalf("%d reminders before the sweeper ran", n)
	}

	// The sweeper runs at every start.
	w.shutdown()
	w.start()
	m := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "runs out on") }, "reminder")
	if b := m.Buttons(); len(b) != 1 || b[0].Text != "Renew" || b[0].CallbackData != "buy:day-pass" {
		t.Fatalf("reminder buttons = %+v, want Renew for day-pass", b)
	}
	if !strings.Contains(m.Text, "Day pass") || !strings.Contains(m.Text, "in 30 hours") && !strings.Contains(m.Text, "in 29 hours") {
		t.Fatalf("reminder text = %q", m.Text)
	}
	w.shutdown()
	w.start()
	w.waitUntil("the sweep at start", func() bool { return strings.Contains(w.logs.String(), `msg="reminders checked"`) })
	if n := len(reminders(w)); n != 1 {
		t.Fatalf("%d reminders after a second restart, want 1", n)
	}
}

func reminders(w *world) []telegramtest.SentMessage {
	var out []telegramtest.SentMessage
	for _, m := range w.tg.BotMessages(w.buyer.ID) {
		if strings.Contains(m.Text, "runs out on") {
			out = append(out, m)
		}
	}
	return out
}
