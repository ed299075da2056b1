package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

var (
	alice = identity.TelegramUser(1001)
	bob   = identity.DiscordUser("123456789012345678")
	t0    = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

const (
	key1 = "AAAA-BBBB-CCCC-DDDD"
	key2 = "EEEE-FFFF-GGGG-HHHH"
	key3 = "JJJJ-KKKK-LLLL-MMMM"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

// openTest opens a fresh store in t.TempDir (NoSync: tests do not need
// durability) with the given encryption key, closed at cleanup.
func openTest(t testing.TB, key []byte) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "shop.db"), key)
}

func openAt(t testing.TB, path string, key []byte) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{Path: path, EncryptionKey: key, NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rawFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func license(key string, owner identity.Identity) License {
	return License{Key: key, ProductID: "pro", Owner: owner, Status: LicenseActive, MaxSlots: 2, Label: "shopbot:cs_" + key[:4], CreatedAt: t0}
}

func identityNobody() identity.Identity { return identity.TelegramUser(999999) }
