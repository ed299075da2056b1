package terms_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/internal/terms"
	"github.com/shopbot/shopbot/store"
)

func open(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Path: t.TempDir() + "/s.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

const key = "ABCD-EFGH-IJKL-MNOP"

func TestAcceptOnceAndNewVersion(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	who, other := identity.TelegramUser(1), identity.TelegramUser(2)
	v1, err := terms.New(terms.Options{Store: db, URL: "https://x/terms", Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := v1.Accepted(ctx, who); ok || err != nil {
		t.Fatalf("accepted before asking: %v %v", ok, err)
	}
	token, err := v1.Ask(who, key)
	if err != nil || len("terms:"+token) > 64 {
		t.Fatalf("token %q %v", token, err)
	}
	if _, err := v1.Accept(ctx, other, token); !errors.Is(err, terms.ErrStaleToken) {
		t.Fatalf("someone else's token: %v", err)
	}
	got, err := v1.Accept(ctx, who, token)
	if err != nil || got != key {
		t.Fatalf("accept: %q %v", got, err)
	}
	if _, err := v1.Accept(ctx, who, token); !errors.Is(err, terms.ErrStaleToken) {
		t.Fatalf("token used twice: %v", err)
	}
	if ok, _ := v1.Accepted(ctx, who); !ok {
		t.Fatal("acceptance not kept")
	}
	a, err := db.TermsAccepted(ctx, who)
	if err != nil || a.Version != "1" || !a.AcceptedAt.Equal(clock.Now()) || a.URL != "https://x/terms" {
		t.Fatalf("stored %+v %v", a, err)
	}
	v2, _ := terms.New(terms.Options{Store: db, URL: "https://x/terms", Version: "2", Clock: clock.Now})
	if ok, _ := v2.Accepted(ctx, who); ok {
		t.Fatal("a new version was not asked again")
	}
}

func TestPendingExpireAndBounded(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	who := identity.TelegramUser(1)
	tm, _ := terms.New(terms.Options{Store: db, URL: "https://x/terms", Clock: clock.Now, TTL: time.Minute, MaxPending: 2})
	old, _ := tm.Ask(who, key)
	clock.Advance(time.Minute + time.Second)
	if _, err := tm.Accept(ctx, who, old); !errors.Is(err, terms.ErrStaleToken) {
		t.Fatalf("expired token: %v", err)
	}
	first, _ := tm.Ask(who, key)
	clock.Advance(time.Second)
	second, _ := tm.Ask(who, key)
	clock.Advance(time.Second)
	third, _ := tm.Ask(who, key) // over the bound: the oldest goes
	if _, err := tm.Accept(ctx, who, first); !errors.Is(err, terms.ErrStaleToken) {
		t.Fatalf("oldest pending kept beyond the bound: %v", err)
	}
	for _, tok := range []string{second, third} {
		if _, err := tm.Accept(ctx, who, tok); err != nil {
			t.Fatalf("recent token refused: %v", err)
		}
	}
}
