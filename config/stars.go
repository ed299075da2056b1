package config

import "fmt"

// What Telegram buyers are offered (telegram.payments).
const (
	PaymentsStripe = "stripe" // a Stripe Checkout link, as on Discord
	PaymentsStars  = "stars"  // a Telegram Stars invoice only
	PaymentsBoth   = "both"   // both buttons; Stars only for products with stars_price
)

// MaxStarsPrice is the most Telegram lets one invoice (and one Star
// subscription period) cost.
const MaxStarsPrice = 10000

// StarsSubscriptionDays is the only period Telegram's Star subscriptions
// have.
const StarsSubscriptionDays = 30

// OffersStars reports whether Telegram buyers of pr are offered Stars.
func (c *Config) OffersStars(pr Product) bool {
	return c.TelegramEnabled() && pr.StarsPrice > 0 &&
		(c.Telegram.Payments == PaymentsStars || c.Telegram.Payments == PaymentsBoth)
}

// OffersStripeOnTelegram reports whether Telegram buyers of pr are offered
// a Stripe Checkout link.
func (c *Config) OffersStripeOnTelegram(pr Product) bool {
	return c.Telegram.Payments != PaymentsStars || pr.StarsPrice <= 0
}

// StripeRequired reports whether a configured chat sells by card, so the
// [stripe] keys are required: Discord (it pays by card only), or Telegram
// unless telegram.payments is "stars".
func (c *Config) StripeRequired() bool {
	return c.DiscordEnabled() || !c.TelegramEnabled() || c.Telegram.Payments != PaymentsStars
}

// StripeEnabled reports whether shopbot talks to Stripe: it is required,
// or its keys are set anyway (a shop that moved to Stars only still hears
// of refunds and renewals of its earlier Stripe orders).
func (c *Config) StripeEnabled() bool {
	return c.StripeRequired() || c.Stripe.SecretKey != "" || c.Stripe.WebhookSecret != ""
}

func (c *Config) validateStars(p *problems) {
	t := c.Telegram
	switch t.Payments {
	case PaymentsStripe, PaymentsStars, PaymentsBoth:
	default:
		p.add("telegram.payments", "%q is not a choice; use %q (Stripe Checkout links), %q (Telegram Stars only, as Telegram's rules ask for digital goods) or %q (both buttons)",
			t.Payments, PaymentsStripe, PaymentsStars, PaymentsBoth)
		return
	}
	for i, pr := range c.Products {
		key := fmt.Sprintf("products[%d].stars_price", i)
		switch {
		case pr.StarsPrice < 0 || pr.StarsPrice > MaxStarsPrice:
			p.add(key, "%d is out of range; Telegram takes 1 to %d Stars per invoice", pr.StarsPrice, MaxStarsPrice)
		case pr.StarsPrice == 0 && t.Payments == PaymentsStars && c.TelegramEnabled():
			p.add(key, "required when telegram.payments is %q: product %q would have no way to be paid in Telegram; set its price in Stars, or use telegram.payments = %q", PaymentsStars, pr.ID, PaymentsBoth)
		}
	}
	if t.Payments != PaymentsStripe && !c.TelegramEnabled() {
		p.add("telegram.payments", "%q but telegram.token is empty; Stars are paid inside Telegram, so configure the Telegram bot or remove telegram.payments", t.Payments)
	}
}
