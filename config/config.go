// Package config holds shopbot's configuration: the TOML schema of SPEC §3,
// its defaults, ${ENV} expansion and one Validate whose messages name the key
// to fix. Every other package receives plain values from here; none reads
// files or the environment itself.
package config

import (
	"time"
)

// Default returns the configuration every file starts from: the defaults of
// SPEC §3 for each optional key. Required keys (secrets, ids, products) stay
// empty for Validate to report.
func Default() Config {
	return Config{
		Server: Server{
			Listen:       ":8080",
			MaxBodyBytes: 1 << 20,
		},
		Store: Store{Path: "shopbot.db", BackupInterval: Duration{24 * time.Hour}, BackupKeep: 7},
		Log:   Log{Level: LogInfo, Format: LogText},
		Stripe: Stripe{
			RevokeOnRefund:    true,
			RevokeOnDispute:   true,
			SubscriptionGrace: Duration{72 * time.Hour},
		},
		AuthForge: AuthForge{
			SessionTTL:        Duration{24 * time.Hour},
			Refresh:           RefreshLazy,
			HeartbeatInterval: Duration{15 * time.Minute},
		},
		Telegram: Telegram{Mode: TelegramPolling, Payments: PaymentsStripe},
		Discord:  Discord{Interactions: DiscordGateway},
		Limits: Limits{
			ActivationAttempts: 5,
			ActivationWindow:   Duration{10 * time.Minute},
			TransfersPerWindow: 2,
			TransferWindow:     Duration{720 * time.Hour},

			CommandsPerMinute:      60,
			CommandBurst:           10,
			CommandsInFlight:       3,
			CommandsInFlightTotal:  64,
			TelegramPerSecond:      30,
			TelegramBurst:          5,
			TelegramChatPerMinute:  60,
			TelegramGroupPerMinute: 20,
			TelegramChatBurst:      3,
			ReplyQueuePerChat:      20,
			ReplyQueueTotal:        10_000,
		},
	}
}

// Config is the whole config.toml.
type Config struct {
	Server        Server         `toml:"server"`
	Store         Store          `toml:"store"`
	Stripe        Stripe         `toml:"stripe"`
	AuthForge     AuthForge      `toml:"authforge"`
	Telegram      Telegram       `toml:"telegram"`
	Discord       Discord        `toml:"discord"`
	Products      []Product      `toml:"products"`
	GatedCommands []GatedCommand `toml:"gated_commands"`
	Limits        Limits         `toml:"limits"`
	Log           Log            `toml:"log"`
	Alerts        Alerts         `toml:"alerts"`
	// Terms, when URL is set, must be accepted before /activate binds a key.
	Terms    Terms    `toml:"terms"`
	Messages Messages `toml:"messages"`
}

type Server struct {
	Listen             string   `toml:"listen"`
	PublicURL          string   `toml:"public_url"`
	TLSAutocertDomains []string `toml:"tls_autocert_domains"`
	MaxBodyBytes       int64    `toml:"max_body_bytes"`
	// APIToken guards GET /api/v1/entitlements/{identity}; empty disables it.
	APIToken string `toml:"api_token"`
}

type Store struct {
	Path string `toml:"path"`
	// EncryptionKey is base64 of 32 bytes; empty leaves secrets unencrypted.
	EncryptionKey string `toml:"encryption_key"`
	// BackupDir receives a snapshot every BackupInterval; empty: none.
	BackupDir      string   `toml:"backup_dir"`
	BackupInterval Duration `toml:"backup_interval"`
	// BackupKeep is how many snapshots stay in BackupDir.
	BackupKeep int `toml:"backup_keep"`
}

// Log configures log/slog for every part.
type Log struct {
	Level  string `toml:"level"`  // debug | info | warn | error
	Format string `toml:"format"` // text | json
}

// Log levels and formats.
const (
	LogDebug = "debug"
	LogInfo  = "info"
	LogWarn  = "warn"
	LogError = "error"
	LogText  = "text"
	LogJSON  = "json"
)

type Stripe struct {
	SecretKey         string   `toml:"secret_key"`
	WebhookSecret     string   `toml:"webhook_secret"`
	APIURL            string   `toml:"api_url"`
	SuccessURL        string   `toml:"success_url"`
	CancelURL         string   `toml:"cancel_url"`
	RevokeOnRefund    bool     `toml:"revoke_on_refund"`
	RevokeOnDispute   bool     `toml:"revoke_on_dispute"`
	SubscriptionGrace Duration `toml:"subscription_grace"`
	// SubmitDisputeEvidence sends evidence (terms acceptance, access log)
	// to Stripe on charge.dispute.created. Default false.
	SubmitDisputeEvidence bool `toml:"submit_dispute_evidence"`
	// DisputeEvidenceFinal also submits it to the bank (Stripe's
	// submit=true, final: no later edit). Default false: the evidence is
	// staged and the seller reviews and submits it in the Dashboard.
	DisputeEvidenceFinal bool `toml:"dispute_evidence_final"`
}

type AuthForge struct {
	AppID             string   `toml:"app_id"`
	AppSecret         string   `toml:"app_secret"`
	PublicKeys        []string `toml:"public_keys"`
	APIKey            string   `toml:"api_key"`
	AuthURL           string   `toml:"auth_url"`
	APIURL            string   `toml:"api_url"`
	SessionTTL        Duration `toml:"session_ttl"`
	Refresh           string   `toml:"refresh"` // lazy | eager
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	// AcceptOutsideKeys lets /activate import keys the seller made outside
	// shopbot (AuthForge dashboard, another shop), matched to a product by
	// the product's OutsideKeyLabels. Default false.
	AcceptOutsideKeys bool `toml:"accept_outside_keys"`
}

type Telegram struct {
	Token         string  `toml:"token"`
	APIURL        string  `toml:"api_url"`
	Mode          string  `toml:"mode"` // polling | webhook
	WebhookSecret string  `toml:"webhook_secret"`
	Admins        []int64 `toml:"admins"`
	// Payments is what Telegram buyers are offered: PaymentsStripe,
	// PaymentsStars or PaymentsBoth (stars.go).
	Payments string `toml:"payments"`
}

type Discord struct {
	Token         string   `toml:"token"`
	ApplicationID string   `toml:"application_id"`
	PublicKey     string   `toml:"public_key"`
	GuildID       string   `toml:"guild_id"`
	APIURL        string   `toml:"api_url"`
	Interactions  string   `toml:"interactions"` // gateway | http
	AdminRoleIDs  []string `toml:"admin_role_ids"`
	AdminUserIDs  []string `toml:"admin_user_ids"`
}

// Product is one thing for sale.
type Product struct {
	ID              string   `toml:"id"`
	Name            string   `toml:"name"`
	Description     string   `toml:"description"`
	PriceID         string   `toml:"price_id"`
	Mode            string   `toml:"mode"` // payment | subscription
	Duration        Duration `toml:"duration"`
	MaxHWIDSlots    int      `toml:"max_hwid_slots"`
	DiscordRoleIDs  []string `toml:"discord_role_ids"`
	TelegramChatIDs []int64  `toml:"telegram_chat_ids"`
	// TelegramExemptUserIDs stay in the product's chats without a license
	// (moderators, guests); DiscordExemptUserIDs keep its roles.
	TelegramExemptUserIDs []int64  `toml:"telegram_exempt_user_ids"`
	DiscordExemptUserIDs  []string `toml:"discord_exempt_user_ids"`
	// ReminderDays are how many days before a one-time license ends its
	// buyer is reminded; unset means [3, 1], an empty list none. See
	// Reminders.
	ReminderDays []int `toml:"reminder_days"`
	// AllowPromotionCodes shows Stripe Checkout's promotion code field.
	// /buy PRODUCT CODE applies a code whether or not it is set.
	AllowPromotionCodes bool `toml:"allow_promotion_codes"`
	// TrialDays starts a subscription with that many free days; the
	// license runs to the trial end and the first paid invoice extends it.
	TrialDays int `toml:"trial_days"`
	// OutsideKeyLabels are path.Match glob patterns of AuthForge labels: an
	// outside key whose label matches one is imported as this product
	// (authforge.accept_outside_keys). The first product in config order
	// whose pattern matches wins.
	OutsideKeyLabels []string `toml:"outside_key_labels"`
	// StarsPrice is the price in Telegram Stars (whole Stars) for Telegram
	// buyers when telegram.payments offers Stars; for a subscription, per
	// 30 days.
	StarsPrice int `toml:"stars_price"`
}

// Values of the enumerated keys.
const (
	ModePayment      = "payment"      // products.mode: one-time purchase
	ModeSubscription = "subscription" // products.mode: recurring price

	RefreshLazy  = "lazy"  // authforge.refresh: refresh a session on use after expiry
	RefreshEager = "eager" // authforge.refresh: heartbeat every heartbeat_interval

	TelegramPolling = "polling" // telegram.mode: getUpdates long polling
	TelegramWebhook = "webhook" // telegram.mode: updates POSTed to /webhooks/telegram

	DiscordGateway = "gateway" // discord.interactions: over the gateway websocket
	DiscordHTTP    = "http"    // discord.interactions: POSTed to /discord/interactions
)

// GatedCommand answers Reply only to holders of one of Products.
type GatedCommand struct {
	Command  string   `toml:"command"`
	Products []string `toml:"products"`
	Reply    string   `toml:"reply"`
}

// Limits are the abuse guards; SPEC names their defaults.
type Limits struct {
	ActivationAttempts int      `toml:"activation_attempts"` // default 5
	ActivationWindow   Duration `toml:"activation_window"`   // default 10m
	TransfersPerWindow int      `toml:"transfers"`           // default 2
	TransferWindow     Duration `toml:"transfer_window"`     // default 720h

	// The crowd guards: each chat identity's command budget (a token
	// bucket checked before any work) and the caps on work in progress.
	CommandsPerMinute     int `toml:"commands_per_minute"`      // default 60
	CommandBurst          int `toml:"command_burst"`            // default 10
	CommandsInFlight      int `toml:"commands_in_flight"`       // per identity, default 3
	CommandsInFlightTotal int `toml:"commands_in_flight_total"` // per platform, default 64
	// Telegram's outgoing pace: overall, per private chat and per group,
	// each a token bucket; and the bounds of the reply queues.
	TelegramPerSecond      int `toml:"telegram_messages_per_second"`       // default 30
	TelegramBurst          int `toml:"telegram_burst"`                     // default 30
	TelegramChatPerMinute  int `toml:"telegram_chat_messages_per_minute"`  // default 60
	TelegramGroupPerMinute int `toml:"telegram_group_messages_per_minute"` // default 20
	TelegramChatBurst      int `toml:"telegram_chat_burst"`                // default 3
	ReplyQueuePerChat      int `toml:"reply_queue_per_chat"`               // default 20
	ReplyQueueTotal        int `toml:"reply_queue_total"`                  // default 10000
}

// Duration is a time.Duration written as a Go duration string in TOML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Product returns the product with id, if configured.
func (c *Config) Product(id string) (Product, bool) {
	for _, p := range c.Products {
		if p.ID == id {
			return p, true
		}
	}
	return Product{}, false
}
