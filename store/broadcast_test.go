package store

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// TestHolders: owners and activated identities of active licenses of the
// product, each once, paged by a cursor that misses and repeats no one;
// revoked, expired and other products' licenses do not count; mutes are
// reported.
func TestHolders(t *testing.T) {
	for _, key := range [][]byte{nil, testKey(9)} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			ctx := context.Background()
			db := openTest(t, key)
			u := identity.TelegramUser
			// 50 and 500 sort between 5 and 6: prefixes must not merge them.
			put := func(k string, owner identity.Identity, product string, status LicenseStatus, expires time.Time) {
				l := license(k, owner)
				l.ProductID, l.Status, l.ExpiresAt = product, status, expires
				mustNoErr(t, db.PutLicense(ctx, l))
			}
			put("AAAA-AAAA-AAAA-AAA2", u(5), "pro", LicenseActive, time.Time{})
			put("AAAA-AAAA-AAAA-AAA3", u(5), "pro", LicenseActive, time.Time{}) // two licenses, one holder
			put("AAAA-AAAA-AAAA-AAA4", u(50), "pro", LicenseRevoked, time.Time{})
			put("AAAA-AAAA-AAAA-AAA5", u(500), "pro", LicenseActive, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
			put("AAAA-AAAA-AAAA-AAA6", u(6), "basic", LicenseActive, time.Time{})
			put("AAAA-AAAA-AAAA-AAA7", u(7), "pro", LicenseActive, time.Time{})
			// 8 activated 7's license; 50 activated it too (and owns a revoked one).
			for _, who := range []identity.Identity{u(8), u(50), u(7)} {
				mustNoErr(t, db.PutActivation(ctx, Activation{Identity: who, Key: "AAAA-AAAA-AAAA-AAA7", ProductID: "pro", SessionToken: "tok"}))
			}
			// 9 activated a revoked license only.
			mustNoErr(t, db.PutActivation(ctx, Activation{Identity: u(9), Key: "AAAA-AAAA-AAAA-AAA4", ProductID: "pro", SessionToken: "tok"}))
			mustNoErr(t, db.SetMuted(ctx, u(8), true))
			mustNoErr(t, db.SetMuted(ctx, u(7), true))
			mustNoErr(t, db.SetMuted(ctx, u(7), false))

			walk := func(product string, limit int) []string {
				var got []string
				cursor, pages := "", 0
				for {
					hs, next, err := db.Holders(ctx, product, cursor, limit)
					mustNoErr(t, err)
					for _, h := range hs {
						got = append(got, fmt.Sprintf("%s muted=%v", h.Who, h.Muted))
					}
					if pages++; next == "" || pages > 100 {
						return got
					}
					cursor = next
				}
			}
			want := []string{"tg:5 muted=false", "tg:50 muted=false", "tg:7 muted=false", "tg:8 muted=true"}
			for _, limit := range []int{1, 2, 1000} {
				if got := walk("pro", limit); !slices.Equal(got, want) {
					t.Errorf("pro, pages of %d: %q, want %q", limit, got, want)
				}
			}
			if got := walk("", 3); !slices.Equal(got, []string{"tg:5 muted=false", "tg:50 muted=false", "tg:6 muted=false", "tg:7 muted=false", "tg:8 muted=true"}) {
				t.Errorf("any product: %q", got)
			}
		})
	}
}

func TestBroadcastJob(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	admin := identity.TelegramUser(1)
	b, err := db.PutBroadcast(ctx, Broadcast{Product: "pro", Text: "hello", Admin: admin})
	mustNoErr(t, err)
	if run, _ := db.RunningBroadcasts(ctx); len(run) != 0 {
		t.Fatalf("a draft is running: %+v", run)
	}
	_, err = db.UpdateBroadcast(ctx, b.ID, func(x *Broadcast) error { x.State, x.Cursor, x.Sent = BroadcastRunning, "tg:5", 1; return nil })
	mustNoErr(t, err)
	run, err := db.RunningBroadcasts(ctx)
	mustNoErr(t, err)
	if len(run) != 1 || run[0].Cursor != "tg:5" || run[0].Sent != 1 || run[0].Text != "hello" {
		t.Fatalf("running = %+v", run)
	}
}
