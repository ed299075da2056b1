package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

// TestKillRightAfterAcksLosesNoEvent kills the real binary with SIGKILL
// right after Stripe got its last 200, while the last events are durable
// only in the store's journal (bbolt gets them with a later, shared
// commit). Stripe does not send an acknowledged event again, so the next
// start must find them in the journal: every purchase gets exactly one
// license and every event is stored once and handled. The kill has to
// land in that gap at least once; each attempt uses new events.
func TestKillRightAfterAcksLosesNoEvent(t *testing.T) {
	_, _, bin := dockerBinary(t)
	w := newWorld(t)
	cfg := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	replayed := regexp.MustCompile(`events replayed from the journal.* added=(\d+)`)
	const buys, noops = 30, 200
	var ids, sessions []string
	gap := 0
	for attempt := 0; attempt < 3 && gap == 0; attempt++ {
		var events [][]byte
		for i := range buys {
			id, cs := fmt.Sprintf("evt_jbuy_%d_%d", attempt, i), fmt.Sprintf("cs_test_j_%d_%d", attempt, i)
			events = append(events, stripetest.CheckoutCompleted(stripetest.EventParams{
				ID: id, SessionID: cs, Product: "pro", Identity: fmt.Sprintf("tg:%d", 80000+attempt*1000+i),
			}))
			ids, sessions = append(ids, id), append(sessions, cs)
		}
		// Events that need nothing but recording come last: they reach
		// bbolt lazily, so the kill finds some of them in the journal.
		for i := range noops {
			id := fmt.Sprintf("evt_jnoop_%d_%d", attempt, i)
			events = append(events, stripetest.ChargeRefunded(stripetest.EventParams{ID: id, ChargeID: fmt.Sprintf("ch_j_%d_%d", attempt, i)}))
			ids = append(ids, id)
		}
		p := startBinary(t, bin, cfg, w.env)
		deliverAll(t, p.addr, events, false)
		p.kill(t)

		p = startBinary(t, bin, cfg, w.env)
		if m := replayed.FindStringSubmatch(p.logs.String()); m != nil {
			gap, _ = strconv.Atoi(m[1])
		}
		waitFor(t, "every event done after the restart", func() bool { return pendingEvents(t, p.addr) == 0 })
		p.stop(t)
	}
	if gap == 0 {
		t.Fatal("in 3 attempts the kill never came before the journal's events reached bbolt: nothing was tested")
	}
	t.Logf("%d acknowledged events were only in the journal at the kill", gap)

	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(w.dir, "shop.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, id := range ids {
		ev, err := db.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatalf("acknowledged event lost: %v", err)
		}
		// A refund of a charge shopbot never sold is handled by
		// ignoring it.
		if ev.State != store.EventDone && ev.State != store.EventIgnored {
			t.Errorf("%s is %s (%s), want handled", id, ev.State, ev.LastError)
		}
	}
	labels := map[string]int{}
	for _, l := range w.af.Licenses() {
		labels[l.Label]++
	}
	for _, cs := range sessions {
		if n := labels["shopbot:"+cs]; n != 1 {
			t.Errorf("%s has %d licenses at AuthForge, want 1", cs, n)
		}
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.OrdersByStatus[store.OrderFulfilled] != len(sessions) || st.ActiveLicenses != len(sessions) {
		t.Fatalf("%d fulfilled orders and %d licenses, want %d", st.OrdersByStatus[store.OrderFulfilled], st.ActiveLicenses, len(sessions))
	}
}
