package store

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	for in, want := range map[string]string{
		"ABCD-EFGH-IJKL-WXYZ": "ABCD-…-WXYZ",
		"ABCDEFGHIJKL":        "ABCD-…-IJKL",
		"SHORTKEY":            "…",
		"":                    "…",
	} {
		if got := mask(in); got != want {
			t.Errorf("mask(%q) = %q, want %q", in, got, want)
		}
	}
}

// fillSecrets writes a license key and a session token through every
// record type that holds one.
func fillSecrets(t *testing.T, db *DB, key, token, payload string) {
	t.Helper()
	ctx := context.Background()
	_, err := db.UpsertOrder(ctx, "cs_secret", nil)
	mustNoErr(t, err)
	_, err = db.AttachLicense(ctx, "cs_secret", license(key, alice))
	mustNoErr(t, err)
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: alice, Key: key, ProductID: "pro", SessionToken: token, Payload: payload, ActivatedAt: t0}))
	mustNoErr(t, db.PutActivation(ctx, Activation{Identity: bob, Key: key, ProductID: "pro", SessionToken: token + "-bob", ActivatedAt: t0}))
}

func TestRawFileSecrets(t *testing.T) {
	const (
		key     = "SECR-ETKE-Y123-4567"
		token   = "sess_tok_9f8e7d6c5b4a"
		payload = "eyJzZXNzaW9uVG9rZW4iOiJzZXNzX3RvayJ9"
	)
	for _, tc := range []struct {
		name string
		key  []byte
		want bool
	}{{"plain", nil, true}, {"encrypted", testKey(1), false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shop.db")
			db, err := Open(context.Background(), Options{Path: path, EncryptionKey: tc.key})
			mustNoErr(t, err)
			fillSecrets(t, db, key, token, payload)

			// The API returns plaintext either way.
			ctx := context.Background()
			l, err := db.GetLicense(ctx, key)
			mustNoErr(t, err)
			o, err := db.GetOrder(ctx, "cs_secret")
			mustNoErr(t, err)
			acts, err := db.ActivationsFor(ctx, alice)
			mustNoErr(t, err)
			if l.Key != key || o.LicenseKey != key || len(acts) != 1 || acts[0].Key != key || acts[0].SessionToken != token || acts[0].Payload != payload {
				t.Fatalf("round trip: %+v %+v %+v", l, o, acts)
			}
			owned, err := db.LicensesByOwner(ctx, alice)
			mustNoErr(t, err)
			if len(owned) != 1 || owned[0].Key != key {
				t.Fatalf("LicensesByOwner: %+v", owned)
			}
			mustNoErr(t, db.Close())

			raw := rawFile(t, path)
			// The payload is kept as its decoded JSON (session_pack.go).
			for _, secret := range []string{key, token, `{"sessionToken":"sess_tok"}`} {
				if got := bytes.Contains(raw, []byte(secret)); got != tc.want {
					t.Errorf("file contains %q: %v, want %v", secret, got, tc.want)
				}
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	c, err := newCrypter(testKey(3))
	mustNoErr(t, err)
	a, b := c.seal(aadLicenseKey, key1), c.seal(aadLicenseKey, key1)
	if a == b {
		t.Error("two seals of one value are equal; nonces must be random")
	}
	if got, err := c.open(aadLicenseKey, a); err != nil || got != key1 {
		t.Errorf("open = %q, %v", got, err)
	}
	if _, err := c.open(aadActToken, a); !errors.Is(err, ErrBadKey) {
		t.Errorf("open with another field's AAD: %v, want failure", err)
	}
	if !bytes.Equal(c.kid(key1), c.kid(key1)) || bytes.Equal(c.kid(key1), c.kid(key2)) {
		t.Error("kid must be deterministic and distinct per key")
	}
	other, _ := newCrypter(testKey(4))
	if bytes.Equal(c.kid(key1), other.kid(key1)) || c.check == other.check {
		t.Error("different store keys must give different ids and check values")
	}
	if _, err := other.open(aadLicenseKey, a); !errors.Is(err, ErrBadKey) {
		t.Errorf("open with another key: %v", err)
	}
}

func TestEncryptionKeyMismatch(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := Open(ctx, Options{Path: path, EncryptionKey: testKey(1)})
	mustNoErr(t, err)
	mustNoErr(t, db.PutLicense(ctx, license(key1, alice)))
	mustNoErr(t, db.Close())

	_, err = Open(ctx, Options{Path: path, EncryptionKey: testKey(2)})
	if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "different key") {
		t.Errorf("open with wrong key: %v", err)
	}
	_, err = Open(ctx, Options{Path: path})
	if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "encrypted") {
		t.Errorf("open encrypted file without key: %v", err)
	}
	// Failed opens change nothing: the right key still works.
	db = openAt(t, path, testKey(1))
	if l, err := db.GetLicense(ctx, key1); err != nil || l.Key != key1 {
		t.Errorf("GetLicense with right key: %+v, %v", l, err)
	}
}

func TestEncryptedEvenBeforeData(t *testing.T) {
	// The key check is written at first open, so an empty encrypted store
	// cannot later be opened without the key and filled with plaintext.
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := Open(context.Background(), Options{Path: path, EncryptionKey: testKey(1)})
	mustNoErr(t, err)
	mustNoErr(t, db.Close())
	if _, err := Open(context.Background(), Options{Path: path}); !errors.Is(err, ErrBadKey) {
		t.Errorf("open empty encrypted file without key: %v", err)
	}
}

func TestPlainFileWithKey(t *testing.T) {
	ctx := context.Background()

	// Empty plain store: adding a key is allowed and sticks.
	path := filepath.Join(t.TempDir(), "empty.db")
	db, err := Open(ctx, Options{Path: path})
	mustNoErr(t, err)
	_, err = db.PutEvent(ctx, Event{ID: "evt_1"}) // events hold no secrets
	mustNoErr(t, err)
	mustNoErr(t, db.Close())
	db, err = Open(ctx, Options{Path: path, EncryptionKey: testKey(1)})
	mustNoErr(t, err)
	mustNoErr(t, db.Close())
	if _, err := Open(ctx, Options{Path: path}); !errors.Is(err, ErrBadKey) {
		t.Errorf("after adopting a key, open without it: %v", err)
	}

	// Plain store with licenses: refused, and left plain.
	path = filepath.Join(t.TempDir(), "full.db")
	db, err = Open(ctx, Options{Path: path})
	mustNoErr(t, err)
	mustNoErr(t, db.PutLicense(ctx, license(key1, alice)))
	mustNoErr(t, db.Close())
	_, err = Open(ctx, Options{Path: path, EncryptionKey: testKey(1)})
	if !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("open plain file holding licenses with a key: %v", err)
	}
	db = openAt(t, path, nil)
	if _, err := db.GetLicense(ctx, key1); err != nil {
		t.Errorf("plain store damaged by refused open: %v", err)
	}
}
