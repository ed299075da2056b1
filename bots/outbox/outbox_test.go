package outbox_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopbot/shopbot/bots/outbox"
	"github.com/shopbot/shopbot/notify"
)

func unpaced() outbox.Options {
	return outbox.Options{Rate: rate.Inf, ChatLimit: func(int64) (rate.Limit, int) { return rate.Inf, 1 }}
}

func TestSendReturnsTheAPIResult(t *testing.T) {
	o := outbox.New(unpaced())
	defer o.Close(context.Background())
	boom := errors.New("boom")
	if err := o.Send(context.Background(), 1, notify.Urgent, func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Send: %v, want the API's error", err)
	}
	sent := false
	if err := o.Send(context.Background(), 1, notify.Urgent, func(context.Context) error { sent = true; return nil }); err != nil || !sent {
		t.Fatalf("Send: %v, sent %v", err, sent)
	}
	if st := o.Stats(); st.Sent != 2 || st.Queued != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestPostRunsConcurrentlyPerChatInOrder(t *testing.T) {
	o := outbox.New(unpaced())
	var mu sync.Mutex
	got := map[int64][]int{}
	var wg sync.WaitGroup
	for chat := int64(1); chat <= 20; chat++ {
		for i := range 5 {
			wg.Add(1)
			o.Post(chat, notify.Normal, func(context.Context) error {
				defer wg.Done()
				mu.Lock()
				got[chat] = append(got[chat], i)
				mu.Unlock()
				return nil
			}, func(err error) { t.Errorf("chat %d message %d: %v", chat, i, err); wg.Done() })
		}
	}
	wg.Wait()
	o.Close(context.Background())
	for chat, seq := range got {
		for i, v := range seq {
			if v != i {
				t.Fatalf("chat %d got %v: one chat's messages out of order", chat, seq)
			}
		}
	}
}

func TestCloseSendsWhatIsQueuedThenRefuses(t *testing.T) {
	o := outbox.New(unpaced())
	var sent atomic.Int32
	for range 10 {
		o.Post(1, notify.Normal, func(context.Context) error { sent.Add(1); return nil }, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.Close(ctx)
	if sent.Load() != 10 {
		t.Fatalf("%d of 10 queued messages sent before close", sent.Load())
	}
	if err := o.Send(context.Background(), 1, notify.Urgent, func(context.Context) error { return nil }); !errors.Is(err, outbox.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestCloseFailsWhatCannotGoInTime(t *testing.T) {
	opts := unpaced()
	opts.ChatLimit = func(int64) (rate.Limit, int) { return rate.Every(time.Hour), 1 }
	o := outbox.New(opts)
	var failed atomic.Int32
	for range 3 {
		o.Post(1, notify.Normal, func(context.Context) error { return nil }, func(err error) {
			if errors.Is(err, outbox.ErrClosed) {
				failed.Add(1)
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	o.Close(ctx)
	if failed.Load() != 2 {
		t.Fatalf("%d messages failed with ErrClosed, want 2 (one went, two waited an hour)", failed.Load())
	}
}
