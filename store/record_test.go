package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestRecordRoundTrip(t *testing.T) {
	o := Order{ID: "cs_1", Mode: "payment", ProductID: "pro", Identity: alice, Status: OrderFulfilled,
		LicenseKey: key1, CreateAttempts: 2, PeriodEnd: t0.Add(time.Hour), Delivered: true, CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
	raw, err := encodeRecord(o)
	mustNoErr(t, err)
	var got Order
	mustNoErr(t, decodeRecord(raw, &got))
	if !reflect.DeepEqual(got, o) {
		t.Fatalf("order round trip:\n got %+v\nwant %+v", got, o)
	}
	js, _ := json.Marshal(o)
	if len(raw)*2 > len(js) {
		t.Errorf("binary order is %d bytes, JSON %d: want at most half", len(raw), len(js))
	}

	// Zero values cost nothing: an empty record is the version byte.
	if raw, _ := encodeRecord(License{}); !bytes.Equal(raw, []byte{recordV1}) {
		t.Errorf("empty license encodes as %x", raw)
	}

	// A reader skips fields it does not know, of either kind.
	type newer struct {
		Status  LicenseStatus `rec:"5"`
		Future  string        `rec:"40"`
		Counter int           `rec:"41"`
	}
	raw, err = encodeRecord(newer{Status: LicenseRevoked, Future: "x", Counter: -7})
	mustNoErr(t, err)
	var old License
	mustNoErr(t, decodeRecord(raw, &old))
	if old.Status != LicenseRevoked {
		t.Errorf("status through unknown fields = %q", old.Status)
	}

	// JSON records written before schema 5 still read.
	var fromJSON Order
	mustNoErr(t, decodeRecord(js, &fromJSON))
	if !reflect.DeepEqual(fromJSON, o) {
		t.Errorf("JSON order read as %+v", fromJSON)
	}

	// Damaged records are errors, never a half-filled record passed off.
	full, _ := encodeRecord(o)
	for _, bad := range [][]byte{nil, {0x02}, full[:len(full)-3], {recordV1, 9<<1 | kindVarint, 1}} {
		var x Order
		if err := decodeRecord(bad, &x); err == nil {
			t.Errorf("decodeRecord(%x) accepted", bad)
		}
	}
}

// A schema-4 store (records in JSON) is rewritten once into the binary
// form, sealed fields and all, and reads back the same.
func TestMigrateCompactFromSchema4(t *testing.T) {
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted=", enc), func(t *testing.T) {
			ctx := context.Background()
			var k []byte
			if enc {
				k = testKey(5)
			}
			path := filepath.Join(t.TempDir(), "v4.db")
			db, err := Open(ctx, Options{Path: path, EncryptionKey: k, NoSync: true})
			mustNoErr(t, err)
			_, err = db.UpsertOrder(ctx, "cs_1", func(o *Order, _ bool) error { o.ProductID = "pro"; o.Identity = alice; return nil })
			mustNoErr(t, err)
			lic := license(key1, alice)
			lic.OrderID = "cs_1"
			_, err = db.AttachLicense(ctx, "cs_1", lic)
			mustNoErr(t, err)
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ProductID: "pro", SessionToken: "tok.mac",
				Payload: "eyJzZXNzaW9uVG9rZW4iOiJ0b2subWFjIn0=", Signature: "c2ln", ActivatedAt: t0, SessionExpiresAt: t0.Add(time.Hour)}))
			wantOrder, err := db.GetOrder(ctx, "cs_1")
			mustNoErr(t, err)
			wantLic, err := db.GetLicense(ctx, key1)
			mustNoErr(t, err)
			wantActs, err := db.ActivationsFor(ctx, bob)
			mustNoErr(t, err)
			mustNoErr(t, db.Close())

			// What schema 4 wrote: the same records as JSON.
			bdb, err := bolt.Open(path, 0o600, nil)
			mustNoErr(t, err)
			mustNoErr(t, bdb.Update(func(tx *bolt.Tx) error {
				for _, c := range []struct {
					name  string
					fresh func() any
				}{{bucketOrders, func() any { return new(Order) }}, {bucketLicenses, func() any { return new(License) }}, {bucketActivations, func() any { return new(Activation) }}} {
					b := bucket(tx, c.name)
					var keys, vals [][]byte
					mustNoErr(t, b.ForEach(func(k, v []byte) error {
						rec := c.fresh()
						if err := decodeRecord(v, rec); err != nil {
							return err
						}
						js, err := json.Marshal(rec)
						keys, vals = append(keys, append([]byte(nil), k...)), append(vals, js)
						return err
					}))
					for i := range keys {
						mustNoErr(t, b.Put(keys[i], vals[i]))
					}
				}
				return bucket(tx, bucketMeta).Put([]byte(metaSchema), []byte("4"))
			}))
			mustNoErr(t, bdb.Close())

			var logs bytes.Buffer
			db, err = Open(ctx, Options{Path: path, EncryptionKey: k, Logger: slog.New(slog.NewTextHandler(&logs, nil)), NoSync: true})
			mustNoErr(t, err)
			defer db.Close()
			if !strings.Contains(logs.String(), "from_schema=4 to_schema=5") || !strings.Contains(logs.String(), "records=3") {
				t.Fatalf("migration not logged with 3 records:\n%s", logs.String())
			}
			mustNoErr(t, db.view(ctx, func(tx *bolt.Tx) error {
				for _, name := range []string{bucketOrders, bucketLicenses, bucketActivations} {
					if err := bucket(tx, name).ForEach(func(k, v []byte) error {
						if v[0] != recordV1 {
							return fmt.Errorf("%s %q still %q", name, k, v[:1])
						}
						return nil
					}); err != nil {
						return err
					}
				}
				return nil
			}))
			gotOrder, err := db.GetOrder(ctx, "cs_1")
			mustNoErr(t, err)
			gotLic, err := db.GetLicense(ctx, key1)
			mustNoErr(t, err)
			gotActs, err := db.ActivationsFor(ctx, bob)
			mustNoErr(t, err)
			if !reflect.DeepEqual(gotOrder, wantOrder) || !reflect.DeepEqual(gotLic, wantLic) || !reflect.DeepEqual(gotActs, wantActs) {
				t.Fatalf("after migration:\n%+v\n%+v\n%+v\nwant\n%+v\n%+v\n%+v", gotOrder, gotLic, gotActs, wantOrder, wantLic, wantActs)
			}
		})
	}
}

// A field added without a number is refused on write and read, never
// silently left out of the store.
func TestRecordFieldWithoutNumber(t *testing.T) {
	type added struct {
		Status LicenseStatus `rec:"5"`
		Rail   string
		Note   string `rec:"-"`
	}
	if _, err := encodeRecord(added{Status: LicenseActive, Rail: "stars"}); err == nil || !strings.Contains(err.Error(), "added.Rail has no rec tag") {
		t.Fatalf("encode with an untagged field: %v", err)
	}
	var a added
	raw, _ := encodeRecord(License{Status: LicenseActive})
	if err := decodeRecord(raw, &a); err == nil {
		t.Fatal("decode into a struct with an untagged field succeeded")
	}
}
