package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOpenSessions(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if _, err := db.GetOpenSession(ctx, alice, "pro"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetOpenSession none: %v", err)
	}
	s := OpenSession{Identity: alice, ProductID: "pro", SessionID: "cs_1", URL: "https://checkout.stripe.com/c/cs_1", ExpiresAt: t0.Add(30 * time.Minute)}
	mustNoErr(t, db.PutOpenSession(ctx, s))
	mustNoErr(t, db.PutOpenSession(ctx, OpenSession{Identity: alice, ProductID: "basic", SessionID: "cs_2", URL: "u2", ExpiresAt: t0}))
	mustNoErr(t, db.PutOpenSession(ctx, OpenSession{Identity: bob, ProductID: "pro", SessionID: "cs_3", URL: "u3", ExpiresAt: t0}))

	got, err := db.GetOpenSession(ctx, alice, "pro")
	mustNoErr(t, err)
	if got.SessionID != "cs_1" || got.URL != s.URL || !got.ExpiresAt.Equal(s.ExpiresAt) || got.Identity != alice {
		t.Errorf("GetOpenSession = %+v", got)
	}

	// Replacing drops the old id: deleting by it no longer touches the new one.
	s.SessionID, s.URL = "cs_1b", "u1b"
	mustNoErr(t, db.PutOpenSession(ctx, s))
	mustNoErr(t, db.DeleteOpenSessionByID(ctx, "cs_1"))
	if got, err := db.GetOpenSession(ctx, alice, "pro"); err != nil || got.SessionID != "cs_1b" {
		t.Errorf("after stale delete by id: %+v, %v", got, err)
	}

	mustNoErr(t, db.DeleteOpenSessionByID(ctx, "cs_1b"))
	if _, err := db.GetOpenSession(ctx, alice, "pro"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete by id: %v", err)
	}
	mustNoErr(t, db.DeleteOpenSession(ctx, alice, "basic"))
	mustNoErr(t, db.DeleteOpenSession(ctx, alice, "basic")) // none: fine
	mustNoErr(t, db.DeleteOpenSessionByID(ctx, "cs_2"))     // already gone: fine
	mustNoErr(t, db.DeleteOpenSessionByID(ctx, ""))
	if _, err := db.GetOpenSession(ctx, alice, "basic"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if got, err := db.GetOpenSession(ctx, bob, "pro"); err != nil || got.SessionID != "cs_3" {
		t.Errorf("bob's session disturbed: %+v, %v", got, err)
	}

	if err := db.PutOpenSession(ctx, OpenSession{Identity: alice, ProductID: "pro"}); err == nil {
		t.Error("PutOpenSession without session id succeeded")
	}
	if err := db.PutOpenSession(ctx, OpenSession{ProductID: "pro", SessionID: "x"}); err == nil {
		t.Error("PutOpenSession without identity succeeded")
	}
}
