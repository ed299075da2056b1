package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopbot/shopbot/notify"
)

// These tests drive the scheduler with exact times: nothing sleeps.

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// errTooMany stands in for a platform's 429 with its retry_after.
type errTooMany struct{ wait time.Duration }

func (e errTooMany) Error() string { return fmt.Sprintf("429: retry after %s", e.wait) }

func testOptions() Options {
	o := Options{
		Rate:  30,
		Burst: 5,
		ChatLimit: func(chat int64) (rate.Limit, int) {
			if chat < 0 {
				return rate.Every(3 * time.Second), 2
			}
			return 1, 3
		},
		ChatCap:  4,
		TotalCap: 100,
		RetryAfter: func(err error) (time.Duration, bool) {
			var tm errTooMany
			if errors.As(err, &tm) {
				return tm.wait, true
			}
			return 0, false
		},
	}
	o.defaults()
	return o
}

// rec records what happened to each message by its label.
type rec struct{ results map[string]error }

func (r *rec) item(chat int64, prio notify.Priority, label string) *item {
	return &item{chat: chat, prio: prio, send: func(context.Context) error { return nil }, done: func(err error) {
		if r.results == nil {
			r.results = map[string]error{}
		}
		r.results[label] = err
	}, ctx: labelCtx(label)}
}

type labelKey struct{}

func labelCtx(l string) context.Context {
	return context.WithValue(context.Background(), labelKey{}, l)
}
func label(it *item) string { return it.ctx.Value(labelKey{}).(string) }

// sendAll runs the scheduler like the outbox loop with one sender and
// instant API calls, from now until nothing is queued or until end, and
// returns the labels in the order sent with their times.
func sendAll(t *testing.T, s *scheduler, now, end time.Time, answer func(*item) error) (order []string, at []time.Time) {
	t.Helper()
	for i := 0; i < 100_000; i++ {
		it, wait := s.next(now)
		if it == nil {
			if wait < 0 {
				return
			}
			now = now.Add(wait)
			if now.After(end) {
				return
			}
			continue
		}
		var err error
		if answer != nil {
			err = answer(it)
		}
		if err == nil {
			order = append(order, label(it))
			at = append(at, now)
		}
		s.done(it, now, err)
	}
	t.Fatal("scheduler did not settle")
	return
}

func TestFloodingChatDoesNotDelayOthers(t *testing.T) {
	o := testOptions()
	o.Burst = 30
	s := newScheduler(o)
	r := &rec{}
	for i := range 4 {
		s.enqueue(r.item(1, notify.Normal, fmt.Sprintf("flood%d", i)), t0)
	}
	for c := int64(2); c <= 6; c++ {
		s.enqueue(r.item(c, notify.Normal, fmt.Sprintf("chat%d", c)), t0)
	}
	order, at := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	// Chat 1 may send its burst of 3 at once; its fourth waits a second,
	// and meanwhile every other chat goes.
	pos := map[string]int{}
	for i, l := range order {
		pos[l] = i
	}
	for c := 2; c <= 6; c++ {
		l := fmt.Sprintf("chat%d", c)
		if pos[l] > pos["flood3"] {
			t.Errorf("%s went after the flooding chat's fourth message: %v", l, order)
		}
		if !at[pos[l]].Equal(t0) {
			t.Errorf("%s waited %s behind a flooding chat", l, at[pos[l]].Sub(t0))
		}
	}
	if got := at[pos["flood3"]].Sub(t0); got != time.Second {
		t.Errorf("the flooding chat's fourth message went after %s, want 1s (burst 3 at 1/s)", got)
	}
}

func TestPerChatBurstAndRefill(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	for i := range 4 {
		s.enqueue(r.item(1, notify.Urgent, fmt.Sprint(i)), t0)
	}
	_, at := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	want := []time.Duration{0, 0, 0, time.Second}
	for i, w := range want {
		if got := at[i].Sub(t0); got != w {
			t.Fatalf("message %d at %s, want %s (burst 3, then 1/s)", i, got, w)
		}
	}
	// Groups are slower: burst 2, then one per 3 s.
	s = newScheduler(testOptions())
	for i := range 3 {
		s.enqueue(r.item(-100, notify.Normal, fmt.Sprint(i)), t0)
	}
	_, at = sendAll(t, s, t0, t0.Add(time.Minute), nil)
	if got := at[2].Sub(t0); got != 3*time.Second {
		t.Fatalf("third group message at %s, want 3s", got)
	}
}

func TestGlobalRateWithBurst(t *testing.T) {
	s := newScheduler(testOptions()) // 30/s, burst 5
	r := &rec{}
	for c := int64(1); c <= 35; c++ {
		s.enqueue(r.item(c, notify.Normal, fmt.Sprint(c)), t0)
	}
	_, at := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	if len(at) != 35 {
		t.Fatalf("sent %d of 35", len(at))
	}
	inFirstSecond := 0
	for _, a := range at {
		if a.Before(t0.Add(time.Second)) {
			inFirstSecond++
		}
	}
	// Burst 5 plus 30/s: at most 35 in the first second, 34 if the last
	// token lands exactly on the second.
	if inFirstSecond < 34 || inFirstSecond > 35 {
		t.Fatalf("%d sent in the first second, want 34-35", inFirstSecond)
	}
	if !at[4].Equal(t0) || at[5].Equal(t0) {
		t.Fatalf("burst: 5th at %s, 6th at %s; want the burst of 5 at once", at[4].Sub(t0), at[5].Sub(t0))
	}
}

func TestUrgentBeforeNormalBeforeBulk(t *testing.T) {
	o := testOptions()
	o.Burst = 1
	o.Rate = 1
	s := newScheduler(o)
	r := &rec{}
	// Use the one global token so everything below waits its turn.
	s.enqueue(r.item(99, notify.Normal, "first"), t0)
	it, _ := s.next(t0)
	s.done(it, t0, nil)
	s.enqueue(r.item(1, notify.Bulk, "bulk"), t0)
	s.enqueue(r.item(2, notify.Normal, "reply"), t0)
	s.enqueue(r.item(3, notify.Urgent, "key"), t0)
	s.enqueue(r.item(4, notify.Normal, "reply2"), t0)
	s.enqueue(r.item(5, notify.Urgent, "alert"), t0)
	order, _ := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	want := []string{"key", "alert", "reply", "reply2", "bulk"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	// Within one chat too.
	s = newScheduler(o)
	s.enqueue(r.item(9, notify.Normal, "reply"), t0)
	s.enqueue(r.item(9, notify.Bulk, "bulk"), t0)
	s.enqueue(r.item(9, notify.Urgent, "key"), t0)
	order, _ = sendAll(t, s, t0, t0.Add(time.Minute), nil)
	if fmt.Sprint(order) != "[key reply bulk]" {
		t.Fatalf("one chat's order %v, want [key reply bulk]", order)
	}
}

func TestChatCapDropsOwnOldestOrdinary(t *testing.T) {
	s := newScheduler(testOptions()) // ChatCap 4
	r := &rec{}
	s.enqueue(r.item(1, notify.Urgent, "key"), t0)
	for i := range 10 {
		s.enqueue(r.item(1, notify.Normal, fmt.Sprintf("r%d", i)), t0)
	}
	s.enqueue(r.item(2, notify.Normal, "other"), t0)
	if s.stats.Dropped != 6 {
		t.Fatalf("dropped %d, want 6", s.stats.Dropped)
	}
	for i := range 6 {
		if err := r.results[fmt.Sprintf("r%d", i)]; !errors.Is(err, ErrDropped) {
			t.Fatalf("r%d: %v, want ErrDropped (oldest replies go first)", i, err)
		}
	}
	order, _ := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	slices.Sort(order)
	if fmt.Sprint(order) != "[key other r6 r7 r8 r9]" {
		t.Fatalf("sent %v; want the key, the other chat and the newest four replies", order)
	}
	if r.results["other"] != nil || r.results["key"] != nil {
		t.Fatal("another chat's message or the key was dropped")
	}
}

func TestTotalCapNeverTakesAnotherChatsMessages(t *testing.T) {
	o := testOptions()
	o.TotalCap = 3
	s := newScheduler(o)
	r := &rec{}
	s.enqueue(r.item(1, notify.Normal, "a1"), t0)
	s.enqueue(r.item(2, notify.Normal, "b1"), t0)
	s.enqueue(r.item(3, notify.Normal, "c1"), t0)
	// Full: chat 4 has nothing to give up, so its own message is refused.
	if err := s.enqueue(r.item(4, notify.Normal, "d1"), t0); !errors.Is(err, ErrDropped) {
		t.Fatalf("enqueue past the total cap: %v, want ErrDropped", err)
	}
	// Chat 1 makes room by dropping its own oldest.
	if err := s.enqueue(r.item(1, notify.Normal, "a2"), t0); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(r.results["a1"], ErrDropped) || r.results["b1"] != nil || r.results["c1"] != nil {
		t.Fatalf("results %v: want only a1 dropped", r.results)
	}
	// Urgent messages are never refused.
	if err := s.enqueue(r.item(4, notify.Urgent, "key"), t0); err != nil {
		t.Fatalf("urgent refused: %v", err)
	}
}

func TestTooManyRequestsHoldsTheChat(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	s.enqueue(r.item(1, notify.Urgent, "key"), t0)
	s.enqueue(r.item(2, notify.Normal, "other"), t0)
	refused := false
	order, at := sendAll(t, s, t0, t0.Add(time.Minute), func(it *item) error {
		if label(it) == "key" && !refused {
			refused = true
			return errTooMany{5 * time.Second}
		}
		return nil
	})
	if fmt.Sprint(order) != "[other key]" {
		t.Fatalf("order %v, want the other chat first, then the retried key", order)
	}
	if got := at[1].Sub(t0); got != 5*time.Second {
		t.Fatalf("key retried after %s, want the 5s retry_after", got)
	}
	if r.results["key"] != nil || s.stats.RateLimited != 1 || s.stats.GlobalHolds != 0 {
		t.Fatalf("key result %v, 429s %d, global holds %d", r.results["key"], s.stats.RateLimited, s.stats.GlobalHolds)
	}
}

func TestTooManyRequestsGivesUp(t *testing.T) {
	o := testOptions()
	o.MaxAttempts = 2
	s := newScheduler(o)
	r := &rec{}
	s.enqueue(r.item(1, notify.Urgent, "key"), t0)
	s.enqueue(r.item(2, notify.Urgent, "long"), t0)
	sendAll(t, s, t0, t0.Add(time.Hour), func(it *item) error {
		if label(it) == "long" {
			return errTooMany{2 * time.Hour}
		}
		return errTooMany{time.Second}
	})
	var tm errTooMany
	if !errors.As(r.results["key"], &tm) {
		t.Fatalf("key after 2 refusals: %v, want the 429", r.results["key"])
	}
	if !errors.As(r.results["long"], &tm) || tm.wait != 2*time.Hour {
		t.Fatalf("a retry_after past MaxRetryAfter: %v, want failed at once", r.results["long"])
	}
}

func TestManyChatsRefusedHoldsEverything(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	for c := int64(1); c <= 4; c++ {
		s.enqueue(r.item(c, notify.Normal, fmt.Sprint(c)), t0)
	}
	calls := 0
	order, at := sendAll(t, s, t0, t0.Add(time.Minute), func(it *item) error {
		calls++
		if calls <= 3 {
			return errTooMany{2 * time.Second}
		}
		return nil
	})
	if s.stats.GlobalHolds != 1 {
		t.Fatalf("global holds %d, want 1 after three chats were refused within a second", s.stats.GlobalHolds)
	}
	// Chat 4 was never refused, yet waits out the bot-wide hold.
	for i, l := range order {
		if l == "4" && at[i].Before(t0.Add(2*time.Second)) {
			t.Fatalf("chat 4 sent at %s during the bot-wide hold", at[i].Sub(t0))
		}
	}
}

func TestCancelledWaiterIsSkippedWithoutSpendingBudget(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	ctx, cancel := context.WithCancel(labelCtx("gone"))
	it := r.item(1, notify.Urgent, "gone")
	it.ctx = ctx
	s.enqueue(it, t0)
	cancel()
	for i := range 3 {
		s.enqueue(r.item(1, notify.Urgent, fmt.Sprint(i)), t0)
	}
	_, at := sendAll(t, s, t0, t0.Add(time.Minute), nil)
	if !errors.Is(r.results["gone"], context.Canceled) {
		t.Fatalf("cancelled message: %v", r.results["gone"])
	}
	for i, a := range at {
		if !a.Equal(t0) {
			t.Fatalf("message %d waited %s: the cancelled one spent the chat's burst", i, a.Sub(t0))
		}
	}
}

func TestIdleChatsAreForgotten(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	for c := int64(1); c <= 1000; c++ {
		s.enqueue(r.item(c, notify.Normal, fmt.Sprint(c)), t0)
	}
	sendAll(t, s, t0, t0.Add(time.Minute), nil)
	s.next(t0.Add(time.Hour))
	if len(s.chats) != 0 || s.idle.Len() != 0 {
		t.Fatalf("%d chats still tracked an hour later", len(s.chats))
	}
}

func TestHoldWithoutQueue(t *testing.T) {
	s := newScheduler(testOptions())
	r := &rec{}
	s.holdID(7, t0.Add(10*time.Second), t0)
	s.enqueue(r.item(7, notify.Urgent, "x"), t0.Add(time.Second))
	_, at := sendAll(t, s, t0.Add(time.Second), t0.Add(time.Minute), nil)
	if got := at[0].Sub(t0); got != 10*time.Second {
		t.Fatalf("sent at %s, want after the 10s hold", got)
	}
}

// BenchmarkSchedule is one message through the scheduler: enqueue, pick
// among 1,000 chats with queued messages, done.
func BenchmarkSchedule(b *testing.B) {
	o := testOptions()
	o.Rate, o.ChatLimit = rate.Inf, func(int64) (rate.Limit, int) { return rate.Inf, 1 }
	o.ChatCap, o.TotalCap = 1<<30, 1<<30
	s := newScheduler(o)
	noop := func(context.Context) error { return nil }
	done := func(error) {}
	for c := range int64(1000) {
		s.enqueue(&item{chat: c, prio: notify.Normal, send: noop, done: done}, t0)
	}
	b.ReportAllocs()
	i := int64(0)
	for b.Loop() {
		s.enqueue(&item{chat: i % 1000, prio: notify.Normal, send: noop, done: done}, t0)
		it, _ := s.next(t0)
		s.done(it, t0, nil)
		i++
	}
}
