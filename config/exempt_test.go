package config

import (
	"testing"
)

// TestValidateExempt covers the gate's exemption lists (issue 16).
func TestValidateExempt(t *testing.T) {
	c := validConfig()
	c.Products[0].TelegramExemptUserIDs = []int64{77}
	c.Products[0].DiscordExemptUserIDs = []string{"523456789012345678"}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid exemptions refused: %v", err)
	}
	tests := []problemCase{
		{"telegram id not positive", func(c *Config) { c.Products[0].TelegramExemptUserIDs = []int64{-5} },
			"products[0].telegram_exempt_user_ids[0]: -5 is not a Telegram user id"},
		{"telegram without chats", func(c *Config) { c.Products[1].TelegramExemptUserIDs = []int64{5} },
			"products[1].telegram_exempt_user_ids: set but the product has no telegram_chat_ids"},
		{"discord id shape", func(c *Config) { c.Products[0].DiscordExemptUserIDs = []string{"bob"} },
			`products[0].discord_exempt_user_ids[0]: "bob" is not a Discord user id`},
		{"discord without roles", func(c *Config) { c.Products[1].DiscordExemptUserIDs = []string{"523456789012345678"} },
			"products[1].discord_exempt_user_ids: set but the product has no discord_role_ids"},
	}
	checkProblems(t, tests)
}
