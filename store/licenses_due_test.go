package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func dueKeys(t *testing.T, db *DB, now time.Time) []string {
	t.Helper()
	due, err := db.LicensesDue(context.Background(), now, nil, 100)
	mustNoErr(t, err)
	var out []string
	for _, d := range due {
		out = append(out, d.Key[:4])
	}
	return out
}

// The index follows expiry, extension and revocation, lists only what is
// due, oldest first, and forgets what the sweeper cleared.
func TestLicensesDueIndex(t *testing.T) {
	ctx := context.Background()
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted=", enc), func(t *testing.T) {
			var k []byte
			if enc {
				k = testKey(3)
			}
			db := openTest(t, k)
			soon, later := license(key1, alice), license(key2, bob)
			soon.ExpiresAt = t0.Add(24 * time.Hour)
			later.ExpiresAt = t0.Add(48 * time.Hour)
			mustNoErr(t, db.PutLicense(ctx, soon))
			mustNoErr(t, db.PutLicense(ctx, later))
			mustNoErr(t, db.PutLicense(ctx, license(key3, alice))) // lifetime: never due
			if got := dueKeys(t, db, t0); len(got) != 0 {
				t.Fatalf("due before any expiry: %v", got)
			}
			if got := fmt.Sprint(dueKeys(t, db, t0.Add(72*time.Hour))); got != fmt.Sprint([]string{key1[:4], key2[:4]}) {
				t.Fatalf("due after both expiries: %v", got)
			}
			// Extending moves the entry; revoking makes it due at once.
			_, err := db.UpdateLicense(ctx, key1, func(l *License) error { l.ExpiresAt = t0.Add(96 * time.Hour); return nil })
			mustNoErr(t, err)
			if got := fmt.Sprint(dueKeys(t, db, t0.Add(72*time.Hour))); got != fmt.Sprint([]string{key2[:4]}) {
				t.Fatalf("after extending the first: %v", got)
			}
			_, err = db.UpdateLicense(ctx, key3, func(l *License) error { l.Status = LicenseRevoked; l.RevokedAt = t0.Add(time.Hour); return nil })
			mustNoErr(t, err)
			due, err := db.LicensesDue(ctx, t0.Add(2*time.Hour), nil, 100)
			mustNoErr(t, err)
			if len(due) != 1 || due[0].Key != key3 || !due[0].At.Equal(t0.Add(time.Hour)) {
				t.Fatalf("after revoking the lifetime one: %+v", due)
			}
			mustNoErr(t, db.ClearLicenseDue(ctx, due[0]))
			mustNoErr(t, db.PutLicense(ctx, mustGet(t, db, key2))) // an unchanged rewrite keeps its one entry
			if got := fmt.Sprint(dueKeys(t, db, t0.Add(100*time.Hour))); got != fmt.Sprint([]string{key2[:4], key1[:4]}) {
				t.Fatalf("after clearing the revoked one: %v", got)
			}
			// Paging resumes after the last entry read.
			first, err := db.LicensesDue(ctx, t0.Add(100*time.Hour), nil, 1)
			mustNoErr(t, err)
			rest, err := db.LicensesDue(ctx, t0.Add(100*time.Hour), &first[0], 10)
			mustNoErr(t, err)
			if len(first) != 1 || len(rest) != 1 || first[0].Key != key2 || rest[0].Key != key1 {
				t.Fatalf("pages %+v then %+v", first, rest)
			}
		})
	}
}

func mustGet(t *testing.T, db *DB, key string) License {
	t.Helper()
	l, err := db.GetLicense(context.Background(), key)
	mustNoErr(t, err)
	return l
}
