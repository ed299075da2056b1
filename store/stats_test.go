package store

import (
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

func TestStats(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, testKey(8))
	st, err := db.Stats(ctx)
	mustNoErr(t, err)
	if st.Orders != 0 || st.Events != 0 || st.OrdersByStatus == nil || st.EventsByState == nil {
		t.Errorf("empty Stats = %+v", st)
	}

	for _, id := range []string{"cs_1", "cs_2", "cs_3"} {
		_, err := db.UpsertOrder(ctx, id, nil)
		mustNoErr(t, err)
	}
	_, err = db.AttachLicense(ctx, "cs_1", license(key1, alice))
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "cs_2", func(o *Order, _ bool) error { o.Status = OrderEnded; o.Ended = true; return nil })
	mustNoErr(t, err)
	l2 := license(key2, bob)
	l2.Status = LicenseRevoked
	mustNoErr(t, db.PutLicense(ctx, l2))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1}))
	for _, id := range []string{"e1", "e2", "e3"} {
		_, err := db.PutEvent(ctx, Event{ID: id})
		mustNoErr(t, err)
	}
	mustNoErr(t, db.UpdateEvent(ctx, Event{ID: "e1", State: EventDone}))
	mustNoErr(t, db.Audit(ctx, AuditEntry{Action: "x"}))

	st, err = db.Stats(ctx)
	mustNoErr(t, err)
	if st.Orders != 3 || st.OrdersByStatus[OrderPending] != 1 || st.OrdersByStatus[OrderFulfilled] != 1 || st.OrdersByStatus[OrderEnded] != 1 {
		t.Errorf("orders: %+v", st)
	}
	if st.ActiveLicenses != 1 || st.RevokedLicenses != 1 || st.Activations != 1 || st.Holders != 1 {
		t.Errorf("licenses/activations: %+v", st)
	}
	if st.Events != 3 || st.EventsByState[EventPending] != 2 || st.EventsByState[EventDone] != 1 {
		t.Errorf("events: %+v", st)
	}
}

// The counters follow every kind of write, and agree with a count of the
// records themselves.
func TestCountersFollowWrites(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	check := func(what string, orders map[OrderStatus]int, active, revoked int, byProduct map[string]int, holders int) {
		t.Helper()
		st, err := db.Stats(ctx)
		mustNoErr(t, err)
		for s, n := range orders {
			if st.OrdersByStatus[s] != n {
				t.Errorf("%s: orders %s = %d, want %d", what, s, st.OrdersByStatus[s], n)
			}
		}
		if st.ActiveLicenses != active || st.RevokedLicenses != revoked {
			t.Errorf("%s: licenses %d active %d revoked, want %d and %d", what, st.ActiveLicenses, st.RevokedLicenses, active, revoked)
		}
		if fmt.Sprint(st.ActivationsByProduct) != fmt.Sprint(byProduct) || st.Holders != holders {
			t.Errorf("%s: activations %v holders %d, want %v and %d", what, st.ActivationsByProduct, st.Holders, byProduct, holders)
		}
		// The same figures from the records themselves.
		mustNoErr(t, db.view(ctx, func(tx *bolt.Tx) error {
			scanned, err := scanOrderCountsTx(tx)
			mustNoErr(t, err)
			for s, n := range scanned {
				if st.OrdersByStatus[s] != n {
					t.Errorf("%s: order counter %s = %d, records say %d", what, s, st.OrdersByStatus[s], n)
				}
			}
			a, r, err := scanLicenseCountsTx(tx)
			mustNoErr(t, err)
			if a != active || r != revoked {
				t.Errorf("%s: records say %d active %d revoked", what, a, r)
			}
			return nil
		}))
	}
	_, err := db.UpsertOrder(ctx, "cs_1", nil)
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "cs_1", nil) // rewrite: no new order
	mustNoErr(t, err)
	check("one order", map[OrderStatus]int{OrderPending: 1}, 0, 0, map[string]int{}, 0)

	_, err = db.AttachLicense(ctx, "cs_1", license(key1, alice))
	mustNoErr(t, err)
	mustNoErr(t, db.PutLicense(ctx, license(key1, alice))) // again: idempotent
	check("fulfilled", map[OrderStatus]int{OrderPending: 0, OrderFulfilled: 1}, 1, 0, map[string]int{}, 0)

	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ProductID: "pro"}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ProductID: "pro"})) // refresh
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ProductID: "pro"}))
	mustNoErr(t, db.PutLicense(ctx, license(key2, alice)))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key2, ProductID: "basic"}))
	check("activated", nil, 2, 0, map[string]int{"basic": 1, "pro": 2}, 2)

	_, err = db.UpdateLicense(ctx, key1, func(l *License) error { l.Status = LicenseRevoked; return nil })
	mustNoErr(t, err)
	mustNoErr(t, db.DeleteActivation(ctx, alice, key1))
	mustNoErr(t, db.DeleteActivation(ctx, alice, key1)) // gone already
	check("alice keeps one", nil, 1, 1, map[string]int{"basic": 1, "pro": 1}, 2)
	mustNoErr(t, db.DeleteActivation(ctx, alice, key2))
	mustNoErr(t, db.DeleteActivation(ctx, bob, key1))
	check("none left", nil, 1, 1, map[string]int{}, 0)
}
