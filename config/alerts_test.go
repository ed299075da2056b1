package config

import (
	"strings"
	"testing"
)

func TestValidateAlerts(t *testing.T) {
	both := Config{Telegram: Telegram{Token: "t"}, Discord: Discord{Token: "d"}}
	ok := both
	ok.Alerts = Alerts{TelegramChatID: -1001234567890, DiscordChannelID: "123456789012345678", Events: []string{"sale", "refund"}}
	var none problems
	ok.validateAlerts(&none)
	if len(none) != 0 {
		t.Fatalf("valid [alerts]: %v", none)
	}
	for _, tc := range []struct {
		name string
		c    Config
		key  string
		want string
	}{
		{"unknown kind", Config{Alerts: Alerts{Events: []string{"sale", "sales"}}}, "alerts.events[1]", `"sales" is not an alert kind`},
		{"twice", Config{Alerts: Alerts{Events: []string{"refund", "refund"}}}, "alerts.events[1]", "listed twice"},
		{"telegram off", Config{Alerts: Alerts{TelegramChatID: -100}}, "alerts.telegram_chat_id", "telegram.token is not"},
		{"private chat", Config{Telegram: Telegram{Token: "t"}, Alerts: Alerts{TelegramChatID: 42}}, "alerts.telegram_chat_id", "private chat"},
		{"discord off", Config{Alerts: Alerts{DiscordChannelID: "123456789012345678"}}, "alerts.discord_channel_id", "discord.token is not"},
		{"bad channel", Config{Discord: Discord{Token: "d"}, Alerts: Alerts{DiscordChannelID: "general"}}, "alerts.discord_channel_id", ""},
	} {
		var p problems
		tc.c.validateAlerts(&p)
		if len(p) != 1 || !strings.Contains(p[0].Error(), tc.key) || !strings.Contains(p[0].Error(), tc.want) {
			t.Errorf("%s: %v, want one problem at %s saying %q", tc.name, p, tc.key, tc.want)
		}
	}
}
