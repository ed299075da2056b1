package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// writeSchema1 writes a store the way shopbot's schema-1 code did (before
// the due index): each event a JSON record with its payload inside,
// indexed by seq and by state only.
func writeSchema1(t *testing.T, path string) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	defer bdb.Close()
	events := []struct{ id, state, seq, json string }{
		{"evt_1", "pending", "1", `{"id":"evt_1","type":"checkout.session.completed","order_key":"cs_1","payload":"eyJpZCI6ImV2dF8xIn0=","seq":1,"received_at":"2025-06-01T12:00:00Z","state":"pending","source":"webhook"}`},
		{"evt_2", "done", "2", `{"id":"evt_2","type":"invoice.paid","order_key":"sub_1","payload":"eyJpZCI6ImV2dF8yIn0=","seq":2,"received_at":"2025-06-01T12:00:01Z","state":"done","attempts":1,"done_at":"2025-06-01T12:00:02Z","source":"webhook"}`},
		{"evt_3", "pending", "3", `{"id":"evt_3","type":"charge.refunded","order_key":"pi_9","payload":"eyJpZCI6ImV2dF8zIn0=","seq":3,"received_at":"2025-06-01T12:00:02Z","state":"pending","attempts":2,"next_attempt_at":"2025-06-01T13:00:00Z","last_error":"no order yet","source":"webhook"}`},
		{"evt_4", "failed", "4", `{"id":"evt_4","type":"checkout.session.completed","order_key":"cs_4","payload":"eyJpZCI6ImV2dF80In0=","seq":4,"received_at":"2025-06-01T12:00:03Z","state":"failed","attempts":1,"last_error":"unknown product","source":"webhook"}`},
		{"evt_5", "pending", "5", `{"id":"evt_5","type":"charge.dispute.created","order_key":"pi_9","payload":"eyJpZCI6ImV2dF81In0=","seq":5,"received_at":"2025-06-01T12:00:04Z","state":"pending","source":"webhook"}`},
	}
	mustNoErr(t, bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{"meta", "events", "events_seq", "events_state", "orders", "orders_pi", "orders_sub",
			"licenses", "licenses_owner", "activations", "activations_key", "open_sessions", "open_sessions_id", "audit"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1")); err != nil {
			return err
		}
		evb := tx.Bucket([]byte("events"))
		if err := evb.SetSequence(5); err != nil {
			return err
		}
		for i, e := range events {
			seq := u64(uint64(i + 1))
			if err := evb.Put([]byte(e.id), []byte(e.json)); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("events_seq")).Put(seq, []byte(e.id)); err != nil {
				return err
			}
			if err := tx.Bucket([]byte("events_state")).Put(join([]byte(e.state), seq), []byte(e.id)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// A store written by the schema-1 code opens, is migrated once (and says
// so in the log), and then works: counts, due events in order, payloads,
// per-order blocking, new events.
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	writeSchema1(t, path)

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	db, err := Open(ctx, Options{Path: path, Logger: log, NoSync: true})
	mustNoErr(t, err)
	if !strings.Contains(logs.String(), "store migrated") || !strings.Contains(logs.String(), "from_schema=1 to_schema=2") ||
		!strings.Contains(logs.String(), "records=5") {
		t.Errorf("migration not logged:\n%s", logs.String())
	}
	counts, err := db.CountEvents(ctx)
	mustNoErr(t, err)
	if counts[EventPending] != 3 || counts[EventDone] != 1 || counts[EventFailed] != 1 || counts[EventIgnored] != 0 {
		t.Errorf("counts after migration: %v", counts)
	}
	now := time.Date(2025, 6, 1, 12, 30, 0, 0, time.UTC)
	due, next, err := db.DueEvents(ctx, now, 0, nil)
	mustNoErr(t, err)
	if got := ids(due); len(got) != 2 || got[0] != "evt_1" || got[1] != "evt_5" || string(due[0].Payload) != `{"id":"evt_1"}` {
		t.Errorf("due at 12:30: %v (payload %q)", got, due[0].Payload)
	}
	if want := time.Date(2025, 6, 1, 13, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next due %v, want %v (evt_3's retry)", next, want)
	}
	// evt_5 waits behind evt_3, the earlier pending event of pi_9.
	if earlier, err := db.EarlierPending(ctx, "pi_9", 5); err != nil || !earlier {
		t.Errorf("EarlierPending(pi_9, 5) = %v, %v", earlier, err)
	}
	old, err := db.GetEvent(ctx, "evt_2")
	mustNoErr(t, err)
	if old.State != EventDone || string(old.Payload) != `{"id":"evt_2"}` || old.Seq != 2 {
		t.Errorf("done event after migration: %+v", old)
	}
	// Payloads left the records.
	mustNoErr(t, db.bolt.View(func(tx *bolt.Tx) error {
		if raw := bucket(tx, bucketEvents).Get([]byte("evt_2")); bytes.Contains(raw, []byte("payload")) {
			t.Errorf("evt_2's record still holds its payload: %s", raw)
		}
		return nil
	}))
	// It works: an outcome moves the indexes, a new event gets seq 6.
	ev1 := due[0]
	ev1.State = EventDone
	mustNoErr(t, db.UpdateEvent(ctx, ev1))
	ins, err := db.PutEvent(ctx, Event{ID: "evt_6", OrderKey: "cs_6", Payload: []byte("{}")})
	if err != nil || !ins {
		t.Fatalf("PutEvent after migration: %v, %v", ins, err)
	}
	if ev, _ := db.GetEvent(ctx, "evt_6"); ev.Seq != 6 {
		t.Errorf("new event seq %d, want 6", ev.Seq)
	}
	due, _, err = db.DueEvents(ctx, now, 0, nil)
	mustNoErr(t, err)
	if got := ids(due); len(got) != 2 || got[0] != "evt_5" || got[1] != "evt_6" {
		t.Errorf("due after an outcome and a new event: %v", got)
	}
	mustNoErr(t, db.Close())

	// Once only: the second open migrates nothing.
	logs.Reset()
	db, err = Open(ctx, Options{Path: path, Logger: log, NoSync: true})
	mustNoErr(t, err)
	defer db.Close()
	if strings.Contains(logs.String(), "migrated") {
		t.Errorf("second open migrated again:\n%s", logs.String())
	}
	if counts, _ := db.CountEvents(ctx); counts[EventPending] != 3 || counts[EventDone] != 2 {
		t.Errorf("counts after reopen: %v", counts)
	}
}

// A schema-2 store (events counted, nothing else) gets its order, license
// and activation counters built once from the records.
func TestMigrateCountersFromSchema2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := Open(ctx, Options{Path: path, NoSync: true})
	mustNoErr(t, err)
	for _, id := range []string{"cs_1", "cs_2"} {
		_, err = db.UpsertOrder(ctx, id, nil)
		mustNoErr(t, err)
	}
	_, err = db.AttachLicense(ctx, "cs_2", license(key1, alice))
	mustNoErr(t, err)
	l2 := license(key2, bob)
	l2.Status = LicenseRevoked
	l2.RevokedAt = t0
	mustNoErr(t, db.PutLicense(ctx, l2))
	l3 := license(key3, bob)
	l3.ExpiresAt = t0.Add(time.Hour)
	mustNoErr(t, db.PutLicense(ctx, l3))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ProductID: "pro"}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ProductID: "pro"}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key2, ProductID: "basic"}))
	want, err := db.Stats(ctx)
	mustNoErr(t, err)
	mustNoErr(t, db.Close())

	// What schema 2 had: no such counters.
	bdb, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, bdb.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket([]byte(bucketCounters)).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if !strings.HasPrefix(string(k), "events:") {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		if err := tx.DeleteBucket([]byte(bucketLicensesDue)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte("schema_version"), []byte("2"))
	}))
	mustNoErr(t, bdb.Close())

	var logs bytes.Buffer
	db, err = Open(ctx, Options{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	mustNoErr(t, err)
	defer db.Close()
	if !strings.Contains(logs.String(), "from_schema=2 to_schema=3") {
		t.Fatalf("no migration logged:\n%s", logs.String())
	}
	got, err := db.Stats(ctx)
	mustNoErr(t, err)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after migration Stats = %+v\nwant %+v", got, want)
	}
	if got.Orders != 2 || got.ActiveLicenses != 2 || got.RevokedLicenses != 1 || got.Activations != 3 || got.Holders != 2 {
		t.Fatalf("counts %+v", got)
	}
	if due := dueKeys(t, db, t0.Add(2*time.Hour)); fmt.Sprint(due) != fmt.Sprint([]string{key2[:4], key3[:4]}) {
		t.Fatalf("due index after migration: %v, want the revoked and the expired license", due)
	}
}
