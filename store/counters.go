package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Counters (bucket counters: name → int64 big endian) are kept in the same
// transaction as the records they count, so /stats, /metrics and /healthz
// read a few keys instead of scanning every record, and the figures are
// exactly as consistent as the records.

func eventCounter(s EventState) string { return "events:" + string(s) }

func orderCounter(s OrderStatus) string { return "orders:" + string(s) }

func licenseCounter(s LicenseStatus) string {
	if s == LicenseRevoked {
		return "licenses:revoked"
	}
	return "licenses:active"
}

// activationPrefix + product id counts that product's activations;
// holdersCounter counts identities with at least one activation.
const (
	activationPrefix = "activations:"
	holdersCounter   = "holders"
)

// moveCount moves one record from counter from to counter to ("" for
// none), as a write creates, changes or deletes it.
func moveCount(tx *bolt.Tx, from, to string) error {
	if from == to {
		return nil
	}
	if from != "" {
		if err := addCount(tx, from, -1); err != nil {
			return err
		}
	}
	if to != "" {
		return addCount(tx, to, 1)
	}
	return nil
}

func addCount(tx *bolt.Tx, name string, delta int64) error {
	if delta == 0 {
		return nil
	}
	b := bucket(tx, bucketCounters)
	n := getCountB(b, name) + delta
	if err := b.Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return fmt.Errorf("store: counter %s: %w", name, err)
	}
	return nil
}

func setCount(tx *bolt.Tx, name string, n int64) error {
	if err := bucket(tx, bucketCounters).Put([]byte(name), binary.BigEndian.AppendUint64(nil, uint64(n))); err != nil {
		return fmt.Errorf("store: counter %s: %w", name, err)
	}
	return nil
}

func getCount(tx *bolt.Tx, name string) int64 { return getCountB(bucket(tx, bucketCounters), name) }

func getCountB(b *bolt.Bucket, name string) int64 {
	v := b.Get([]byte(name))
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
