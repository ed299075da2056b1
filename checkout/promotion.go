package checkout

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/stripe/stripe-go/v76"
)

// promoCodeShape is what a customer-facing promotion code can look like.
// Stripe allows letters and digits; dashes and underscores are accepted
// here too so Stripe, not this check, decides about them. Anything else is
// refused before a request is made: the code is typed by the buyer.
var promoCodeShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// promotionCode resolves the code a buyer typed to the id (promo_...) of
// an active, redeemable Stripe promotion code. A code that is not, for
// any reason, wraps ErrPromotionCode; a failed request wraps ErrStripe or
// ErrRateLimited.
func (s *Sessions) promotionCode(ctx context.Context, code string) (string, error) {
	code = strings.TrimSpace(code)
	if !promoCodeShape.MatchString(code) {
		return "", fmt.Errorf("%w: not shaped like a code", ErrPromotionCode)
	}
	params := &stripe.PromotionCodeListParams{Code: stripe.String(code), Active: stripe.Bool(true)}
	params.Context = ctx
	params.Limit = stripe.Int64(10)
	params.Single = true // one page: codes are unique among active ones
	it := s.stripe.PromotionCodes.List(params)
	now := s.now().Unix()
	why := "no active promotion code has it"
	for it.Next() {
		pc := it.PromotionCode()
		switch {
		case !strings.EqualFold(pc.Code, code) || !pc.Active:
			continue
		case pc.ExpiresAt != 0 && pc.ExpiresAt <= now:
			why = "expired"
		case pc.MaxRedemptions != 0 && pc.TimesRedeemed >= pc.MaxRedemptions:
			why = "used up"
		case pc.Coupon != nil && !pc.Coupon.Valid:
			why = "its coupon is no longer valid"
		default:
			return pc.ID, nil
		}
	}
	if err := it.Err(); err != nil {
		return "", stripeError("look up promotion code", err)
	}
	return "", fmt.Errorf("%w: %s", ErrPromotionCode, why)
}

// refusedDiscount reports whether Stripe refused to create a session
// because of its discount (a code restricted to other products, to first
// purchases or to another customer): the buyer's code, not Stripe, is the
// problem then.
func refusedDiscount(err error) bool {
	var se *stripe.Error
	return errors.As(err, &se) && se.Type == stripe.ErrorTypeInvalidRequest && strings.HasPrefix(se.Param, "discounts")
}
