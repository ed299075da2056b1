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

	"github.com/shopbot/shopbot/identity"
)

func refreshedBefore(t *testing.T, db *DB, cutoff time.Time) []string {
	t.Helper()
	var out []string
	var cur RefreshCursor
	for {
		page, next, err := db.ActivationsRefreshedBefore(context.Background(), cutoff, cur, 2)
		mustNoErr(t, err)
		for _, a := range page {
			out = append(out, a.Identity.String()+"/"+a.Key[:4])
		}
		if len(page) < 2 {
			return out
		}
		cur = next
	}
}

// The refresh index follows each activation's last verification, lists
// only those older than the cutoff, oldest first, in pages, and forgets
// deleted activations.
func TestActivationsRefreshIndex(t *testing.T) {
	ctx := context.Background()
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted=", enc), func(t *testing.T) {
			var k []byte
			if enc {
				k = testKey(4)
			}
			db := openTest(t, k)
			carol := identity.TelegramUser(303)
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ProductID: "pro", ActivatedAt: t0, RefreshedAt: t0.Add(3 * time.Minute)}))
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ProductID: "pro", ActivatedAt: t0}))
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: carol, Key: key2, ProductID: "pro", ActivatedAt: t0, RefreshedAt: t0.Add(time.Minute)}))
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key3, ProductID: "pro", ActivatedAt: t0, RefreshedAt: t0.Add(time.Hour)}))

			want := []string{bob.String() + "/" + key1[:4], carol.String() + "/" + key2[:4], alice.String() + "/" + key1[:4]}
			if got := refreshedBefore(t, db, t0.Add(10*time.Minute)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("due before +10m: %v, want %v", got, want)
			}
			// A refresh moves the entry past the cutoff; a delete drops it.
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ProductID: "pro", ActivatedAt: t0, RefreshedAt: t0.Add(20 * time.Minute)}))
			mustNoErr(t, db.DeleteActivation(ctx, carol, key2))
			want = []string{alice.String() + "/" + key1[:4]}
			if got := refreshedBefore(t, db, t0.Add(10*time.Minute)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after refresh and delete: %v, want %v", got, want)
			}
			if n := indexLen(t, db, bucketActivationsRefresh); n != 3 {
				t.Fatalf("index holds %d entries for 3 activations", n)
			}
		})
	}
}

func indexLen(t *testing.T, db *DB, name string) int {
	t.Helper()
	n := 0
	mustNoErr(t, db.view(context.Background(), func(tx *bolt.Tx) error {
		n = bucket(tx, name).Stats().KeyN
		return nil
	}))
	return n
}

// A schema-3 store (no refresh index) gets one built, once, and says so.
func TestMigrateRefreshFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	db, err := Open(ctx, Options{Path: path, NoSync: true})
	mustNoErr(t, err)
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ProductID: "pro", ActivatedAt: t0, RefreshedAt: t0.Add(2 * time.Minute)}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key2, ProductID: "pro", ActivatedAt: t0.Add(time.Minute)}))
	mustNoErr(t, db.Close())

	bdb, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketActivationsRefresh)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(metaSchema), []byte("3"))
	}))
	mustNoErr(t, bdb.Close())

	for run := range 2 {
		var logs bytes.Buffer
		db, err = Open(ctx, Options{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
		mustNoErr(t, err)
		migrated := strings.Contains(logs.String(), "from_schema=3 to_schema=4")
		if migrated != (run == 0) {
			t.Fatalf("open %d: migration logged = %v:\n%s", run, migrated, logs.String())
		}
		want := []string{bob.String() + "/" + key2[:4], alice.String() + "/" + key1[:4]}
		if got := refreshedBefore(t, db, t0.Add(time.Hour)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("open %d: due %v, want %v", run, got, want)
		}
		mustNoErr(t, db.Close())
	}
}
