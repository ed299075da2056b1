package checkout_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
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
