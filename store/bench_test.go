package store

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// openBench opens a store with fsync on: the figure that matters is what a
// webhook costs before it may be acknowledged.
func openBench(b *testing.B) *DB {
	b.Helper()
	db, err := Open(context.Background(), Options{Path: filepath.Join(b.TempDir(), "bench.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func benchPayload() []byte {
	p := make([]byte, 1024)
	rand.Read(p)
	return p
}

func BenchmarkPutEvent(b *testing.B) {
	db := openBench(b)
	ctx := context.Background()
	payload := benchPayload()
	b.SetBytes(int64(len(payload)))
	i := 0
	for b.Loop() {
		i++
		if _, err := db.PutEvent(ctx, Event{ID: fmt.Sprintf("evt_%d", i), Type: "checkout.session.completed", Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkPutEventParallel(b *testing.B) {
	db := openBench(b)
	ctx := context.Background()
	payload := benchPayload()
	b.SetBytes(int64(len(payload)))
	b.SetParallelism(16) // webhook bursts are I/O bound, not CPU bound
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("evt_%d", n.Add(1))
			if _, err := db.PutEvent(ctx, Event{ID: id, Type: "checkout.session.completed", Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
