// Package fakeclock is a manual clock for tests and the demo: time stands
// still until Advance, Set or Sleep moves it, so expiries, pacing and
// retry waits run instantly and can be asserted. A Clock is safe for
// concurrent use.
package fakeclock

import (
	"context"
	"sync"
	"time"
)

// Clock is a manual clock. Its methods are safe for concurrent use; a
// Clock must not be copied after first use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

// New returns a clock that reads t until it is moved.
func New(t time.Time) *Clock {
	return &Clock{now: t}
}

// Now reports the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Sleep stands in for a real, context-aware sleep: instead of waiting it
// advances the clock by d and records d (see Sleeps). It returns ctx.Err()
// without moving the clock if ctx has already ended. A d <= 0 neither moves
// the clock nor is recorded.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
		c.sleeps = append(c.sleeps, d)
	}
	return nil
}

// Sleeps returns a copy of the durations Sleep has advanced by, oldest
// first.
func (c *Clock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}
