package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestStoreIngestLoad measures what the store alone adds to a webhook's
// acknowledgement, apart from HTTP and signature checks: n events stored
// by PutEvent from one goroutine and from 32, each beside raw bbolt on the
// same disk in the same run (one 1 KiB put per fsync'd Update, and 32 puts
// per Update, the group-commit ceiling), printed as ratios. Off by
// default; run with
//
//	SHOPBOT_LOAD_STORE=5000 go test -count=1 -run TestStoreIngestLoad -v ./store/
func TestStoreIngestLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOPBOT_LOAD_STORE"))
	if n <= 0 {
		t.Skip("set SHOPBOT_LOAD_STORE=N to run")
	}
	dir := t.TempDir()
	payload := make([]byte, 1024)
	rand.Read(payload)

	rawSerial, rawP50 := rawBolt(t, filepath.Join(dir, "raw1.db"), n, 1, payload)
	rawGroup, _ := rawBolt(t, filepath.Join(dir, "raw32.db"), n, 32, payload)

	for _, senders := range []int{1, 32} {
		db, err := Open(context.Background(), Options{Path: filepath.Join(dir, fmt.Sprintf("shop%d.db", senders))})
		if err != nil {
			t.Fatal(err)
		}
		lat := make([]time.Duration, n)
		var wg sync.WaitGroup
		start := time.Now()
		for s := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := s; i < n; i += senders {
					t0 := time.Now()
					ins, err := db.PutEvent(context.Background(), Event{ID: fmt.Sprintf("evt_%d", i), Type: "charge.refunded", OrderKey: "pi_x", Payload: payload})
					if err != nil || !ins {
						t.Errorf("PutEvent %d: inserted %v, %v", i, ins, err)
						return
					}
					lat[i] = time.Since(t0)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		rate := float64(n) / elapsed.Seconds()
		// Acknowledged means journaled; reading the events waits until
		// they are in bbolt too, which is what the worker reads.
		counts, err := db.CountEvents(context.Background())
		applied := time.Since(start) - elapsed
		if err != nil || counts[EventPending] != n {
			t.Fatalf("after the last ack: %v pending, want %d (%v)", counts[EventPending], n, err)
		}
		db.Close()
		slices.Sort(lat)
		ref, refName := rawSerial, "raw serial"
		if senders > 1 {
			ref, refName = rawGroup, "raw 32 per Update"
		}
		t.Logf("PutEvent, %2d goroutine(s): %6.0f events/s = %.2fx %s (%.0f/s); p50 %v p99 %v (raw serial Update p50 %v); all in bbolt %v after the last ack",
			senders, rate, rate/ref, refName, ref, lat[n/2].Round(time.Microsecond), lat[n*99/100].Round(time.Microsecond), rawP50, applied.Round(time.Microsecond))
	}
}

// rawBolt writes n 1 KiB values with fsync, per puts to one Update, and
// returns puts per second and the p50 Update latency.
func rawBolt(t *testing.T, path string, n, per int, payload []byte) (float64, time.Duration) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var lat []time.Duration
	start := time.Now()
	for i := 0; i < n; i += per {
		t0 := time.Now()
		err := bdb.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			for j := i; j < i+per && j < n; j++ {
				if err := b.Put([]byte(fmt.Sprintf("evt_%d", j)), payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	rate := float64(n) / time.Since(start).Seconds()
	slices.Sort(lat)
	return rate, lat[len(lat)/2]
}
