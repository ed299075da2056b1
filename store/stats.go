package store

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// Stats are the store's figures for the admin /stats command.
type Stats struct {
	Orders          int
	OrdersByStatus  map[OrderStatus]int
	ActiveLicenses  int
	RevokedLicenses int
	Activations     int
	OpenSessions    int
	Events          int
	EventsByState   map[EventState]int
	AuditEntries    int
	// AccessRemovals counts RecordAccessRemoval calls.
	AccessRemovals int64
}

// Stats counts records in one read transaction, so the figures agree with
// each other. It decrypts nothing.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		if st.OrdersByStatus, st.Orders, err = countOrdersTx(tx); err != nil {
			return err
		}
		if st.ActiveLicenses, st.RevokedLicenses, err = countLicensesTx(tx); err != nil {
			return err
		}
		st.EventsByState = countEventsTx(tx)
		for _, n := range st.EventsByState {
			st.Events += n
		}
		st.Activations = bucket(tx, bucketActivations).Stats().KeyN
		st.OpenSessions = bucket(tx, bucketSessions).Stats().KeyN
		st.AuditEntries = bucket(tx, bucketAudit).Stats().KeyN
		st.AccessRemovals = getCount(tx, counterAccessRemovals)
		return nil
	})
	return st, err
}
