package authforge

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors. An *APIError matches the sentinel of its code with
// errors.Is; transport failures match ErrUnavailable.
var (
	ErrInvalidApp     = errors.New("authforge: invalid app credentials")            // invalid_app
	ErrInvalidKey     = errors.New("authforge: invalid license key")                // invalid_key
	ErrExpired        = errors.New("authforge: license expired")                    // expired
	ErrRevoked        = errors.New("authforge: license revoked")                    // revoked
	ErrHWIDMismatch   = errors.New("authforge: all HWID slots are taken")           // hwid_mismatch
	ErrNoCredits      = errors.New("authforge: out of credits")                     // no_credits
	ErrBurnCap        = errors.New("authforge: app burn cap reached")               // app_burn_cap_reached
	ErrBlocked        = errors.New("authforge: blocked")                            // blocked
	ErrRateLimited    = errors.New("authforge: rate limited")                       // rate_limited, HTTP 429
	ErrReplay         = errors.New("authforge: replay detected")                    // replay_detected
	ErrAppDisabled    = errors.New("authforge: app disabled")                       // app_disabled
	ErrSessionExpired = errors.New("authforge: session expired")                    // session_expired
	ErrBadRequest     = errors.New("authforge: bad request")                        // bad_request, HTTP 400
	ErrServer         = errors.New("authforge: server error")                       // server_error, system_error, HTTP 5xx
	ErrForbidden      = errors.New("authforge: forbidden")                          // forbidden, HTTP 401/403
	ErrNotFound       = errors.New("authforge: not found")                          // not_found, HTTP 404
	ErrBadSignature   = errors.New("authforge: response signature does not verify") // no configured key verifies
	ErrNonceMismatch  = errors.New("authforge: response nonce does not match")      // replayed or misrouted answer
	ErrUnavailable    = errors.New("authforge: unavailable")                        // network failure or timeout
)

// APIError is a failure reported by AuthForge: an HTTP error status or an
// Auth API answer whose status is not a success value.
type APIError struct {
	Status     int    // HTTP status code
	Code       string // AuthForge error code, e.g. "invalid_key"; may be empty
	Message    string // AuthForge's human text
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("authforge: ")
	switch {
	case e.Code != "":
		b.WriteString(e.Code)
	default:
		b.WriteString(http.StatusText(e.Status))
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's code, or, for a code
// this package does not know, of its HTTP status.
func (e *APIError) Is(target error) bool {
	s := e.sentinel()
	return s != nil && s == target
}

func (e *APIError) sentinel() error {
	if s := codeSentinel(e.Code); s != nil {
		return s
	}
	return statusSentinel(e.Status)
}

// rateLimited reports whether the failure asks the caller to back off.
func (e *APIError) rateLimited() bool {
	return e.Status == http.StatusTooManyRequests || e.Code == "rate_limited"
}

func codeSentinel(code string) error {
	switch strings.ToLower(code) {
	case "invalid_app":
		return ErrInvalidApp
	case "invalid_key":
		return ErrInvalidKey
	case "expired":
		return ErrExpired
	case "revoked":
		return ErrRevoked
	case "hwid_mismatch":
		return ErrHWIDMismatch
	case "no_credits":
		return ErrNoCredits
	case "app_burn_cap_reached":
		return ErrBurnCap
	case "blocked":
		return ErrBlocked
	case "rate_limited":
		return ErrRateLimited
	case "replay_detected":
		return ErrReplay
	case "app_disabled":
		return ErrAppDisabled
	case "session_expired":
		return ErrSessionExpired
	case "bad_request":
		return ErrBadRequest
	case "server_error", "system_error":
		return ErrServer
	case "forbidden", "unauthorized":
		return ErrForbidden
	case "not_found":
		return ErrNotFound
	}
	return nil
}

func statusSentinel(status int) error {
	switch {
	case status == http.StatusBadRequest:
		return ErrBadRequest
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusPaymentRequired:
		return ErrNoCredits
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500:
		return ErrServer
	}
	return nil
}

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP date
// (relative to now).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || secs > 1e6 {
			return 0
		}
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// unavailable wraps a transport failure so that it matches ErrUnavailable
// and keeps the cause in the chain.
func unavailable(op string, err error) error {
	return fmt.Errorf("authforge: %s: %w: %w", op, ErrUnavailable, err)
}
