// Package keylock owns per-key mutual exclusion: work on one key (a license
// key, a buyer and product) is serialised while work on other keys goes on,
// and a key's lock is forgotten once nobody holds or waits for it.
package keylock

import "sync"

// Map is a set of mutexes, one per key, created on first use and dropped
// when the last holder or waiter is done. The zero value is ready to use;
// a Map must not be copied after first use.
type Map struct {
	mu    sync.Mutex
	locks map[string]*entry
}

type entry struct {
	mu   sync.Mutex
	refs int // holders and waiters
}

// Lock blocks until the caller holds key's lock and returns the function
// that releases it, which must be called exactly once.
func (m *Map) Lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*entry{}
	}
	e := m.locks[key]
	if e == nil {
		e = &entry{}
		m.locks[key] = e
	}
	e.refs++
	m.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		m.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(m.locks, key)
		}
		m.mu.Unlock()
	}
}

// size reports how many keys have an entry (for tests).
func (m *Map) size() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.locks)
}
