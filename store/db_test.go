package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenCreatesDirAndFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "shop.db")
	db := openAt(t, path, nil)
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	st, err := os.Stat(dir)
	mustNoErr(t, err)
	if st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v, want 0700", st.Mode().Perm())
	}
	st, err = os.Stat(path)
	mustNoErr(t, err)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", st.Mode().Perm())
	}
	v, err := db.GetMeta(context.Background(), metaSchema)
	mustNoErr(t, err)
	if v != strconv.Itoa(SchemaVersion) {
		t.Errorf("schema_version = %q", v)
	}
}

func TestOpenOptionErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{}); err == nil {
		t.Error("Open without path succeeded")
	}
	p := filepath.Join(t.TempDir(), "x.db")
	if _, err := Open(ctx, Options{Path: p, EncryptionKey: make([]byte, 16)}); err == nil {
		t.Error("Open with a 16-byte key succeeded")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Open(cctx, Options{Path: p}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open with cancelled ctx: %v", err)
	}
}

func TestLockedByAnotherHandle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	openAt(t, path, nil)
	start := time.Now()
	_, err := Open(context.Background(), Options{Path: path, LockTimeout: 150 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "another shopbot process") {
		t.Errorf("message %q should name the path and the likely cause", err)
	}
	if elapsed < 100*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("gave up after %s, want about the 150ms timeout", elapsed)
	}

	// The context deadline caps the wait too.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := Open(ctx, Options{Path: path, LockTimeout: time.Minute}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open with deadline: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("ctx deadline ignored: waited %s", time.Since(start))
	}
}

func TestLockReleasedOnClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := Open(context.Background(), Options{Path: path})
	mustNoErr(t, err)
	mustNoErr(t, db.Close())
	openAt(t, path, nil)
}

func TestReopenPersists(t *testing.T) {
	ctx := context.Background()
	for _, key := range [][]byte{nil, testKey(7)} {
		path := filepath.Join(t.TempDir(), "shop.db")
		db, err := Open(ctx, Options{Path: path, EncryptionKey: key})
		mustNoErr(t, err)
		_, err = db.PutEvent(ctx, Event{ID: "evt_1", Type: "checkout.session.completed", Payload: []byte(`{}`)})
		mustNoErr(t, err)
		_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.PaymentIntentID = "pi_1"; return nil })
		mustNoErr(t, err)
		_, err = db.AttachLicense(ctx, "cs_1", license(key1, alice))
		mustNoErr(t, err)
		mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, SessionToken: "tok", ActivatedAt: t0}))
		mustNoErr(t, db.PutMeta(ctx, "k", "v"))
		mustNoErr(t, db.Audit(ctx, AuditEntry{Actor: "tg:1", Action: "grant"}))
		mustNoErr(t, db.Close())

		db = openAt(t, path, key)
		if ev, err := db.GetEvent(ctx, "evt_1"); err != nil || ev.Seq != 1 {
			t.Errorf("event after reopen: %+v, %v", ev, err)
		}
		if o, err := db.OrderByPaymentIntent(ctx, "pi_1"); err != nil || o.LicenseKey != key1 {
			t.Errorf("order after reopen: %+v, %v", o, err)
		}
		if acts, err := db.ActivationsForKey(ctx, key1); err != nil || len(acts) != 1 || acts[0].SessionToken != "tok" {
			t.Errorf("activations after reopen: %+v, %v", acts, err)
		}
		if v, err := db.GetMeta(ctx, "k"); err != nil || v != "v" {
			t.Errorf("meta after reopen: %q, %v", v, err)
		}
		if a, err := db.RecentAudit(ctx, 5); err != nil || len(a) != 1 {
			t.Errorf("audit after reopen: %+v, %v", a, err)
		}
		// Sequences continue rather than restart.
		if _, err := db.PutEvent(ctx, Event{ID: "evt_2"}); err != nil {
			t.Fatal(err)
		}
		if ev, _ := db.GetEvent(ctx, "evt_2"); ev.Seq != 2 {
			t.Errorf("seq after reopen = %d, want 2", ev.Seq)
		}
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := Open(context.Background(), Options{Path: path})
	mustNoErr(t, err)
	mustNoErr(t, db.bolt.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketMeta).Put([]byte(metaSchema), []byte("99"))
	}))
	mustNoErr(t, db.Close())
	_, err = Open(context.Background(), Options{Path: path})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of schema 99: %v", err)
	}
}

func TestMeta(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.GetMeta(ctx, "missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetMeta missing: %v", err)
	}
	mustNoErr(t, db.PutMeta(ctx, "licensing.validations", "3"))
	mustNoErr(t, db.PutMeta(ctx, "licensing.validations", "4"))
	if v, err := db.GetMeta(ctx, "licensing.validations"); err != nil || v != "4" {
		t.Errorf("GetMeta = %q, %v", v, err)
	}
	for _, k := range []string{"", metaSchema, metaKeyCheck} {
		if err := db.PutMeta(ctx, k, "x"); err == nil {
			t.Errorf("PutMeta(%q) succeeded; reserved keys must be refused", k)
		}
	}
}

func TestCancelledContext(t *testing.T) {
	db := openTest(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]error{}
	_, calls["PutEvent"] = db.PutEvent(ctx, Event{ID: "e"})
	_, calls["GetEvent"] = db.GetEvent(ctx, "e")
	_, calls["UpsertOrder"] = db.UpsertOrder(ctx, "o", nil)
	calls["PutLicense"] = db.PutLicense(ctx, license(key1, alice))
	_, calls["ListLicenses"] = db.ListLicenses(ctx)
	calls["PutActivation"] = db.PutActivation(ctx, Activation{Identity: alice, Key: key1})
	calls["ForEachActivation"] = db.ForEachActivation(ctx, func(Activation) error { return nil })
	calls["Audit"] = db.Audit(ctx, AuditEntry{})
	_, calls["Stats"] = db.Stats(ctx)
	for name, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with cancelled ctx: %v", name, err)
		}
	}
}

// Outside a test binary Open refuses NoSync: a production wiring that
// forced it would acknowledge webhooks before they are on disk.
func TestNoSyncRefusedOutsideTests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the probe program")
	}
	cmd := exec.Command(gobin, "run", "./testdata/nosync", filepath.Join(t.TempDir(), "shop.db"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "refused: store: NoSync is only for tests") {
		t.Fatalf("store.Open with NoSync outside a test: %v\n%s", err, out)
	}
	db := openTest(t, nil)
	if db.Durable() {
		t.Error("a NoSync store in a test reports fsync on")
	}
	durable, err := Open(context.Background(), Options{Path: filepath.Join(t.TempDir(), "d.db")})
	mustNoErr(t, err)
	defer durable.Close()
	if !durable.Durable() {
		t.Error("a store opened without NoSync reports fsync off")
	}
}
