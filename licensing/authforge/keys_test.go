package authforge

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNormalizeAndValidKey(t *testing.T) {
	if got := NormalizeKey("  abcd-efgh-jkmn-2345\n"); got != "ABCD-EFGH-JKMN-2345" {
		t.Errorf("NormalizeKey = %q", got)
	}
	cases := map[string]bool{
		"ABCD-EFGH-JKMN-2345":  true,
		"ZZZZ-9999-2222-AAAA":  true,
		"ABCD-EFGH-JKMN-234":   false,
		"ABCD-EFGH-JKMN-23456": false,
		"ABCDEFGHJKMN2345":     false,
		"ABCD-EFGH-JKIN-2345":  false, // I
		"ABCD-EFGH-JKON-2345":  false, // O
		"ABCD-EFGH-JK1N-2345":  false, // 1
		"ABCD-EFGH-JK0N-2345":  false, // 0
		"abcd-efgh-jkmn-2345":  false, // not normalised
		"ABCD_EFGH-JKMN-2345":  false,
		"":                     false,
		"ABCD-EFGH-JKMN-234É":  false,
	}
	for k, want := range cases {
		if got := ValidKey(k); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", k, got, want)
		}
	}
}

func TestMaskKey(t *testing.T) {
	cases := map[string]string{
		"ABCD-EFGH-JKMN-WXYZ":          "ABCD-…-WXYZ",
		"short":                        "…",
		"":                             "…",
		"eyJzaWQiOiJ4In0.c2lnbmF0dXJl": "eyJz-…-dXJl",
	}
	for in, want := range cases {
		if got := MaskKey(in); got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePublicKey(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	spki := append([]byte(spkiPrefix), pub...)
	for name, in := range map[string]string{
		"std":    base64.StdEncoding.EncodeToString(pub),
		"raw":    base64.RawStdEncoding.EncodeToString(pub),
		"url":    base64.RawURLEncoding.EncodeToString(pub),
		"spaces": "  " + base64.StdEncoding.EncodeToString(pub) + "\n",
		"spki":   base64.StdEncoding.EncodeToString(spki),
	} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
	for _, in := range []string{"", "!!!", base64.StdEncoding.EncodeToString(pub[:31])} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", in)
		}
	}
}

func TestAPIErrorMessageAndIs(t *testing.T) {
	e := &APIError{Status: 429, Code: "rate_limited", Message: "slow down", RetryAfter: 2 * time.Second}
	if got := e.Error(); !strings.Contains(got, "rate_limited") || !strings.Contains(got, "429") || !strings.Contains(got, "slow down") {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(e, ErrRateLimited) || errors.Is(e, ErrServer) {
		t.Error("Is mismatch")
	}
	if errors.Is(&APIError{Status: 200}, ErrServer) {
		t.Error("an empty 200 failure matches ErrServer")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":    0,
		"3":   3 * time.Second,
		"0.5": 500 * time.Millisecond,
		"-1":  0,
		"x":   0,
		now.Add(10 * time.Second).Format(http.TimeFormat): 10 * time.Second,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSessionTimes(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	abs := now.Add(time.Hour)
	tok := func(claims string) string {
		return base64.RawURLEncoding.EncodeToString([]byte(claims)) + ".mac"
	}
	cases := []struct {
		token string
		want  time.Time
		ok    bool
	}{
		{tok(`{"exp":` + itoa(abs.Unix()) + `}`), abs, true},
		{tok(`{"expiresIn":` + itoa(abs.Unix()) + `,"exp":1}`), abs, true},
		{tok(`{"expiresIn":3600}`), abs, true}, // relative
		{tok(`{"sid":"x"}`), time.Time{}, false},
		{"no-dot", time.Time{}, false},
		{"!!!.mac", time.Time{}, false},
	}
	for _, tc := range cases {
		got, ok := tokenExpiry(tc.token, now)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("tokenExpiry(%q) = %v, %v; want %v, %v", tc.token, got, ok, tc.want, tc.ok)
		}
	}
	for in, want := range map[string]time.Time{
		`"2025-01-01T01:00:00Z"`:     abs,
		`"2025-01-01T01:00:00.000Z"`: abs,
		itoa(abs.Unix()):             abs,
		itoa(abs.UnixMilli()):        abs,
		`"` + itoa(abs.Unix()) + `"`: abs,
		`null`:                       {},
		`"soon"`:                     {},
	} {
		if got, _ := parseTime([]byte(in)); !got.Equal(want) {
			t.Errorf("parseTime(%s) = %v, want %v", in, got, want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
