package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/internal/testlog"
)

// crash stops db the way kill -9 would after its last acknowledgement:
// journaled events that were held out of bbolt stay out, nothing is
// applied or restarted on the way down.
func crash(t *testing.T, db *DB) {
	t.Helper()
	db.holdJournal.Store(true)
	if !db.stopWriters() {
		t.Fatal("crash of a closed store")
	}
	mustNoErr(t, db.in.file.f.Close())
	mustNoErr(t, db.bolt.Close())
}

// inBolt reads an event's record straight from bbolt, bypassing the
// journal and settle.
func inBolt(t *testing.T, db *DB, id string) bool {
	t.Helper()
	var found bool
	mustNoErr(t, db.bolt.View(func(tx *bolt.Tx) error {
		found = tx.Bucket([]byte(bucketEvents)).Get([]byte(id)) != nil
		return nil
	}))
	return found
}

func openLogged(t *testing.T, path string) (*DB, *testlog.Buffer) {
	t.Helper()
	var buf testlog.Buffer
	db, err := Open(context.Background(), Options{Path: path, NoSync: true, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, &buf
}

func TestJournalReplaysAcknowledgedEventsAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	db, _ := openLogged(t, path)
	db.holdJournal.Store(true)
	received := t0.Add(time.Minute)
	want := []Event{
		{ID: "evt_1", Type: "checkout.session.completed", OrderKey: "cs_1", Urgent: true, Payload: []byte(`{"id":"evt_1"}`), ReceivedAt: received},
		{ID: "evt_2", Type: "charge.refunded", OrderKey: "pi_2", Payload: bytes.Repeat([]byte("x"), 5000), ReceivedAt: received},
		{ID: "evt_3", Type: "ping", State: EventIgnored, LastError: "event type not used by shopbot", ReceivedAt: received},
	}
	for _, ev := range want {
		ins, err := db.PutEvent(context.Background(), ev)
		if err != nil || !ins {
			t.Fatalf("PutEvent %s: inserted %v, %v", ev.ID, ins, err)
		}
		if inBolt(t, db, ev.ID) {
			t.Fatalf("%s is in bbolt while the journal is held: the test does not stand for a crash", ev.ID)
		}
	}
	crash(t, db)

	db, logs := openLogged(t, path)
	for i, w := range want {
		got, err := db.GetEvent(context.Background(), w.ID)
		if err != nil {
			t.Fatalf("after the crash: %v", err)
		}
		wantState := w.State
		if wantState == "" {
			wantState = EventPending
		}
		if got.Seq != uint64(i+1) || got.State != wantState || got.Type != w.Type || got.OrderKey != w.OrderKey ||
			got.Urgent != w.Urgent || !bytes.Equal(got.Payload, w.Payload) || !got.ReceivedAt.Equal(received) || got.LastError != w.LastError {
			t.Errorf("replayed %s = %+v, want %+v with seq %d", w.ID, got, w, i+1)
		}
	}
	due, _, err := db.DueEvents(context.Background(), received, 10, nil)
	mustNoErr(t, err)
	if len(due) != 2 || due[0].ID != "evt_1" {
		t.Errorf("due after replay: %d events, first %+v; want evt_1 (urgent) then evt_2", len(due), due)
	}
	if !strings.Contains(logs.String(), "events replayed from the journal") || !strings.Contains(logs.String(), "added=3") {
		t.Errorf("replay not logged: %q", logs.String())
	}
	mustNoErr(t, db.Close())

	// A clean close leaves nothing to replay.
	db, logs = openLogged(t, path)
	if strings.Contains(logs.String(), "replayed") {
		t.Errorf("a clean close replayed again: %q", logs.String())
	}
	counts, err := db.CountEvents(context.Background())
	mustNoErr(t, err)
	if counts[EventPending] != 2 || counts[EventIgnored] != 1 {
		t.Errorf("counts = %v, want 2 pending and 1 ignored", counts)
	}
}

func TestJournalReplayStopsAtATornOrGarbledRecord(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
		want   int
	}{
		{"torn third record", func(t *testing.T, path string) {
			mustNoErr(t, os.Truncate(path, journalHeader+2*journalPage+10))
		}, 2},
		{"flipped byte in the second record", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			mustNoErr(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte{0xff}, journalHeader+journalPage+20)
			mustNoErr(t, err)
		}, 1},
		{"torn header", func(t *testing.T, path string) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			mustNoErr(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte("garbage"), 0)
			mustNoErr(t, err)
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shop.db")
			db := openAt(t, path, nil)
			db.holdJournal.Store(true)
			for i := range 3 {
				// One at a time, so each record is a write (and a page)
				// of its own.
				if _, err := db.PutEvent(context.Background(), Event{ID: fmt.Sprintf("evt_%d", i), Type: "charge.refunded", Payload: []byte(`{}`)}); err != nil {
					t.Fatal(err)
				}
			}
			crash(t, db)
			tc.damage(t, path+".journal")
			db = openAt(t, path, nil)
			counts, err := db.CountEvents(context.Background())
			mustNoErr(t, err)
			if counts[EventPending] != tc.want {
				t.Fatalf("replayed %d events, want %d", counts[EventPending], tc.want)
			}
			for i := range tc.want {
				if _, err := db.GetEvent(context.Background(), fmt.Sprintf("evt_%d", i)); err != nil {
					t.Errorf("evt_%d: %v", i, err)
				}
			}
		})
	}
}

// After the journal starts over, records of the earlier epoch that lie
// right where the new epoch's records end must not replay, even intact.
func TestJournalRecordsOfAnEarlierEpochDoNotReplay(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db.journal")
	j, evs, err := openJournal(path, false)
	mustNoErr(t, err)
	if len(evs) != 0 {
		t.Fatalf("new journal holds %d events", len(evs))
	}
	mustNoErr(t, j.restart())
	ev := func(id string) Event {
		return Event{ID: id, Type: "charge.refunded", State: EventPending, Payload: []byte(`{}`)}
	}
	var old []byte
	for _, id := range []string{"evt_a", "evt_b", "evt_c"} {
		old, err = j.frame(old, ev(id))
		mustNoErr(t, err)
	}
	_, err = j.f.WriteAt(old, journalHeader)
	mustNoErr(t, err)

	mustNoErr(t, j.restart())
	// Same length as evt_a's record, so evt_b's old record follows it
	// exactly.
	fresh, err := j.frame(nil, ev("evt_z"))
	mustNoErr(t, err)
	_, err = j.f.WriteAt(fresh, journalHeader)
	mustNoErr(t, err)
	mustNoErr(t, j.close())

	j, evs, err = openJournal(path, false)
	mustNoErr(t, err)
	defer j.close()
	if len(evs) != 1 || evs[0].ID != "evt_z" {
		ids := []string{}
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		t.Fatalf("replayed %v, want only evt_z", ids)
	}
	if got := binary.LittleEndian.Uint32(old[len(fresh):]); got != binary.LittleEndian.Uint32(old) {
		t.Fatalf("test setup: evt_b's record does not start where evt_z's ends")
	}
}

func TestPutEventAnswersDuplicatesOfAJournaledEvent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	db.holdJournal.Store(true)
	if ins, err := db.PutEvent(ctx, Event{ID: "evt_1", Type: "charge.refunded"}); err != nil || !ins {
		t.Fatalf("first: %v %v", ins, err)
	}
	if ins, err := db.PutEvent(ctx, Event{ID: "evt_1", Type: "charge.refunded"}); err != nil || ins {
		t.Fatalf("again while only journaled: inserted %v, %v; want false", ins, err)
	}
	db.holdJournal.Store(false)
	if _, err := db.GetEvent(ctx, "evt_1"); err != nil {
		t.Fatal(err)
	}
	if !inBolt(t, db, "evt_1") {
		t.Fatal("evt_1 not in bbolt after a read settled it")
	}
	if ins, err := db.PutEvent(ctx, Event{ID: "evt_1", Type: "charge.refunded"}); err != nil || ins {
		t.Fatalf("again once in bbolt: inserted %v, %v; want false", ins, err)
	}

	var inserted atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			ins, err := db.PutEvent(ctx, Event{ID: "evt_2", Type: "charge.refunded"})
			if err != nil {
				t.Error(err)
			}
			if ins {
				inserted.Add(1)
			}
		})
	}
	wg.Wait()
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if inserted.Load() != 1 || counts[EventPending] != 2 {
		t.Fatalf("32 deliveries of evt_2: %d inserted, %d pending in all; want 1 and 2", inserted.Load(), counts[EventPending])
	}
}

func TestEventReadsSeeWhatPutEventAcknowledged(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := range 50 {
		id := fmt.Sprintf("evt_%d", i)
		if _, err := db.PutEvent(ctx, Event{ID: id, Type: "charge.refunded", OrderKey: id}); err != nil {
			t.Fatal(err)
		}
		due, _, err := db.DueEvents(ctx, t0.Add(time.Hour), 100, nil)
		mustNoErr(t, err)
		if len(due) != i+1 {
			t.Fatalf("after %d acknowledged events, %d due", i+1, len(due))
		}
	}
}

// More events than one commit applies: a read still sees them all.
func TestEventReadsSeeAJournaledBacklog(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	db.holdJournal.Store(true)
	const n = 3*maxApply + 10
	for i := range n {
		if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%d", i), Type: "charge.refunded"}); err != nil {
			t.Fatal(err)
		}
	}
	db.holdJournal.Store(false)
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if counts[EventPending] != n {
		t.Fatalf("%d pending after %d acknowledged", counts[EventPending], n)
	}
}

func TestEarlierPendingSeesJournaledEvents(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.PutEvent(ctx, Event{ID: "evt_a", Type: "x", OrderKey: "stars_1"}); err != nil {
		t.Fatal(err)
	}
	a, err := db.GetEvent(ctx, "evt_a")
	mustNoErr(t, err)
	a.State = EventDone
	mustNoErr(t, db.UpdateEvent(ctx, a))
	if p, err := db.EarlierPending(ctx, "stars_1", math.MaxUint64); err != nil || p {
		t.Fatalf("nothing pending yet: %v %v", p, err)
	}
	db.holdJournal.Store(true)
	if _, err := db.PutEvent(ctx, Event{ID: "evt_b", Type: "x", OrderKey: "stars_1"}); err != nil {
		t.Fatal(err)
	}
	if p, err := db.EarlierPending(ctx, "stars_1", math.MaxUint64); err != nil || !p {
		t.Fatalf("journaled evt_b not seen as pending: %v %v", p, err)
	}
	// A stored event's own seq: the journaled one arrived after it.
	if p, err := db.EarlierPending(ctx, "stars_1", a.Seq); err != nil || p {
		t.Fatalf("journaled evt_b counted as earlier than a stored event: %v %v", p, err)
	}
	if p, err := db.EarlierPending(ctx, "stars_2", math.MaxUint64); err != nil || p {
		t.Fatalf("another order: %v %v", p, err)
	}
	db.holdJournal.Store(false)
	if _, err := db.GetEvent(ctx, "evt_b"); err != nil {
		t.Fatal(err)
	}
	if p, err := db.EarlierPending(ctx, "stars_1", math.MaxUint64); err != nil || !p {
		t.Fatalf("evt_b in bbolt, pending: %v %v", p, err)
	}
}

// The journal starts over once everything in it is applied, so it stays
// near its limit however many events pass through.
func TestJournalStaysBounded(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db := openAt(t, path, nil)
	const limit = 64 << 10
	db.in.file.restartAt, db.in.file.limit = 16<<10, limit
	payload := bytes.Repeat([]byte("p"), 1024)
	for i := range 400 {
		if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%d", i), Type: "charge.refunded", Payload: payload}); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if counts[EventPending] != 400 {
		t.Fatalf("%d stored, want 400", counts[EventPending])
	}
	st, err := os.Stat(path + ".journal")
	mustNoErr(t, err)
	// One event a write, each padded to a page: without starting over,
	// 400 of them take 1.6 MB.
	if st.Size() > limit+2*journalPage {
		t.Fatalf("journal is %d bytes after 400 events, limit %d", st.Size(), limit)
	}
}

func TestSnapshotClosedRefusesAStoreKilledWithJournaledEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path, dst := filepath.Join(dir, "shop.db"), filepath.Join(dir, "backup.db")
	db := openAt(t, path, nil)
	db.holdJournal.Store(true)
	if _, err := db.PutEvent(ctx, Event{ID: "evt_1", Type: "charge.refunded"}); err != nil {
		t.Fatal(err)
	}
	crash(t, db)
	err := SnapshotClosed(ctx, path, dst, time.Second)
	if !errors.Is(err, ErrUnclean) || !strings.Contains(err.Error(), "1 acknowledged events") {
		t.Fatalf("SnapshotClosed after a kill = %v, want ErrUnclean naming 1 event", err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused snapshot left %s: %v", dst, err)
	}
	// Started once, the shop folds the event in; then the copy has it.
	mustNoErr(t, openAt(t, path, nil).Close())
	mustNoErr(t, SnapshotClosed(ctx, path, dst, time.Second))
	info, err := Inspect(ctx, dst, nil)
	mustNoErr(t, err)
	if info.Events != 1 {
		t.Fatalf("snapshot holds %d events, want 1", info.Events)
	}
}

func TestDeferMetaRidesAlongWithTheNextCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db := openAt(t, path, nil)
	var n atomic.Int64
	for range 100 {
		n.Add(1)
		mustNoErr(t, db.DeferMeta("calls", func() string { return fmt.Sprint(n.Load()) }))
	}
	// Any commit carries it, with the latest value.
	mustNoErr(t, db.PutMeta(ctx, "other", "x"))
	if v, err := db.GetMeta(ctx, "calls"); err != nil || v != "100" {
		t.Fatalf("after the next commit: %q, %v; want 100", v, err)
	}
	// With no other commit it goes alone; Close writes what is left.
	n.Add(1)
	mustNoErr(t, db.DeferMeta("calls", func() string { return fmt.Sprint(n.Load()) }))
	mustNoErr(t, db.Close())
	db = openAt(t, path, nil)
	if v, err := db.GetMeta(ctx, "calls"); err != nil || v != "101" {
		t.Fatalf("after Close: %q, %v; want 101", v, err)
	}
	if err := db.DeferMeta(metaSchema, func() string { return "1" }); err == nil {
		t.Fatal("DeferMeta may overwrite the schema version")
	}
}

// When bbolt cannot commit, the journal takes events until it is full and
// then refuses them (Stripe retries), instead of holding requests.
func TestAFullJournalRefusesEventsWhileCommitsFail(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	const limit = 64 << 10
	db.in.file.restartAt, db.in.file.limit = 16<<10, limit
	diskFull := errors.New("no space left on device")
	db.failCommit.Store(&diskFull)
	acked, refused := 0, error(nil)
	for i := 0; i < limit/journalPage+4 && refused == nil; i++ {
		if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%d", i), Type: "charge.refunded"}); err != nil {
			refused = err
			break
		}
		acked++
	}
	if refused == nil || !errors.Is(refused, diskFull) || !strings.Contains(refused.Error(), "journal is full") {
		t.Fatalf("after %d acknowledged events with failing commits: %v; want a refusal naming the full journal", acked, refused)
	}
	db.failCommit.Store(nil)
	if _, err := db.PutEvent(ctx, Event{ID: "evt_after", Type: "charge.refunded"}); err != nil {
		t.Fatalf("once commits work again: %v", err)
	}
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if counts[EventPending] != acked+1 {
		t.Fatalf("%d pending, want the %d acknowledged while commits failed and the one after", counts[EventPending], acked)
	}
}

// A burst waiting in the journal is applied payments first, but a payment
// never ahead of an earlier event of its own order.
func TestJournaledPaymentsAreAppliedFirst(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	db.holdJournal.Store(true)
	const burst = 2 * maxApply
	for i := range burst {
		if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_refund_%d", i), Type: "charge.refunded", OrderKey: fmt.Sprintf("pi_%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range []Event{
		{ID: "evt_paid_new", Type: "checkout.session.completed", OrderKey: "cs_new", Urgent: true},
		// An order with an earlier event in the burst, beyond what the
		// first commit takes.
		{ID: "evt_paid_old", Type: "invoice.paid", OrderKey: "pi_400", Urgent: true},
	} {
		if _, err := db.PutEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	db.holdJournal.Store(false)
	due, _, err := db.DueEventsFirst(ctx, t0.Add(time.Hour), 1, nil)
	mustNoErr(t, err)
	if len(due) != 1 || due[0].ID != "evt_paid_new" {
		t.Fatalf("first due event = %+v, want the new payment", due)
	}
	seq := func(id string) uint64 {
		ev, err := db.GetEvent(ctx, id)
		mustNoErr(t, err)
		return ev.Seq
	}
	if s := seq("evt_paid_new"); s > maxApply {
		t.Errorf("the payment got seq %d: it waited behind %d refunds", s, s-1)
	}
	if old, before := seq("evt_paid_old"), seq("evt_refund_400"); old < before {
		t.Errorf("the payment of pi_400 (seq %d) was stored before pi_400's earlier event (seq %d)", old, before)
	}
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if counts[EventPending] != burst+2 {
		t.Fatalf("%d pending, want %d", counts[EventPending], burst+2)
	}
}
