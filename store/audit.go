package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AuditEntry is one admin or lifecycle action. Targets carry masked keys
// only; the store does not unmask or mask them.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Audit appends e to the log (Time defaults to now). Entries are keyed by
// a sequence, not by time, so clock jumps cannot reorder or overwrite them.
func (db *DB) Audit(ctx context.Context, e AuditEntry) error {
	return db.update(ctx, func(tx *bolt.Tx) error { return db.auditTx(tx, e) })
}

func (db *DB) auditTx(tx *bolt.Tx, e AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = db.now()
	}
	b := bucket(tx, bucketAudit)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return putJSON(b, u64(seq), e)
}

// RecentAudit returns the last n entries, newest first (all when n <= 0).
func (db *DB) RecentAudit(ctx context.Context, n int) ([]AuditEntry, error) {
	var out []AuditEntry
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && (n <= 0 || len(out) < n); k, v = c.Prev() {
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("store: decode audit entry: %w", err)
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
