package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EventState is where a stored Stripe event is in fulfillment.
type EventState string

const (
	EventPending EventState = "pending"
	EventDone    EventState = "done"
	EventFailed  EventState = "failed"
	EventIgnored EventState = "ignored"
)

func (s EventState) valid() bool {
	switch s {
	case EventPending, EventDone, EventFailed, EventIgnored:
		return true
	}
	return false
}

// Event is a verified webhook (or catch-up) event as received, plus the
// worker's bookkeeping.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	APIVersion string    `json:"api_version,omitempty"`
	Created    time.Time `json:"created,omitzero"`
	// OrderKey groups events about one order or subscription so the worker
	// can process them one at a time in arrival order.
	OrderKey string `json:"order_key,omitempty"`
	Payload  []byte `json:"payload,omitempty"`
	// Seq (arrival order) and ReceivedAt are set by PutEvent.
	Seq           uint64     `json:"seq"`
	ReceivedAt    time.Time  `json:"received_at"`
	State         EventState `json:"state"`
	Attempts      int        `json:"attempts,omitempty"`
	NextAttemptAt time.Time  `json:"next_attempt_at,omitzero"`
	LastError     string     `json:"last_error,omitempty"`
	DoneAt        time.Time  `json:"done_at,omitzero"`
	// Source says how the event arrived ("webhook", "catchup", ...).
	Source string `json:"source,omitempty"`
	// Urgent events (a payment that should become a license) are read
	// before other due events, so a purchase never waits behind a backlog
	// of events about other orders.
	Urgent bool `json:"urgent,omitempty"`
}

// PutEvent stores ev unless an event with its ID is already stored
// (inserted=false then, and nothing changes). It sets ReceivedAt when ev
// has none, and State defaults to EventPending; Seq is assigned in arrival
// order when the event reaches bbolt. It returns once the event is durable
// in the journal (see journal.go), so a 200 to Stripe means the event
// survives a crash; every read of events afterwards sees it. Concurrent
// calls share one journal write and fsync.
func (db *DB) PutEvent(ctx context.Context, ev Event) (inserted bool, err error) {
	if err := checkID("event", ev.ID); err != nil {
		return false, err
	}
	if ev.State == "" {
		ev.State = EventPending
	}
	if !ev.State.valid() {
		return false, fmt.Errorf("store: event %s: unknown state %q", ev.ID, ev.State)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = db.now()
	}
	for {
		r, other, stored, err := db.claimEvent(ev)
		switch {
		case err != nil:
			return false, err
		case stored:
			return false, nil
		case other != nil:
			// Another delivery of this event is being journaled; its
			// outcome is this one's, unless it failed.
			<-other.done
			if other.err == nil {
				return false, nil
			}
			continue
		}
		if err := db.journalEvent(r); err != nil {
			return false, err
		}
		<-r.done
		return r.err == nil, r.err
	}
}

// claimEvent makes ev this caller's to journal (mine), unless it is
// stored already or another caller is journaling it (other, to wait on).
// The caller enters the journal's in-flight set before bbolt is read, and
// an event leaves that set only after the commit that applied it: so a
// second delivery finds it in one or the other. bbolt is read outside the
// set's lock, which a commit growing the file could otherwise hold up for
// every webhook.
func (db *DB) claimEvent(ev Event) (mine, other *journalReq, stored bool, err error) {
	db.in.mu.Lock()
	if r := db.in.inflight[ev.ID]; r != nil {
		db.in.mu.Unlock()
		return nil, r, false, nil
	}
	mine = &journalReq{ev: ev, done: make(chan struct{})}
	db.in.inflight[ev.ID] = mine
	db.in.mu.Unlock()
	err = db.bolt.View(func(tx *bolt.Tx) error {
		stored = bucket(tx, bucketEvents).Get([]byte(ev.ID)) != nil
		return nil
	})
	if err != nil || stored {
		// Deliveries that found mine meanwhile learn the same.
		db.in.mu.Lock()
		delete(db.in.inflight, ev.ID)
		db.in.mu.Unlock()
		if err != nil {
			mine.err = fmt.Errorf("store: event %s: %w", ev.ID, err)
		}
		close(mine.done)
		return nil, nil, stored, mine.err
	}
	return mine, nil, false, nil
}

// journalEvent queues r to the journal's writer.
func (db *DB) journalEvent(r *journalReq) error {
	db.closeMu.RLock()
	defer db.closeMu.RUnlock()
	if db.closed {
		db.in.mu.Lock()
		delete(db.in.inflight, r.ev.ID)
		db.in.mu.Unlock()
		// A second delivery may be waiting on r.
		r.err = errClosed
		close(r.done)
		return errClosed
	}
	db.in.reqs <- r
	return nil
}

// applyJournaledTx copies journaled events into bbolt, in journal order
// (which is arrival order: Seq is assigned here). An event stored already
// (a replay after a crash) is left as it is.
func applyJournaledTx(tx *bolt.Tx, rs []*journalReq, now time.Time) error {
	for _, r := range rs {
		if _, err := putEventTx(tx, r.ev, now); err != nil {
			return err
		}
	}
	return nil
}

func putEventTx(tx *bolt.Tx, ev Event, now time.Time) (bool, error) {
	b := bucket(tx, bucketEvents)
	if b.Get([]byte(ev.ID)) != nil {
		return false, nil
	}
	seq, err := b.NextSequence()
	if err != nil {
		return false, fmt.Errorf("store: event %s: sequence: %w", ev.ID, err)
	}
	ev.Seq = seq
	if ev.ReceivedAt.IsZero() {
		ev.ReceivedAt = now
	}
	if len(ev.Payload) > 0 {
		if err := bucket(tx, bucketEventsPayload).Put([]byte(ev.ID), ev.Payload); err != nil {
			return false, fmt.Errorf("store: event %s: payload: %w", ev.ID, err)
		}
	}
	if err := bucket(tx, bucketEventsSeq).Put(u64(seq), []byte(ev.ID)); err != nil {
		return false, err
	}
	if err := writeEventTx(tx, ev, nil); err != nil {
		return false, err
	}
	return true, nil
}

// writeEventTx stores ev's record (without its payload, which is written
// once by putEventTx and never changes) and moves its index entries and
// counters from old's state (nil: a new event).
func writeEventTx(tx *bolt.Tx, ev Event, old *Event) error {
	if old != nil {
		if err := unindexEventTx(tx, *old); err != nil {
			return err
		}
	}
	if err := indexEventTx(tx, ev); err != nil {
		return err
	}
	ev.Payload = nil
	return putJSON(bucket(tx, bucketEvents), []byte(ev.ID), ev)
}

func indexEventTx(tx *bolt.Tx, ev Event) error {
	if err := bucket(tx, bucketEventsState).Put(stateKey(ev.State, ev.Seq), []byte(ev.ID)); err != nil {
		return err
	}
	if err := addCount(tx, eventCounter(ev.State), 1); err != nil {
		return err
	}
	if ev.State != EventPending {
		return nil
	}
	if err := bucket(tx, bucketEventsDue).Put(dueKey(ev), []byte(ev.ID)); err != nil {
		return err
	}
	return bucket(tx, bucketEventsKey).Put(pendingKey(ev.OrderKey, ev.Seq), nil)
}

func unindexEventTx(tx *bolt.Tx, ev Event) error {
	if err := bucket(tx, bucketEventsState).Delete(stateKey(ev.State, ev.Seq)); err != nil {
		return err
	}
	if err := addCount(tx, eventCounter(ev.State), -1); err != nil {
		return err
	}
	if ev.State != EventPending {
		return nil
	}
	if err := bucket(tx, bucketEventsDue).Delete(dueKey(ev)); err != nil {
		return err
	}
	return bucket(tx, bucketEventsKey).Delete(pendingKey(ev.OrderKey, ev.Seq))
}

func stateKey(s EventState, seq uint64) []byte {
	return join([]byte(s), u64(seq))
}

// GetEvent returns the stored event with that ID, payload included.
func (db *DB) GetEvent(ctx context.Context, id string) (Event, error) {
	var ev Event
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		var err error
		ev, err = getEventTx(tx, id, true)
		return err
	})
	return ev, err
}

// getEventTx reads an event's record, and its payload when withPayload
// (copied: bbolt's memory is only valid inside the transaction).
func getEventTx(tx *bolt.Tx, id string, withPayload bool) (Event, error) {
	raw := bucket(tx, bucketEvents).Get([]byte(id))
	if raw == nil {
		return Event{}, fmt.Errorf("store: event %s: %w", id, ErrNotFound)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, fmt.Errorf("store: decode event %s: %w", id, err)
	}
	if withPayload {
		if p := bucket(tx, bucketEventsPayload).Get([]byte(id)); p != nil {
			ev.Payload = bytes.Clone(p)
		}
	}
	return ev, nil
}

// UpdateEvent saves the worker's bookkeeping for a stored event (see
// UpdateEvents).
func (db *DB) UpdateEvent(ctx context.Context, ev Event) error {
	return db.UpdateEvents(ctx, []Event{ev})
}

// UpdateEvents saves the worker's bookkeeping for stored events, all in
// one transaction (shared with other writes ready at the moment), so a
// batch of outcomes costs one commit. Seq, Payload, ReceivedAt, OrderKey
// and Urgent always keep their stored values: they record what Stripe
// sent and when, and no retry may rewrite that. An empty State keeps the
// stored one. Nothing is saved when any event is unknown or invalid.
func (db *DB) UpdateEvents(ctx context.Context, evs []Event) error {
	return db.updateEvents(ctx, evs, false)
}

// UpdateEventsLazily is UpdateEvents for outcomes nobody waits on: they
// join the next commit made for another write (a webhook's event, say)
// instead of costing one of their own, waiting at most a few milliseconds
// for one. It too returns once they are durable.
func (db *DB) UpdateEventsLazily(ctx context.Context, evs []Event) error {
	return db.updateEvents(ctx, evs, true)
}

func (db *DB) updateEvents(ctx context.Context, evs []Event, lazy bool) error {
	for _, ev := range evs {
		if ev.State != "" && !ev.State.valid() {
			return fmt.Errorf("store: event %s: unknown state %q", ev.ID, ev.State)
		}
	}
	return db.write(ctx, func(tx *bolt.Tx) error {
		for _, ev := range evs {
			old, err := getEventTx(tx, ev.ID, false)
			if err != nil {
				return err
			}
			ev.Seq, ev.ReceivedAt, ev.OrderKey, ev.Urgent = old.Seq, old.ReceivedAt, old.OrderKey, old.Urgent
			if ev.State == "" {
				ev.State = old.State
			}
			if err := writeEventTx(tx, ev, &old); err != nil {
				return err
			}
		}
		return nil
	}, lazy)
}

// PendingEvents returns up to limit pending events (all when limit <= 0)
// oldest first, including those whose NextAttemptAt is still ahead: the
// worker owns the retry schedule and per-order ordering.
func (db *DB) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	var out []Event
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		prefix := join([]byte(EventPending), nil)
		c := bucket(tx, bucketEventsState).Cursor()
		for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			ev, err := getEventTx(tx, string(id), true)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// ListEvents returns up to limit events in state (any state when state is
// ""), newest first. limit <= 0 means all.
func (db *DB) ListEvents(ctx context.Context, state EventState, limit int) ([]Event, error) {
	var out []Event
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		var c *bolt.Cursor
		var prefix []byte
		var k, id []byte
		if state == "" {
			c = bucket(tx, bucketEventsSeq).Cursor()
			k, id = c.Last()
		} else {
			c = bucket(tx, bucketEventsState).Cursor()
			prefix = join([]byte(state), nil)
			// Seek past the last key of the prefix, then step back.
			end := append([]byte(state), 1)
			if k, id = c.Seek(end); k == nil {
				k, id = c.Last()
			} else {
				k, id = c.Prev()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, id = c.Prev() {
			if limit > 0 && len(out) >= limit {
				break
			}
			ev, err := getEventTx(tx, string(id), true)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// CountEvents counts stored events by state; every state has an entry.
// The figures are counters kept in the same transactions as the events,
// so this reads four keys, not the events.
func (db *DB) CountEvents(ctx context.Context) (map[EventState]int, error) {
	var out map[EventState]int
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		out = countEventsTx(tx)
		return nil
	})
	return out, err
}

func countEventsTx(tx *bolt.Tx) map[EventState]int {
	out := map[EventState]int{}
	for _, s := range []EventState{EventPending, EventDone, EventFailed, EventIgnored} {
		out[s] = int(getCount(tx, eventCounter(s)))
	}
	return out
}
