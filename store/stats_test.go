package store

import (
	"context"
	"testing"
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
	if st.ActiveLicenses != 1 || st.RevokedLicenses != 1 || st.Activations != 1 || st.AuditEntries != 1 {
		t.Errorf("licenses/activations/audit: %+v", st)
	}
	if st.Events != 3 || st.EventsByState[EventPending] != 2 || st.EventsByState[EventDone] != 1 {
		t.Errorf("events: %+v", st)
	}
}
