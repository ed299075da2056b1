package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestSnapshotDuringWrites: a snapshot taken while writers commit opens
// and holds every event whose write returned before it began.
func TestSnapshotDuringWrites(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testKey(7))
	var acked atomic.Int64 // events 0..acked-1 are committed
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%06d", i), Payload: []byte("x")}); err != nil {
				t.Error(err)
				return
			}
			acked.Store(int64(i + 1))
		}
	})
	for acked.Load() < 50 {
		if t.Failed() {
			t.FailNow()
		}
		runtime.Gosched()
	}
	before := acked.Load()
	snap := filepath.Join(t.TempDir(), "snap.db")
	mustNoErr(t, db.SnapshotFile(ctx, snap))
	close(stop)
	wg.Wait()

	info, err := Inspect(ctx, snap, testKey(7))
	mustNoErr(t, err)
	if !info.Encrypted || info.Schema != SchemaVersion {
		t.Errorf("snapshot info %+v: want encrypted, schema %d", info, SchemaVersion)
	}
	restored := openAt(t, snap, testKey(7))
	for i := range before {
		if _, err := restored.GetEvent(ctx, fmt.Sprintf("evt_%06d", i)); err != nil {
			t.Fatalf("event %d acknowledged before the snapshot is missing: %v", i, err)
		}
	}
}

func TestInspectRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	enc := filepath.Join(dir, "enc.db")
	db := openAt(t, enc, testKey(1))
	mustNoErr(t, db.PutLicense(ctx, license(key1, alice)))
	mustNoErr(t, db.Close())

	garbage := filepath.Join(dir, "garbage.db")
	mustNoErr(t, os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600))
	torn := filepath.Join(dir, "torn.db")
	raw := rawFile(t, enc)
	// The file runs past its last page (bbolt grows it in chunks); a
	// third of what its pages need is surely torn.
	used, err := os.ReadFile(enc)
	mustNoErr(t, err)
	edb, err := bolt.Open(enc, 0o600, &bolt.Options{ReadOnly: true})
	mustNoErr(t, err)
	mustNoErr(t, edb.View(func(tx *bolt.Tx) error { used = used[:tx.Size()]; return nil }))
	mustNoErr(t, edb.Close())
	mustNoErr(t, os.WriteFile(torn, used[:len(used)/3], 0o600))
	damaged := filepath.Join(dir, "damaged.db")
	bad := append([]byte(nil), raw...)
	for i := 2 * 4096; i < len(bad); i++ {
		bad[i] ^= 0x5a
	}
	mustNoErr(t, os.WriteFile(damaged, bad, 0o600))
	newer := filepath.Join(dir, "newer.db")
	ndb := openAt(t, newer, nil)
	mustNoErr(t, ndb.bolt.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketMeta).Put([]byte(metaSchema), []byte("99"))
	}))
	mustNoErr(t, ndb.Close())

	cases := []struct {
		name, path string
		key        []byte
		is         error
		msg        string
	}{
		{"garbage", garbage, nil, ErrCorrupt, "no valid bbolt header"},
		{"torn copy", torn, testKey(1), ErrCorrupt, "cut short"},
		{"damaged pages", damaged, testKey(1), ErrCorrupt, ""},
		{"wrong key", enc, testKey(2), ErrBadKey, "different key"},
		{"no key", enc, nil, ErrBadKey, "store.encryption_key is not set"},
		{"newer schema", newer, nil, nil, "schema version 99"},
	}
	for _, c := range cases {
		_, err := Inspect(ctx, c.path, c.key)
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Inspect = %v, want %v containing %q", c.name, err, c.is, c.msg)
		}
	}
	if info, err := Inspect(ctx, enc, testKey(1)); err != nil || info.Licenses != 1 {
		t.Errorf("right key: %+v %v", info, err)
	}
}

func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	live := filepath.Join(dir, "shop.db")
	db := openAt(t, live, nil)
	mustNoErr(t, db.PutLicense(ctx, license(key1, alice)))
	snap := filepath.Join(dir, "snap.db")
	mustNoErr(t, db.SnapshotFile(ctx, snap))
	mustNoErr(t, db.PutLicense(ctx, license(key2, alice)))

	// The file is held: refused, nothing touched.
	_, err := Restore(ctx, RestoreOptions{Path: live, Snapshot: snap, Now: t0})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "stop shopbot") {
		t.Fatalf("restore over a held file: %v", err)
	}
	if _, err := os.Stat(snap + ".restoring"); !os.IsNotExist(err) {
		t.Errorf("refused restore left a temporary file: %v", err)
	}
	mustNoErr(t, db.Close())

	res, err := Restore(ctx, RestoreOptions{Path: live, Snapshot: snap, Now: t0})
	mustNoErr(t, err)
	if res.Aside != live+".before-restore-20250601T120000Z" {
		t.Errorf("aside = %q", res.Aside)
	}
	back := openAt(t, live, nil)
	if _, err := back.GetLicense(ctx, key2); !errors.Is(err, ErrNotFound) {
		t.Errorf("license written after the snapshot is still there: %v", err)
	}
	if _, err := back.GetLicense(ctx, key1); err != nil {
		t.Errorf("license of the snapshot: %v", err)
	}
	if at, err := back.RecoveredAt(ctx); err != nil || !at.Equal(t0) {
		t.Errorf("RecoveredAt = %v %v", at, err)
	}
	aside := openAt(t, res.Aside, nil)
	if _, err := aside.GetLicense(ctx, key2); err != nil {
		t.Errorf("the file moved aside lost its data: %v", err)
	}
	if _, err := os.Stat(snap); err != nil {
		t.Errorf("the snapshot itself was consumed: %v", err)
	}
}
