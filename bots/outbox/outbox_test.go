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

// A caller that stops waiting learns what happened: a message already on
// the wire is waited for (it went out, so the caller must not send it
// again); one still queued is dropped with the caller's error.
func TestSendAfterCancelTellsWhatHappened(t *testing.T) {
	opts := unpaced()
	opts.ChatLimit = func(int64) (rate.Limit, int) { return rate.Every(time.Hour), 1 }
	o := outbox.New(opts)
	// The cancelled message leaves the queue at once: nothing holds up
	// Close, though its turn would come only in an hour.
	defer o.Close(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	onWire, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- o.Send(ctx, 1, notify.Urgent, func(context.Context) error { close(onWire); <-release; return nil })
	}()
	<-onWire
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Send returned %v while its message was still on the wire", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Send = %v, want nil: the message went out", err)
	}

	// Chat 1 has spent its burst: the next message waits an hour.
	ctx, cancel = context.WithCancel(context.Background())
	sent := false
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := o.Send(ctx, 1, notify.Urgent, func(context.Context) error { sent = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("queued Send after cancel = %v, want context.Canceled", err)
	}
	if sent {
		t.Fatal("a cancelled queued message was sent")
	}
	if q := o.Stats().Queued; q != 0 {
		t.Fatalf("%d still queued after the caller gave up", q)
	}
}
