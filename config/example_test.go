package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

const examplePath = "../config.example.toml"

// exampleEnv holds a valid dummy value for every variable the example uses.
func exampleEnv() map[string]string {
	return map[string]string{
		"SHOPBOT_API_TOKEN":       "0123456789abcdef0123456789abcdef",
		"SHOPBOT_STORE_KEY":       "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"STRIPE_SECRET_KEY":       "sk_test_123",
		"STRIPE_WEBHOOK_SECRET":   "whsec_test",
		"AUTHFORGE_APP_SECRET":    "app-secret",
		"AUTHFORGE_PUBLIC_KEY":    "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"AUTHFORGE_API_KEY":       "af_live_test",
		"TELEGRAM_TOKEN":          "123456:ABC-test",
		"TELEGRAM_WEBHOOK_SECRET": "tg-secret",
		"DISCORD_TOKEN":           "discord-token",
	}
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// TestExampleLoadsAndValidates keeps config.example.toml from rotting.
func TestExampleLoadsAndValidates(t *testing.T) {
	cfg, err := Load(examplePath, mapEnv(exampleEnv()))
	if err != nil {
		t.Fatalf("Load(example): %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example does not validate:\n%v", err)
	}
	if len(cfg.Products) != 2 || len(cfg.GatedCommands) != 1 {
		t.Errorf("example has %d products and %d gated commands, want 2 and 1", len(cfg.Products), len(cfg.GatedCommands))
	}
	modes := map[string]bool{}
	for _, p := range cfg.Products {
		modes[p.Mode] = true
		if p.Mode == ModePayment && p.Duration.Duration == 0 {
			t.Errorf("payment product %q has no duration; the example should show one", p.ID)
		}
	}
	if !modes[ModePayment] || !modes[ModeSubscription] {
		t.Errorf("example products cover modes %v, want payment and subscription", modes)
	}
	if _, err := cfg.AuthForgePublicKeys(); err != nil {
		t.Error(err)
	}
	if k, err := cfg.StoreKey(); err != nil || len(k) != 32 {
		t.Errorf("StoreKey = %d bytes, %v", len(k), err)
	}
}

// TestExampleValuesAreDefaults checks the example's claim that the optional
// keys it writes hold their defaults.
func TestExampleValuesAreDefaults(t *testing.T) {
	cfg, err := Load(examplePath, mapEnv(exampleEnv()))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if cfg.Limits != def.Limits {
		t.Errorf("example [limits] = %+v, defaults %+v", cfg.Limits, def.Limits)
	}
	if cfg.AuthForge.SessionTTL != def.AuthForge.SessionTTL || cfg.AuthForge.Refresh != def.AuthForge.Refresh ||
		cfg.AuthForge.HeartbeatInterval != def.AuthForge.HeartbeatInterval {
		t.Errorf("example [authforge] durations/refresh differ from defaults")
	}
	if cfg.Server.Listen != def.Server.Listen || cfg.Server.MaxBodyBytes != def.Server.MaxBodyBytes || cfg.Store.Path != def.Store.Path {
		t.Errorf("example [server]/[store] differ from defaults")
	}
	if cfg.Stripe.SubscriptionGrace != def.Stripe.SubscriptionGrace || !cfg.Stripe.RevokeOnRefund || !cfg.Stripe.RevokeOnDispute {
		t.Errorf("example [stripe] differs from defaults")
	}
	if cfg.Telegram.Mode != def.Telegram.Mode || cfg.Discord.Interactions != def.Discord.Interactions {
		t.Errorf("example modes differ from defaults")
	}
}

// TestExampleDocumentsEveryKey walks Config by reflection: every field with a
// toml tag must be written in the example (for arrays of tables, in at least
// one entry), and every written key must be preceded by a comment.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if _, err := toml.Decode(string(data), &tree); err != nil {
		t.Fatal(err)
	}
	var missing []string
	walkDocumented(reflect.TypeFor[Config](), "", []map[string]any{tree}, &missing)
	for _, k := range missing {
		t.Errorf("config.example.toml does not set %s", k)
	}

	// Each "key =" line directly follows a comment line, except in the
	// second product, whose keys the first one documents.
	lines := strings.Split(string(data), "\n")
	prev, productN, exempt := "", 0, false
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			if line == "[[products]]" {
				productN++
			}
			exempt = line == "[[products]]" && productN == 2
		}
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "[") &&
			!strings.HasPrefix(prev, "#") && !exempt {
			t.Errorf("config.example.toml:%d: %q has no comment above it", i+1, line)
		}
		prev = line
	}
}

func walkDocumented(typ reflect.Type, path string, tables []map[string]any, missing *[]string) {
	for i := range typ.NumField() {
		f := typ.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if path != "" {
			key = path + "." + tag
		}
		var found []map[string]any
		present := false
		for _, tbl := range tables {
			v, ok := tbl[tag]
			if !ok {
				continue
			}
			present = true
			switch x := v.(type) {
			case map[string]any:
				found = append(found, x)
			case []map[string]any:
				found = append(found, x...)
			}
		}
		if !present {
			*missing = append(*missing, key)
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			walkDocumented(ft.Elem(), key, found, missing)
		} else if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Duration]() {
			walkDocumented(ft, key, found, missing)
		}
	}
}
