package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// The language memory writes only when a language changes, stays within
// its bound, and reads an evicted identity back from the store.
func TestLanguagesWriteOnChangeAndBound(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "shop.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c, err := builtinWords()
	if err != nil {
		t.Fatal(err)
	}
	l := newLanguages(db, c, slog.New(slog.DiscardHandler))
	l.max = 2
	a, b, d := identity.TelegramUser(1), identity.TelegramUser(2), identity.TelegramUser(3)

	l.Heard(ctx, a, "de")
	if got, _ := db.Language(ctx, a); got != "de" {
		t.Fatalf("stored language of a = %q, want de", got)
	}
	// Overwrite the store behind the memory's back: hearing the same
	// language again must not write (a command costs no write).
	if err := db.SetLanguage(ctx, a, "xx"); err != nil {
		t.Fatal(err)
	}
	l.Heard(ctx, a, "de")
	if got, _ := db.Language(ctx, a); got != "xx" {
		t.Fatalf("an unchanged language was written again: store has %q", got)
	}
	l.Heard(ctx, a, "pt-BR")
	if got, _ := db.Language(ctx, a); got != "pt-BR" {
		t.Fatalf("a changed language was not written: store has %q", got)
	}

	l.Heard(ctx, b, "fr")
	l.Heard(ctx, d, "es")
	if n := len(l.known); n != 2 {
		t.Fatalf("memory holds %d identities, bound is 2", n)
	}
	if _, ok := l.cached(a); ok {
		t.Fatal("the oldest identity was not evicted")
	}
	if got := l.Of(ctx, a); got != "pt-BR" {
		t.Fatalf("evicted identity reads %q from the store, want pt-BR", got)
	}
	if got := l.Of(ctx, identity.TelegramUser(4)); got != "" {
		t.Fatalf("unknown identity has language %q", got)
	}
}
