package accesslog_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/accesslog"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/store"
)

// batches records each AddAccessUses call, as the store would receive it.
type batches struct {
	mu   sync.Mutex
	got  [][]store.AccessCount
	fail error
}

func (b *batches) AddAccessUses(_ context.Context, batch []store.AccessCount) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail != nil {
		return b.fail
	}
	b.got = append(b.got, batch)
	return nil
}

const key = "ABCD-EFGH-IJKL-MNOP"

func TestCountsFlushInOneBatch(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	st := &batches{}
	l := accesslog.New(st, clock.Now, 10, nil)
	a, b := identity.TelegramUser(1), identity.TelegramUser(2)
	for range 1000 {
		l.Record(a, key)
	}
	clock.Advance(time.Minute)
	l.Record(b, key)
	if len(st.got) != 0 {
		t.Fatal("a use was written before a flush")
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.got) != 1 || len(st.got[0]) != 2 {
		t.Fatalf("want one batch of two pairs, got %+v", st.got)
	}
	for _, c := range st.got[0] {
		switch c.Identity {
		case a:
			if c.Uses != 1000 || !c.LastUse.Equal(clock.Now().Add(-time.Minute)) {
				t.Errorf("a: %+v", c)
			}
		case b:
			if c.Uses != 1 || !c.LastUse.Equal(clock.Now()) {
				t.Errorf("b: %+v", c)
			}
		}
	}
	if err := l.Flush(context.Background()); err != nil || len(st.got) != 1 {
		t.Fatalf("empty flush wrote: %+v %v", st.got, err)
	}
}

func TestFailedFlushKeepsCounts(t *testing.T) {
	st := &batches{fail: errors.New("disk full")}
	l := accesslog.New(st, nil, 10, nil)
	who := identity.TelegramUser(1)
	l.Record(who, key)
	if err := l.Flush(context.Background()); err == nil {
		t.Fatal("failure not reported")
	}
	l.Record(who, key)
	st.fail = nil
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(st.got) != 1 || st.got[0][0].Uses != 2 {
		t.Fatalf("counts lost by a failed flush: %+v", st.got)
	}
}

func TestBoundedAndRunFlushesAtEnd(t *testing.T) {
	st := &batches{}
	l := accesslog.New(st, nil, 2, nil)
	for i := range 5 {
		l.Record(identity.TelegramUser(int64(i+1)), key)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Run wakes early for the full map or ends at once: either way its
	// last flush writes what was held.
	l.Run(ctx, time.Hour)
	total := 0
	for _, b := range st.got {
		total += len(b)
	}
	if total != 2 {
		t.Fatalf("want the 2 pairs the bound holds flushed, got %+v", st.got)
	}
}

// BenchmarkRecord is the cost the access log adds to each gated command.
func BenchmarkRecord(b *testing.B) {
	l := accesslog.New(&batches{}, nil, 0, nil)
	who := identity.TelegramUser(1)
	b.ReportAllocs()
	for b.Loop() {
		l.Record(who, key)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	l := accesslog.New(&batches{}, nil, 0, nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		who := identity.TelegramUser(7)
		for pb.Next() {
			l.Record(who, key)
		}
	})
}
