package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The activations_refresh index (last refresh, big-endian unix
// nanoseconds, then the activation's own key → nothing) lets the eager
// heartbeat read only the activations it is due to refresh, oldest
// refresh first, instead of every activation every interval. It is kept in
// the same transactions as the activations.

// refreshedAt is when a was last verified: its refresh, or its activation
// when it was never refreshed.
func refreshedAt(a Activation) time.Time {
	if !a.RefreshedAt.IsZero() {
		return a.RefreshedAt
	}
	return a.ActivatedAt
}

func refreshKey(at time.Time, actKey []byte) []byte {
	ns := int64(0)
	if !at.IsZero() && at.Unix() > 0 {
		ns = at.UnixNano()
	}
	return append(binary.BigEndian.AppendUint64(nil, uint64(ns)), actKey...)
}

// storedRefresh is the index time of a stored activation record (never
// sealed fields only); ok is false when raw is nil.
func storedRefresh(raw []byte) (time.Time, bool, error) {
	if raw == nil {
		return time.Time{}, false, nil
	}
	var r struct {
		ActivatedAt time.Time `json:"activated_at" rec:"12"`
		RefreshedAt time.Time `json:"refreshed_at,omitzero" rec:"13"`
	}
	if err := decodeRecord(raw, &r); err != nil {
		return time.Time{}, false, fmt.Errorf("store: decode activation: %w", err)
	}
	return refreshedAt(Activation{ActivatedAt: r.ActivatedAt, RefreshedAt: r.RefreshedAt}), true, nil
}

// reindexRefreshTx moves the index entry of the activation stored under
// actKey from its old record (oldRaw, nil when new) to at; a zero next
// with remove set deletes it.
func reindexRefreshTx(tx *bolt.Tx, actKey, oldRaw []byte, next time.Time, remove bool) error {
	b := bucket(tx, bucketActivationsRefresh)
	was, had, err := storedRefresh(oldRaw)
	if err != nil {
		return err
	}
	if had && (remove || !was.Equal(next)) {
		if err := b.Delete(refreshKey(was, actKey)); err != nil {
			return err
		}
	}
	if !remove && (!had || !was.Equal(next)) {
		return b.Put(refreshKey(next, actKey), nil)
	}
	return nil
}

// RefreshCursor is where ActivationsRefreshedBefore stopped; the zero
// value starts from the oldest.
type RefreshCursor struct{ last []byte }

// ActivationsRefreshedBefore returns up to limit activations last verified
// before cutoff, oldest first, starting after cur, and the cursor to pass
// for the next page (done when fewer than limit came back). Activations
// refreshed meanwhile move past cutoff and are not read again.
func (db *DB) ActivationsRefreshedBefore(ctx context.Context, cutoff time.Time, cur RefreshCursor, limit int) ([]Activation, RefreshCursor, error) {
	var out []Activation
	end := refreshKey(cutoff, nil)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		acts := bucket(tx, bucketActivations)
		c := bucket(tx, bucketActivationsRefresh).Cursor()
		k, _ := c.First()
		if cur.last != nil {
			if k, _ = c.Seek(cur.last); k != nil && bytes.Equal(k, cur.last) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && len(out) < limit && bytes.Compare(k[:8], end[:8]) < 0; k, _ = c.Next() {
			cur.last = append(cur.last[:0], k...)
			raw := acts.Get(k[8:])
			if raw == nil {
				return fmt.Errorf("store: refresh index names a missing activation")
			}
			a, err := db.decodeActivation(raw)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	if err != nil {
		return nil, cur, err
	}
	return out, cur, nil
}

// migrateRefreshV4 builds the refresh index of the activations already
// stored.
func migrateRefreshV4(tx *bolt.Tx) (int, error) {
	n := 0
	idx := bucket(tx, bucketActivationsRefresh)
	err := bucket(tx, bucketActivations).ForEach(func(k, v []byte) error {
		at, _, err := storedRefresh(v)
		if err != nil {
			return fmt.Errorf("activation %q: %w", k, err)
		}
		n++
		return idx.Put(refreshKey(at, k), nil)
	})
	return n, err
}
