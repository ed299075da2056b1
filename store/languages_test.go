package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shopbot/shopbot/identity"
)

func TestLanguageSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	who := identity.TelegramUser(42)
	if lang, err := db.Language(ctx, who); err != nil || lang != "" {
		t.Fatalf("unknown identity: %q, %v", lang, err)
	}
	if err := db.SetLanguage(ctx, who, "pt-br"); err != nil {
		t.Fatal(err)
	}
	if err := db.SetLanguage(ctx, identity.TelegramUser(43), string(make([]byte, 100))); err == nil {
		t.Error("a 100-byte language was stored")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if lang, err := db.Language(ctx, who); err != nil || lang != "pt-br" {
		t.Fatalf("after reopen: %q, %v; want pt-br", lang, err)
	}
}
