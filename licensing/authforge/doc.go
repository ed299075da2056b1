// Package authforge is shopbot's client for the two AuthForge HTTP APIs:
//
//   - the Developer API (https://api.authforge.cc/v1/, bearer API key) that
//     creates, reads, lists, revokes, extends and resets licenses, and
//   - the Auth API (https://auth.authforge.cc, app id and secret in the body)
//     that validates a license key for one HWID and renews the resulting
//     session with heartbeats.
//
// Auth API answers are trusted only after their Ed25519 signature (over the
// base64 payload string as sent) verifies with one of the configured public
// keys and the payload echoes the request's fresh nonce.
//
// Every failure AuthForge reports is an *APIError that matches, with
// errors.Is, the sentinel of its code (ErrInvalidKey, ErrRevoked, ...).
// Network failures and timeouts match ErrUnavailable.
//
// Retries: the Auth API retries HTTP 429 and rate_limited after
// Config.RetryDelays with a fresh nonce, and a network failure once.
// Idempotent Developer API calls retry 429 with exponential backoff that
// honours Retry-After (at most four attempts) and a network failure once.
// CreateLicense is never retried once the request may have reached the
// server, because AuthForge has no idempotency key: such failures match
// ErrUnavailable and the caller reconciles with FindByLabel.
//
// Whole license keys and session tokens never appear in errors or logs; see
// MaskKey.
package authforge
