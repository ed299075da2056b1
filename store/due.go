package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Due-time index (bucket events_due) of pending events, so the worker
// reads only events that are due, in the order they are due, however long
// the backlog behind them:
//
//	priority (1 byte: 0 urgent, 1 other) | due (8 bytes, Unix ns) | seq (8 bytes)
//
// An event with no NextAttemptAt is due since it arrived (due 0 keeps it
// in arrival order by seq).
func dueKey(ev Event) []byte {
	prio := byte(1)
	if ev.Urgent {
		prio = 0
	}
	var due uint64
	if !ev.NextAttemptAt.IsZero() && ev.NextAttemptAt.UnixNano() > 0 {
		due = uint64(ev.NextAttemptAt.UnixNano())
	}
	k := make([]byte, 0, 17)
	k = append(k, prio)
	k = binary.BigEndian.AppendUint64(k, due)
	return binary.BigEndian.AppendUint64(k, ev.Seq)
}

// pendingKey indexes pending events by order key (bucket events_key), so
// "is an earlier event of this order still pending?" is one seek.
func pendingKey(orderKey string, seq uint64) []byte {
	return join([]byte(orderKey), u64(seq))
}

// DueEvents returns up to limit pending events due at now, urgent ones
// first, then by due time and arrival, with their payloads. skip (may be
// nil) leaves out events by seq (those a worker pass already looked at).
// next is the earliest due time after now of a pending event it saw, zero
// when it saw none: when to look again. Only due entries of the index are
// read, so the cost does not grow with the backlog of later events.
func (db *DB) DueEvents(ctx context.Context, now time.Time, limit int, skip func(seq uint64) bool) (evs []Event, next time.Time, err error) {
	return db.dueEvents(ctx, now, limit, skip, false)
}

// DueEventsFirst is DueEvents for the worker's own loop: it waits only
// until the payments acknowledged so far are in bbolt, not every event, so
// a payment is read while a burst of other events is still being stored.
// EventsApplied tells when more have been.
func (db *DB) DueEventsFirst(ctx context.Context, now time.Time, limit int, skip func(seq uint64) bool) (evs []Event, next time.Time, err error) {
	return db.dueEvents(ctx, now, limit, skip, true)
}

// EventsApplied is closed the next time journaled events reach bbolt (or
// a commit fails). Take it before reading, then wait on it.
func (db *DB) EventsApplied() <-chan struct{} {
	return db.in.appliedSignal()
}

func (db *DB) dueEvents(ctx context.Context, now time.Time, limit int, skip func(seq uint64) bool, paymentsOnly bool) (evs []Event, next time.Time, err error) {
	if err := db.settleFor(ctx, paymentsOnly); err != nil {
		return nil, time.Time{}, err
	}
	err = db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketEventsDue).Cursor()
		for _, prio := range []byte{0, 1} {
			for k, id := c.Seek([]byte{prio}); k != nil && k[0] == prio; k, id = c.Next() {
				if len(k) != 17 {
					continue
				}
				due := binary.BigEndian.Uint64(k[1:9])
				if due > uint64(now.UnixNano()) {
					if t := time.Unix(0, int64(due)); next.IsZero() || t.Before(next) {
						next = t
					}
					break
				}
				if skip != nil && skip(binary.BigEndian.Uint64(k[9:])) {
					continue
				}
				if limit > 0 && len(evs) >= limit {
					return nil
				}
				ev, err := getEventTx(tx, string(id), true)
				if err != nil {
					return err
				}
				evs = append(evs, ev)
			}
		}
		return nil
	})
	return evs, next, err
}

// EarlierPending reports whether an event with a lower seq than seq and
// the same order key is pending (the worker applies an order's events one
// at a time, in arrival order). An empty order key has no order. Events
// acknowledged but still in the journal have no seq yet and arrived after
// every stored one, so they count for a seq beyond every stored event's
// (math.MaxUint64: "is anything of this order pending?").
func (db *DB) EarlierPending(ctx context.Context, orderKey string, seq uint64) (bool, error) {
	if orderKey == "" {
		return false, nil
	}
	// The journal is asked before bbolt: an event leaves it only after
	// the commit that stored it, so it is seen in one or the other.
	journaled := db.in.journaledPending(orderKey)
	var earlier bool
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if journaled && seq > bucket(tx, bucketEvents).Sequence() {
			earlier = true
			return nil
		}
		prefix := join([]byte(orderKey), nil)
		k, _ := bucket(tx, bucketEventsKey).Cursor().Seek(prefix)
		if k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8 {
			earlier = binary.BigEndian.Uint64(k[len(prefix):]) < seq
		}
		return nil
	})
	return earlier, err
}
