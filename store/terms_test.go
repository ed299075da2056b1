package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

func TestTermsAcceptance(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	who := identity.TelegramUser(42)
	if _, err := db.TermsAccepted(ctx, who); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before: %v", err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mustNoErr(t, db.AcceptTerms(ctx, TermsAcceptance{Identity: who, Version: "1", URL: "https://x/t", AcceptedAt: at}))
	mustNoErr(t, db.AcceptTerms(ctx, TermsAcceptance{Identity: who, Version: "2", URL: "https://x/t", AcceptedAt: at.Add(time.Hour)}))
	a, err := db.TermsAccepted(ctx, who)
	if err != nil || a.Version != "2" || !a.AcceptedAt.Equal(at.Add(time.Hour)) || a.Identity != who {
		t.Fatalf("got %+v, %v", a, err)
	}
	if err := db.AcceptTerms(ctx, TermsAcceptance{Identity: who}); err == nil {
		t.Fatal("empty version accepted")
	}
}

func TestAccessUsesBatches(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/s.db"
	db := openAt(t, path, testKey(7))
	a, b := identity.TelegramUser(1), identity.DiscordUser("123456789012345678")
	key, other := "ABCD-EFGH-IJKL-MNOP", "ZZZZ-EFGH-IJKL-MNOP"
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mustNoErr(t, db.AddAccessUses(ctx, []AccessCount{
		{Identity: a, Key: key, Uses: 3, LastUse: t0},
		{Identity: b, Key: key, Uses: 1, LastUse: t0},
		{Identity: a, Key: other, Uses: 9, LastUse: t0},
	}))
	// A later batch adds; an older last use does not move it back.
	mustNoErr(t, db.AddAccessUses(ctx, []AccessCount{
		{Identity: a, Key: key, Uses: 2, LastUse: t0.Add(time.Hour)},
		{Identity: b, Key: key, Uses: 1, LastUse: t0.Add(-time.Hour)},
	}))
	uses, err := db.AccessUses(ctx, key)
	if err != nil || len(uses) != 2 {
		t.Fatalf("uses %+v, %v", uses, err)
	}
	got := map[identity.Identity]AccessUse{uses[0].Identity: uses[0], uses[1].Identity: uses[1]}
	if u := got[a]; u.Uses != 5 || !u.LastUse.Equal(t0.Add(time.Hour)) {
		t.Errorf("a: %+v", u)
	}
	if u := got[b]; u.Uses != 2 || !u.LastUse.Equal(t0) {
		t.Errorf("b: %+v", u)
	}
	mustNoErr(t, db.Close())
	if bytes.Contains(rawFile(t, path), []byte(key)) {
		t.Fatal("encrypted store holds the license key in clear in the access log")
	}
}
