package authforge_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
)

// TestErrorCodes maps every AuthForge error code to its sentinel.
func TestErrorCodes(t *testing.T) {
	cases := []struct {
		code   string
		status int
		want   error
	}{
		{"invalid_app", 401, authforge.ErrInvalidApp},
		{"invalid_key", 404, authforge.ErrInvalidKey},
		{"expired", 403, authforge.ErrExpired},
		{"revoked", 403, authforge.ErrRevoked},
		{"hwid_mismatch", 403, authforge.ErrHWIDMismatch},
		{"no_credits", 402, authforge.ErrNoCredits},
		{"app_burn_cap_reached", 402, authforge.ErrBurnCap},
		{"blocked", 403, authforge.ErrBlocked},
		{"replay_detected", 400, authforge.ErrReplay},
		{"app_disabled", 403, authforge.ErrAppDisabled},
		{"session_expired", 401, authforge.ErrSessionExpired},
		{"bad_request", 400, authforge.ErrBadRequest},
		{"server_error", 500, authforge.ErrServer},
		{"system_error", 500, authforge.ErrServer},
		{"forbidden", 403, authforge.ErrForbidden},
		{"not_found", 404, authforge.ErrNotFound},
		{"", 404, authforge.ErrNotFound},
		{"", 402, authforge.ErrNoCredits},
		{"", 503, authforge.ErrServer},
		{"something_new", 400, authforge.ErrBadRequest},
		{"invalid_key", 200, authforge.ErrInvalidKey}, // failure status in a 200 answer
	}
	e := newEnv(t, authforgetest.Options{})
	for _, tc := range cases {
		e.fake.FailNextWith("/auth/validate", 1, authforgetest.Fault{Status: tc.status, Code: tc.code})
		_, err := e.c.Validate(e.ctx, "ABCD-EFGH-JKLM-NPQR", "tg:1", time.Hour)
		if !errors.Is(err, tc.want) {
			t.Errorf("code %q status %d: %v, want %v", tc.code, tc.status, err, tc.want)
		}
		if tc.want != authforge.ErrInvalidKey && errors.Is(err, authforge.ErrInvalidKey) {
			t.Errorf("code %q also matches ErrInvalidKey", tc.code)
		}
	}
}

func TestLogsNeverHoldWholeKeys(t *testing.T) {
	e := newEnv(t, authforgetest.Options{})
	lic := e.seed(authforgetest.License{})
	e.fake.FailNext("/auth/validate", 1, http.StatusTooManyRequests, "")
	e.fake.FailNextWith("/v1/licenses/", 1, authforgetest.Fault{Drop: true})
	s, err := e.c.Validate(e.ctx, lic.Key, "tg:1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetLicense(e.ctx, lic.Key); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.String()
	if logs == "" {
		t.Fatal("no retry was logged")
	}
	if strings.Contains(logs, lic.Key) || strings.Contains(logs, s.Token) {
		t.Errorf("logs hold a whole key or token:\n%s", logs)
	}
	if !strings.Contains(logs, authforge.MaskKey(lic.Key)) {
		t.Errorf("logs do not name the masked key:\n%s", logs)
	}
}
