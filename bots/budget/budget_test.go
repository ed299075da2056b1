package budget_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/internal/fakeclock"
)

func newBudget(t *testing.T, opts budget.Options) (*budget.Budget, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.New(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	opts.Now = clock.Now
	return budget.New(opts), clock
}

// admit runs n commands from who, releasing each at once, and counts
// the verdicts.
func admit(b *budget.Budget, who string, n int) (allowed, notified, dropped int) {
	for range n {
		v, _, ticket := b.Admit(who)
		switch v {
		case budget.Allow:
			allowed++
			ticket.Done()
		case budget.DropNotify:
			notified++
		case budget.Drop:
			dropped++
		}
	}
	return
}

func TestBurstThenRefill(t *testing.T) {
	b, clock := newBudget(t, budget.Options{PerMinute: 60, Burst: 10})
	allowed, notified, dropped := admit(b, "tg:1", 25)
	if allowed != 10 || notified != 1 || dropped != 14 {
		t.Fatalf("25 at once: allowed %d, notified %d, dropped %d; want 10, 1, 14", allowed, notified, dropped)
	}
	clock.Advance(3 * time.Second)
	if allowed, _, _ := admit(b, "tg:1", 5); allowed != 3 {
		t.Fatalf("after 3s at 1/s: allowed %d, want 3", allowed)
	}
	// The slow-down notice comes at most once a minute.
	if _, notified, _ := admit(b, "tg:1", 5); notified != 0 {
		t.Fatalf("a second notice within the minute")
	}
	clock.Advance(61 * time.Second)
	if allowed, notified, _ := admit(b, "tg:1", 12); allowed != 10 || notified != 1 {
		t.Fatalf("a minute later: allowed %d notified %d, want 10 and 1 (full bucket, new notice)", allowed, notified)
	}
	if got := b.Stats().DroppedRate; got != 15+2+5+2 {
		t.Fatalf("DroppedRate = %d, want 24", got)
	}
}

func TestSteadyPaceIsNeverDropped(t *testing.T) {
	b, clock := newBudget(t, budget.Options{})
	for i := range 600 {
		if allowed, _, _ := admit(b, "tg:7", 1); allowed != 1 {
			t.Fatalf("command %d at one a second was dropped", i)
		}
		clock.Advance(time.Second)
	}
}

func TestIdentitiesAreIndependent(t *testing.T) {
	b, _ := newBudget(t, budget.Options{Burst: 5})
	admit(b, "tg:flood", 1000)
	if allowed, _, _ := admit(b, "tg:other", 5); allowed != 5 {
		t.Fatalf("another identity got %d of 5 while one flooded", allowed)
	}
}

func TestInFlightCaps(t *testing.T) {
	b, _ := newBudget(t, budget.Options{InFlight: 2, InFlightAll: 3})
	v1, _, t1 := b.Admit("tg:1")
	v2, _, t2 := b.Admit("tg:1")
	v3, r3, _ := b.Admit("tg:1")
	if v1 != budget.Allow || v2 != budget.Allow || v3 == budget.Allow || r3 != budget.ReasonBusy {
		t.Fatalf("third concurrent command of one identity: %v %v, want dropped as busy", v3, r3)
	}
	v4, _, t4 := b.Admit("tg:2")
	v5, r5, _ := b.Admit("tg:3")
	if v4 != budget.Allow || v5 == budget.Allow || r5 != budget.ReasonFull {
		t.Fatalf("command past the overall cap: %v %v, want dropped as full", v5, r5)
	}
	if st := b.Stats(); st.InFlight != 3 {
		t.Fatalf("InFlight = %d, want 3", st.InFlight)
	}
	t1.Done()
	if v, _, tk := b.Admit("tg:3"); v != budget.Allow {
		t.Fatalf("after one finished: %v, want allowed", v)
	} else {
		tk.Done()
	}
	t2.Done()
	t4.Done()
	if st := b.Stats(); st.InFlight != 0 || st.DroppedBusy != 1 || st.DroppedFull != 1 {
		t.Fatalf("stats %+v, want 0 in flight, 1 busy, 1 full", st)
	}
}

// A command dropped because the sender already runs as many as allowed
// spends none of their rate: once those finish, the burst is still there.
func TestBusyDropSpendsNoRate(t *testing.T) {
	b, _ := newBudget(t, budget.Options{PerMinute: 60, Burst: 5, InFlight: 1})
	v, _, held := b.Admit("tg:1")
	if v != budget.Allow {
		t.Fatalf("first command: %v", v)
	}
	for range 20 {
		if v, reason, _ := b.Admit("tg:1"); v == budget.Allow || reason != budget.ReasonBusy {
			t.Fatalf("while one runs: %v %v, want dropped as busy", v, reason)
		}
	}
	held.Done()
	if allowed, _, _ := admit(b, "tg:1", 4); allowed != 4 {
		t.Fatalf("after the busy drops: %d of the 4 left in the burst allowed", allowed)
	}
}

func TestForgetsIdleIdentities(t *testing.T) {
	b, clock := newBudget(t, budget.Options{PerMinute: 60, Burst: 10})
	for i := range 1000 {
		admit(b, "tg:"+strconv.Itoa(i), 1)
	}
	if got := b.Stats().Tracked; got != 1000 {
		t.Fatalf("tracked %d, want 1000", got)
	}
	// Two windows later nobody who stayed quiet is remembered.
	clock.Advance(61 * time.Second)
	admit(b, "tg:x", 1)
	clock.Advance(61 * time.Second)
	admit(b, "tg:x", 1)
	if got := b.Stats().Tracked; got != 1 {
		t.Fatalf("tracked %d after two quiet windows, want 1", got)
	}
}

func TestRotationKeepsCommandsInProgress(t *testing.T) {
	b, clock := newBudget(t, budget.Options{InFlight: 1})
	_, _, ticket := b.Admit("tg:1")
	clock.Advance(61 * time.Second)
	admit(b, "tg:2", 1)
	clock.Advance(61 * time.Second)
	admit(b, "tg:2", 1)
	if v, r, _ := b.Admit("tg:1"); v == budget.Allow || r != budget.ReasonBusy {
		t.Fatalf("a long command's cap was forgotten at rotation: %v %v", v, r)
	}
	ticket.Done()
	if v, _, tk := b.Admit("tg:1"); v != budget.Allow {
		t.Fatalf("after Done: %v", v)
	} else {
		tk.Done()
	}
}

func TestMaxTrackedBoundsMemory(t *testing.T) {
	b, _ := newBudget(t, budget.Options{MaxTracked: 100})
	for i := range 10_000 {
		admit(b, "tg:"+strconv.Itoa(i), 1)
	}
	if got := b.Stats().Tracked; got > 200 {
		t.Fatalf("tracked %d identities, want at most 2*MaxTracked", got)
	}
}

// BenchmarkAdmit is the cost a command pays before any work: one bucket
// check and release, over 10,000 identities.
func BenchmarkAdmit(b *testing.B) {
	bud := budget.New(budget.Options{PerMinute: 6000, Burst: 1000})
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = "tg:" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if v, _, t := bud.Admit(ids[i%len(ids)]); v == budget.Allow {
			t.Done()
		}
		i++
	}
}

// BenchmarkAdmitFlood is a dropped command: what a flood costs the shop.
func BenchmarkAdmitFlood(b *testing.B) {
	bud := budget.New(budget.Options{})
	b.ReportAllocs()
	for b.Loop() {
		if v, _, t := bud.Admit("tg:1"); v == budget.Allow {
			t.Done()
		}
	}
}
