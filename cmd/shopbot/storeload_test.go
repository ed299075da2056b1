package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/checkout/stripetest"
)

// TestIngestLoad is a load test, not a unit test: it runs only with
// SHOPBOT_LOAD_INGEST=<events> and prints figures as ratios to raw bbolt
// measured on the same disk in the same run, so they compare across
// machines:
//
//   - raw bbolt: one 1 KiB put per fsynced Update, serially; and one
//     Update per 32 puts (the best a group commit can do);
//
//   - shopbot over loopback HTTP through the real run wiring: signed
//     charge.refunded events for charges shopbot never sold (nothing to do
//     but record them), from one sender and from 32 concurrent senders,
//     with the time from the last 200 until the worker finished them all;
//
//   - ten purchases right after such a burst: paid → license delivered.
//
//     SHOPBOT_LOAD_INGEST=2000 go test -run TestIngestLoad -v ./cmd/shopbot/
func TestIngestLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOPBOT_LOAD_INGEST"))
	if n <= 0 {
		t.Skip("load test: set SHOPBOT_LOAD_INGEST=<number of events> to run it")
	}
	w := newWorld(t)
	rawSerial, rawSerialP50 := rawBoltSerial(t, filepath.Join(w.dir, "raw1.db"), n)
	rawGroup := rawBoltGroup(t, filepath.Join(w.dir, "raw32.db"), n, 32)
	t.Logf("raw bbolt, same disk: serial %.0f tx/s (Update p50 %v); 32 puts per Update %.0f puts/s",
		rawSerial, rawSerialP50, rawGroup)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	// HTTP alone on this machine: the same client and senders against a
	// server that reads the body and answers 200 at once. Nothing a
	// handler does can beat it, so it says which ratios the machine
	// allows at all.
	empty := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(rw, "ok\n")
	}))
	emptyAddr := strings.TrimPrefix(empty.URL, "http://")
	for _, senders := range []int{1, 32} {
		payloads := make([][]byte, n)
		for i := range payloads {
			payloads[i] = stripetest.ChargeRefunded(stripetest.EventParams{ID: fmt.Sprintf("evt_empty_%d", i), ChargeID: "ch_x"})
		}
		cpu0 := cpuTime(t)
		rate, lat, _ := sendAll(t, client, emptyAddr, payloads, senders)
		cpu := cpuTime(t) - cpu0
		raw := rawSerial
		if senders > 1 {
			raw = rawGroup
		}
		t.Logf("HTTP alone (empty handler), %d sender(s): %.0f requests/s = %.2fx raw; p50 %v, p99 %v; CPU %.0f µs/request",
			senders, rate, rate/raw, pct(lat, 50), pct(lat, 99), float64(cpu.Microseconds())/float64(n))
	}
	empty.Close()

	w.start()
	w.say(w.buyer, "/start")

	for _, senders := range []int{1, 32} {
		payloads := make([][]byte, n)
		for i := range payloads {
			// No payment intent: someone else's charge, so the worker
			// has nothing to do but record it.
			payloads[i] = stripetest.ChargeRefunded(stripetest.EventParams{
				ID: fmt.Sprintf("evt_noop_%d_%d", senders, i), ChargeID: fmt.Sprintf("ch_noop_%d_%d", senders, i),
			})
		}
		cpu0 := cpuTime(t)
		rate, lat, lastAck := sendAll(t, client, w.addr, payloads, senders)
		cpu := cpuTime(t) - cpu0
		drained := waitNoPending(t, w)
		raw := rawSerial
		if senders > 1 {
			raw = rawGroup
		}
		busy := cpu.Seconds() / (float64(n) / rate) / float64(runtime.NumCPU())
		t.Logf("shopbot, %d sender(s): %.0f events/s = %.2fx raw; ack p50 %v, p99 %v, max %v; all done %v after the last ack; CPU (senders and shop) %.0f µs/event, %.0f%% of %d cores",
			senders, rate, rate/raw, pct(lat, 50), pct(lat, 99), pct(lat, 100), drained.Sub(lastAck).Round(time.Millisecond),
			float64(cpu.Microseconds())/float64(n), 100*busy, runtime.NumCPU())
	}

	// Purchases right behind a burst of no-op events about other orders.
	burst := make([][]byte, n)
	for i := range burst {
		burst[i] = stripetest.ChargeRefunded(stripetest.EventParams{
			ID: fmt.Sprintf("evt_burst_%d", i), ChargeID: fmt.Sprintf("ch_burst_%d", i),
		})
	}
	before := len(w.af.Licenses())
	sendAll(t, client, w.addr, burst, 32)
	const buys = 10
	paidAt := make([]time.Time, buys)
	for i := range buys {
		p := stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_buy_%d", i), SessionID: fmt.Sprintf("cs_buy_%d", i), Product: "pro", Identity: "tg:5001",
		})
		paidAt[i] = time.Now()
		if code := postWith(client, w.addr, p); code != http.StatusOK {
			t.Fatalf("purchase %d: status %d", i, code)
		}
	}
	keyed := make([]time.Duration, 0, buys)
	seen := map[string]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for len(keyed) < buys {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d purchases got a license within 60s", len(keyed), buys)
		}
		for _, l := range w.af.Licenses()[before:] {
			if !seen[l.Label] {
				seen[l.Label] = true
				var i int
				if _, err := fmt.Sscanf(l.Label, "shopbot:cs_buy_%d", &i); err != nil {
					t.Fatalf("unexpected license label %q", l.Label)
				}
				keyed = append(keyed, time.Since(paidAt[i]))
			}
		}
		time.Sleep(time.Millisecond)
	}
	slices.Sort(keyed)
	t.Logf("%d purchases right after %d no-op events: paid → license created p50 %v, max %v",
		buys, n, keyed[buys/2].Round(time.Millisecond), keyed[buys-1].Round(time.Millisecond))
}

// sendAll posts every payload from senders concurrent clients and returns
// the acknowledged rate, the sorted latencies and when the last 200 came.
func sendAll(t *testing.T, c *http.Client, addr string, payloads [][]byte, senders int) (float64, []time.Duration, time.Time) {
	t.Helper()
	lat := make([]time.Duration, len(payloads))
	jobs := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for i := range jobs {
				t0 := time.Now()
				if code := postWith(c, addr, payloads[i]); code != http.StatusOK {
					t.Errorf("event %d: status %d", i, code)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	for i := range payloads {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	end := time.Now()
	slices.Sort(lat)
	return float64(len(payloads)) / end.Sub(start).Seconds(), lat, end
}

// waitNoPending polls /healthz until no event is pending and returns when
// it saw that.
func waitNoPending(t *testing.T, w *world) time.Time {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for time.Now().Before(deadline) {
		if w.health().Pending == 0 {
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("events still pending after 120s: %+v", w.health())
	return time.Time{}
}

// cpuTime is the CPU (user and system) this process has used: senders
// and shop share it, so it tells whether a figure is bound by the disk or
// by the machine's cores.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pct(sorted []time.Duration, p int) time.Duration {
	i := min(len(sorted)*p/100, len(sorted)-1)
	return sorted[i].Round(10 * time.Microsecond)
}

// rawBoltSerial is the disk's floor for one acknowledged write: n fsynced
// Updates of one 1 KiB put each. It returns tx/s and the Update p50.
func rawBoltSerial(t *testing.T, path string, n int) (float64, time.Duration) {
	t.Helper()
	db := openRaw(t, path)
	val := make([]byte, 1024)
	rand.Read(val)
	lat := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		t0 := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).Put(binary.BigEndian.AppendUint64(nil, uint64(i)), val)
		})
		if err != nil {
			t.Fatal(err)
		}
		lat[i] = time.Since(t0)
	}
	rate := float64(n) / time.Since(start).Seconds()
	slices.Sort(lat)
	return rate, pct(lat, 50)
}

// rawBoltGroup is the group-commit ceiling: one fsynced Update per per
// puts of 1 KiB. It returns puts/s.
func rawBoltGroup(t *testing.T, path string, n, per int) float64 {
	t.Helper()
	db := openRaw(t, path)
	val := make([]byte, 1024)
	rand.Read(val)
	start := time.Now()
	for i := 0; i < n; i += per {
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("b"))
			for j := i; j < i+per; j++ {
				if err := b.Put(binary.BigEndian.AppendUint64(nil, uint64(j)), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return float64(n/per*per) / time.Since(start).Seconds()
}

func openRaw(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("b"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return db
}
