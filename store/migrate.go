package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migration upgrades a file from schema from to from+1 inside the
// transaction that records the new version, so it runs exactly once and
// either completely or not at all. Migrations only go forward: a file is
// never rewritten for an older shopbot (initTx refuses newer files).
type migration struct {
	from int
	what string
	run  func(tx *bolt.Tx) (records int, err error)
}

func migrations() []migration {
	return []migration{
		{from: 1, what: "event payloads moved out of the event records; due-time, order-key and counter indexes built", run: migrateEventsV2},
		{from: 2, what: "order, license and activation counters and the licenses' due index built, so /stats, /metrics and the sweeper read a few keys", run: migrateCountersV3},
		{from: 3, what: "activations' refresh index built, so the eager heartbeat reads only the activations it is due to refresh", run: migrateRefreshV4},
		{from: 4, what: "orders, licenses and activations rewritten from JSON into the compact binary record form", run: migrateCompactV5},
		{from: 5, what: "active subscriptions counted, so /stats and the dashboard read one key", run: migrateSubsV6},
	}
}

// migrateTx runs every migration from version on and logs each one.
func (db *DB) migrateTx(tx *bolt.Tx, version int, log *slog.Logger) error {
	for _, m := range migrations() {
		if m.from < version {
			continue
		}
		start := time.Now()
		n, err := m.run(tx)
		if err != nil {
			return fmt.Errorf("store: migrate %s from schema %d to %d: %w", db.path, m.from, m.from+1, err)
		}
		log.Info("store migrated", "path", db.path, "from_schema", m.from, "to_schema", m.from+1,
			"records", n, "took", time.Since(start).Round(time.Millisecond), "change", m.what)
		version = m.from + 1
	}
	if version != SchemaVersion {
		return fmt.Errorf("store: %s: no migration from schema %d", db.path, version)
	}
	return nil
}

// migrateEventsV2: schema 1 kept each event's payload (the whole Stripe
// body) inside its JSON record, rewritten on every retry, and had no
// due-time or order-key index nor counters.
func migrateEventsV2(tx *bolt.Tx) (int, error) {
	type rewrite struct {
		id  []byte
		rec Event
	}
	var all []rewrite
	err := bucket(tx, bucketEvents).ForEach(func(k, v []byte) error {
		var ev Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return fmt.Errorf("decode event %s: %w", k, err)
		}
		all = append(all, rewrite{id: append([]byte(nil), k...), rec: ev})
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range all {
		ev := r.rec
		if len(ev.Payload) > 0 {
			if err := bucket(tx, bucketEventsPayload).Put(r.id, ev.Payload); err != nil {
				return 0, err
			}
		}
		// The state index entry exists already; counters and the pending
		// indexes do not.
		if err := bucket(tx, bucketEventsState).Delete(stateKey(ev.State, ev.Seq)); err != nil {
			return 0, err
		}
		if err := writeEventTx(tx, ev, nil); err != nil {
			return 0, fmt.Errorf("event %s: %w", r.id, err)
		}
	}
	return len(all), nil
}

// migrateCountersV3 counts orders, licenses and activations once, so that
// from now on /stats and /metrics read counters the writes keep.
func migrateCountersV3(tx *bolt.Tx) (int, error) {
	orders, err := scanOrderCountsTx(tx)
	if err != nil {
		return 0, err
	}
	records := 0
	for st, n := range orders {
		if err := setCount(tx, orderCounter(st), int64(n)); err != nil {
			return 0, err
		}
		records += n
	}
	active, revoked, err := scanLicenseCountsTx(tx)
	if err != nil {
		return 0, err
	}
	if err := setCount(tx, licenseCounter(LicenseActive), int64(active)); err != nil {
		return 0, err
	}
	if err := setCount(tx, licenseCounter(LicenseRevoked), int64(revoked)); err != nil {
		return 0, err
	}
	records += active + revoked
	byProduct := map[string]int64{}
	holders := int64(0)
	var last []byte
	err = bucket(tx, bucketActivations).ForEach(func(k, v []byte) error {
		p, err := activationProduct(v)
		if err != nil {
			return err
		}
		byProduct[p]++
		// Keys are identity 0x00 key id, sorted: a new identity starts
		// a new run.
		who, _, _ := bytes.Cut(k, []byte{0})
		if !bytes.Equal(who, last) {
			holders++
			last = append(last[:0], who...)
		}
		records++
		return nil
	})
	if err != nil {
		return 0, err
	}
	for p, n := range byProduct {
		if err := setCount(tx, activationPrefix+p, n); err != nil {
			return 0, err
		}
	}
	if _, err := buildDueTx(tx); err != nil {
		return 0, err
	}
	return records, setCount(tx, holdersCounter, holders)
}

// migrateCompactV5 rewrites every order, license and activation still in
// JSON into the binary record form, and keeps activations' sessions in
// their packed form (session_pack.go) in a store without encryption. It
// decodes and re-encodes without opening sealed fields: they are strings
// to the codec either way.
func migrateCompactV5(tx *bolt.Tx) (int, error) {
	plain := bucket(tx, bucketMeta).Get([]byte(metaKeyCheck)) == nil
	n := 0
	for _, c := range []struct {
		bucket string
		fresh  func() any
	}{
		{bucketOrders, func() any { return new(Order) }},
		{bucketLicenses, func() any { return new(License) }},
		{bucketActivations, func() any { return new(Activation) }},
	} {
		m, err := rewriteJSONRecords(bucket(tx, c.bucket), c.fresh, plain)
		if err != nil {
			return n, fmt.Errorf("%s: %w", c.bucket, err)
		}
		n += m
	}
	return n, nil
}

// rewriteJSONRecords re-encodes b's JSON values a page at a time: a bucket
// must not change under a cursor, so each page is read, then written,
// then the cursor seeks back to where it was.
func rewriteJSONRecords(b *bolt.Bucket, fresh func() any, plain bool) (int, error) {
	const page = 1024
	n := 0
	var after []byte
	for {
		type kv struct{ k, v []byte }
		var batch []kv
		c := b.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(batch) < page; k, v = c.Next() {
			after = append(after[:0], k...)
			if len(v) == 0 || v[0] != '{' {
				continue
			}
			rec := fresh()
			if err := json.Unmarshal(v, rec); err != nil {
				return n, fmt.Errorf("decode %q: %w", k, err)
			}
			if a, ok := rec.(*Activation); ok && plain {
				// Sealed values stay as they are: packing works on
				// plaintext, before sealing.
				*a = packSession(*a)
			}
			raw, err := encodeRecord(rec)
			if err != nil {
				return n, err
			}
			batch = append(batch, kv{append([]byte(nil), k...), raw})
		}
		for _, r := range batch {
			if err := b.Put(r.k, r.v); err != nil {
				return n, err
			}
		}
		n += len(batch)
		if k == nil {
			return n, nil
		}
	}
}
