package store

import (
	"context"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The reminders bucket (key id, 0x00, license end as unix nanoseconds,
// days as two bytes → when it was sent) remembers each reminder sent, so
// each goes out once per license and period, across restarts. A license
// extended to a new end gets its reminders again.

func (db *DB) reminderKey(key string, end time.Time, days int) []byte {
	return join(db.crypt.kid(key), binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint64(nil, uint64(end.UnixNano())), uint16(days)))
}

// Reminded reports whether the days-before reminder for key's period
// ending at end was recorded as sent.
func (db *DB) Reminded(ctx context.Context, key string, end time.Time, days int) (bool, error) {
	if err := checkLicenseKey(key); err != nil {
		return false, err
	}
	k := db.reminderKey(key, end, days)
	sent := false
	err := db.view(ctx, func(tx *bolt.Tx) error {
		sent = bucket(tx, bucketReminders).Get(k) != nil
		return nil
	})
	return sent, err
}

// MarkReminded records that the days-before reminder for key's period
// ending at end was sent. It reports false when it was recorded before.
func (db *DB) MarkReminded(ctx context.Context, key string, end time.Time, days int) (bool, error) {
	if err := checkLicenseKey(key); err != nil {
		return false, err
	}
	k := db.reminderKey(key, end, days)
	first := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketReminders)
		if b.Get(k) != nil {
			first = false
			return nil
		}
		first = true
		return b.Put(k, binary.BigEndian.AppendUint64(nil, uint64(db.now().UnixNano())))
	})
	return first, err
}
