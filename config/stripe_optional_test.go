package config

import (
	"strings"
	"testing"
	"time"
)

// TestValidateStripeOptional: Stripe is optional exactly when no
// configured chat sells by card (Telegram sells only for Stars, no
// Discord); every other shop still needs it, with the same messages.
func TestValidateStripeOptional(t *testing.T) {
	starsOnly := func(c *Config) {
		c.Discord = Default().Discord
		c.Telegram.Payments = PaymentsStars
		c.Stripe = Default().Stripe
		for i := range c.Products {
			c.Products[i].StarsPrice = 100
			c.Products[i].PriceID = ""
			c.Products[i].DiscordRoleIDs, c.Products[i].DiscordExemptUserIDs = nil, nil
		}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		want   string // "" = valid
	}{
		{"stars only, no stripe", starsOnly, ""},
		{"stars only, stripe kept", func(c *Config) {
			starsOnly(c)
			c.Stripe.SecretKey, c.Stripe.WebhookSecret = "sk_test_1", "whsec_1"
		}, ""},
		{"stars only, half of stripe", func(c *Config) { starsOnly(c); c.Stripe.SecretKey = "sk_test_1" }, "stripe.webhook_secret: required"},
		{"stars only, bad price id", func(c *Config) { starsOnly(c); c.Products[0].PriceID = "prod_1" }, "products[0].price_id: \"prod_1\" is a Product id"},
		{"stars only, evidence without stripe", func(c *Config) { starsOnly(c); c.Stripe.SubmitDisputeEvidence = true }, "stripe.submit_dispute_evidence: is set but Stripe is not configured"},
		{"stars only, negative grace", func(c *Config) { starsOnly(c); c.Stripe.SubscriptionGrace.Duration = -time.Hour }, "stripe.subscription_grace: -1h0m0s is negative"},
		{"stars with discord on", func(c *Config) {
			starsOnly(c)
			c.Discord = validConfig().Discord
		}, "stripe.secret_key: required (the sk_..."},
		{"both", func(c *Config) { starsOnly(c); c.Telegram.Payments = PaymentsBoth }, "stripe.secret_key: required (the sk_..."},
		{"stripe", func(c *Config) { starsOnly(c); c.Telegram.Payments = PaymentsStripe }, "stripe.webhook_secret: required (the whsec_..."},
		{"stars, price id still needed with discord", func(c *Config) {
			starsOnly(c)
			c.Discord = validConfig().Discord
		}, "products[0].price_id: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.want == "" && c.StripeEnabled() != (c.Stripe.SecretKey != "") {
				t.Fatalf("StripeEnabled = %v with secret key %q", c.StripeEnabled(), c.Stripe.SecretKey)
			}
		})
	}
}
