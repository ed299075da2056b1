package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestLicenses(t *testing.T) {
	for _, key := range [][]byte{nil, testKey(5)} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			ctx := context.Background()
			db := openTest(t, key)
			_, err := db.GetLicense(ctx, key1)
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("GetLicense missing: %v", err)
			}
			if strings.Contains(err.Error(), key1) || !strings.Contains(err.Error(), "AAAA-…-DDDD") {
				t.Errorf("not-found error should carry the masked key only: %v", err)
			}

			l1 := license(key1, alice)
			mustNoErr(t, db.PutLicense(ctx, l1))
			mustNoErr(t, db.PutLicense(ctx, l1)) // idempotent
			l2 := license(key2, alice)
			l2.CreatedAt = t0.Add(time.Hour)
			l2.ExpiresAt = t0.Add(720 * time.Hour)
			mustNoErr(t, db.PutLicense(ctx, l2))
			l3 := license(key3, bob)
			l3.CreatedAt = time.Time{} // store fills it
			mustNoErr(t, db.PutLicense(ctx, l3))

			got, err := db.GetLicense(ctx, key2)
			mustNoErr(t, err)
			if got.Key != key2 || got.Owner != alice || !got.ExpiresAt.Equal(l2.ExpiresAt) || got.MaxSlots != 2 || got.Label != l2.Label {
				t.Errorf("GetLicense = %+v", got)
			}
			if g3, _ := db.GetLicense(ctx, key3); g3.CreatedAt.IsZero() {
				t.Error("CreatedAt not filled")
			}

			owned, err := db.LicensesByOwner(ctx, alice)
			mustNoErr(t, err)
			if len(owned) != 2 || owned[0].Key != key1 || owned[1].Key != key2 {
				t.Errorf("LicensesByOwner(alice) = %+v", owned)
			}
			if none, _ := db.LicensesByOwner(ctx, identityNobody()); len(none) != 0 {
				t.Errorf("LicensesByOwner(nobody) = %+v", none)
			}

			// Moving a license to another owner moves the index entry.
			l1.Owner = bob
			mustNoErr(t, db.PutLicense(ctx, l1))
			if owned, _ := db.LicensesByOwner(ctx, alice); len(owned) != 1 || owned[0].Key != key2 {
				t.Errorf("alice after transfer: %+v", owned)
			}
			if owned, _ := db.LicensesByOwner(ctx, bob); len(owned) != 2 {
				t.Errorf("bob after transfer: %+v", owned)
			}

			// UpdateLicense: applies, aborts, refuses a key change.
			up, err := db.UpdateLicense(ctx, key2, func(l *License) error {
				l.Status = LicenseRevoked
				l.RevokedAt = t0
				return nil
			})
			mustNoErr(t, err)
			if up.Status != LicenseRevoked {
				t.Errorf("UpdateLicense returned %+v", up)
			}
			stop := errors.New("stop")
			if _, err := db.UpdateLicense(ctx, key2, func(l *License) error { l.MaxSlots = 9; return stop }); err != stop {
				t.Errorf("UpdateLicense abort: %v", err)
			}
			if _, err := db.UpdateLicense(ctx, key2, func(l *License) error { l.Key = key3; return nil }); err == nil {
				t.Error("UpdateLicense changed the key")
			}
			if _, err := db.UpdateLicense(ctx, "NOPE-NOPE-NOPE-NOPE", func(*License) error { return nil }); !errors.Is(err, ErrNotFound) {
				t.Errorf("UpdateLicense missing: %v", err)
			}
			if g, _ := db.GetLicense(ctx, key2); g.Status != LicenseRevoked || g.MaxSlots != 2 || !g.RevokedAt.Equal(t0) {
				t.Errorf("after updates: %+v", g)
			}

			active, revoked, err := db.CountLicenses(ctx)
			if err != nil || active != 2 || revoked != 1 {
				t.Errorf("CountLicenses = %d, %d, %v", active, revoked, err)
			}
			all, err := db.ListLicenses(ctx)
			mustNoErr(t, err)
			if len(all) != 3 || all[0].Key != key1 || all[1].Key != key2 || all[2].Key != key3 {
				t.Errorf("ListLicenses order: %+v", all)
			}
		})
	}
}

func TestLicenseKeyValidation(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for _, k := range []string{"", "AB\x00CD", strings.Repeat("A", 600)} {
		if err := db.PutLicense(ctx, License{Key: k}); err == nil {
			t.Errorf("PutLicense(%q) succeeded", k)
		}
	}
	bad := license(key1, alice)
	bad.Owner.ID = "abc"
	if err := db.PutLicense(ctx, bad); err == nil {
		t.Error("PutLicense with malformed owner succeeded")
	}
}
