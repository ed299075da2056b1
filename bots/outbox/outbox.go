// Package outbox paces a chat bot's outgoing messages so that no chat,
// however busy, delays the others. The overall rate is a token bucket with
// a burst; each chat has its own bucket (its rate set by the caller, e.g.
// by chat type). Only chats that may send now compete for the overall
// rate, so a message waiting for its own chat never holds a place another
// chat could use. Among those, urgent messages (key deliveries,
// revocations, admin alerts) go first and bulk ones last.
//
// Queues are bounded: each chat holds at most ChatCap non-urgent messages
// and all chats TotalCap; a chat that overflows loses its own oldest
// non-urgent message, never another chat's and never an urgent one
// (urgent messages are bounded by their callers, who wait for them). A
// 429 holds the chat it was for until its retry_after, and everything
// when several chats are refused at once. Budgets are spent only when a
// message actually goes out.
package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shopbot/shopbot/notify"
)

// ErrDropped is given to a message pushed out of a full queue.
var ErrDropped = errors.New("outbox: message dropped, queue full")

// ErrClosed is given to messages still queued when the outbox closes.
var ErrClosed = errors.New("outbox: closed")

// Options configures an Outbox; zero fields take the defaults.
type Options struct {
	// Rate and Burst are the overall limit; default 30/s with a burst of
	// 30.
	Rate  rate.Limit
	Burst int
	// ChatLimit gives each chat's rate and burst; default 1/s, burst 3.
	ChatLimit func(chat int64) (rate.Limit, int)
	// ChatCap bounds one chat's queued non-urgent messages; default 20.
	ChatCap int
	// TotalCap bounds all queued non-urgent messages; default 10,000.
	TotalCap int
	// Senders is how many messages may be on the wire at once; default 8.
	Senders int
	// RetryAfter recognises a 429 answer and its wait.
	RetryAfter func(error) (time.Duration, bool)
	// MaxAttempts bounds the tries of one message refused with 429;
	// default 4. MaxRetryAfter: a longer requested wait fails the message
	// at once; default 60s.
	MaxAttempts   int
	MaxRetryAfter time.Duration
	// Now is the clock; default time.Now. Sleep, when set, is how the
	// outbox waits for a pacing slot instead of a timer (tests: a manual
	// clock that advances at once); a message queued meanwhile does not
	// cut the wait short, so production leaves it nil.
	Now    func() time.Time
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Rate == 0 {
		o.Rate = 30
	}
	if o.Burst <= 0 {
		o.Burst = 30
	}
	if o.ChatLimit == nil {
		o.ChatLimit = func(int64) (rate.Limit, int) { return 1, 3 }
	}
	if o.ChatCap <= 0 {
		o.ChatCap = 20
	}
	if o.TotalCap <= 0 {
		o.TotalCap = 10_000
	}
	if o.Senders <= 0 {
		o.Senders = 8
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 4
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Stats are the outbox's counters since start.
type Stats struct {
	Sent        uint64 // messages handed to the API
	Dropped     uint64 // messages dropped from full queues or at close
	RateLimited uint64 // 429 answers to messages it sent (not Hold's)
	GlobalHolds uint64 // times the whole bot was held
	Queued      int    // messages waiting now
}

// Outbox is safe for concurrent use. It runs from New until Close.
type Outbox struct {
	now   func() time.Time
	sleep func(context.Context, time.Duration) error
	log   *slog.Logger
	sem   chan struct{}
	wake  chan struct{}

	mu     sync.Mutex
	s      *scheduler
	closed bool

	stop  context.CancelFunc
	ended chan struct{}
}

// New starts an outbox.
func New(opts Options) *Outbox {
	opts.defaults()
	ctx, stop := context.WithCancel(context.Background())
	o := &Outbox{
		now:   opts.Now,
		sleep: opts.Sleep,
		log:   opts.Logger,
		sem:   make(chan struct{}, opts.Senders),
		wake:  make(chan struct{}, 1),
		s:     newScheduler(opts),
		stop:  stop,
		ended: make(chan struct{}),
	}
	go o.loop(ctx)
	return o
}

// Send queues a message for chat and waits until it was sent or failed.
// When ctx ends first, a message still queued is dropped (ctx's error);
// one already handed to the API is waited for, so the result says what
// happened. send makes the API call; it runs at most once per try.
func (o *Outbox) Send(ctx context.Context, chat int64, prio notify.Priority, send func(context.Context) error) error {
	result := make(chan error, 1)
	it := &item{chat: chat, prio: prio, send: send, ctx: ctx, done: func(err error) { result <- err }}
	if err := o.enqueue(it); err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
	}
	o.mu.Lock()
	onWire := it.dispatched
	if !onWire {
		// Under the lock the scheduler hands messages out with, so this
		// one is either on the wire already or never will be.
		o.s.withdraw(it, o.now())
	}
	o.mu.Unlock()
	if !onWire {
		return ctx.Err()
	}
	// Already handed to the API: its result is what happened (the
	// call has its own timeout), and a caller told "cancelled" about
	// a message that went out would send it again.
	return <-result
}

// Post queues a message without waiting; failed (if set) is told why it
// was not sent: dropped, closed, or the API's error.
func (o *Outbox) Post(chat int64, prio notify.Priority, send func(context.Context) error, failed func(error)) {
	it := &item{chat: chat, prio: prio, send: send, done: func(err error) {
		if err != nil && failed != nil {
			failed(err)
		}
	}}
	if err := o.enqueue(it); err != nil && failed != nil {
		failed(err)
	}
}

func (o *Outbox) enqueue(it *item) error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrClosed
	}
	err := o.s.enqueue(it, o.now())
	o.mu.Unlock()
	o.kick()
	return err
}

// Hold keeps chat quiet until until: for a 429 on a call that did not go
// through the outbox.
func (o *Outbox) Hold(chat int64, until time.Time) {
	o.mu.Lock()
	o.s.holdID(chat, until, o.now())
	o.mu.Unlock()
	o.kick()
}

// Stats reads the counters.
func (o *Outbox) Stats() Stats {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := o.s.stats
	st.Queued = o.s.ordinary + o.s.urgent
	return st
}

// Close stops taking messages, lets the queued ones go out until ctx
// ends (at the usual pace), then fails what is left with ErrClosed and
// waits for the sends on the wire.
func (o *Outbox) Close(ctx context.Context) {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	o.kick()
	for {
		if o.Stats().Queued == 0 {
			break
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
			continue
		}
		break
	}
	o.stop()
	<-o.ended
}

func (o *Outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// loop hands out messages as the scheduler allows, each sent by one of
// Senders goroutines.
func (o *Outbox) loop(ctx context.Context) {
	defer close(o.ended)
	var sending sync.WaitGroup
	defer func() {
		sending.Wait()
		o.mu.Lock()
		o.s.drain(ErrClosed)
		o.mu.Unlock()
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		// A sender place is taken first, so a message leaves the queue
		// only when it can go out at once.
		select {
		case o.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		o.mu.Lock()
		it, wait := o.s.next(o.now())
		o.mu.Unlock()
		if it != nil {
			sending.Go(func() { o.sendOne(it) })
			continue
		}
		<-o.sem
		if wait >= 0 && o.sleep != nil {
			if o.sleep(ctx, wait) != nil {
				return
			}
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		// Since Go 1.23 Reset and Stop leave no stale tick behind.
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

func (o *Outbox) sendOne(it *item) {
	defer func() { <-o.sem; o.kick() }()
	ctx := context.Background()
	if it.ctx != nil {
		// The caller's values but not its cancellation: once on the
		// wire the call runs to its own timeout, so its result is known.
		ctx = context.WithoutCancel(it.ctx)
	}
	err := it.send(ctx)
	o.mu.Lock()
	o.s.done(it, o.now(), err)
	o.mu.Unlock()
}
