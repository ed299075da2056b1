// Package accesslog counts gated uses per (identity, license) for dispute
// evidence. The gate answers in nanoseconds, so a use is a map increment
// under a mutex; the counts reach the store in batches (one transaction a
// flush), never one write per command.
package accesslog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// DefaultMax bounds the pairs held between flushes.
const DefaultMax = 100000

// Store receives the batches.
type Store interface {
	AddAccessUses(ctx context.Context, batch []store.AccessCount) error
}

type pair struct {
	who identity.Identity
	key string
}

type count struct {
	uses int64
	last time.Time
}

// Log is safe for concurrent use.
type Log struct {
	store Store
	now   func() time.Time
	max   int
	log   *slog.Logger
	// full wakes Run early when the map reaches max.
	full chan struct{}

	mu      sync.Mutex
	counts  map[pair]count
	dropped int64
}

// New returns a Log flushing to st; max <= 0 uses DefaultMax.
func New(st Store, now func() time.Time, max int, log *slog.Logger) *Log {
	if now == nil {
		now = time.Now
	}
	if max <= 0 {
		max = DefaultMax
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Log{store: st, now: now, max: max, log: log, full: make(chan struct{}, 1), counts: map[pair]count{}}
}

// Record counts one gated use of key by who. When max pairs wait for a
// flush, a new pair is dropped (counted, logged at flush) rather than
// letting memory grow: a flush is already asked for.
func (l *Log) Record(who identity.Identity, key string) {
	now := l.now()
	p := pair{who, key}
	l.mu.Lock()
	c, ok := l.counts[p]
	if !ok && len(l.counts) >= l.max {
		l.dropped++
		l.mu.Unlock()
		select {
		case l.full <- struct{}{}:
		default:
		}
		return
	}
	c.uses++
	if now.After(c.last) {
		c.last = now
	}
	l.counts[p] = c
	l.mu.Unlock()
}

// Flush writes what was counted in one transaction. On failure the counts
// go back into the map, so nothing is lost but a later flush's chance.
func (l *Log) Flush(ctx context.Context) error {
	l.mu.Lock()
	taken, dropped := l.counts, l.dropped
	l.counts, l.dropped = make(map[pair]count, len(taken)), 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn("access log was full between flushes; uses not counted", "dropped", dropped, "max", l.max)
	}
	if len(taken) == 0 {
		return nil
	}
	batch := make([]store.AccessCount, 0, len(taken))
	for p, c := range taken {
		batch = append(batch, store.AccessCount{Identity: p.who, Key: p.key, Uses: c.uses, LastUse: c.last})
	}
	if err := l.store.AddAccessUses(ctx, batch); err != nil {
		l.mu.Lock()
		for p, c := range taken {
			n := l.counts[p]
			n.uses += c.uses
			if c.last.After(n.last) {
				n.last = c.last
			}
			l.counts[p] = n
		}
		l.mu.Unlock()
		return fmt.Errorf("accesslog: flush %d pairs: %w", len(batch), err)
	}
	return nil
}

// finalFlush bounds the flush at shutdown.
const finalFlush = 5 * time.Second

// Run flushes every interval and when the map fills, until ctx ends; then
// it flushes once more (the caller closes the store after Run returns).
func (l *Log) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalFlush)
			err := l.Flush(final)
			cancel()
			if err != nil {
				l.log.Error("access log: last flush failed", "err", err)
			}
			return
		case <-t.C:
		case <-l.full:
		}
		if err := l.Flush(ctx); err != nil {
			l.log.Warn("access log flush failed; retrying at the next one", "err", err)
		}
	}
}
