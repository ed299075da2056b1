package store

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// HKDF labels. Separate subkeys mean the index HMAC can never be used to
// forge or open ciphertexts, and the check value reveals nothing about
// either. The "v1" lets a future format derive fresh keys.
const (
	labelSeal  = "shopbot/store/v1 seal"
	labelIndex = "shopbot/store/v1 index"
	labelCheck = "shopbot/store/v1 key-check"
)

// Associated data for each sealed field, so a ciphertext copied from one
// field into another (e.g. a token into a key) fails to open.
const (
	aadLicenseKey   = "license.key"
	aadOrderKey     = "order.license_key"
	aadActKey       = "activation.key"
	aadActToken     = "activation.session_token"
	aadActPayload   = "activation.payload"
	keyCheckMessage = "shopbot store key check"
)

// KeySize is the length of Options.EncryptionKey.
const KeySize = 32

// crypter seals secrets and derives index ids. A nil *crypter is the plain
// store: seal and open are identities and ids are the keys themselves, so
// callers never branch on whether encryption is on.
type crypter struct {
	aead     cipher.AEAD
	indexKey []byte
	check    string
}

func newCrypter(key []byte) (*crypter, error) {
	if key == nil {
		return nil, nil
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("store: encryption key is %d bytes, want %d", len(key), KeySize)
	}
	derive := func(label string) ([]byte, error) {
		return hkdf.Key(sha256.New, key, nil, label, 32)
	}
	sealKey, err := derive(labelSeal)
	if err != nil {
		return nil, fmt.Errorf("store: derive seal key: %w", err)
	}
	indexKey, err := derive(labelIndex)
	if err != nil {
		return nil, fmt.Errorf("store: derive index key: %w", err)
	}
	checkKey, err := derive(labelCheck)
	if err != nil {
		return nil, fmt.Errorf("store: derive check key: %w", err)
	}
	aead, err := chacha20poly1305.NewX(sealKey)
	if err != nil {
		return nil, fmt.Errorf("store: cipher: %w", err)
	}
	m := hmac.New(sha256.New, checkKey)
	m.Write([]byte(keyCheckMessage))
	return &crypter{aead: aead, indexKey: indexKey, check: hex.EncodeToString(m.Sum(nil))}, nil
}

// seal encrypts s with a fresh random nonce. Empty stays empty: "no token"
// is not a secret, and it keeps zero values round-tripping.
func (c *crypter) seal(aad, s string) string {
	if c == nil || s == "" {
		return s
	}
	nonce := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+len(s)+chacha20poly1305.Overhead)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails since Go 1.24
	out := c.aead.Seal(nonce, nonce, []byte(s), []byte(aad))
	return base64.RawStdEncoding.EncodeToString(out)
}

func (c *crypter) open(aad, s string) (string, error) {
	if c == nil || s == "" {
		return s, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil || len(raw) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return "", fmt.Errorf("store: %s is not a sealed value (file written without encryption?)", aad)
	}
	nonce, ct := raw[:chacha20poly1305.NonceSizeX], raw[chacha20poly1305.NonceSizeX:]
	pt, err := c.aead.Open(nil, nonce, ct, []byte(aad))
	if err != nil {
		return "", fmt.Errorf("store: %s does not decrypt: %w", aad, ErrBadKey)
	}
	return string(pt), nil
}

// kid is the lookup id of a license key: the key in a plain store, an HMAC
// in an encrypted one (deterministic, so lookups still work, but useless
// without the store key).
func (c *crypter) kid(key string) []byte {
	if c == nil {
		return []byte(key)
	}
	m := hmac.New(sha256.New, c.indexKey)
	m.Write([]byte(key))
	return m.Sum(nil)
}

// checkLicenseKey rejects keys that would break composite bucket keys
// (which use 0x00 as separator) or bbolt's key size limit.
func checkLicenseKey(key string) error {
	switch {
	case key == "":
		return errors.New("store: empty license key")
	case len(key) > 512:
		return fmt.Errorf("store: license key %s is longer than 512 bytes", mask(key))
	}
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return fmt.Errorf("store: license key %s contains a NUL byte", mask(key))
		}
	}
	return nil
}

// mask shortens a license key for error messages: errors end up in logs
// and admin chats, where a whole key must never appear.
func mask(key string) string {
	r := []rune(key)
	if len(r) < 12 {
		return "…"
	}
	return string(r[:4]) + "-…-" + string(r[len(r)-4:])
}
