package config

import (
	"testing"
)

// TestValidatePromotion covers allow_promotion_codes and trial_days
// (issue 13).
func TestValidatePromotion(t *testing.T) {
	c := validConfig()
	for i := range c.Products {
		c.Products[i].AllowPromotionCodes = true
		if c.Products[i].Mode == ModeSubscription {
			c.Products[i].TrialDays = MaxTrialDays
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid promotion settings refused: %v", err)
	}
	sub, pay := -1, -1
	for i, p := range c.Products {
		switch p.Mode {
		case ModeSubscription:
			sub = i
		case ModePayment:
			pay = i
		}
	}
	if sub < 0 || pay < 0 {
		t.Fatalf("validConfig needs a payment and a subscription product, has %+v", c.Products)
	}
	tests := []problemCase{
		{"trial on a one-time product", func(c *Config) { c.Products[pay].TrialDays = 7 },
			"trial_days: only applies to mode \"subscription\""},
		{"negative trial", func(c *Config) { c.Products[sub].TrialDays = -1 }, "trial_days: -1 is out of range"},
		{"trial too long", func(c *Config) { c.Products[sub].TrialDays = MaxTrialDays + 1 }, "trial_days: 731 is out of range"},
	}
	checkProblems(t, tests)
}

// TestExampleShowsPromotion keeps the two keys documented in the example.
func TestExampleShowsPromotion(t *testing.T) {
	cfg, err := Load(examplePath, mapEnv(exampleEnv()))
	if err != nil {
		t.Fatal(err)
	}
	var codes, trial bool
	for _, p := range cfg.Products {
		codes = codes || p.AllowPromotionCodes
		trial = trial || p.TrialDays > 0
	}
	if !codes || !trial {
		t.Fatalf("example products: allow_promotion_codes shown %v, trial_days shown %v; want both", codes, trial)
	}
}
