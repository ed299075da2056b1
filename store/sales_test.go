package store

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestPaymentsLedger(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	day1, day2 := t0, t0.Add(24*time.Hour)
	pays := []Payment{
		{ID: "cs_1", Kind: PaymentSale, At: day1, ProductID: "pro", Rail: RailStripe, Currency: "eur", Amount: 1200},
		{ID: "cs_1", Kind: PaymentSale, At: day1, ProductID: "pro", Rail: RailStripe, Currency: "eur", Amount: 1200}, // retried event
		{ID: "ch_1", Kind: PaymentSale, At: day1.Add(time.Hour), ProductID: "pro", Rail: RailStars, Currency: "XTR", Amount: 250},
		{ID: "in_2", Kind: PaymentRenewal, At: day2, ProductID: "pro", Rail: RailStripe, Currency: "eur", Amount: 1200},
		{ID: "ch_1", Kind: PaymentRefund, At: day2, ProductID: "pro", Rail: RailStars, Currency: "XTR", Amount: 250},
	}
	var fresh []bool
	for _, p := range pays {
		ok, err := db.RecordPayment(ctx, p)
		mustNoErr(t, err)
		fresh = append(fresh, ok)
	}
	if want := []bool{true, false, true, true, true}; !equalBools(fresh, want) {
		t.Fatalf("recorded %v, want %v (a payment id counts once per kind)", fresh, want)
	}
	got, err := db.SalesByDay(ctx, day1, day2)
	mustNoErr(t, err)
	want := []DaySales{
		{Day: midnight(day1), ProductID: "pro", Rail: RailStars, Currency: "XTR", Sales: 1, Amount: 250},
		{Day: midnight(day1), ProductID: "pro", Rail: RailStripe, Currency: "eur", Sales: 1, Amount: 1200},
		{Day: midnight(day2), ProductID: "pro", Rail: RailStars, Currency: "XTR", Refunds: 1, Refunded: 250},
		{Day: midnight(day2), ProductID: "pro", Rail: RailStripe, Currency: "eur", Renewals: 1, Amount: 1200},
	}
	if len(got) != len(want) {
		t.Fatalf("SalesByDay = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("day %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	only2, err := db.SalesByDay(ctx, day2, day2)
	mustNoErr(t, err)
	if len(only2) != 2 || !only2[0].Day.Equal(midnight(day2)) {
		t.Fatalf("one day's ledger: %+v", only2)
	}
	st, err := db.Stats(ctx)
	mustNoErr(t, err)
	wantRev := []Revenue{
		{Rail: RailStars, Currency: "XTR", Amount: 250, Refunded: 250, Payments: 1},
		{Rail: RailStripe, Currency: "eur", Amount: 2400, Payments: 2},
	}
	if len(st.Revenue) != 2 || st.Revenue[0] != wantRev[0] || st.Revenue[1] != wantRev[1] {
		t.Fatalf("revenue %+v, want %+v", st.Revenue, wantRev)
	}
	if _, err := db.RecordPayment(ctx, Payment{ID: "x", Kind: "gift", ProductID: "pro", Rail: RailStars, Currency: "XTR"}); err == nil {
		t.Fatal("unknown kind recorded")
	}
}

func TestActiveSubscriptionsAndChurn(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	db.now = func() time.Time { return t0 }
	for _, id := range []string{"sub_1", "sub_2"} {
		_, err := db.UpsertOrder(ctx, id, func(o *Order, _ bool) error {
			o.Mode, o.ProductID, o.Identity, o.Rail, o.Currency = "subscription", "pro", alice, RailStars, "XTR"
			return nil
		})
		mustNoErr(t, err)
	}
	_, err := db.UpsertOrder(ctx, "cs_once", func(o *Order, _ bool) error { o.Mode, o.ProductID = "payment", "pro"; return nil })
	mustNoErr(t, err)
	_, err = db.AttachLicense(ctx, "sub_1", license(key1, alice))
	mustNoErr(t, err)
	_, err = db.AttachLicense(ctx, "sub_2", license(key2, alice))
	mustNoErr(t, err)
	_, err = db.AttachLicense(ctx, "cs_once", license(key3, alice))
	mustNoErr(t, err)
	if st, _ := db.Stats(ctx); st.ActiveSubscriptions != 2 {
		t.Fatalf("active subscriptions %d, want 2", st.ActiveSubscriptions)
	}
	end := func(o *Order, _ bool) error { o.Ended, o.Status = true, OrderEnded; return nil }
	_, err = db.UpsertOrder(ctx, "sub_1", end)
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "sub_1", end) // ending twice counts once
	mustNoErr(t, err)
	st, err := db.Stats(ctx)
	mustNoErr(t, err)
	if st.ActiveSubscriptions != 1 {
		t.Fatalf("active subscriptions %d after one ended, want 1", st.ActiveSubscriptions)
	}
	days, err := db.SalesByDay(ctx, t0, t0)
	mustNoErr(t, err)
	if len(days) != 1 || days[0].Ended != 1 || days[0].Rail != RailStars || days[0].Currency != "XTR" {
		t.Fatalf("churn in the ledger: %+v", days)
	}
}

func TestMigrateSubscriptionsFromSchema5(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v5.db")
	db, err := Open(ctx, Options{Path: path, NoSync: true})
	mustNoErr(t, err)
	_, err = db.UpsertOrder(ctx, "sub_1", func(o *Order, _ bool) error {
		o.Mode, o.ProductID, o.Identity = "subscription", "pro", alice
		return nil
	})
	mustNoErr(t, err)
	_, err = db.AttachLicense(ctx, "sub_1", license(key1, alice))
	mustNoErr(t, err)
	mustNoErr(t, db.Close())

	bdb, err := bolt.Open(path, 0o600, nil)
	mustNoErr(t, err)
	mustNoErr(t, bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket([]byte(bucketCounters)).Delete([]byte(activeSubsCounter)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketMeta)).Put([]byte("schema_version"), []byte("5"))
	}))
	mustNoErr(t, bdb.Close())

	var logs bytes.Buffer
	db, err = Open(ctx, Options{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
	mustNoErr(t, err)
	defer db.Close()
	if !strings.Contains(logs.String(), "from_schema=5 to_schema=6") {
		t.Fatalf("no migration logged:\n%s", logs.String())
	}
	if st, _ := db.Stats(ctx); st.ActiveSubscriptions != 1 {
		t.Fatalf("active subscriptions after migration: %d, want 1", st.ActiveSubscriptions)
	}
}

func midnight(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
