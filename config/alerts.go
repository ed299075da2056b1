package config

import (
	"fmt"
	"slices"
	"strings"
)

// Alerts is the admin feed: where alerts go and which kinds.
type Alerts struct {
	// TelegramChatID is a group or channel the bot posts feed lines in
	// (it must be a member allowed to post); 0: none.
	TelegramChatID int64 `toml:"telegram_chat_id"`
	// DiscordChannelID is a text channel of the guild; "": none.
	DiscordChannelID string `toml:"discord_channel_id"`
	// Events lists the kinds the feed carries (AlertEvents); empty: all.
	Events []string `toml:"events"`
	// CreditsBalance is the AuthForge credit balance the seller has now
	// (AuthForge has no API for it); 0: unknown, no low-credit alert.
	// Changing it (after a top-up) starts the count again.
	CreditsBalance int64 `toml:"credits_balance"`
	// LowCredits is the estimate left at which the admins are alerted,
	// once per stated balance; 0: a tenth of CreditsBalance.
	LowCredits int64 `toml:"low_credits"`
}

// LowCreditsMark is the credits left at which the low-credit alert goes
// out: LowCredits, or a tenth of CreditsBalance.
func (a Alerts) LowCreditsMark() int64 {
	if a.LowCredits > 0 {
		return a.LowCredits
	}
	return a.CreditsBalance / 10
}

// AlertEvents are the kinds of admin alerts; notify.Kinds has the same
// names (a test keeps them equal).
var AlertEvents = []string{"sale", "renewal", "cancellation", "payment_failed", "refund",
	"dispute", "fulfillment", "credits", "permission", "access"}

// HasChannel reports whether the feed posts into a channel; without one,
// alerts go to the admins' private chats.
func (a Alerts) HasChannel() bool { return a.TelegramChatID != 0 || a.DiscordChannelID != "" }

func (c *Config) validateAlerts(p *problems) {
	a := c.Alerts
	if a.TelegramChatID != 0 && !c.TelegramEnabled() {
		p.add("alerts.telegram_chat_id", "is set but telegram.token is not; configure Telegram or remove the key")
	}
	if a.TelegramChatID > 0 {
		p.add("alerts.telegram_chat_id", "%d is a private chat; use the group's or channel's id (negative, e.g. -1001234567890), with the bot added and allowed to post", a.TelegramChatID)
	}
	if a.DiscordChannelID != "" {
		if !c.DiscordEnabled() {
			p.add("alerts.discord_channel_id", "is set but discord.token is not; configure Discord or remove the key")
		}
		checkSnowflake(p, "alerts.discord_channel_id", a.DiscordChannelID, "channel")
	}
	if a.CreditsBalance < 0 {
		p.add("alerts.credits_balance", "%d is negative; give the credits your AuthForge account has now, or 0 for no low-credit alert", a.CreditsBalance)
	}
	if a.LowCredits < 0 || (a.LowCredits > 0 && a.LowCredits >= a.CreditsBalance) {
		p.add("alerts.low_credits", "%d must be above 0 and below alerts.credits_balance (%d); 0 means a tenth of it", a.LowCredits, a.CreditsBalance)
	}
	seen := map[string]bool{}
	for i, e := range a.Events {
		key := fmt.Sprintf("alerts.events[%d]", i)
		switch {
		case !slices.Contains(AlertEvents, e):
			p.add(key, "%q is not an alert kind; use some of: %s (or leave events out for all)", e, strings.Join(AlertEvents, ", "))
		case seen[e]:
			p.add(key, "%q is listed twice", e)
		}
		seen[e] = true
	}
}
