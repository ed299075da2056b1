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
	// ActivationsByProduct and Holders (identities with an activation).
	ActivationsByProduct map[string]int
	Holders              int
	Events               int
	EventsByState        map[EventState]int
	// AccessRemovals counts RecordAccessRemoval calls.
	AccessRemovals int64
	// ActiveSubscriptions counts subscription orders fulfilled and not
	// ended; Revenue is the payments ledger's totals per rail and
	// currency.
	ActiveSubscriptions int
	Revenue             []Revenue
}

// Stats reads the counters kept with the records, in one read
// transaction so the figures agree with each other: a few keys, whatever
// the size of the store.
func (db *DB) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		st.OrdersByStatus, st.Orders = countOrdersTx(tx)
		st.ActiveLicenses, st.RevokedLicenses = countLicensesTx(tx)
		st.EventsByState = countEventsTx(tx)
		for _, n := range st.EventsByState {
			st.Events += n
		}
		st.ActivationsByProduct, st.Holders = activationCountsTx(tx)
		for _, n := range st.ActivationsByProduct {
			st.Activations += n
		}
		st.AccessRemovals = getCount(tx, counterAccessRemovals)
		st.ActiveSubscriptions = int(getCount(tx, activeSubsCounter))
		st.Revenue = revenueTx(tx)
		return nil
	})
	return st, err
}
