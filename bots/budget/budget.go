// Package budget keeps one chat identity from making the shop slow for
// everyone else. Each identity (tg:123, discord:456) has a token bucket of
// commands and a cap on commands in progress, and the shop has a cap on
// commands in progress overall. The adapters ask before doing any work or
// outside call; a command over budget is dropped, and its sender is told
// to slow down at most once per NoticeEvery.
//
// Buckets live in two generations of maps that rotate every Window (at
// least the time a bucket takes to refill and NoticeEvery): an identity
// untouched for a whole window has a full bucket and no recent notice,
// so forgetting it loses nothing. Memory follows the identities active in
// the last two windows, without any timer or scan.
package budget

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Options configures a Budget; zero fields take the defaults.
type Options struct {
	// PerMinute is the sustained number of commands an identity may send;
	// default 60 (one a second, which a person typing never reaches).
	PerMinute int
	// Burst is how many commands may come at once; default 10.
	Burst int
	// InFlight is how many commands of one identity may be in progress at
	// once; default 2.
	InFlight int
	// InFlightAll caps commands in progress for everyone; default 64.
	InFlightAll int
	// NoticeEvery spaces the "slow down" replies to one identity;
	// default 1m.
	NoticeEvery time.Duration
	// MaxTracked bounds the identities held in memory; past it the older
	// generation is forgotten early. Default 200,000.
	MaxTracked int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verdict is what to do with one command.
type Verdict int

const (
	// Allow: do the work, then call the Ticket's Done.
	Allow Verdict = iota
	// Drop: ignore the command silently.
	Drop
	// DropNotify: ignore the command and tell the sender to slow down;
	// given at most once per NoticeEvery per identity.
	DropNotify
)

// Reason says why a command was dropped.
type Reason int

const (
	ReasonNone Reason = iota
	// ReasonRate: the identity spent its bucket.
	ReasonRate
	// ReasonBusy: the identity already has InFlight commands in progress.
	ReasonBusy
	// ReasonFull: the shop has InFlightAll commands in progress.
	ReasonFull
)

// Ticket is an admitted command; Done must be called once when it ends.
type Ticket struct {
	b *Budget
	e *entry
}

// Done releases the command's places in the in-flight caps. Done on the
// zero Ticket does nothing.
func (t Ticket) Done() {
	if t.b == nil {
		return
	}
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	t.e.inflight--
	t.b.inflight--
}

// Budget is safe for concurrent use.
type Budget struct {
	perSecond   rate.Limit
	burst       int
	maxIdentity int
	maxAll      int
	noticeEvery time.Duration
	maxTracked  int
	window      time.Duration
	now         func() time.Time

	mu       sync.Mutex
	cur      map[string]*entry
	prev     map[string]*entry
	rotated  time.Time
	inflight int

	dropped [4]atomic.Uint64 // by Reason
}

type entry struct {
	lim        *rate.Limiter
	inflight   int
	lastNotice time.Time
}

// New returns a Budget with opts' limits.
func New(opts Options) *Budget {
	if opts.PerMinute <= 0 {
		opts.PerMinute = 60
	}
	if opts.Burst <= 0 {
		opts.Burst = 10
	}
	if opts.InFlight <= 0 {
		opts.InFlight = 2
	}
	if opts.InFlightAll <= 0 {
		opts.InFlightAll = 64
	}
	if opts.NoticeEvery <= 0 {
		opts.NoticeEvery = time.Minute
	}
	if opts.MaxTracked <= 0 {
		opts.MaxTracked = 200_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	perSecond := rate.Limit(float64(opts.PerMinute) / 60)
	refill := time.Duration(float64(opts.Burst) / float64(perSecond) * float64(time.Second))
	return &Budget{
		perSecond:   perSecond,
		burst:       opts.Burst,
		maxIdentity: opts.InFlight,
		maxAll:      opts.InFlightAll,
		noticeEvery: opts.NoticeEvery,
		maxTracked:  opts.MaxTracked,
		window:      max(refill, opts.NoticeEvery),
		now:         opts.Now,
		cur:         map[string]*entry{},
		prev:        map[string]*entry{},
	}
}

// Admit decides about one command from who, spending one token of its
// bucket. With Allow, the Ticket must be released with Done when the
// command's work ends.
func (b *Budget) Admit(who string) (Verdict, Reason, Ticket) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.lookup(who, now)
	var reason Reason
	// The caps are asked before the rate, so a command dropped because
	// too many are running spends none of the sender's rate.
	switch {
	case e.inflight >= b.maxIdentity:
		reason = ReasonBusy
	case b.inflight >= b.maxAll:
		reason = ReasonFull
	case !e.lim.AllowN(now, 1):
		reason = ReasonRate
	default:
		e.inflight++
		b.inflight++
		return Allow, ReasonNone, Ticket{b: b, e: e}
	}
	b.dropped[reason].Add(1)
	if now.Sub(e.lastNotice) >= b.noticeEvery {
		e.lastNotice = now
		return DropNotify, reason, Ticket{}
	}
	return Drop, reason, Ticket{}
}

// lookup finds or makes who's entry; b.mu is held.
func (b *Budget) lookup(who string, now time.Time) *entry {
	if b.rotated.IsZero() {
		b.rotated = now
	}
	if now.Sub(b.rotated) >= b.window || len(b.cur) >= b.maxTracked {
		b.rotate(now)
	}
	if e, ok := b.cur[who]; ok {
		return e
	}
	if e, ok := b.prev[who]; ok {
		delete(b.prev, who)
		b.cur[who] = e
		return e
	}
	e := &entry{lim: rate.NewLimiter(b.perSecond, b.burst)}
	b.cur[who] = e
	return e
}

// rotate starts a new generation. Entries of the dropped one with
// commands still in progress are carried over so their caps hold; every
// entry is carried at most once per window, so this costs O(1) per
// command over time.
func (b *Budget) rotate(now time.Time) {
	old := b.prev
	b.prev, b.cur = b.cur, make(map[string]*entry, len(b.cur))
	b.rotated = now
	for who, e := range old {
		if e.inflight > 0 {
			b.cur[who] = e
		}
	}
}

// Stats are the counters for /metrics and /stats.
type Stats struct {
	// DroppedRate, DroppedBusy and DroppedFull count dropped commands by
	// reason since start.
	DroppedRate, DroppedBusy, DroppedFull uint64
	// InFlight is the number of commands in progress now.
	InFlight int
	// Tracked is the number of identities held in memory now.
	Tracked int
}

// Dropped is every dropped command, whatever the reason.
func (s Stats) Dropped() uint64 { return s.DroppedRate + s.DroppedBusy + s.DroppedFull }

// Stats reads the counters.
func (b *Budget) Stats() Stats {
	b.mu.Lock()
	inflight, tracked := b.inflight, len(b.cur)+len(b.prev)
	b.mu.Unlock()
	return Stats{
		DroppedRate: b.dropped[ReasonRate].Load(),
		DroppedBusy: b.dropped[ReasonBusy].Load(),
		DroppedFull: b.dropped[ReasonFull].Load(),
		InFlight:    inflight,
		Tracked:     tracked,
	}
}
