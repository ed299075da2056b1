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
}

// PutEvent stores ev unless an event with its ID is already stored
// (inserted=false then, and nothing changes). It assigns Seq and, when ev
// has none, ReceivedAt; State defaults to EventPending. It returns only
// after the write is fsynced, so a 200 to Stripe means the event survives
// a crash. Concurrent calls, and the worker's writes, share commits (see
// committer).
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
	now := db.now()
	err = db.update(ctx, func(tx *bolt.Tx) error {
		var err error
		inserted, err = putEventTx(tx, ev, now)
		return err
	})
	if err != nil {
		return false, err
	}
	return inserted, nil
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
	if err := putJSON(b, []byte(ev.ID), ev); err != nil {
		return false, err
	}
	if err := bucket(tx, bucketEventsSeq).Put(u64(seq), []byte(ev.ID)); err != nil {
		return false, err
	}
	if err := bucket(tx, bucketEventsState).Put(stateKey(ev.State, seq), []byte(ev.ID)); err != nil {
		return false, err
	}
	return true, nil
}

func stateKey(s EventState, seq uint64) []byte {
	return join([]byte(s), u64(seq))
}

// GetEvent returns the stored event with that ID.
func (db *DB) GetEvent(ctx context.Context, id string) (Event, error) {
	var ev Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		ev, err = getEventTx(tx, id)
		return err
	})
	return ev, err
}

func getEventTx(tx *bolt.Tx, id string) (Event, error) {
	raw := bucket(tx, bucketEvents).Get([]byte(id))
	if raw == nil {
		return Event{}, fmt.Errorf("store: event %s: %w", id, ErrNotFound)
	}
	var ev Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return Event{}, fmt.Errorf("store: decode event %s: %w", id, err)
	}
	return ev, nil
}

// UpdateEvent saves the worker's bookkeeping for a stored event. Seq,
// Payload and ReceivedAt always keep their stored values: they record what
// Stripe sent and when, and no retry may rewrite that. An empty State keeps
// the stored one.
func (db *DB) UpdateEvent(ctx context.Context, ev Event) error {
	if ev.State != "" && !ev.State.valid() {
		return fmt.Errorf("store: event %s: unknown state %q", ev.ID, ev.State)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		old, err := getEventTx(tx, ev.ID)
		if err != nil {
			return err
		}
		ev.Seq, ev.Payload, ev.ReceivedAt = old.Seq, old.Payload, old.ReceivedAt
		if ev.State == "" {
			ev.State = old.State
		}
		if ev.State != old.State {
			idx := bucket(tx, bucketEventsState)
			if err := idx.Delete(stateKey(old.State, old.Seq)); err != nil {
				return err
			}
			if err := idx.Put(stateKey(ev.State, ev.Seq), []byte(ev.ID)); err != nil {
				return err
			}
		}
		return putJSON(bucket(tx, bucketEvents), []byte(ev.ID), ev)
	})
}

// PendingEvents returns up to limit pending events (all when limit <= 0)
// oldest first, including those whose NextAttemptAt is still ahead: the
// worker owns the retry schedule and per-order ordering.
func (db *DB) PendingEvents(ctx context.Context, limit int) ([]Event, error) {
	var out []Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := join([]byte(EventPending), nil)
		c := bucket(tx, bucketEventsState).Cursor()
		for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			ev, err := getEventTx(tx, string(id))
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
	err := db.view(ctx, func(tx *bolt.Tx) error {
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
			ev, err := getEventTx(tx, string(id))
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
func (db *DB) CountEvents(ctx context.Context) (map[EventState]int, error) {
	var out map[EventState]int
	err := db.view(ctx, func(tx *bolt.Tx) error {
		out = countEventsTx(tx)
		return nil
	})
	return out, err
}

func countEventsTx(tx *bolt.Tx) map[EventState]int {
	out := map[EventState]int{EventPending: 0, EventDone: 0, EventFailed: 0, EventIgnored: 0}
	c := bucket(tx, bucketEventsState).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if i := bytes.IndexByte(k, 0); i >= 0 {
			out[EventState(k[:i])]++
		}
	}
	return out
}
