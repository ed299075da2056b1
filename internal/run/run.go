// Package run owns the shutdown-aware pieces shared by the long-running
// chat adapters: a sleep that ends when its context does, and a gate that
// lets shutdown wait for the work in flight without racing new arrivals.
package run

import (
	"context"
	"sync"
	"time"
)

// Sleep waits for d or until ctx ends, whichever comes first, and returns
// ctx.Err() in the second case. A d <= 0 does not wait and returns
// ctx.Err().
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Gate counts work in progress (an update, an interaction) and, once
// closed, admits no more, so shutdown can wait for the last piece without
// racing a new arrival. The zero value is open; a Gate must not be copied
// after first use.
type Gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// Enter admits one piece of work and reports true, or reports false once
// the gate is closed. Every true must be followed by one Exit.
func (g *Gate) Enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// Exit marks one admitted piece of work done.
func (g *Gate) Exit() { g.wg.Done() }

// Close stops admitting work and waits until everything admitted has
// exited.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
