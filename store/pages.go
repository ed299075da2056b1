package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// The paged reads below serve the admin dashboard: each reads at most
// limit records in one read transaction, newest first, from a cursor the
// previous page returned, so a page never walks the whole log and never
// holds the write lock the worker and the bots need.

// maxPage caps any page, whatever the caller asks.
const maxPage = 200

func pageLimit(limit int) int {
	if limit <= 0 || limit > maxPage {
		return maxPage
	}
	return limit
}

// EventsBefore returns up to limit events (without payloads) in state, or
// in any state when state is "", whose Seq is below before (0: from the
// newest), newest first. The next page starts before the last one's Seq.
func (db *DB) EventsBefore(ctx context.Context, state EventState, before uint64, limit int) ([]Event, error) {
	if state != "" && !state.valid() {
		return nil, fmt.Errorf("store: unknown event state %q", state)
	}
	limit = pageLimit(limit)
	var out []Event
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		var (
			c      *bolt.Cursor
			prefix []byte
			k, id  []byte
		)
		if state == "" {
			c = bucket(tx, bucketEventsSeq).Cursor()
			if before == 0 {
				k, id = c.Last()
			} else {
				k, id = seekBefore(c, u64(before))
			}
		} else {
			c = bucket(tx, bucketEventsState).Cursor()
			prefix = join([]byte(state), nil)
			end := append([]byte(state), 1)
			if before != 0 {
				end = stateKey(state, before)
			}
			k, id = seekBefore(c, end)
		}
		for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, id = c.Prev() {
			ev, err := getEventTx(tx, string(id), false)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// seekBefore puts c on the last key below end.
func seekBefore(c *bolt.Cursor, end []byte) (k, v []byte) {
	if k, _ = c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// AuditRecord is one audit entry with its place in the log, the cursor of
// the next page.
type AuditRecord struct {
	Seq uint64
	AuditEntry
}

// AuditBefore returns up to limit audit entries whose Seq is below before
// (0: from the newest), newest first.
func (db *DB) AuditBefore(ctx context.Context, before uint64, limit int) ([]AuditRecord, error) {
	limit = pageLimit(limit)
	var out []AuditRecord
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketAudit).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else {
			k, v = seekBefore(c, u64(before))
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("store: audit key of %d bytes", len(k))
			}
			r := AuditRecord{Seq: binary.BigEndian.Uint64(k)}
			if err := json.Unmarshal(v, &r.AuditEntry); err != nil {
				return fmt.Errorf("store: decode audit entry %d: %w", r.Seq, err)
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}
