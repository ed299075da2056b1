package store

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestUpsertOrder(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.GetOrder(ctx, "cs_1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetOrder missing: %v", err)
	}
	o, err := db.UpsertOrder(ctx, "cs_1", func(o *Order, exists bool) error {
		if exists {
			t.Error("exists=true for a new order")
		}
		if o.ID != "cs_1" || o.Status != OrderPending {
			t.Errorf("fresh order %+v", o)
		}
		o.Mode, o.ProductID, o.Identity, o.SessionID = "payment", "pro", alice, "cs_1"
		o.PaymentIntentID, o.SubscriptionID, o.CustomerID = "pi_1", "sub_1", "cus_1"
		return nil
	})
	mustNoErr(t, err)
	if o.CreatedAt.IsZero() || o.UpdatedAt.IsZero() || o.Identity != alice {
		t.Errorf("created %+v", o)
	}
	o, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, exists bool) error {
		if !exists || o.ProductID != "pro" {
			t.Errorf("second upsert sees %+v exists=%v", o, exists)
		}
		o.CreateAttempts++
		o.ID = "hijack" // ignored: the id is the key
		return nil
	})
	mustNoErr(t, err)
	got, err := db.GetOrder(ctx, "cs_1")
	mustNoErr(t, err)
	if got.CreateAttempts != 1 || got.ID != "cs_1" || got.Identity != alice || !got.CreatedAt.Equal(o.CreatedAt) {
		t.Errorf("GetOrder = %+v", got)
	}
	if _, err := db.GetOrder(ctx, "hijack"); !errors.Is(err, ErrNotFound) {
		t.Error("fn changed the order id")
	}
	_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.Identity.ID = "not-a-number"; return nil })
	if err == nil {
		t.Error("UpsertOrder stored an identity that cannot be read back")
	}
	if got, err := db.GetOrder(ctx, "cs_1"); err != nil || got.Identity != alice {
		t.Errorf("order after refused upsert: %+v, %v", got, err)
	}
	// A caller with an injected clock sets the times itself.
	o, err = db.UpsertOrder(ctx, "cs_clock", func(o *Order, _ bool) error { o.CreatedAt, o.UpdatedAt = t0, t0; return nil })
	mustNoErr(t, err)
	if !o.CreatedAt.Equal(t0) || !o.UpdatedAt.Equal(t0) {
		t.Errorf("injected times overwritten: %+v", o)
	}
	if _, err := db.UpsertOrder(ctx, "", nil); err == nil {
		t.Error("UpsertOrder with empty id succeeded")
	}
}

func TestUpsertOrderAbort(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	stop := errors.New("stop")
	_, err := db.UpsertOrder(ctx, "cs_new", func(o *Order, _ bool) error {
		o.PaymentIntentID = "pi_new"
		return stop
	})
	if err != stop {
		t.Fatalf("abort error = %v, want fn's error as is", err)
	}
	if _, err := db.GetOrder(ctx, "cs_new"); !errors.Is(err, ErrNotFound) {
		t.Error("aborted upsert created the order")
	}
	if _, err := db.OrderByPaymentIntent(ctx, "pi_new"); !errors.Is(err, ErrNotFound) {
		t.Error("aborted upsert wrote an index entry")
	}

	_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.ProductID = "pro"; return nil })
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.ProductID = "other"; o.Ended = true; return stop })
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	if o, _ := db.GetOrder(ctx, "cs_1"); o.ProductID != "pro" || o.Ended {
		t.Errorf("aborted upsert changed the order: %+v", o)
	}
}

func TestOrderIndexes(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.OrderBySubscription(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("OrderBySubscription(\"\"): %v", err)
	}
	_, err := db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error {
		o.PaymentIntentID, o.SubscriptionID = "pi_1", "sub_1"
		return nil
	})
	mustNoErr(t, err)
	if o, err := db.OrderByPaymentIntent(ctx, "pi_1"); err != nil || o.ID != "cs_1" {
		t.Errorf("OrderByPaymentIntent: %+v, %v", o, err)
	}
	if o, err := db.OrderBySubscription(ctx, "sub_1"); err != nil || o.ID != "cs_1" {
		t.Errorf("OrderBySubscription: %+v, %v", o, err)
	}
	// Changing the ids moves the index entries.
	_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error {
		o.PaymentIntentID, o.SubscriptionID = "pi_2", ""
		return nil
	})
	mustNoErr(t, err)
	if _, err := db.OrderByPaymentIntent(ctx, "pi_1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stale pi index: %v", err)
	}
	if _, err := db.OrderBySubscription(ctx, "sub_1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("stale sub index: %v", err)
	}
	if o, err := db.OrderByPaymentIntent(ctx, "pi_2"); err != nil || o.ID != "cs_1" {
		t.Errorf("OrderByPaymentIntent(pi_2): %+v, %v", o, err)
	}
	// Another order claiming pi_2 wins; cs_1 moving away later must not
	// delete the other order's entry.
	_, err = db.UpsertOrder(ctx, "cs_2", func(o *Order, _ bool) error { o.PaymentIntentID = "pi_2"; return nil })
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.PaymentIntentID = "pi_3"; return nil })
	mustNoErr(t, err)
	if o, err := db.OrderByPaymentIntent(ctx, "pi_2"); err != nil || o.ID != "cs_2" {
		t.Errorf("OrderByPaymentIntent(pi_2) after move: %+v, %v", o, err)
	}
}

func TestAttachLicense(t *testing.T) {
	for _, key := range [][]byte{nil, testKey(9)} {
		ctx := context.Background()
		db := openTest(t, key)

		// No order: nothing is written.
		if _, err := db.AttachLicense(ctx, "cs_missing", license(key1, alice)); !errors.Is(err, ErrNotFound) {
			t.Errorf("attach to missing order: %v", err)
		}
		if _, err := db.GetLicense(ctx, key1); !errors.Is(err, ErrNotFound) {
			t.Error("license stored although the order was missing")
		}

		_, err := db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.Identity = alice; return nil })
		mustNoErr(t, err)
		o, err := db.AttachLicense(ctx, "cs_1", license(key1, alice))
		mustNoErr(t, err)
		if o.LicenseKey != key1 || o.Status != OrderFulfilled {
			t.Errorf("order after attach: %+v", o)
		}
		l, err := db.GetLicense(ctx, key1)
		mustNoErr(t, err)
		if l.OrderID != "cs_1" || l.Owner != alice {
			t.Errorf("license after attach: %+v", l)
		}
		if o2, _ := db.GetOrder(ctx, "cs_1"); o2.LicenseKey != key1 || o2.Status != OrderFulfilled {
			t.Errorf("stored order: %+v", o2)
		}
		// Same key again: fine (retry after a crash).
		if _, err := db.AttachLicense(ctx, "cs_1", license(key1, alice)); err != nil {
			t.Errorf("re-attach same key: %v", err)
		}
		// A second license for the order: refused, nothing written.
		_, err = db.AttachLicense(ctx, "cs_1", license(key2, alice))
		if !errors.Is(err, ErrConflict) {
			t.Errorf("attach second key: %v", err)
		}
		if err != nil && (strings.Contains(err.Error(), key1) || strings.Contains(err.Error(), key2)) {
			t.Errorf("error exposes a whole key: %v", err)
		}
		if _, err := db.GetLicense(ctx, key2); !errors.Is(err, ErrNotFound) {
			t.Error("conflicting license was stored")
		}
		// A license naming another order: refused.
		l3 := license(key3, alice)
		l3.OrderID = "cs_other"
		if _, err := db.AttachLicense(ctx, "cs_1", l3); !errors.Is(err, ErrConflict) {
			t.Errorf("attach license of another order: %v", err)
		}

		// A revoked order stays revoked when its license is attached late.
		_, err = db.UpsertOrder(ctx, "cs_r", func(o *Order, _ bool) error { o.Status = OrderRevoked; return nil })
		mustNoErr(t, err)
		o, err = db.AttachLicense(ctx, "cs_r", license(key3, alice))
		mustNoErr(t, err)
		if o.Status != OrderRevoked || o.LicenseKey != key3 {
			t.Errorf("late attach to revoked order: %+v", o)
		}
	}
}
