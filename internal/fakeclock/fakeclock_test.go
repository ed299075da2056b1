package fakeclock_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/internal/fakeclock"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func TestNowAdvanceSet(t *testing.T) {
	c := fakeclock.New(t0)
	if got := c.Now(); !got.Equal(t0) {
		t.Fatalf("Now = %v, want %v", got, t0)
	}
	c.Advance(90 * time.Second)
	if got, want := c.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	t1 := t0.Add(-time.Hour)
	c.Set(t1)
	if got := c.Now(); !got.Equal(t1) {
		t.Fatalf("after Set: %v, want %v", got, t1)
	}
	if s := c.Sleeps(); len(s) != 0 {
		t.Fatalf("Advance and Set recorded sleeps: %v", s)
	}
}

func TestSleep(t *testing.T) {
	c := fakeclock.New(t0)
	ctx := context.Background()
	for _, d := range []time.Duration{time.Second, 0, -time.Second, 5 * time.Second} {
		if err := c.Sleep(ctx, d); err != nil {
			t.Fatalf("Sleep(%v): %v", d, err)
		}
	}
	if got, want := c.Now(), t0.Add(6*time.Second); !got.Equal(want) {
		t.Errorf("Now = %v, want %v", got, want)
	}
	want := []time.Duration{time.Second, 5 * time.Second}
	got := c.Sleeps()
	if !slices.Equal(got, want) {
		t.Errorf("Sleeps = %v, want %v", got, want)
	}
	got[0] = time.Hour // a copy: the clock's record is unchanged
	if !slices.Equal(c.Sleeps(), want) {
		t.Errorf("Sleeps shares its slice with the caller")
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := c.Sleep(cctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
	if got, want := c.Now(), t0.Add(6*time.Second); !got.Equal(want) {
		t.Errorf("a cancelled Sleep moved the clock to %v", got)
	}
	if len(c.Sleeps()) != 2 {
		t.Errorf("a cancelled Sleep was recorded: %v", c.Sleeps())
	}
}

func TestConcurrent(t *testing.T) {
	c := fakeclock.New(t0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Sleep(context.Background(), time.Millisecond)
				_ = c.Now()
				_ = c.Sleeps()
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(1600*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now = %v, want %v", got, want)
	}
	if n := len(c.Sleeps()); n != 800 {
		t.Errorf("%d sleeps recorded, want 800", n)
	}
}
