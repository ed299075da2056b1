package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// TestCrowdFloodDoesNotDelayOthers runs the shop with its default limits
// and Telegram's real pace. One account floods 300 gated commands at once
// while five others keep asking, and a buyer pays meanwhile. Every other
// account is answered, every answer and the key go out while the
// flooder's few answers still wait for their chat's own pace, and the
// flood is cut at the budget with one slow-down notice, counted in
// /metrics and /stats.
func TestCrowdFloodDoesNotDelayOthers(t *testing.T) {
	w := newWorld(t)
	w.paced = true
	w.limits = "" // the defaults a seller gets
	w.start()

	flooder := telegramtest.User{ID: 7000, FirstName: "Flood"}
	others := make([]telegramtest.User, 5)
	for i := range others {
		others[i] = telegramtest.User{ID: int64(7100 + i), FirstName: "Calm"}
	}
	// The paying buyer and the admin have opened the bot's chat.
	w.say(w.buyer, "/start")
	w.say(w.admin, "/start")

	for range 300 {
		w.tg.SendText(flooder, flooder.ID, "/premium")
	}
	asked := map[int64]int{}
	for round := range 3 {
		for _, u := range others {
			w.tg.SendText(u, u.ID, "/premium")
			asked[u.ID]++
		}
		if round == 0 {
			event := stripetest.CheckoutCompleted(stripetest.EventParams{
				ID: "evt_crowd_paid", SessionID: "cs_test_crowd", Product: "pro", Identity: "tg:5001",
			})
			w.postEvent(event)
		}
	}

	answered := func(u telegramtest.User) int {
		n := 0
		for _, m := range w.tg.BotMessages(u.ID) {
			if strings.HasPrefix(m.Text, "This command needs Pro") {
				n++
			}
		}
		return n
	}
	w.waitUntil("every calm account answered and the key delivered", func() bool {
		for _, u := range others {
			if answered(u) < asked[u.ID] {
				return false
			}
		}
		return len(w.keyMessages(w.buyer.ID)) == 1
	})

	// Order, not time: when the last calm answer and the key went out,
	// the flooder's own answers were still waiting for their chat's pace
	// (burst 3, then one a second), so nobody waited behind them.
	calls := w.tg.CallsTo("sendMessage")
	calm := map[string]bool{}
	for _, u := range others {
		calm[itoa64(u.ID)] = true
	}
	lastCalm, keyAt := -1, -1
	for i, c := range calls {
		switch chat := c.Params["chat_id"]; {
		case calm[chat]:
			lastCalm = i
		case chat == itoa64(w.buyer.ID) && strings.Contains(c.Params["text"], "<code>"):
			keyAt = i
		}
	}
	if lastCalm < 0 || keyAt < 0 {
		t.Fatalf("calm answers or key missing from the sent messages (calm %d, key %d)", lastCalm, keyAt)
	}
	flooderSent := 0
	for _, c := range calls[:max(lastCalm, keyAt)] {
		if c.Params["chat_id"] == itoa64(flooder.ID) {
			flooderSent++
		}
	}
	if flooderSent >= 10 {
		t.Fatalf("the flooder's answers were all sent (%d) before the last calm answer; pacing did not hold them", flooderSent)
	}

	// The flood is cut at the budget before any work. Polled commands run
	// off the library's workers, so the flood is read as fast as it
	// comes: the first 3 run (the in-flight cap), the ones behind them
	// are dropped as busy or, once the burst of 10 is spent, for rate.
	// What got through is between the cap and the burst plus what
	// refilled (one a second) while the test ran; one slow-down notice.
	dropped := func() float64 {
		code, body := w.getAuthorized("/metrics", testAPIToken)
		if code != http.StatusOK {
			t.Fatalf("/metrics: %d", code)
		}
		n := 0.0
		for _, reason := range []string{"rate", "busy", "full"} {
			n += metricValue(t, body, `shopbot_chat_commands_dropped_total{platform="telegram",reason="`+reason+`"}`)
		}
		return n
	}
	// Every one of the 300 is dropped or answered (the answers go out at
	// the chat's pace, the notice among them).
	w.waitUntil("the flooder's commands all dropped or answered", func() bool {
		return int(dropped())+len(w.tg.BotMessages(flooder.ID))-1 >= 300
	})
	notices, gated := 0, 0
	for _, m := range w.tg.BotMessages(flooder.ID) {
		switch {
		case m.Text == commands.TextSlowDown:
			notices++
		case strings.HasPrefix(m.Text, "This command needs Pro"):
			gated++
		}
	}
	if notices != 1 || gated < 3 || gated > 30 || int(dropped())+gated != 300 {
		t.Fatalf("flooder got %d gated answers and %d slow-down notices, %v dropped; want 3 to 10 plus refill (well under 300), exactly 1, and the rest of the 300 dropped", gated, notices, dropped())
	}
	stats := w.answer(w.admin, "/stats", "Shop figures")
	if !strings.Contains(stats.Text, "Telegram since start: ") || !strings.Contains(stats.Text, " command(s) dropped") {
		t.Fatalf("/stats lacks the crowd line:\n%s", stats.Text)
	}
}

// metricValue reads one sample of a Prometheus text body.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	t.Fatalf("metric %s missing from:\n%s", series, body)
	return 0
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
