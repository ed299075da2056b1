package checkout_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

// BenchmarkWebhookIngest measures a signed checkout.session.completed from
// request to 200: read, verify, decode, store with fsync.
func BenchmarkWebhookIngest(b *testing.B) {
	h := newHarness(b)
	payloads := make([][]byte, b.N)
	for i := range payloads {
		payloads[i] = paid(fmt.Sprintf("evt_b%d", i), fmt.Sprintf("cs_b%d", i))
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if rr := h.post(payloads[i]); rr.Code != http.StatusOK {
			b.Fatalf("status %d", rr.Code)
		}
		lat = append(lat, time.Since(t0))
	}
	report(b, start, lat)
}

// BenchmarkWebhookIngestParallel is the same with concurrent deliveries,
// where the store's group commit shares fsyncs.
func BenchmarkWebhookIngestParallel(b *testing.B) {
	h := newHarness(b)
	var n atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			i := n.Add(1)
			p := paid(fmt.Sprintf("evt_p%d", i), fmt.Sprintf("cs_p%d", i))
			req := httptest.NewRequest(http.MethodPost, "/webhooks/stripe", strings.NewReader(string(p)))
			req.Header.Set("Stripe-Signature", stripetest.SignEvent(secret, p, time.Now()))
			rr := httptest.NewRecorder()
			t0 := time.Now()
			h.hook.ServeHTTP(rr, req)
			mine = append(mine, time.Since(t0))
			if rr.Code != http.StatusOK {
				b.Errorf("status %d", rr.Code)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	report(b, start, lat)
}

func report(b *testing.B, start time.Time, lat []time.Duration) {
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// BenchmarkFulfill measures one paid session from stored event to
// delivered key: worker pass, AuthForge create over loopback HTTP (the
// fake), order and license written with fsync, notice handed over.
func BenchmarkFulfill(b *testing.B) {
	h := newHarness(b)
	for i := 0; i < b.N; i++ {
		h.deliver(paid(fmt.Sprintf("evt_f%d", i), fmt.Sprintf("cs_f%d", i)))
	}
	b.ResetTimer()
	start := time.Now()
	done := 0
	for done < b.N {
		n, err := h.worker.ProcessDue(h.ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.Fatalf("worker stalled after %d of %d events", done, b.N)
		}
		done += n
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := h.created(); got != b.N {
		b.Fatalf("AuthForge created %d licenses for %d orders", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
}

// TestBacklogDrain is a load test, not a unit test: it runs only with
// SHOPBOT_LOAD_BACKLOG=1 and prints how fast the worker drains a backlog of
// pending events that need no outside call (charge.refunded of charges
// shopbot never sold). The rate must stay flat as the backlog grows.
//
//	SHOPBOT_LOAD_BACKLOG=1 go test -run TestBacklogDrain -v ./checkout/
func TestBacklogDrain(t *testing.T) {
	if os.Getenv("SHOPBOT_LOAD_BACKLOG") == "" {
		t.Skip("load test: set SHOPBOT_LOAD_BACKLOG=1 to run it")
	}
	for _, n := range []int{1000, 10000, 50000} {
		h := newHarness(t)
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for i := range jobs {
					p := stripetest.ChargeRefunded(stripetest.EventParams{ID: fmt.Sprintf("evt_bl%d", i), ChargeID: fmt.Sprintf("ch_bl%d", i)})
					if rr := h.post(p); rr.Code != http.StatusOK {
						t.Errorf("status %d", rr.Code)
					}
				}
			})
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		start := time.Now()
		done := 0
		for done < n {
			k, err := h.worker.ProcessDue(h.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				t.Fatalf("worker stalled after %d of %d events", done, n)
			}
			done += k
		}
		elapsed := time.Since(start)
		counts, err := h.db.CountEvents(h.ctx)
		if err != nil || counts[store.EventPending] != 0 || counts[store.EventIgnored] != n {
			t.Fatalf("after drain: %v, %v; want %d ignored", counts, err, n)
		}
		t.Logf("backlog of %d no-op events drained in %v = %.0f events/s", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	}
}
