package main

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// TestCrowdLoad is a load test, not a unit test: it runs only with
// SHOPBOT_CROWD=1 and prints figures. The real run wiring, default
// [limits] and Telegram's real pace, against the Telegram stand-in on
// loopback (which answers at once):
//
//  1. 30 activated buyers send a gated command once a second each for
//     20 s: answer latency p50/p99.
//
//  2. One account floods 1,000 commands at once while 20 buyers keep
//     their pace for 15 s: the buyers' latency, how many answers the
//     flooder got, goroutines and heap before and after.
//
//  3. During that flood, 20 paid orders: paid (webhook acknowledged) to
//     key sent, p50/p99.
//
//  4. The most messages sent to one chat, and in all, within any second.
//
//     SHOPBOT_CROWD=1 go test -run TestCrowdLoad -v ./cmd/shopbot/
func TestCrowdLoad(t *testing.T) {
	if os.Getenv("SHOPBOT_CROWD") == "" {
		t.Skip("load test: set SHOPBOT_CROWD=1 to run it")
	}
	w := newWorld(t)
	w.paced = true
	w.limits = ""
	w.start()
	buyers := activateBuyers(t, w, 30)

	// 1. A polite crowd.
	lat, missing := politeCrowd(t, w, buyers, 20*time.Second)
	t.Logf("1. 30 buyers at 1 gated command/s for 20 s: %d answers, p50 %v, p99 %v, max %v, unanswered %d",
		len(lat), quantile(lat, 50), quantile(lat, 99), quantile(lat, 100), missing)

	// 2 and 3. A flood, with buyers and payments going on.
	// The payers of step 3 opened the bot's chat earlier (a bot can only
	// message users who did), as did the flooder.
	payers := make([]telegramtest.User, 20)
	for i := range payers {
		payers[i] = telegramtest.User{ID: int64(30000 + i), FirstName: "Payer"}
		w.say(payers[i], "/start")
	}
	flooder := telegramtest.User{ID: 9999, FirstName: "Flood"}
	w.say(flooder, "/start")
	time.Sleep(time.Second)
	runtime.GC()
	g0, h0 := runtime.NumGoroutine(), heapMiB()
	floodStart := time.Now()
	for range 1000 {
		w.tg.SendText(flooder, flooder.ID, "/premium")
	}
	var paid []time.Duration
	var wg sync.WaitGroup
	wg.Go(func() { paid = payDuring(t, w, payers, 15*time.Second) })
	lat, missing = politeCrowd(t, w, buyers[:20], 15*time.Second)
	wg.Wait()
	got := 0
	for _, m := range w.tg.BotMessages(flooder.ID) {
		if m.Date >= floodStart.Unix()-1 {
			got++
		}
	}
	runtime.GC()
	g1, h1 := runtime.NumGoroutine(), heapMiB()
	t.Logf("2. flood of 1,000 from one account while 20 buyers keep 1/s for 15 s: buyers %d answers, p50 %v, p99 %v, max %v, unanswered %d; flooder got %d messages; goroutines %d → %d, heap %.1f → %.1f MiB",
		len(lat), quantile(lat, 50), quantile(lat, 99), quantile(lat, 100), missing, got, g0, g1, h0, h1)
	t.Logf("3. 20 paid orders during the flood: paid → key p50 %v, p99 %v, max %v", quantile(paid, 50), quantile(paid, 99), quantile(paid, 100))

	// 4. Over the whole run.
	perChat, all := maxPerSecond(w.tg.CallsTo("sendMessage"))
	t.Logf("4. most messages within any second: %d to one chat, %d in all", perChat, all)
}

// activateBuyers pays for and activates a license for n new buyers.
func activateBuyers(t *testing.T, w *world, n int) []telegramtest.User {
	t.Helper()
	users := make([]telegramtest.User, n)
	for i := range users {
		users[i] = telegramtest.User{ID: int64(20000 + i), FirstName: "Buyer"}
		w.say(users[i], "/start")
		ev := stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_crowd_%d", i), SessionID: fmt.Sprintf("cs_crowd_%d", i), Product: "pro",
			Identity: "tg:" + strconv.FormatInt(users[i].ID, 10),
		})
		w.postEvent(ev)
	}
	for _, u := range users {
		m := w.wait(u.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key")
		if r := w.say(u, "/activate "+m.Code()[0]); !strings.Contains(r.Text, "Activated") {
			t.Fatalf("activate: %q", r.Text)
		}
		// Spread the activations so no buyer starts the test short of
		// budget.
		time.Sleep(50 * time.Millisecond)
	}
	return users
}

// politeCrowd has each user send the gated command once a second, phases
// spread evenly over the second, for d; it returns each answer's latency
// (command queued at the stand-in → answer received by it) and how many
// commands got no answer within 5 s after the end.
func politeCrowd(t *testing.T, w *world, users []telegramtest.User, d time.Duration) ([]time.Duration, int) {
	t.Helper()
	sent := make([][]time.Time, len(users))
	start := time.Now()
	var wg sync.WaitGroup
	for i, u := range users {
		wg.Go(func() {
			first := start.Add(time.Duration(i) * time.Second / time.Duration(len(users)))
			for k := 0; ; k++ {
				at := first.Add(time.Duration(k) * time.Second)
				if at.Sub(start) >= d {
					return
				}
				time.Sleep(time.Until(at))
				sent[i] = append(sent[i], time.Now())
				w.tg.SendText(u, u.ID, "/premium")
			}
		})
	}
	wg.Wait()
	answersTo := func(u telegramtest.User) []time.Time {
		var out []time.Time
		chat := strconv.FormatInt(u.ID, 10)
		for _, c := range w.tg.CallsTo("sendMessage") {
			if c.Params["chat_id"] == chat && c.Status == http.StatusOK && strings.Contains(c.Params["text"], "Premium content") && !c.At.Before(start) {
				out = append(out, c.At)
			}
		}
		return out
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for i, u := range users {
			if len(answersTo(u)) < len(sent[i]) {
				done = false
				break
			}
		}
		if done {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var lat []time.Duration
	missing := 0
	for i, u := range users {
		ans := answersTo(u)
		for k, s := range sent[i] {
			if k >= len(ans) {
				missing++
				continue
			}
			lat = append(lat, ans[k].Sub(s))
		}
	}
	return lat, missing
}

// payDuring has n new buyers pay, spread over d, and returns for each
// the time from the webhook's 200 to the key message at the stand-in.
func payDuring(t *testing.T, w *world, payers []telegramtest.User, d time.Duration) []time.Duration {
	n := len(payers)
	acked := make([]time.Time, n)
	chats := make([]string, n)
	mine := map[string]bool{}
	for i, p := range payers {
		chats[i] = strconv.FormatInt(p.ID, 10)
		mine[chats[i]] = true
	}
	for i := range n {
		time.Sleep(d / time.Duration(n))
		ev := stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_flood_paid_%d", i), SessionID: fmt.Sprintf("cs_flood_paid_%d", i), Product: "pro", Identity: "tg:" + chats[i],
		})
		// Not postEvent: this runs beside the test's goroutine.
		if code := w.post(ev, stripetest.SignEvent(testWebhookSecret, ev, time.Now())); code != http.StatusOK {
			t.Errorf("webhook %d", code)
		}
		acked[i] = time.Now()
	}
	keys := map[string]time.Time{}
	deadline := time.Now().Add(10 * time.Second)
	for len(keys) < n && time.Now().Before(deadline) {
		for _, c := range w.tg.CallsTo("sendMessage") {
			if mine[c.Params["chat_id"]] && c.Status == http.StatusOK && strings.Contains(c.Params["text"], "<code>") {
				keys[c.Params["chat_id"]] = c.At
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out []time.Duration
	for i, chat := range chats {
		at, ok := keys[chat]
		if !ok {
			t.Errorf("buyer %s got no key", chat)
			continue
		}
		out = append(out, at.Sub(acked[i]))
	}
	return out
}

// maxPerSecond is the most messages within any one-second window, to one
// chat and in all.
func maxPerSecond(calls []telegramtest.Call) (perChat, all int) {
	window := func(times []time.Time) int {
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		best, lo := 0, 0
		for hi := range times {
			for times[hi].Sub(times[lo]) >= time.Second {
				lo++
			}
			best = max(best, hi-lo+1)
		}
		return best
	}
	byChat := map[string][]time.Time{}
	var every []time.Time
	for _, c := range calls {
		if c.Status != http.StatusOK {
			continue
		}
		byChat[c.Params["chat_id"]] = append(byChat[c.Params["chat_id"]], c.At)
		every = append(every, c.At)
	}
	for _, ts := range byChat {
		perChat = max(perChat, window(ts))
	}
	return perChat, window(every)
}

func quantile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return s[i].Round(100 * time.Microsecond)
}

func heapMiB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
