package licensing

import (
	"testing"
	"time"
)

// BenchmarkGateFresh measures Check while the signed session is fresh: the
// answer comes from memory, with no store read, no network call and no
// AuthForge credit.
func BenchmarkGateFresh(b *testing.B) {
	h := newHarness(b)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	h.svc.Check(h.ctx, alice, "pro") // fill the cache
	credits, calls := h.creditsUsed(), h.authCalls()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(h.creditsUsed()-credits)/float64(b.N), "credits/op")
	if h.authCalls() != calls {
		b.Fatalf("fresh checks made %d AuthForge calls", h.authCalls()-calls)
	}
}

// BenchmarkGateParallel runs fresh checks of many identities from every CPU.
func BenchmarkGateParallel(b *testing.B) {
	h := newHarness(b)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	h.activate(bob, lic.Key)
	h.svc.Check(h.ctx, alice, "pro")
	h.svc.Check(h.ctx, bob, "pro")
	credits := h.creditsUsed()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			who := alice
			if i%2 == 1 {
				who = bob
			}
			i++
			if _, err := h.svc.Check(h.ctx, who, "pro"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(h.creditsUsed()-credits)/float64(b.N), "credits/op")
}
