package authforge

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// keyAlphabet is the alphabet of license key characters: A–Z without I and
// O, digits 2–9.
const keyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NormalizeKey trims surrounding white space and upper-cases s, the form in
// which keys are compared and stored.
func NormalizeKey(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

// ValidKey reports whether s has the shape of an AuthForge license key:
// four dash-separated groups of four (ABCD-EFGH-JKLM-NPQR) over A–Z without
// I and O and the digits 2–9. It does not normalise: pass NormalizeKey's
// result.
func ValidKey(s string) bool {
	if len(s) != 19 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i%5 == 4 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if strings.IndexByte(keyAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// MaskKey returns a loggable form of a license key or session token: its
// first and last four characters around an ellipsis ("ABCD-…-WXYZ"). Values
// shorter than 12 characters are masked completely.
func MaskKey(s string) string {
	r := []rune(s)
	if len(r) < 12 {
		return "…"
	}
	return string(r[:4]) + "-…-" + string(r[len(r)-4:])
}

// spkiPrefix is the DER prefix of an Ed25519 SubjectPublicKeyInfo.
const spkiPrefix = "\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00"

// ParsePublicKey decodes an AuthForge app public key: base64 (standard or
// URL alphabet, padded or not) of the 32-byte Ed25519 key. A DER
// SubjectPublicKeyInfo encoding of the key is accepted too.
func ParsePublicKey(b64 string) (ed25519.PublicKey, error) {
	raw, err := decodeBase64(strings.TrimSpace(b64))
	if err != nil {
		return nil, fmt.Errorf("authforge: public key: %w", err)
	}
	if len(raw) == len(spkiPrefix)+ed25519.PublicKeySize && bytes.HasPrefix(raw, []byte(spkiPrefix)) {
		raw = raw[len(spkiPrefix):]
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("authforge: public key: %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// decodeBase64 accepts the standard and URL alphabets, padded or not.
func decodeBase64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty base64")
	}
	var firstErr error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err == nil {
			return b, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, firstErr
}
