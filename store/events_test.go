package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func ids(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func TestPutEventDedupe(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	ev := Event{ID: "evt_1", Type: "checkout.session.completed", APIVersion: "2023-10-16", Created: t0, OrderKey: "cs_1", Payload: []byte(`{"id":"evt_1"}`), Source: "webhook"}
	ins, err := db.PutEvent(ctx, ev)
	if err != nil || !ins {
		t.Fatalf("first PutEvent: %v, %v", ins, err)
	}
	got, err := db.GetEvent(ctx, "evt_1")
	mustNoErr(t, err)
	if got.Seq != 1 || got.ReceivedAt.IsZero() || got.State != EventPending || string(got.Payload) != `{"id":"evt_1"}` ||
		got.Type != ev.Type || got.APIVersion != ev.APIVersion || !got.Created.Equal(t0) || got.OrderKey != "cs_1" || got.Source != "webhook" {
		t.Errorf("stored event %+v", got)
	}

	dup := ev
	dup.Payload = []byte(`{"changed":true}`)
	ins, err = db.PutEvent(ctx, dup)
	if err != nil || ins {
		t.Fatalf("duplicate PutEvent: inserted=%v, %v", ins, err)
	}
	if again, _ := db.GetEvent(ctx, "evt_1"); string(again.Payload) != `{"id":"evt_1"}` || again.Seq != 1 {
		t.Errorf("duplicate changed the event: %+v", again)
	}
	if n, _ := db.CountEvents(ctx); n[EventPending] != 1 {
		t.Errorf("counts after duplicate: %v", n)
	}
}

func TestPutEventValidation(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.PutEvent(ctx, Event{}); err == nil {
		t.Error("PutEvent without ID succeeded")
	}
	if _, err := db.PutEvent(ctx, Event{ID: "e", State: "weird"}); err == nil {
		t.Error("PutEvent with unknown state succeeded")
	}
	// A caller's ReceivedAt (injected clock) is kept.
	_, err := db.PutEvent(ctx, Event{ID: "e", ReceivedAt: t0, State: EventIgnored})
	mustNoErr(t, err)
	if ev, _ := db.GetEvent(ctx, "e"); !ev.ReceivedAt.Equal(t0) || ev.State != EventIgnored {
		t.Errorf("event %+v", ev)
	}
	if _, err := db.GetEvent(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetEvent missing: %v", err)
	}
}

func TestEventQueues(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := 1; i <= 6; i++ {
		_, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%d", i)})
		mustNoErr(t, err)
	}
	// evt_2 done, evt_4 failed, evt_5 retried later (still pending).
	update := func(id string, fn func(*Event)) {
		t.Helper()
		ev, err := db.GetEvent(ctx, id)
		mustNoErr(t, err)
		fn(&ev)
		mustNoErr(t, db.UpdateEvent(ctx, ev))
	}
	update("evt_2", func(e *Event) { e.State = EventDone; e.DoneAt = t0 })
	update("evt_4", func(e *Event) { e.State = EventFailed; e.LastError = "unknown product" })
	update("evt_5", func(e *Event) { e.Attempts = 1; e.NextAttemptAt = time.Now().Add(time.Hour) })

	pending, err := db.PendingEvents(ctx, 0)
	mustNoErr(t, err)
	if got := fmt.Sprint(ids(pending)); got != "[evt_1 evt_3 evt_5 evt_6]" {
		t.Errorf("PendingEvents = %s", got)
	}
	if pending[2].Attempts != 1 || pending[2].NextAttemptAt.IsZero() {
		t.Errorf("retry bookkeeping lost: %+v", pending[2])
	}
	pending, _ = db.PendingEvents(ctx, 2)
	if got := fmt.Sprint(ids(pending)); got != "[evt_1 evt_3]" {
		t.Errorf("PendingEvents(2) = %s", got)
	}

	all, _ := db.ListEvents(ctx, "", 0)
	if got := fmt.Sprint(ids(all)); got != "[evt_6 evt_5 evt_4 evt_3 evt_2 evt_1]" {
		t.Errorf("ListEvents(all) = %s", got)
	}
	all, _ = db.ListEvents(ctx, "", 2)
	if got := fmt.Sprint(ids(all)); got != "[evt_6 evt_5]" {
		t.Errorf("ListEvents(all, 2) = %s", got)
	}
	p, _ := db.ListEvents(ctx, EventPending, 0)
	if got := fmt.Sprint(ids(p)); got != "[evt_6 evt_5 evt_3 evt_1]" {
		t.Errorf("ListEvents(pending) = %s", got)
	}
	f, _ := db.ListEvents(ctx, EventFailed, 10)
	if len(f) != 1 || f[0].ID != "evt_4" || f[0].LastError != "unknown product" {
		t.Errorf("ListEvents(failed) = %+v", f)
	}
	// The last state (alphabetically) has no keys after it: exercises the
	// cursor's end-of-bucket path.
	if p, _ := db.ListEvents(ctx, EventPending, 1); len(p) != 1 || p[0].ID != "evt_6" {
		t.Errorf("ListEvents(pending, 1) = %v", ids(p))
	}
	if ig, _ := db.ListEvents(ctx, EventIgnored, 0); len(ig) != 0 {
		t.Errorf("ListEvents(ignored) = %v", ids(ig))
	}

	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	want := map[EventState]int{EventPending: 4, EventDone: 1, EventFailed: 1, EventIgnored: 0}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("CountEvents = %v, want %v", counts, want)
	}
}

func TestUpdateEventKeepsIdentity(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	_, err := db.PutEvent(ctx, Event{ID: "a"})
	mustNoErr(t, err)
	_, err = db.PutEvent(ctx, Event{ID: "b", Payload: []byte("original")})
	mustNoErr(t, err)
	orig, _ := db.GetEvent(ctx, "b")

	mustNoErr(t, db.UpdateEvent(ctx, Event{ID: "b", Type: "x", Seq: 99, Payload: []byte("rewritten"), ReceivedAt: t0, State: EventDone, Attempts: 3}))
	got, _ := db.GetEvent(ctx, "b")
	if got.Seq != orig.Seq || string(got.Payload) != "original" || !got.ReceivedAt.Equal(orig.ReceivedAt) {
		t.Errorf("UpdateEvent rewrote Seq/Payload/ReceivedAt: %+v", got)
	}
	if got.State != EventDone || got.Attempts != 3 || got.Type != "x" {
		t.Errorf("UpdateEvent lost changes: %+v", got)
	}
	// Empty state keeps the stored one.
	mustNoErr(t, db.UpdateEvent(ctx, Event{ID: "b", Attempts: 4}))
	if got, _ := db.GetEvent(ctx, "b"); got.State != EventDone || got.Attempts != 4 {
		t.Errorf("after empty-state update: %+v", got)
	}
	if err := db.UpdateEvent(ctx, Event{ID: "zzz", State: EventDone}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateEvent missing: %v", err)
	}
	if err := db.UpdateEvent(ctx, Event{ID: "b", State: "bogus"}); err == nil {
		t.Error("UpdateEvent with unknown state succeeded")
	}
	// Back to pending (replay) re-queues it in its original place.
	mustNoErr(t, db.UpdateEvent(ctx, Event{ID: "b", State: EventPending}))
	p, _ := db.PendingEvents(ctx, 0)
	if fmt.Sprint(ids(p)) != "[a b]" {
		t.Errorf("pending after replay: %v", ids(p))
	}
}

func TestPutEventConcurrent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	const (
		writers = 32
		perG    = 40
		unique  = 400 // each id is written by several goroutines
	)
	var mu sync.Mutex
	inserted := map[string]int{}
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range perG {
				id := fmt.Sprintf("evt_%d", (g*perG+i*7)%unique)
				ins, err := db.PutEvent(ctx, Event{ID: id, Payload: []byte(id)})
				if err != nil {
					t.Error(err)
					return
				}
				if ins {
					mu.Lock()
					inserted[id]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for id, n := range inserted {
		if n != 1 {
			t.Errorf("%s inserted %d times", id, n)
		}
	}
	all, err := db.ListEvents(ctx, "", 0)
	mustNoErr(t, err)
	if len(all) != len(inserted) {
		t.Fatalf("%d events stored, %d reported inserted", len(all), len(inserted))
	}
	// Seqs are exactly 1..n: no gaps, no repeats.
	for i, ev := range all {
		if want := uint64(len(all) - i); ev.Seq != want {
			t.Fatalf("event %d has seq %d, want %d", i, ev.Seq, want)
		}
		if string(ev.Payload) != ev.ID {
			t.Fatalf("event %s has payload %q", ev.ID, ev.Payload)
		}
	}
	p, _ := db.PendingEvents(ctx, 0)
	for i := 1; i < len(p); i++ {
		if p[i].Seq <= p[i-1].Seq {
			t.Fatal("PendingEvents not in seq order")
		}
	}
}

// One failing write in a group commit must not fail the others: it gets
// its error, the rest are committed without it, and a later write still
// sees the earlier ones.
func TestCommitBatchIsolatesFailures(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	now := db.now()
	inserted := map[*writeReq]bool{}
	mk := func(id string) *writeReq {
		r := &writeReq{done: make(chan struct{})}
		r.fn = func(tx *bolt.Tx) error {
			var err error
			inserted[r], err = putEventTx(tx, Event{ID: id, State: EventPending}, now)
			return err
		}
		return r
	}
	bad := mk(strings.Repeat("x", 40000)) // over bbolt's key size limit
	first, second, dup := mk("ok_1"), mk("ok_2"), mk("ok_1")
	db.commitBatch([]*writeReq{first, bad, second, dup})
	if first.err != nil || second.err != nil || !inserted[first] || !inserted[second] {
		t.Errorf("good events failed with their neighbour: %v %v %v", first.err, second.err, inserted)
	}
	if bad.err == nil {
		t.Error("oversized event stored without error")
	}
	if dup.err != nil || inserted[dup] {
		t.Errorf("a second ok_1 in the same batch: err=%v inserted=%v; want a duplicate", dup.err, inserted[dup])
	}
	p, _ := db.PendingEvents(ctx, 0)
	if fmt.Sprint(ids(p)) != "[ok_1 ok_2]" {
		t.Errorf("stored %v", ids(p))
	}
}

func TestPutEventAfterClose(t *testing.T) {
	db, err := Open(context.Background(), Options{Path: t.TempDir() + "/x.db", NoSync: true})
	mustNoErr(t, err)
	mustNoErr(t, db.Close())
	mustNoErr(t, db.Close()) // idempotent
	done := make(chan error, 1)
	go func() {
		_, err := db.PutEvent(context.Background(), Event{ID: "e"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("PutEvent on a closed store succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("PutEvent on a closed store hangs")
	}
	// A second write after Close fails too, without hanging.
	if _, err := db.PutEvent(context.Background(), Event{ID: "f"}); err == nil {
		t.Error("second PutEvent on a closed store succeeded")
	}
}
