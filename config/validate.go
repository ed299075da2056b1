package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	productID         = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	commandName       = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	telegramSecret    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	discordPublicKey  = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hostname          = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)
	builtinCommandSet = []string{
		"start", "buy", "activate", "license", "licenses", "help",
		"revoke", "lookup", "grant", "extend", "resethwid", "stats",
		"audit", "replay", "transfer", "sync", "failed",
	}
)

// BuiltinCommands lists the chat commands shopbot answers itself; a gated
// command may not use one of these names.
func BuiltinCommands() []string { return slices.Clone(builtinCommandSet) }

// Size bounds of server.max_body_bytes.
const (
	minBodyBytes = 1 << 10
	maxBodyBytes = 64 << 20
)

// problems collects Validate's findings in the order of the schema.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &Problem{Key: key, Message: fmt.Sprintf(format, args...)})
}

// Validate checks the whole configuration offline and returns every problem
// found, joined; each names its key path, what is wrong and how to fix it.
// It changes nothing: defaults are applied by Load.
func (c *Config) Validate() error {
	var p problems
	c.validateServer(&p)
	c.validateStore(&p)
	c.validateStripe(&p)
	c.validateAuthForge(&p)
	c.validateTelegram(&p)
	c.validateDiscord(&p)
	c.validateProducts(&p)
	c.validateOutsideKeys(&p)
	c.validateGatedCommands(&p)
	c.validateLimits(&p)
	c.validateBackups(&p)
	c.validateLog(&p)
	c.validateReminders(&p)
	c.validateAlerts(&p)
	c.validateTerms(&p)
	c.validateMessages(&p)
	c.validateStars(&p)
	return errors.Join(p...)
}

func (c *Config) validateServer(p *problems) {
	s := c.Server
	if s.Listen == "" {
		p.add("server.listen", `required (the address for webhooks, interactions, health and metrics, e.g. ":8080")`)
	} else if _, port, err := net.SplitHostPort(s.Listen); err != nil || port == "" {
		p.add("server.listen", `%q is not a host:port address; write it like ":8080" or "127.0.0.1:8080"`, s.Listen)
	}
	checkURL(p, "server.public_url", s.PublicURL)
	if s.MaxBodyBytes < minBodyBytes || s.MaxBodyBytes > maxBodyBytes {
		p.add("server.max_body_bytes", "%d is out of range; use %d (1 KiB) to %d (64 MiB), default 1048576", s.MaxBodyBytes, minBodyBytes, maxBodyBytes)
	}
	if s.APIToken != "" && (len(s.APIToken) < 16 || strings.ContainsAny(s.APIToken, " \t\r\n")) {
		p.add("server.api_token", "must be at least 16 characters without spaces; generate one with: openssl rand -hex 32 (or leave it empty to disable the entitlements API)")
	}
	for i, d := range s.TLSAutocertDomains {
		if !hostname.MatchString(d) {
			p.add(fmt.Sprintf("server.tls_autocert_domains[%d]", i), "%q is not a domain name; write a bare name like \"shop.example.com\" (no scheme, port, path or wildcard)", d)
		}
	}
	if len(s.TLSAutocertDomains) > 0 {
		u, err := url.Parse(s.PublicURL)
		switch {
		case s.PublicURL == "" || err != nil || u.Scheme != "https":
			p.add("server.public_url", "must be an https:// URL when server.tls_autocert_domains is set (shopbot then serves HTTPS itself)")
		case !slices.Contains(s.TLSAutocertDomains, u.Hostname()):
			p.add("server.tls_autocert_domains", "does not include %q, the host of server.public_url; add it, or a certificate for the public URL is never obtained", u.Hostname())
		}
	}
}

func (c *Config) validateStore(p *problems) {
	if c.Store.Path == "" {
		p.add("store.path", `required (the bbolt database file, e.g. "shopbot.db")`)
	}
	if _, err := decodeKey32(c.Store.EncryptionKey); c.Store.EncryptionKey != "" && err != nil {
		p.add("store.encryption_key", "%v; generate one with: openssl rand -base64 32 (or leave it empty to store keys unencrypted)", err)
	}
}

func (c *Config) validateStripe(p *problems) {
	s := c.Stripe
	if !c.StripeEnabled() {
		// A Telegram shop selling only for Stars: no Stripe at all.
		if s.SubmitDisputeEvidence {
			p.add("stripe.submit_dispute_evidence", "is set but Stripe is not configured (this shop sells only for Telegram Stars); remove it, or set stripe.secret_key and stripe.webhook_secret")
		}
		c.validateStripeOptions(p)
		return
	}
	switch {
	case s.SecretKey == "":
		p.add("stripe.secret_key", "required (the sk_... secret key or an rk_... restricted key; Stripe Dashboard → Developers → API keys)")
	case strings.HasPrefix(s.SecretKey, "pk_"):
		p.add("stripe.secret_key", "is a publishable key (pk_...); use the secret key sk_... or a restricted key rk_...")
	default:
		checkSecret(p, "stripe.secret_key", s.SecretKey)
	}
	if s.WebhookSecret == "" {
		p.add("stripe.webhook_secret", "required (the whsec_... signing secret of your Stripe webhook endpoint; shopbot setup stripe prints it)")
	} else {
		checkSecret(p, "stripe.webhook_secret", s.WebhookSecret)
		if !strings.HasPrefix(strings.TrimSpace(s.WebhookSecret), "whsec_") {
			p.add("stripe.webhook_secret", "does not start with whsec_, so it is not a webhook signing secret (an API key or the endpoint id we_... are not); copy the endpoint's Signing secret from Stripe Dashboard → Developers → Webhooks, or run shopbot setup stripe, which prints it")
		}
	}
	c.validateStripeOptions(p)
}

// validateStripeOptions checks the [stripe] keys that apply with or
// without Stripe (subscription_grace is also the Star subscriptions').
func (c *Config) validateStripeOptions(p *problems) {
	s := c.Stripe
	checkURL(p, "stripe.api_url", s.APIURL)
	checkURL(p, "stripe.success_url", s.SuccessURL)
	checkURL(p, "stripe.cancel_url", s.CancelURL)
	if s.SubscriptionGrace.Duration < 0 {
		p.add("stripe.subscription_grace", "%s is negative; use 0 or more, e.g. \"72h\"", s.SubscriptionGrace.Duration)
	}
}

func (c *Config) validateAuthForge(p *problems) {
	a := c.AuthForge
	if a.AppID == "" {
		p.add("authforge.app_id", "required (the id of your AuthForge app, shown in the AuthForge dashboard)")
	}
	if a.AppSecret == "" {
		p.add("authforge.app_secret", "required (the app secret from the AuthForge dashboard)")
	} else {
		checkSecret(p, "authforge.app_secret", a.AppSecret)
	}
	if a.APIKey == "" {
		p.add("authforge.api_key", "required (a Developer API key af_live_...; AuthForge dashboard → API keys)")
	} else {
		checkSecret(p, "authforge.api_key", a.APIKey)
	}
	if len(a.PublicKeys) == 0 {
		p.add("authforge.public_keys", "required (at least one base64 Ed25519 public key of the app, shown in the AuthForge dashboard)")
	}
	for i, k := range a.PublicKeys {
		if _, err := decodeKey32(k); err != nil {
			p.add(fmt.Sprintf("authforge.public_keys[%d]", i), "%v; copy the app's Ed25519 public key (base64) from the AuthForge dashboard", err)
		}
	}
	checkURL(p, "authforge.auth_url", a.AuthURL)
	checkURL(p, "authforge.api_url", a.APIURL)
	if ttl := a.SessionTTL.Duration; ttl < time.Hour || ttl > 168*time.Hour {
		p.add("authforge.session_ttl", "%s is out of range; use 1h to 168h (AuthForge clamps sessions to that), default 24h", ttl)
	}
	if a.Refresh != RefreshLazy && a.Refresh != RefreshEager {
		p.add("authforge.refresh", "%q is not a refresh mode; use %q (refresh on use after expiry) or %q (heartbeat every heartbeat_interval)", a.Refresh, RefreshLazy, RefreshEager)
	}
	if a.HeartbeatInterval.Duration < time.Minute {
		p.add("authforge.heartbeat_interval", "%s is too short; use at least 1m (AuthForge rate-limits validation), default 15m", a.HeartbeatInterval.Duration)
	}
}

func (c *Config) validateTelegram(p *problems) {
	t := c.Telegram
	if !c.TelegramEnabled() && !c.DiscordEnabled() {
		p.add("telegram.token", "no bot configured; set telegram.token (from @BotFather) or discord.token (Discord developer portal → Bot), or both")
	}
	if t.Token != "" {
		checkSecret(p, "telegram.token", t.Token)
	}
	checkURL(p, "telegram.api_url", t.APIURL)
	if t.Mode != TelegramPolling && t.Mode != TelegramWebhook {
		p.add("telegram.mode", "%q is not a mode; use %q (no public URL needed) or %q (updates POSTed to server.public_url/webhooks/telegram)", t.Mode, TelegramPolling, TelegramWebhook)
	}
	if t.WebhookSecret != "" && !telegramSecret.MatchString(t.WebhookSecret) {
		p.add("telegram.webhook_secret", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule); generate one with: openssl rand -hex 32")
	}
	if c.TelegramEnabled() && t.Mode == TelegramWebhook {
		if t.WebhookSecret == "" {
			p.add("telegram.webhook_secret", "required when telegram.mode is \"webhook\" (it authenticates Telegram's requests); generate one with: openssl rand -hex 32")
		}
		if c.Server.PublicURL == "" {
			p.add("server.public_url", "required when telegram.mode is \"webhook\" (Telegram must reach /webhooks/telegram there); set the https:// address of this server, or use mode \"polling\"")
		}
	}
	for i, id := range t.Admins {
		if id <= 0 {
			p.add(fmt.Sprintf("telegram.admins[%d]", i), "%d is not a Telegram user id; user ids are positive numbers (ask @userinfobot for yours)", id)
		}
	}
}

func (c *Config) validateDiscord(p *problems) {
	d := c.Discord
	if d.Interactions != DiscordGateway && d.Interactions != DiscordHTTP {
		p.add("discord.interactions", "%q is not a mode; use %q (over the gateway connection) or %q (POSTed to /discord/interactions)", d.Interactions, DiscordGateway, DiscordHTTP)
	}
	if d.PublicKey != "" && !discordPublicKey.MatchString(d.PublicKey) {
		p.add("discord.public_key", "must be 64 hex characters; copy \"Public Key\" from the Discord developer portal → General Information")
	}
	checkURL(p, "discord.api_url", d.APIURL)
	for i, id := range d.AdminRoleIDs {
		checkSnowflake(p, fmt.Sprintf("discord.admin_role_ids[%d]", i), id, "role")
	}
	for i, id := range d.AdminUserIDs {
		checkSnowflake(p, fmt.Sprintf("discord.admin_user_ids[%d]", i), id, "user")
	}
	if !c.DiscordEnabled() {
		return
	}
	checkSecret(p, "discord.token", d.Token)
	if d.ApplicationID == "" {
		p.add("discord.application_id", "required when discord.token is set (Discord developer portal → General Information → Application ID)")
	} else {
		checkSnowflake(p, "discord.application_id", d.ApplicationID, "application")
	}
	if d.GuildID == "" {
		p.add("discord.guild_id", "required when discord.token is set (the server's id: enable Developer Mode, right-click the server → Copy Server ID)")
	} else {
		checkSnowflake(p, "discord.guild_id", d.GuildID, "server")
	}
	if d.Interactions == DiscordHTTP && d.PublicKey == "" {
		p.add("discord.public_key", "required when discord.interactions is \"http\" (it verifies Discord's requests); copy \"Public Key\" from the Discord developer portal → General Information")
	}
}

func (c *Config) validateProducts(p *problems) {
	if len(c.Products) == 0 {
		p.add("products", "no products configured; add at least one [[products]] table")
	}
	firstUse := make(map[string]int, len(c.Products))
	for i, pr := range c.Products {
		key := fmt.Sprintf("products[%d]", i)
		switch {
		case !productID.MatchString(pr.ID):
			p.add(key+".id", "%q is not a product id; use 1-32 characters of a-z, 0-9 and -", pr.ID)
		default:
			if j, dup := firstUse[pr.ID]; dup {
				p.add(key+".id", "%q is already the id of products[%d]; product ids must be unique", pr.ID, j)
			} else {
				firstUse[pr.ID] = i
			}
		}
		if strings.TrimSpace(pr.Name) == "" {
			p.add(key+".name", "required (the name buyers see in the catalog)")
		}
		if pr.PriceID != "" || c.StripeRequired() {
			// A shop selling only for Stars needs no Stripe Price.
			checkPriceID(p, key+".price_id", pr.PriceID)
		}
		switch pr.Mode {
		case ModePayment, ModeSubscription:
		case "":
			p.add(key+".mode", "required; use %q for a one-time price or %q for a recurring price", ModePayment, ModeSubscription)
		default:
			p.add(key+".mode", "%q is not a mode; use %q for a one-time price or %q for a recurring price", pr.Mode, ModePayment, ModeSubscription)
		}
		switch {
		case pr.Duration.Duration < 0:
			p.add(key+".duration", "%s is negative; use a positive duration like \"720h\", or omit it for lifetime keys", pr.Duration.Duration)
		case pr.Duration.Duration > 0 && pr.Mode == ModeSubscription:
			p.add(key+".duration", "only applies to mode %q; remove it (a subscription's license lasts as long as it is paid, plus stripe.subscription_grace)", ModePayment)
		}
		if pr.MaxHWIDSlots < 1 || pr.MaxHWIDSlots > 16 {
			p.add(key+".max_hwid_slots", "%d is out of range; use 1 to 16 chat accounts per key (default 1)", pr.MaxHWIDSlots)
		}
		for j, id := range pr.TelegramChatIDs {
			if id >= 0 {
				p.add(fmt.Sprintf("%s.telegram_chat_ids[%d]", key, j), "%d is not a group or channel id; those are negative, like -1001234567890", id)
			}
		}
		if len(pr.TelegramChatIDs) > 0 && !c.TelegramEnabled() {
			p.add(key+".telegram_chat_ids", "set but telegram.token is empty; configure the Telegram bot or remove these chats")
		}
		for j, id := range pr.DiscordRoleIDs {
			checkSnowflake(p, fmt.Sprintf("%s.discord_role_ids[%d]", key, j), id, "role")
		}
		if len(pr.DiscordRoleIDs) > 0 && !c.DiscordEnabled() {
			p.add(key+".discord_role_ids", "set but discord.token is empty; configure the Discord bot or remove these roles")
		}
		validateExempt(p, key, pr)
		validatePromotion(p, key, pr)
	}
}

// validateExempt checks a product's exemptions from the members-only
// gate (issue 16). Kept apart so edits to the checks above merge cleanly.
func validateExempt(p *problems, key string, pr Product) {
	for j, id := range pr.TelegramExemptUserIDs {
		if id <= 0 {
			p.add(fmt.Sprintf("%s.telegram_exempt_user_ids[%d]", key, j), "%d is not a Telegram user id; user ids are positive (groups are negative)", id)
		}
	}
	if len(pr.TelegramExemptUserIDs) > 0 && len(pr.TelegramChatIDs) == 0 {
		p.add(key+".telegram_exempt_user_ids", "set but the product has no telegram_chat_ids; add the chats or remove the exemptions")
	}
	for j, id := range pr.DiscordExemptUserIDs {
		checkSnowflake(p, fmt.Sprintf("%s.discord_exempt_user_ids[%d]", key, j), id, "user")
	}
	if len(pr.DiscordExemptUserIDs) > 0 && len(pr.DiscordRoleIDs) == 0 {
		p.add(key+".discord_exempt_user_ids", "set but the product has no discord_role_ids; add the roles or remove the exemptions")
	}
}

// MaxTrialDays is the longest trial Stripe Checkout accepts
// (subscription_data.trial_period_days).
const MaxTrialDays = 730

// validatePromotion checks a product's discounts and trial (issue 13).
// Kept apart so edits to the checks above merge cleanly.
// allow_promotion_codes needs no check: /buy PRODUCT CODE applies a code
// to any product, as Stripe accepts discounts whatever the flag says.
func validatePromotion(p *problems, key string, pr Product) {
	switch {
	case pr.TrialDays < 0 || pr.TrialDays > MaxTrialDays:
		p.add(key+".trial_days", "%d is out of range; use 1 to %d days, or 0 (the default) for no trial", pr.TrialDays, MaxTrialDays)
	case pr.TrialDays > 0 && pr.Mode != ModeSubscription:
		p.add(key+".trial_days", "only applies to mode %q; remove it (a one-time purchase has no trial)", ModeSubscription)
	}
}

func (c *Config) validateGatedCommands(p *problems) {
	firstUse := make(map[string]int, len(c.GatedCommands))
	for i, g := range c.GatedCommands {
		key := fmt.Sprintf("gated_commands[%d]", i)
		switch {
		case !commandName.MatchString(g.Command):
			p.add(key+".command", "%q is not a command name; use 1-32 characters of a-z, 0-9 and _, without the leading /", g.Command)
		case slices.Contains(builtinCommandSet, g.Command):
			p.add(key+".command", "%q is a built-in command; choose another name (built-ins: %s)", g.Command, strings.Join(builtinCommandSet, ", "))
		default:
			if j, dup := firstUse[g.Command]; dup {
				p.add(key+".command", "%q is already gated_commands[%d]; command names must be unique", g.Command, j)
			} else {
				firstUse[g.Command] = i
			}
		}
		if len(g.Products) == 0 {
			p.add(key+".products", "required; list the ids of the products whose holders may use /%s", g.Command)
		}
		for j, id := range g.Products {
			if _, ok := c.Product(id); !ok {
				p.add(fmt.Sprintf("%s.products[%d]", key, j), "%q is not the id of any [[products]]; use one of: %s", id, c.productIDs())
			}
		}
		if strings.TrimSpace(g.Reply) == "" {
			p.add(key+".reply", "required (the text entitled users get for /%s)", g.Command)
		}
	}
}

func (c *Config) validateLimits(p *problems) {
	l := c.Limits
	if l.ActivationAttempts <= 0 {
		p.add("limits.activation_attempts", "%d must be positive; default 5 per activation_window", l.ActivationAttempts)
	}
	if l.ActivationWindow.Duration <= 0 {
		p.add("limits.activation_window", "%s must be positive; default \"10m\"", l.ActivationWindow.Duration)
	}
	if l.TransfersPerWindow <= 0 {
		p.add("limits.transfers", "%d must be positive; default 2 per transfer_window", l.TransfersPerWindow)
	}
	if l.TransferWindow.Duration <= 0 {
		p.add("limits.transfer_window", "%s must be positive; default \"720h\"", l.TransferWindow.Duration)
	}
	bounded := []struct {
		key       string
		v, lo, hi int
		def       string
	}{
		{"commands_per_minute", l.CommandsPerMinute, 1, 6000, "60"},
		{"command_burst", l.CommandBurst, 1, 1000, "10"},
		{"commands_in_flight", l.CommandsInFlight, 1, 100, "3"},
		{"commands_in_flight_total", l.CommandsInFlightTotal, 1, 10_000, "64"},
		// Above Telegram's own limits the bot only collects 429s.
		{"telegram_messages_per_second", l.TelegramPerSecond, 1, 30, "30 (Telegram's limit)"},
		{"telegram_burst", l.TelegramBurst, 1, 100, "5"},
		{"telegram_chat_messages_per_minute", l.TelegramChatPerMinute, 1, 60, "60 (Telegram's limit)"},
		{"telegram_group_messages_per_minute", l.TelegramGroupPerMinute, 1, 20, "20 (Telegram's limit)"},
		{"telegram_chat_burst", l.TelegramChatBurst, 1, 10, "3"},
		{"reply_queue_per_chat", l.ReplyQueuePerChat, 1, 1000, "20"},
		{"reply_queue_total", l.ReplyQueueTotal, 1, 1_000_000, "10000"},
	}
	for _, b := range bounded {
		if b.v < b.lo || b.v > b.hi {
			p.add("limits."+b.key, "%d is out of range; use %d to %d, default %s", b.v, b.lo, b.hi, b.def)
		}
	}
}

func (c *Config) productIDs() string {
	if len(c.Products) == 0 {
		return "(none configured)"
	}
	ids := make([]string, len(c.Products))
	for i, pr := range c.Products {
		ids[i] = strconv.Quote(pr.ID)
	}
	return strings.Join(ids, ", ")
}

// checkURL reports a non-empty value that is not an absolute http(s) URL.
func checkURL(p *problems, key, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		p.add(key, "%q is not an absolute http(s) URL; write it like \"https://shop.example.com\" (or leave it empty for the default)", raw)
	}
}

// checkSecret reports whitespace around a secret, a common copy-paste slip
// that otherwise shows up only as an authentication failure at run time.
func checkSecret(p *problems, key, s string) {
	if strings.TrimSpace(s) != s {
		p.add(key, "has leading or trailing whitespace; remove it (check the environment variable too)")
	}
}

// checkPriceID reports a price_id that Stripe Checkout would refuse only
// when a buyer first asks to pay: empty, padded, a Product id, or no Price
// id at all.
func checkPriceID(p *problems, key, id string) {
	const where = "Stripe Dashboard → Product catalog → the product → Pricing → the price's ⋯ menu → Copy price ID"
	trimmed := strings.TrimSpace(id)
	switch {
	case id == "":
		p.add(key, "required (the Stripe Price id price_...; %s)", where)
	case trimmed != id:
		p.add(key, "%q has leading or trailing whitespace; remove it: price_id = %q", id, trimmed)
	case strings.HasPrefix(id, "prod_"):
		p.add(key, "%q is a Product id (prod_...); price_id must be the id of one of its Prices, price_... (%s)", id, where)
	case !strings.HasPrefix(id, "price_") || len(id) == len("price_"):
		p.add(key, "%q is not a Stripe Price id; Price ids start with price_ (%s)", id, where)
	}
}

func checkSnowflake(p *problems, key, id, what string) {
	if n, err := strconv.ParseUint(id, 10, 64); err != nil || n == 0 || strings.HasPrefix(id, "+") {
		p.add(key, "%q is not a Discord %s id; ids are numbers like \"123456789012345678\" (enable Developer Mode, right-click → Copy ID)", id, what)
	}
}

// decodeKey32 decodes base64 (standard or URL alphabet, padded or not) that
// must hold exactly 32 bytes.
func decodeKey32(s string) ([]byte, error) {
	if _, err := hex.DecodeString(s); err == nil && len(s) == 64 {
		return nil, errors.New("is 64 hex characters, want base64 of 32 bytes (convert with: echo HEX | xxd -r -p | base64)")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != 32 {
			return nil, fmt.Errorf("decodes to %d bytes, want 32", len(b))
		}
		return b, nil
	}
	return nil, errors.New("is not valid base64")
}
