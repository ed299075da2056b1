package config

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	testPubKey   = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	testStoreKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	testHexKey   = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
)

// validConfig is a complete configuration that passes Validate; each test
// case breaks one rule of it.
// problemCase is a change to a valid config and a problem Validate must
// then report (a substring of its text).
type problemCase struct {
	name   string
	mutate func(*Config)
	want   string
}

// checkProblems runs each case against validConfig.
func checkProblems(t *testing.T, cases []problemCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want a problem %q", err, tt.want)
			}
		})
	}
}

func validConfig() Config {
	c := Default()
	c.Server.PublicURL = "https://shop.example.com"
	c.Store.EncryptionKey = testStoreKey
	c.Stripe.SecretKey = "sk_test_123"
	c.Stripe.WebhookSecret = "whsec_123"
	c.AuthForge.AppID = "app_1"
	c.AuthForge.AppSecret = "secret"
	c.AuthForge.APIKey = "af_live_1"
	c.AuthForge.PublicKeys = []string{testPubKey}
	c.Telegram.Token = "123:abc"
	c.Telegram.Admins = []int64{42}
	c.Discord.Token = "discord"
	c.Discord.ApplicationID = "123456789012345678"
	c.Discord.GuildID = "223456789012345678"
	c.Discord.AdminRoleIDs = []string{"323456789012345678"}
	c.Products = []Product{
		{ID: "pro", Name: "Pro", PriceID: "price_1", Mode: ModePayment, Duration: Duration{720 * time.Hour}, MaxHWIDSlots: 1,
			DiscordRoleIDs: []string{"423456789012345678"}, TelegramChatIDs: []int64{-1001}},
		{ID: "sub", Name: "Sub", PriceID: "price_2", Mode: ModeSubscription, MaxHWIDSlots: 16},
	}
	c.GatedCommands = []GatedCommand{{Command: "premium", Products: []string{"pro", "sub"}, Reply: "hi"}}
	return c
}

func TestValidateValid(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	// Optional variants that are also valid.
	variants := map[string]func(*Config){
		"telegram only": func(c *Config) {
			c.Discord = Default().Discord
			c.Products[0].DiscordRoleIDs = nil
		},
		"discord only": func(c *Config) {
			c.Telegram = Default().Telegram
			c.Products[0].TelegramChatIDs = nil
		},
		"no store key": func(c *Config) { c.Store.EncryptionKey = "" },
		"raw url-safe key": func(c *Config) {
			c.AuthForge.PublicKeys = []string{strings.TrimRight(base64.URLEncoding.EncodeToString(make([]byte, 32)), "=")}
		},
		"lifetime payment product": func(c *Config) { c.Products[0].Duration = Duration{} },
		"telegram webhook":         func(c *Config) { c.Telegram.Mode = TelegramWebhook; c.Telegram.WebhookSecret = "abc_DEF-123" },
		"discord http":             func(c *Config) { c.Discord.Interactions = DiscordHTTP; c.Discord.PublicKey = testHexKey },
		"autocert":                 func(c *Config) { c.Server.TLSAutocertDomains = []string{"shop.example.com"}; c.Server.Listen = ":443" },
		"success url template":     func(c *Config) { c.Stripe.SuccessURL = "https://x.example/ok?session={CHECKOUT_SESSION_ID}" },
		"api token":                func(c *Config) { c.Server.APIToken = "0123456789abcdef" },
		"no gated commands":        func(c *Config) { c.GatedCommands = nil },
		"restricted stripe key":    func(c *Config) { c.Stripe.SecretKey = "rk_live_1" },
		"local http urls": func(c *Config) {
			c.Stripe.APIURL = "http://127.0.0.1:12111"
			c.AuthForge.AuthURL = "http://localhost:9/"
		},
	}
	for name, mutate := range variants {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string // the key path the message must start with
		want   string // and a substring of it
	}{
		// server
		{"listen empty", func(c *Config) { c.Server.Listen = "" }, "server.listen", "required"},
		{"listen no port", func(c *Config) { c.Server.Listen = "localhost" }, "server.listen", "host:port"},
		{"public_url not absolute", func(c *Config) { c.Server.PublicURL = "shop.example.com" }, "server.public_url", "absolute http(s) URL"},
		{"public_url scheme", func(c *Config) { c.Server.PublicURL = "ftp://shop.example.com" }, "server.public_url", "absolute http(s) URL"},
		{"max_body_bytes small", func(c *Config) { c.Server.MaxBodyBytes = 1023 }, "server.max_body_bytes", "out of range"},
		{"max_body_bytes large", func(c *Config) { c.Server.MaxBodyBytes = 64<<20 + 1 }, "server.max_body_bytes", "out of range"},
		{"api_token short", func(c *Config) { c.Server.APIToken = "short" }, "server.api_token", "at least 16"},
		{"autocert domain shape", func(c *Config) { c.Server.TLSAutocertDomains = []string{"https://shop.example.com"} }, "server.tls_autocert_domains[0]", "not a domain name"},
		{"autocert needs https", func(c *Config) {
			c.Server.TLSAutocertDomains = []string{"shop.example.com"}
			c.Server.PublicURL = "http://shop.example.com"
		}, "server.public_url", "https://"},
		{"autocert covers public_url", func(c *Config) { c.Server.TLSAutocertDomains = []string{"other.example.com"} }, "server.tls_autocert_domains", `"shop.example.com"`},
		// store
		{"store path", func(c *Config) { c.Store.Path = "" }, "store.path", "required"},
		{"store key not base64", func(c *Config) { c.Store.EncryptionKey = "not base64!" }, "store.encryption_key", "not valid base64"},
		{"store key length", func(c *Config) { c.Store.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, 16)) }, "store.encryption_key", "16 bytes, want 32"},
		{"store key hex", func(c *Config) { c.Store.EncryptionKey = testHexKey }, "store.encryption_key", "hex"},
		// stripe
		{"stripe secret key", func(c *Config) { c.Stripe.SecretKey = "" }, "stripe.secret_key", "required"},
		{"stripe publishable key", func(c *Config) { c.Stripe.SecretKey = "pk_live_1" }, "stripe.secret_key", "publishable"},
		{"stripe key whitespace", func(c *Config) { c.Stripe.SecretKey = "sk_test_1\n" }, "stripe.secret_key", "whitespace"},
		{"stripe webhook secret", func(c *Config) { c.Stripe.WebhookSecret = "" }, "stripe.webhook_secret", "required (the whsec_... signing secret of your Stripe webhook endpoint; shopbot setup stripe prints it)"},
		{"stripe webhook secret prefix", func(c *Config) { c.Stripe.WebhookSecret = "we_1NGdy2LkdIwHu7ix" },
			"stripe.webhook_secret", "does not start with whsec_"},
		{"stripe webhook secret is an api key", func(c *Config) { c.Stripe.WebhookSecret = "sk_test_123" },
			"stripe.webhook_secret", "Signing secret"},
		{"stripe webhook secret whitespace", func(c *Config) { c.Stripe.WebhookSecret = " whsec_123" }, "stripe.webhook_secret", "whitespace"},
		{"stripe api_url", func(c *Config) { c.Stripe.APIURL = "localhost:12111" }, "stripe.api_url", "absolute"},
		{"stripe success_url", func(c *Config) { c.Stripe.SuccessURL = "/thanks" }, "stripe.success_url", "absolute"},
		{"stripe cancel_url", func(c *Config) { c.Stripe.CancelURL = "https://" }, "stripe.cancel_url", "absolute"},
		{"stripe grace negative", func(c *Config) { c.Stripe.SubscriptionGrace = Duration{-time.Hour} }, "stripe.subscription_grace", "negative"},
		// authforge
		{"app_id", func(c *Config) { c.AuthForge.AppID = "" }, "authforge.app_id", "required"},
		{"app_secret", func(c *Config) { c.AuthForge.AppSecret = "" }, "authforge.app_secret", "required"},
		{"api_key", func(c *Config) { c.AuthForge.APIKey = "" }, "authforge.api_key", "required"},
		{"public_keys none", func(c *Config) { c.AuthForge.PublicKeys = nil }, "authforge.public_keys", "at least one"},
		{"public key malformed", func(c *Config) { c.AuthForge.PublicKeys = []string{testPubKey, "AAAA"} }, "authforge.public_keys[1]", "3 bytes, want 32"},
		{"auth_url", func(c *Config) { c.AuthForge.AuthURL = "auth.authforge.cc" }, "authforge.auth_url", "absolute"},
		{"api_url", func(c *Config) { c.AuthForge.APIURL = "mailto:x@y" }, "authforge.api_url", "absolute"},
		{"session_ttl short", func(c *Config) { c.AuthForge.SessionTTL = Duration{59 * time.Minute} }, "authforge.session_ttl", "1h to 168h"},
		{"session_ttl long", func(c *Config) { c.AuthForge.SessionTTL = Duration{169 * time.Hour} }, "authforge.session_ttl", "1h to 168h"},
		{"refresh", func(c *Config) { c.AuthForge.Refresh = "sometimes" }, "authforge.refresh", `"lazy"`},
		{"heartbeat_interval", func(c *Config) { c.AuthForge.HeartbeatInterval = Duration{30 * time.Second} }, "authforge.heartbeat_interval", "at least 1m"},
		// bots
		{"no bot", func(c *Config) {
			c.Telegram.Token, c.Discord.Token = "", ""
			c.Products[0].DiscordRoleIDs, c.Products[0].TelegramChatIDs = nil, nil
		}, "telegram.token", "discord.token"},
		{"telegram mode", func(c *Config) { c.Telegram.Mode = "push" }, "telegram.mode", `"polling"`},
		{"telegram api_url", func(c *Config) { c.Telegram.APIURL = "api.telegram.org" }, "telegram.api_url", "absolute"},
		{"telegram webhook needs secret", func(c *Config) { c.Telegram.Mode = TelegramWebhook }, "telegram.webhook_secret", "required when telegram.mode"},
		{"telegram webhook secret charset", func(c *Config) { c.Telegram.WebhookSecret = "has space" }, "telegram.webhook_secret", "A-Z"},
		{"telegram webhook secret length", func(c *Config) { c.Telegram.WebhookSecret = strings.Repeat("a", 257) }, "telegram.webhook_secret", "1-256"},
		{"telegram webhook needs public_url", func(c *Config) {
			c.Telegram.Mode, c.Telegram.WebhookSecret, c.Server.PublicURL = TelegramWebhook, "s", ""
		}, "server.public_url", "required when telegram.mode"},
		{"telegram admin id", func(c *Config) { c.Telegram.Admins = []int64{42, -5} }, "telegram.admins[1]", "positive"},
		{"discord application_id", func(c *Config) { c.Discord.ApplicationID = "" }, "discord.application_id", "required"},
		{"discord application_id shape", func(c *Config) { c.Discord.ApplicationID = "my-app" }, "discord.application_id", "not a Discord application id"},
		{"discord guild_id", func(c *Config) { c.Discord.GuildID = "" }, "discord.guild_id", "required"},
		{"discord guild_id shape", func(c *Config) { c.Discord.GuildID = "-1" }, "discord.guild_id", "not a Discord server id"},
		{"discord interactions", func(c *Config) { c.Discord.Interactions = "webhook" }, "discord.interactions", `"gateway"`},
		{"discord http needs public key", func(c *Config) { c.Discord.Interactions = DiscordHTTP }, "discord.public_key", "required when discord.interactions"},
		{"discord public key hex", func(c *Config) { c.Discord.PublicKey = testPubKey }, "discord.public_key", "64 hex"},
		{"discord api_url", func(c *Config) { c.Discord.APIURL = "discord.com" }, "discord.api_url", "absolute"},
		{"discord admin role", func(c *Config) { c.Discord.AdminRoleIDs = []string{"admins"} }, "discord.admin_role_ids[0]", "not a Discord role id"},
		{"discord admin user", func(c *Config) { c.Discord.AdminUserIDs = []string{"@me"} }, "discord.admin_user_ids[0]", "not a Discord user id"},
		// products
		{"no products", func(c *Config) { c.Products, c.GatedCommands = nil, nil }, "products", "at least one"},
		{"product id shape", func(c *Config) { c.Products[1].ID = "Sub Plan" }, "products[1].id", "a-z, 0-9"},
		{"product id long", func(c *Config) { c.Products[1].ID = strings.Repeat("a", 33) }, "products[1].id", "1-32"},
		{"product id unique", func(c *Config) { c.Products[1].ID = "pro" }, "products[1].id", "products[0]"},
		{"product name", func(c *Config) { c.Products[0].Name = " " }, "products[0].name", "required"},
		{"product price_id", func(c *Config) { c.Products[0].PriceID = "" }, "products[0].price_id", "required"},
		{"product price_id is a product id", func(c *Config) { c.Products[0].PriceID = "prod_NWjs8kKbJWmuuc" },
			"products[0].price_id", `"prod_NWjs8kKbJWmuuc" is a Product id (prod_...); price_id must be the id of one of its Prices, price_...`},
		{"product price_id without price_", func(c *Config) { c.Products[1].PriceID = "gold-monthly" },
			"products[1].price_id", `"gold-monthly" is not a Stripe Price id; Price ids start with price_`},
		{"product price_id prefix only", func(c *Config) { c.Products[1].PriceID = "price_" }, "products[1].price_id", "start with price_"},
		{"product price_id leading space", func(c *Config) { c.Products[0].PriceID = " price_1" },
			"products[0].price_id", `leading or trailing whitespace; remove it: price_id = "price_1"`},
		{"product price_id trailing newline", func(c *Config) { c.Products[0].PriceID = "price_1\n" }, "products[0].price_id", "whitespace"},
		{"product mode missing", func(c *Config) { c.Products[0].Mode = "" }, "products[0].mode", "required"},
		{"product mode", func(c *Config) { c.Products[0].Mode = "once" }, "products[0].mode", `"payment"`},
		{"product duration negative", func(c *Config) { c.Products[0].Duration = Duration{-time.Hour} }, "products[0].duration", "negative"},
		{"product duration on subscription", func(c *Config) { c.Products[1].Duration = Duration{time.Hour} }, "products[1].duration", "only applies"},
		{"product slots low", func(c *Config) { c.Products[0].MaxHWIDSlots = -1 }, "products[0].max_hwid_slots", "1 to 16"},
		{"product slots high", func(c *Config) { c.Products[0].MaxHWIDSlots = 17 }, "products[0].max_hwid_slots", "1 to 16"},
		{"product telegram chat positive", func(c *Config) { c.Products[0].TelegramChatIDs = []int64{-1, 5} }, "products[0].telegram_chat_ids[1]", "negative"},
		{"product telegram chats need telegram", func(c *Config) { c.Telegram.Token = "" }, "products[0].telegram_chat_ids", "telegram.token is empty"},
		{"product discord role shape", func(c *Config) { c.Products[0].DiscordRoleIDs = []string{"VIP"} }, "products[0].discord_role_ids[0]", "not a Discord role id"},
		{"product discord roles need discord", func(c *Config) { c.Discord.Token = "" }, "products[0].discord_role_ids", "discord.token is empty"},
		// gated commands
		{"command shape", func(c *Config) { c.GatedCommands[0].Command = "/premium" }, "gated_commands[0].command", "without the leading /"},
		{"command case", func(c *Config) { c.GatedCommands[0].Command = "Premium" }, "gated_commands[0].command", "a-z"},
		{"command built-in", func(c *Config) { c.GatedCommands[0].Command = "resethwid" }, "gated_commands[0].command", "built-in"},
		{"command unique", func(c *Config) {
			c.GatedCommands = append(c.GatedCommands, GatedCommand{Command: "premium", Products: []string{"pro"}, Reply: "x"})
		}, "gated_commands[1].command", "gated_commands[0]"},
		{"command products empty", func(c *Config) { c.GatedCommands[0].Products = nil }, "gated_commands[0].products", "required"},
		{"command references nothing", func(c *Config) { c.GatedCommands[0].Products = []string{"pro", "gold"} }, "gated_commands[0].products[1]", `"gold" is not the id`},
		{"command reply", func(c *Config) { c.GatedCommands[0].Reply = "" }, "gated_commands[0].reply", "required"},
		// limits
		{"activation_attempts", func(c *Config) { c.Limits.ActivationAttempts = 0 }, "limits.activation_attempts", "positive"},
		{"activation_window", func(c *Config) { c.Limits.ActivationWindow = Duration{} }, "limits.activation_window", "positive"},
		{"transfers", func(c *Config) { c.Limits.TransfersPerWindow = -1 }, "limits.transfers", "positive"},
		{"transfer_window", func(c *Config) { c.Limits.TransferWindow = Duration{-time.Second} }, "limits.transfer_window", "positive"},
		{"commands_per_minute", func(c *Config) { c.Limits.CommandsPerMinute = 0 }, "limits.commands_per_minute", "1 to 6000"},
		{"telegram_messages_per_second", func(c *Config) { c.Limits.TelegramPerSecond = 31 }, "limits.telegram_messages_per_second", "Telegram's limit"},
		{"reply_queue_per_chat", func(c *Config) { c.Limits.ReplyQueuePerChat = -1 }, "limits.reply_queue_per_chat", "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate passed, want a problem")
			}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var p *Problem
				if !errors.As(e, &p) {
					t.Fatalf("%v is not a *Problem", e)
				}
				if p.Key == tt.key && strings.HasPrefix(e.Error(), tt.key+": ") && strings.Contains(p.Message, tt.want) {
					return
				}
			}
			t.Errorf("no problem for %s containing %q in:\n%v", tt.key, tt.want, err)
		})
	}
}

// TestValidateReportsEverything checks that problems are collected, not
// returned one at a time.
func TestValidateReportsEverything(t *testing.T) {
	c := validConfig()
	c.Stripe.WebhookSecret = ""
	c.Products[0].PriceID = ""
	c.Limits.TransfersPerWindow = 0
	err := c.Validate()
	if err == nil {
		t.Fatal("want problems")
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 3 {
		t.Errorf("%d problems, want 3:\n%v", n, err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if key, _, ok := strings.Cut(line, ": "); !ok || strings.ContainsAny(key, " ") {
			t.Errorf("line %q does not start with a key path", line)
		}
	}
}

func TestHelpers(t *testing.T) {
	c := validConfig()
	keys, err := c.AuthForgePublicKeys()
	if err != nil || len(keys) != 1 || len(keys[0]) != ed25519.PublicKeySize {
		t.Fatalf("AuthForgePublicKeys = %v, %v", keys, err)
	}
	c.AuthForge.PublicKeys = append(c.AuthForge.PublicKeys, "bad")
	if _, err := c.AuthForgePublicKeys(); err == nil || !strings.Contains(err.Error(), "authforge.public_keys[1]") {
		t.Errorf("bad key: err = %v", err)
	}

	if k, err := c.StoreKey(); err != nil || len(k) != 32 || k[31] != 31 {
		t.Errorf("StoreKey = %v, %v", k, err)
	}
	c.Store.EncryptionKey = ""
	if k, err := c.StoreKey(); k != nil || err != nil {
		t.Errorf("empty StoreKey = %v, %v; want nil, nil", k, err)
	}
	c.Store.EncryptionKey = "short"
	if _, err := c.StoreKey(); err == nil || !strings.Contains(err.Error(), "store.encryption_key") {
		t.Errorf("bad StoreKey err = %v", err)
	}

	if !c.TelegramEnabled() || !c.DiscordEnabled() {
		t.Error("both bots should be enabled")
	}
	c.Telegram.Token, c.Discord.Token = "", ""
	if c.TelegramEnabled() || c.DiscordEnabled() {
		t.Error("bots without tokens should be disabled")
	}

	if !c.IsTelegramAdmin(42) || c.IsTelegramAdmin(43) || c.IsTelegramAdmin(0) {
		t.Error("IsTelegramAdmin wrong")
	}
	c.Discord.AdminUserIDs = []string{"7"}
	if !c.IsDiscordAdmin("7", nil) || !c.IsDiscordAdmin("8", []string{"1", "323456789012345678"}) ||
		c.IsDiscordAdmin("8", []string{"1"}) || c.IsDiscordAdmin("", []string{""}) {
		t.Error("IsDiscordAdmin wrong")
	}

	if got := BuiltinCommands(); len(got) == 0 || got[0] != "start" {
		t.Errorf("BuiltinCommands = %v", got)
	}
}

func TestValidateStars(t *testing.T) {
	for _, c := range []struct {
		name     string
		payments string
		prices   []int
		want     string // "" = valid
	}{
		{"stripe default", PaymentsStripe, []int{0, 0}, ""},
		{"stars all priced", PaymentsStars, []int{250, 100}, ""},
		{"stars one unpriced", PaymentsStars, []int{250, 0}, "products[1].stars_price: required when telegram.payments is \"stars\""},
		{"both one unpriced", PaymentsBoth, []int{250, 0}, ""},
		{"too dear", PaymentsBoth, []int{10001, 5}, "products[0].stars_price: 10001 is out of range"},
		{"unknown choice", "crypto", []int{1, 1}, "telegram.payments: \"crypto\" is not a choice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := validConfig()
			cfg.Telegram.Payments = c.payments
			for len(cfg.Products) < len(c.prices) {
				pr := cfg.Products[0]
				pr.ID = fmt.Sprintf("extra-%d", len(cfg.Products))
				cfg.Products = append(cfg.Products, pr)
			}
			for i, price := range c.prices {
				cfg.Products[i].StarsPrice = price
			}
			err := cfg.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}
