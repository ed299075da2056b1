package licensing

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned to callers. The chat layer maps each to one user-facing
// message; the wrapped detail is for logs only.
var (
	// ErrMalformedKey: the input is not shaped like a key (ABCD-EFGH-JKLM-NPQR).
	ErrMalformedKey = errors.New("licensing: malformed license key")
	// ErrTooManyAttempts: the identity exceeded the activation rate limit;
	// see *RateLimitError for when to try again.
	ErrTooManyAttempts = errors.New("licensing: too many activation attempts")
	// ErrUnknownKey: a well-formed key that this shop never issued.
	ErrUnknownKey = errors.New("licensing: not a key from this shop")
	// ErrNoOutsideProduct: an outside key of this app (accept_outside_keys)
	// whose AuthForge label matches no product's outside_key_labels.
	ErrNoOutsideProduct = errors.New("licensing: outside key matches no product")
	// ErrInvalidKey: AuthForge does not know the key.
	ErrInvalidKey = errors.New("licensing: invalid license key")
	// ErrExpired: the license has expired.
	ErrExpired = errors.New("licensing: license expired")
	// ErrRevoked: the license was revoked.
	ErrRevoked = errors.New("licensing: license revoked")
	// ErrSlotsFull: every HWID slot of the key is taken by other
	// identities; see *SlotsFullError for the number of slots.
	ErrSlotsFull = errors.New("licensing: all activation slots are used")
	// ErrBlocked: AuthForge refuses the key or identity (blocklist).
	ErrBlocked = errors.New("licensing: blocked by AuthForge")
	// ErrNoCredits: the seller's AuthForge account is out of credits. The
	// buyer should try later; admins are alerted.
	ErrNoCredits = errors.New("licensing: AuthForge is out of credits")
	// ErrRateLimited: AuthForge throttled the request even after retries.
	ErrRateLimited = errors.New("licensing: AuthForge rate limit")
	// ErrUnavailable: AuthForge could not be reached or answered something
	// that cannot be trusted (5xx, bad signature, nonce mismatch).
	ErrUnavailable = errors.New("licensing: AuthForge unavailable")
	// ErrNotEntitled: the identity holds no valid activation of the asked
	// products.
	ErrNotEntitled = errors.New("licensing: not entitled")
	// ErrUnknownProduct: the product id is not in the configuration.
	ErrUnknownProduct = errors.New("licensing: unknown product")
	// ErrLifetime: the license never expires, so it cannot be extended.
	ErrLifetime = errors.New("licensing: lifetime license")
	// ErrInvalidArgument: a caller-supplied value is out of range.
	ErrInvalidArgument = errors.New("licensing: invalid argument")
	// ErrNotHolder: the identity neither owns nor has activated the key.
	ErrNotHolder = errors.New("licensing: not a holder of this key")
	// ErrTransferLimit: the key was moved too often recently; see
	// *TransferLimitError.
	ErrTransferLimit = errors.New("licensing: transfer limit reached")
	// ErrNotConfirmed: the change took effect in shopbot but AuthForge did
	// not confirm it; repeating the action is safe.
	ErrNotConfirmed = errors.New("licensing: AuthForge did not confirm the change")
)

// RateLimitError is returned by Activate when the identity made too many
// attempts in the window. It matches ErrTooManyAttempts.
type RateLimitError struct {
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: retry in %s", ErrTooManyAttempts, e.RetryAfter.Round(time.Second))
}

func (e *RateLimitError) Unwrap() error { return ErrTooManyAttempts }

// SlotsFullError is returned by Activate when every HWID slot of the key is
// bound to other identities. It matches ErrSlotsFull.
type SlotsFullError struct {
	Max int
}

func (e *SlotsFullError) Error() string {
	return fmt.Sprintf("%v (%d of %d)", ErrSlotsFull, e.Max, e.Max)
}

func (e *SlotsFullError) Unwrap() error { return ErrSlotsFull }

// TransferLimitError is returned by Transfer when the key was already moved
// Limit times in the window. It matches ErrTransferLimit.
type TransferLimitError struct {
	Limit      int
	RetryAfter time.Duration
}

func (e *TransferLimitError) Error() string {
	return fmt.Sprintf("%v (%d per window): retry in %s", ErrTransferLimit, e.Limit, e.RetryAfter.Round(time.Minute))
}

func (e *TransferLimitError) Unwrap() error { return ErrTransferLimit }
