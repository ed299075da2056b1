package licensing

import (
	"sync"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// limiter is a per-identity sliding-window counter of activation attempts.
// It lives in memory: a restart forgets it, which costs a guesser at most one
// extra window of attempts.
type limiter struct {
	limit  int
	window time.Duration

	mu        sync.Mutex
	attempts  map[identity.Identity][]time.Time
	lastPrune time.Time
}

// pruneAbove is the map size past which allow drops idle identities.
const pruneAbove = 1024

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, attempts: map[identity.Identity][]time.Time{}}
}

// allow records an attempt by who at now if fewer than limit attempts fall
// in the window ending at now; otherwise it reports how long until the
// oldest one leaves the window. Refused attempts are not recorded, so a
// client hammering the bot does not extend its own lock-out forever.
func (l *limiter) allow(who identity.Identity, now time.Time) (time.Duration, bool) {
	if l.limit == 0 || l.window == 0 {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	start := now.Add(-l.window)
	kept := l.attempts[who][:0]
	for _, t := range l.attempts[who] {
		if t.After(start) {
			kept = append(kept, t)
		}
	}
	if len(kept) >= l.limit {
		l.attempts[who] = kept
		return kept[0].Add(l.window).Sub(now), false
	}
	l.attempts[who] = append(kept, now)
	return 0, true
}

// prune forgets identities with no attempt in the window, at most once per
// window and only when the map has grown.
func (l *limiter) prune(now time.Time) {
	if len(l.attempts) < pruneAbove || now.Sub(l.lastPrune) < l.window {
		return
	}
	l.lastPrune = now
	start := now.Add(-l.window)
	for who, ts := range l.attempts {
		if len(ts) == 0 || !ts[len(ts)-1].After(start) {
			delete(l.attempts, who)
		}
	}
}
