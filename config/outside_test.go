package config

import (
	"strings"
	"testing"
)

// TestValidateOutsideKeys covers accept_outside_keys and outside_key_labels
// (issue 13, item 6).
func TestValidateOutsideKeys(t *testing.T) {
	c := validConfig()
	c.AuthForge.AcceptOutsideKeys = true
	c.Products[0].OutsideKeyLabels = []string{"pro-*", "legacy/[a-z]?"}
	c.Products[1].OutsideKeyLabels = []string{"*"}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid outside keys refused: %v", err)
	}
	enabled := func(c *Config) { c.AuthForge.AcceptOutsideKeys = true }
	tests := []problemCase{
		{"bad glob", func(c *Config) { enabled(c); c.Products[0].OutsideKeyLabels = []string{"pro-[a"} },
			`products[0].outside_key_labels[0]: "pro-[a" is not a glob pattern`},
		{"empty pattern", func(c *Config) { enabled(c); c.Products[1].OutsideKeyLabels = []string{"x", " "} },
			"products[1].outside_key_labels[1]: empty pattern"},
		{"too long", func(c *Config) { enabled(c); c.Products[0].OutsideKeyLabels = []string{strings.Repeat("a", 129)} },
			"products[0].outside_key_labels[0]: 129 characters"},
		{"patterns while disabled", func(c *Config) { c.Products[0].OutsideKeyLabels = []string{"pro-*"} },
			"products[0].outside_key_labels: set but authforge.accept_outside_keys is false"},
		{"enabled without patterns", enabled,
			"authforge.accept_outside_keys: true but no product has outside_key_labels"},
	}
	checkProblems(t, tests)
}
