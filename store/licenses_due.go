package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The licenses_due index (due time, big-endian unix nanoseconds, 0x00,
// key id → nothing) lists the licenses whose holders the sweeper must
// retire once the time comes: an expiring license at its expiry, a revoked
// one at once (a revocation cut off partway is finished by the sweeper).
// The sweeper reads only what is due and clears each entry it has
// handled, so a sweep costs what is due, not the size of the store.

// DueLicense is one entry of the index.
type DueLicense struct {
	Key string
	At  time.Time
}

// dueAt is when l's holders must be retired, and whether ever.
func dueAt(l License) (time.Time, bool) {
	switch {
	case l.Status == LicenseRevoked:
		return l.RevokedAt, true
	case !l.ExpiresAt.IsZero():
		return l.ExpiresAt, true
	}
	return time.Time{}, false
}

func licenseDueKey(at time.Time, kid []byte) []byte {
	ns := int64(0)
	if !at.IsZero() && at.Unix() > 0 {
		ns = at.UnixNano()
	}
	return join(binary.BigEndian.AppendUint64(nil, uint64(ns)), kid)
}

// reindexDueTx moves kid's entry from old's due time to l's.
func reindexDueTx(tx *bolt.Tx, kid []byte, old License, exists bool, l License) error {
	b := bucket(tx, bucketLicensesDue)
	was, hadDue := dueAt(old)
	now, hasDue := dueAt(l)
	if exists && hadDue && (!hasDue || !was.Equal(now)) {
		if err := b.Delete(licenseDueKey(was, kid)); err != nil {
			return err
		}
	}
	if hasDue && (!exists || !hadDue || !was.Equal(now)) {
		return b.Put(licenseDueKey(now, kid), nil)
	}
	return nil
}

// LicensesDue returns up to limit index entries due at or before now,
// oldest first, starting after after (nil: from the start).
func (db *DB) LicensesDue(ctx context.Context, now time.Time, after *DueLicense, limit int) ([]DueLicense, error) {
	return db.LicensesDueBetween(ctx, time.Time{}, now, after, limit)
}

// LicensesDueBetween is LicensesDue for entries due after from (zero: any)
// and at or before to: the licenses that run out in a window, for
// reminders.
func (db *DB) LicensesDueBetween(ctx context.Context, from, to time.Time, after *DueLicense, limit int) ([]DueLicense, error) {
	var out []DueLicense
	err := db.view(ctx, func(tx *bolt.Tx) error {
		licenses := bucket(tx, bucketLicenses)
		c := bucket(tx, bucketLicensesDue).Cursor()
		end := licenseDueKey(to, nil)
		var k []byte
		if from.IsZero() {
			k, _ = c.First()
		} else {
			// Past every entry due exactly at from.
			k, _ = c.Seek(licenseDueKey(from.Add(time.Nanosecond), nil))
		}
		if after != nil {
			from := licenseDueKey(after.At, db.crypt.kid(after.Key))
			if k, _ = c.Seek(from); k != nil && bytes.Equal(k, from) {
				k, _ = c.Next()
			}
		}
		for ; k != nil && len(out) < limit && bytes.Compare(k[:8], end[:8]) <= 0; k, _ = c.Next() {
			kid := k[9:]
			l, err := db.decodeLicense(licenses.Get(kid))
			if err != nil {
				return fmt.Errorf("store: due license: %w", err)
			}
			out = append(out, DueLicense{Key: l.Key, At: time.Unix(0, int64(binary.BigEndian.Uint64(k[:8])))})
		}
		return nil
	})
	return out, err
}

// ClearLicenseDue removes d from the index once the sweeper has handled
// it. An entry that moved meanwhile (the license was extended) is left.
func (db *DB) ClearLicenseDue(ctx context.Context, d DueLicense) error {
	kid := db.crypt.kid(d.Key)
	return db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketLicensesDue).Delete(licenseDueKey(d.At, kid))
	})
}

// buildDueTx indexes every license (the migration that adds the index).
func buildDueTx(tx *bolt.Tx) (int, error) {
	b := bucket(tx, bucketLicensesDue)
	n := 0
	err := bucket(tx, bucketLicenses).ForEach(func(kid, v []byte) error {
		var l License
		if err := decodeRecord(v, &l); err != nil {
			return fmt.Errorf("decode license: %w", err)
		}
		if at, ok := dueAt(l); ok {
			n++
			return b.Put(licenseDueKey(at, kid), nil)
		}
		return nil
	})
	return n, err
}
