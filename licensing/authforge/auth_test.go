package authforge_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
)

func TestValidateSession(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	exp := start.Add(30 * 24 * time.Hour)
	lic := e.seed(authforgetest.License{MaxHWIDSlots: 2, ExpiresAt: &exp, Label: "shopbot:cs_1"})

	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1001", 2*time.Hour)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if s.Token == "" || !strings.Contains(s.Token, ".") {
		t.Errorf("token %q is not <body>.<mac>", s.Token)
	}
	if want := start.Add(2 * time.Hour); !s.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", s.ExpiresAt, want)
	}
	if !s.LicenseExpiresAt.Equal(exp) {
		t.Errorf("LicenseExpiresAt = %v, want %v", s.LicenseExpiresAt, exp)
	}
	if s.MaxHWIDSlots != 2 || s.HWIDCount != 1 || s.Label != "shopbot:cs_1" || s.KeyID == "" {
		t.Errorf("session = %+v", s)
	}
	if err := e.c.Verify(s.Payload, s.Signature); err != nil {
		t.Errorf("stored answer does not verify: %v", err)
	}
	if err := e.c.Verify(s.Payload+"x", s.Signature); !errors.Is(err, authforge.ErrBadSignature) {
		t.Errorf("altered payload: %v, want ErrBadSignature", err)
	}
	if got := e.fake.CreditsUsed(); got != 1 {
		t.Errorf("credits used = %d, want 1", got)
	}
	if l, _ := e.fake.License(lic.Key); !slices.Equal(l.HWIDList, []string{"tg:1001"}) {
		t.Errorf("HWIDs = %v", l.HWIDList)
	}
	if n := e.rec.nonces(); len(n) != 1 || len(n[0]) != 32 {
		t.Errorf("nonces = %q, want one of 32 hex digits", n)
	}
}

func TestValidateTTLClampAndLifetime(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(time.Hour); !s.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want clamped %v", s.ExpiresAt, want)
	}
	if !s.LicenseExpiresAt.IsZero() {
		t.Errorf("lifetime license has LicenseExpiresAt %v", s.LicenseExpiresAt)
	}
	s, err = e.c.Validate(e.ctx, lic.Key, "tg:1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := start.Add(24 * time.Hour); !s.ExpiresAt.Equal(want) {
		t.Errorf("default ExpiresAt = %v, want %v", s.ExpiresAt, want)
	}
}

func TestValidateHWIDSlots(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{MaxHWIDSlots: 2})
	for _, hwid := range []string{"tg:1", "discord:2", "tg:1"} {
		if _, err := e.c.Validate(e.ctx, lic.Key, hwid, time.Hour); err != nil {
			t.Fatalf("Validate %s: %v", hwid, err)
		}
	}
	_, err := e.c.Validate(e.ctx, lic.Key, "tg:3", time.Hour)
	if !errors.Is(err, authforge.ErrHWIDMismatch) {
		t.Fatalf("third HWID: %v, want ErrHWIDMismatch", err)
	}
	if err := e.c.ResetHWID(e.ctx, lic.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:3", time.Hour); err != nil {
		t.Fatalf("after reset: %v", err)
	}
	if got := e.fake.CreditsUsed(); got != 4 {
		t.Errorf("credits used = %d, want 4 (failures are free)", got)
	}
}

func TestValidateLicenseStates(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	past := start.Add(-time.Hour)
	expired := e.seed(authforgetest.License{ExpiresAt: &past})
	revoked := e.seed(authforgetest.License{Status: "revoked"})
	cases := []struct {
		key  string
		want error
	}{
		{"ABCD-EFGH-JKLM-NPQR", authforge.ErrInvalidKey},
		{expired.Key, authforge.ErrExpired},
		{revoked.Key, authforge.ErrRevoked},
	}
	for _, tc := range cases {
		_, err := e.c.Validate(e.ctx, tc.key, "tg:1", time.Hour)
		if !errors.Is(err, tc.want) {
			t.Errorf("Validate %s: %v, want %v", tc.key, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), tc.key) {
			t.Errorf("error %q contains the whole key", err)
		}
		var apiErr *authforge.APIError
		if !errors.As(err, &apiErr) || apiErr.Status < 400 {
			t.Errorf("Validate %s: %v is not an *APIError with an error status", tc.key, err)
		}
	}
	bad := e.client(func(c *authforge.Config) { c.AppSecret = "wrong" })
	if _, err := bad.Validate(e.ctx, expired.Key, "tg:1", time.Hour); !errors.Is(err, authforge.ErrInvalidApp) {
		t.Errorf("wrong secret: %v, want ErrInvalidApp", err)
	}
}

func TestValidateNoCredits(t *testing.T) {
	e := newEnv(t, authforgetest.Options{Credits: 1})
	lic := e.seed(authforgetest.License{MaxHWIDSlots: 3})
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:2", time.Hour); !errors.Is(err, authforge.ErrNoCredits) {
		t.Fatalf("over balance: %v, want ErrNoCredits", err)
	}
	e.fake.SetCredits(1)
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:2", time.Hour); err != nil {
		t.Fatalf("after top-up: %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	s2, err := e.c.Heartbeat(e.ctx, s.Token, "tg:1")
	if err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	if s2.Token == s.Token {
		t.Error("heartbeat kept the old token")
	}
	if want := start.Add(3 * time.Hour); !s2.ExpiresAt.Equal(want) {
		t.Errorf("renewed ExpiresAt = %v, want %v (TTL preserved)", s2.ExpiresAt, want)
	}
	if _, err := e.c.Heartbeat(e.ctx, s.Token, "tg:1"); !errors.Is(err, authforge.ErrSessionExpired) {
		t.Errorf("reused old token: %v, want ErrSessionExpired", err)
	}
	if _, err := e.c.Heartbeat(e.ctx, s2.Token, "tg:2"); !errors.Is(err, authforge.ErrHWIDMismatch) {
		t.Errorf("other HWID: %v, want ErrHWIDMismatch", err)
	}
	forged := s2.Token[:len(s2.Token)-2] + "AA"
	if _, err := e.c.Heartbeat(e.ctx, forged, "tg:1"); !errors.Is(err, authforge.ErrSessionExpired) {
		t.Errorf("forged token: %v, want ErrSessionExpired", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.c.Heartbeat(e.ctx, s2.Token, "tg:1"); !errors.Is(err, authforge.ErrSessionExpired) {
		t.Errorf("after expiry: %v, want ErrSessionExpired", err)
	}
}

func TestHeartbeatEntitlementGone(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	soon := start.Add(90 * time.Minute)
	a := e.seed(authforgetest.License{})
	b := e.seed(authforgetest.License{ExpiresAt: &soon})
	sa, err := e.c.Validate(e.ctx, a.Key, "tg:1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := e.c.Validate(e.ctx, b.Key, "tg:1", 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.Revoke(a.Key)
	if _, err := e.c.Heartbeat(e.ctx, sa.Token, "tg:1"); !errors.Is(err, authforge.ErrRevoked) {
		t.Errorf("revoked in dashboard: %v, want ErrRevoked", err)
	}
	e.clock.Advance(2 * time.Hour)
	if _, err := e.c.Heartbeat(e.ctx, sb.Token, "tg:1"); !errors.Is(err, authforge.ErrExpired) {
		t.Errorf("license expired: %v, want ErrExpired", err)
	}
}

func TestHeartbeatCredits(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if s, err = e.c.Heartbeat(e.ctx, s.Token, "tg:1"); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	if got := e.fake.CreditsUsed(); got != 3 {
		t.Errorf("credits = %d, want 1 validate + 20/10 heartbeats = 3", got)
	}
	if got := e.fake.Calls("/auth/heartbeat"); got != 20 {
		t.Errorf("heartbeat calls = %d", got)
	}
}

func TestRateLimitRetriedWithFreshNonce(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNext("/auth/validate", 2, http.StatusTooManyRequests, "")
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); err != nil {
		t.Fatalf("Validate after two 429: %v", err)
	}
	nonces := e.rec.nonces()
	if len(nonces) != 3 {
		t.Fatalf("sent %d requests, want 3", len(nonces))
	}
	if len(slices.Compact(slices.Sorted(slices.Values(nonces)))) != 3 {
		t.Errorf("nonces repeat: %q", nonces)
	}
	if got, want := e.rec.slept(), []time.Duration{2 * time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v (Retry-After 1s is shorter)", got, want)
	}
}

func TestRateLimitHonoursLongerRetryAfterAndCode(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNextWith("/auth/validate", 1, authforgetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: 4 * time.Second})
	// A rate_limited code in a 200 answer counts too.
	e.fake.FailNextWith("/auth/validate", 1, authforgetest.Fault{Status: http.StatusOK, Code: "rate_limited"})
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if got, want := e.rec.slept(), []time.Duration{4 * time.Second, 5 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
}

func TestRateLimitExhausted(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNext("/auth/validate", 10, http.StatusTooManyRequests, "rate_limited")
	_, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if !errors.Is(err, authforge.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	var apiErr *authforge.APIError
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Second || apiErr.Status != http.StatusTooManyRequests {
		t.Errorf("APIError = %+v", apiErr)
	}
	if got := e.fake.Calls("/auth/validate"); got != 3 {
		t.Errorf("attempts = %d, want 3 (two retries)", got)
	}
}

func TestNetworkFailureRetriedOnce(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNextWith("/auth/validate", 1, authforgetest.Fault{Drop: true})
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); err != nil {
		t.Fatalf("Validate after one dropped connection: %v", err)
	}
	e.fake.FailNextWith("/auth/validate", 2, authforgetest.Fault{Drop: true})
	_, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("two drops: %v, want ErrUnavailable", err)
	}
	if got := e.fake.Calls("/auth/validate"); got != 4 {
		t.Errorf("attempts = %d, want 4", got)
	}
	if strings.Contains(err.Error(), lic.Key) {
		t.Errorf("error %q contains the key", err)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, authforgetest.Options{}, func(c *authforge.Config) { c.Timeout = 50 * time.Millisecond })
	lic := e.seed(authforgetest.License{})
	e.fake.SetLatency(time.Second)
	_, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if !errors.Is(err, authforge.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping DeadlineExceeded", err)
	}
	if got := e.rec.roundTrips(); got != 2 {
		t.Errorf("attempts = %d, want 2", got)
	}
}

func TestCancelledContextNotRetried(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err := e.c.Validate(ctx, "ABCD-EFGH-JKLM-NPQR", "tg:1", time.Hour)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, authforge.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	if got := e.rec.roundTrips(); got != 1 {
		t.Errorf("attempts = %d, want 1", got)
	}
}

func TestTamperedSignature(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.TamperNext("/auth/validate")
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); !errors.Is(err, authforge.ErrBadSignature) {
		t.Fatalf("tampered: %v, want ErrBadSignature", err)
	}
	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.fake.TamperNext("/auth/heartbeat")
	if _, err := e.c.Heartbeat(e.ctx, s.Token, "tg:1"); !errors.Is(err, authforge.ErrBadSignature) {
		t.Fatalf("tampered heartbeat: %v, want ErrBadSignature", err)
	}
}

func TestWrongNonce(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.WrongNonceNext("/auth/validate")
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour); !errors.Is(err, authforge.ErrNonceMismatch) {
		t.Fatalf("wrong nonce: %v, want ErrNonceMismatch", err)
	}
}

func TestKeyRotation(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{MaxHWIDSlots: 4})
	old := e.fake.PublicKey()
	unrelated, _, _ := ed25519.GenerateKey(rand.Reader)

	// The fake's key second in the list is accepted.
	both := e.client(func(c *authforge.Config) { c.PublicKeys = []ed25519.PublicKey{unrelated, old} })
	if _, err := both.Validate(e.ctx, lic.Key, "tg:1", time.Hour); err != nil {
		t.Fatalf("second key: %v", err)
	}
	next := e.fake.RotateKey()
	if _, err := e.c.Validate(e.ctx, lic.Key, "tg:2", time.Hour); !errors.Is(err, authforge.ErrBadSignature) {
		t.Fatalf("old key only after rotation: %v, want ErrBadSignature", err)
	}
	rotated := e.client(func(c *authforge.Config) { c.PublicKeys = []ed25519.PublicKey{old, next} })
	s, err := rotated.Validate(e.ctx, lic.Key, "tg:3", time.Hour)
	if err != nil {
		t.Fatalf("old+new keys after rotation: %v", err)
	}
	if s.KeyID != "k2" {
		t.Errorf("KeyID = %q, want k2", s.KeyID)
	}
	none := e.client(func(c *authforge.Config) { c.PublicKeys = nil })
	if _, err := none.Validate(e.ctx, lic.Key, "tg:3", time.Hour); !errors.Is(err, authforge.ErrBadSignature) {
		t.Fatalf("no keys: %v, want ErrBadSignature", err)
	}
}
