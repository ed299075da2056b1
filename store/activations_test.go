package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

func TestActivations(t *testing.T) {
	for _, key := range [][]byte{nil, testKey(6)} {
		t.Run(fmt.Sprintf("encrypted=%v", key != nil), func(t *testing.T) {
			ctx := context.Background()
			db := openTest(t, key)
			a1 := Activation{Identity: alice, Key: key1, ProductID: "pro", SessionToken: "tok-a1", SessionExpiresAt: t0.Add(24 * time.Hour),
				Payload: "cGF5bG9hZA", Signature: "sig", KeyID: "k1", LicenseExpiresAt: t0.Add(720 * time.Hour), HWIDCount: 1, MaxSlots: 2, ActivatedAt: t0, RefreshedAt: t0}
			a2 := Activation{Identity: alice, Key: key2, ProductID: "basic", SessionToken: "tok-a2", ActivatedAt: t0.Add(time.Minute)}
			b1 := Activation{Identity: bob, Key: key1, ProductID: "pro", SessionToken: "tok-b1", ActivatedAt: t0.Add(2 * time.Minute)}
			for _, a := range []Activation{a2, b1, a1} {
				mustNoErr(t, db.PutActivation(ctx, a))
			}

			got, err := db.ActivationsFor(ctx, alice)
			mustNoErr(t, err)
			if len(got) != 2 || got[0].Key != key1 || got[1].Key != key2 {
				t.Fatalf("ActivationsFor(alice) = %+v", got)
			}
			g := got[0]
			if g.SessionToken != "tok-a1" || g.Payload != a1.Payload || g.Signature != "sig" || g.KeyID != "k1" || g.HWIDCount != 1 || g.MaxSlots != 2 ||
				!g.SessionExpiresAt.Equal(a1.SessionExpiresAt) || !g.LicenseExpiresAt.Equal(a1.LicenseExpiresAt) || !g.RefreshedAt.Equal(t0) || g.Identity != alice {
				t.Errorf("round trip: %+v", g)
			}
			holders, err := db.ActivationsForKey(ctx, key1)
			mustNoErr(t, err)
			if len(holders) != 2 || holders[0].Identity != alice || holders[1].Identity != bob {
				t.Errorf("ActivationsForKey(key1) = %+v", holders)
			}
			if none, err := db.ActivationsForKey(ctx, key3); err != nil || len(none) != 0 {
				t.Errorf("ActivationsForKey(unused) = %+v, %v", none, err)
			}
			if none, err := db.ActivationsFor(ctx, identityNobody()); err != nil || len(none) != 0 {
				t.Errorf("ActivationsFor(nobody) = %+v, %v", none, err)
			}

			// Refresh replaces, does not duplicate.
			a1.SessionToken = "tok-a1-refreshed"
			mustNoErr(t, db.PutActivation(ctx, a1))
			if h, _ := db.ActivationsForKey(ctx, key1); len(h) != 2 || h[0].SessionToken != "tok-a1-refreshed" {
				t.Errorf("after refresh: %+v", h)
			}

			mustNoErr(t, db.DeleteActivation(ctx, alice, key1))
			mustNoErr(t, db.DeleteActivation(ctx, alice, key1)) // missing is fine
			if h, _ := db.ActivationsForKey(ctx, key1); len(h) != 1 || h[0].Identity != bob {
				t.Errorf("after delete: %+v", h)
			}
			if mine, _ := db.ActivationsFor(ctx, alice); len(mine) != 1 || mine[0].Key != key2 {
				t.Errorf("alice after delete: %+v", mine)
			}

			if err := db.PutActivation(ctx, Activation{Key: key1}); err == nil {
				t.Error("PutActivation without identity succeeded")
			}
			if err := db.PutActivation(ctx, Activation{Identity: alice}); err == nil {
				t.Error("PutActivation without key succeeded")
			}
		})
	}
}

func TestForEachActivation(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	const n = forEachPage*2 + 17 // several pages
	for i := range n {
		a := Activation{Identity: identity.TelegramUser(int64(1000 + i)), Key: key1, ProductID: "pro", ActivatedAt: t0}
		mustNoErr(t, db.PutActivation(ctx, a))
	}
	seen := map[identity.Identity]bool{}
	err := db.ForEachActivation(ctx, func(a Activation) error {
		if seen[a.Identity] {
			t.Errorf("%s seen twice", a.Identity)
		}
		seen[a.Identity] = true
		// fn may write to the DB: the sweeper deletes as it walks.
		return db.DeleteActivation(ctx, a.Identity, a.Key)
	})
	mustNoErr(t, err)
	if len(seen) != n {
		t.Errorf("visited %d activations, want %d", len(seen), n)
	}
	if left, _ := db.ActivationsForKey(ctx, key1); len(left) != 0 {
		t.Errorf("%d activations left after deleting all", len(left))
	}

	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key1, ActivatedAt: t0}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key1, ActivatedAt: t0}))
	stop := errors.New("stop")
	calls := 0
	err = db.ForEachActivation(ctx, func(Activation) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("ForEachActivation with failing fn: %v after %d calls", err, calls)
	}
}
