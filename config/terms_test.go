package config

import (
	"strings"
	"testing"
)

// TestValidateTerms covers [terms] and the dispute evidence switches
// (issue 13, item 5).
func TestValidateTerms(t *testing.T) {
	c := validConfig()
	c.Terms = Terms{URL: "https://shop.example/terms", Version: "2026-12"}
	c.Stripe.SubmitDisputeEvidence, c.Stripe.DisputeEvidenceFinal = true, true
	if err := c.Validate(); err != nil {
		t.Fatalf("valid terms refused: %v", err)
	}
	tests := []problemCase{
		{"not a web address", func(c *Config) { c.Terms.URL = "shop.example/terms" },
			`terms.url: "shop.example/terms" is not a web address`},
		{"version without url", func(c *Config) { c.Terms.Version = "2" },
			"terms.version: set but terms.url is empty"},
		{"long version", func(c *Config) { c.Terms = Terms{URL: "https://x.example/t", Version: strings.Repeat("v", 65)} },
			"terms.version: 65 characters"},
		{"final without evidence", func(c *Config) { c.Stripe.DisputeEvidenceFinal = true },
			"stripe.dispute_evidence_final: set but stripe.submit_dispute_evidence is false"},
	}
	checkProblems(t, tests)
}
