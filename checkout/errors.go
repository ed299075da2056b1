package checkout

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/stripe/stripe-go/v76"
)

// Errors of Sessions.Link. The chat layer maps each to one message; the
// wrapped detail (a *stripe.Error, reachable with errors.As) is for logs.
var (
	// ErrUnknownProduct: the product id is not in the configuration.
	ErrUnknownProduct = errors.New("checkout: unknown product")
	// ErrRateLimited: Stripe answered 429; the buyer should try again soon.
	ErrRateLimited = errors.New("checkout: Stripe rate limit")
	// ErrStripe: Stripe refused the request or could not be reached
	// (including the caller's context deadline).
	ErrStripe = errors.New("checkout: Stripe request failed")
	// ErrInvalidIdentity: the buyer identity is malformed.
	ErrInvalidIdentity = errors.New("checkout: invalid buyer identity")
	// ErrPromotionCode: the promotion code given to Link is unknown,
	// inactive, expired, used up, or does not apply to the product.
	ErrPromotionCode = errors.New("checkout: promotion code unknown or expired")
)

// stripeError classifies an error of a stripe-go call. A 429 wraps
// ErrRateLimited, anything else ErrStripe; both keep the original error
// (a *stripe.Error or a network/context error) in the chain.
func stripeError(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) && (se.HTTPStatusCode == http.StatusTooManyRequests || se.Code == stripe.ErrorCodeRateLimit) {
		return fmt.Errorf("%w: %s: %w", ErrRateLimited, op, err)
	}
	return fmt.Errorf("%w: %s: %w", ErrStripe, op, err)
}

// permanentError marks a problem that retrying cannot fix (bad metadata, a
// product missing from the config). The event is failed at once and the
// admins are alerted.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

// ignoredError marks an event that needs no action (a type shopbot does not
// use, an unpaid session that waits for its async event). The event is
// stored as ignored with the reason.
type ignoredError struct{ reason string }

func (e *ignoredError) Error() string { return e.reason }

func ignore(format string, args ...any) error {
	return &ignoredError{reason: fmt.Sprintf(format, args...)}
}
