package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadString(t *testing.T, text string, env map[string]string) (Config, error) {
	t.Helper()
	return Load(writeConfig(t, text), mapEnv(env))
}

func TestLoadDefaults(t *testing.T) {
	cfg, err := loadString(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("empty file:\n got %+v\nwant %+v", cfg, Default())
	}
	want := map[string]bool{
		"server.listen":             cfg.Server.Listen == ":8080",
		"server.max_body_bytes":     cfg.Server.MaxBodyBytes == 1048576,
		"store.path":                cfg.Store.Path == "shopbot.db",
		"stripe.revoke_on_refund":   cfg.Stripe.RevokeOnRefund,
		"stripe.revoke_on_dispute":  cfg.Stripe.RevokeOnDispute,
		"stripe.subscription_grace": cfg.Stripe.SubscriptionGrace.Duration == 72*time.Hour,
		"authforge.session_ttl":     cfg.AuthForge.SessionTTL.Duration == 24*time.Hour,
		"authforge.refresh":         cfg.AuthForge.Refresh == "lazy",
		"authforge.heartbeat":       cfg.AuthForge.HeartbeatInterval.Duration == 15*time.Minute,
		"telegram.mode":             cfg.Telegram.Mode == "polling",
		"discord.interactions":      cfg.Discord.Interactions == "gateway",
		"limits.activation":         cfg.Limits.ActivationAttempts == 5 && cfg.Limits.ActivationWindow.Duration == 10*time.Minute,
		"limits.transfers":          cfg.Limits.TransfersPerWindow == 2 && cfg.Limits.TransferWindow.Duration == 720*time.Hour,
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("default %s wrong", k)
		}
	}

	// A key set in the file replaces its default; its neighbours keep theirs.
	cfg, err = loadString(t, "[server]\nlisten = \":9090\"\n[stripe]\nrevoke_on_refund = false\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != ":9090" || cfg.Server.MaxBodyBytes != 1<<20 || cfg.Stripe.RevokeOnRefund || !cfg.Stripe.RevokeOnDispute {
		t.Errorf("partial file: %+v %+v", cfg.Server, cfg.Stripe)
	}
}

func TestLoadNormalize(t *testing.T) {
	cfg, err := loadString(t, `
[[products]]
id = "a"
[[products]]
id = "b"
max_hwid_slots = 3
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{cfg.Products[0].MaxHWIDSlots, cfg.Products[1].MaxHWIDSlots}; !reflect.DeepEqual(got, []int{1, 3}) {
		t.Errorf("max_hwid_slots = %v, want [1 3]", got)
	}
}

func TestLoadEnvExpansion(t *testing.T) {
	env := map[string]string{
		"SECRET": "sk_test_1",
		"EMPTY":  "",
		"KEY1":   "k1",
		"KEY2":   "k2",
		"ROLE":   "42",
		"GRACE":  "1h30m",
		"PRICE":  "price_9",
		"NESTED": "${SECRET}",
		"HOST":   "shop.example.com",
	}
	cfg, err := loadString(t, `
[server]
public_url = "https://${HOST}/base"
api_token = "${EMPTY}"
listen = "$HOME:${}:${1X}:$${ROLE}:$"
[stripe]
secret_key = "${SECRET}"
webhook_secret = "${NESTED}"
subscription_grace = "${GRACE}"
[authforge]
public_keys = ["${KEY1}", "lit", "${KEY2}-${KEY1}"]
[discord]
admin_role_ids = ["${ROLE}"]
[[products]]
id = "p"
price_id = "${PRICE}"
discord_role_ids = ["${ROLE}"]
[[gated_commands]]
command = "x"
reply = 'costs $5, see ${HOST}'
`, env)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ key, got, want string }{
		{"server.public_url", cfg.Server.PublicURL, "https://shop.example.com/base"},
		{"server.api_token (set but empty)", cfg.Server.APIToken, ""},
		{"server.listen ($ not ${NAME} kept)", cfg.Server.Listen, "$HOME:${}:${1X}:$42:$"},
		{"stripe.secret_key", cfg.Stripe.SecretKey, "sk_test_1"},
		{"stripe.webhook_secret (single pass)", cfg.Stripe.WebhookSecret, "${SECRET}"},
		{"stripe.subscription_grace", cfg.Stripe.SubscriptionGrace.String(), "1h30m0s"},
		{"authforge.public_keys", strings.Join(cfg.AuthForge.PublicKeys, ","), "k1,lit,k2-k1"},
		{"discord.admin_role_ids", strings.Join(cfg.Discord.AdminRoleIDs, ","), "42"},
		{"products[0].price_id", cfg.Products[0].PriceID, "price_9"},
		{"products[0].discord_role_ids", strings.Join(cfg.Products[0].DiscordRoleIDs, ","), "42"},
		{"gated_commands[0].reply", cfg.GatedCommands[0].Reply, "costs $5, see shop.example.com"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.key, c.got, c.want)
		}
	}
}

func TestLoadNilEnvUsesProcessEnvironment(t *testing.T) {
	t.Setenv("SHOPBOT_TEST_LOAD_VAR", "from-env")
	cfg, err := Load(writeConfig(t, "[store]\npath = \"${SHOPBOT_TEST_LOAD_VAR}\"\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Path != "from-env" {
		t.Errorf("store.path = %q", cfg.Store.Path)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		env  map[string]string
		want []string // substrings of the error, each required
	}{
		{
			name: "unset variable",
			text: "[stripe]\nsecret_key = \"${STRIPE_SECRET_KEY}\"\n",
			want: []string{"stripe.secret_key: environment variable STRIPE_SECRET_KEY is not set"},
		},
		{
			name: "unset variable in array",
			text: "[authforge]\npublic_keys = [\"${A}\", \"${B}\"]\n",
			env:  map[string]string{"A": "x"},
			want: []string{"authforge.public_keys[1]: environment variable B is not set"},
		},
		{
			name: "unset variable in array of tables",
			text: "[[products]]\nid = \"a\"\n[[products]]\nid = \"b\"\nprice_id = \"${PRICE_B}\"\n",
			want: []string{"products[1].price_id: environment variable PRICE_B"},
		},
		{
			name: "unset variable in duration",
			text: "[limits]\nactivation_window = \"${WIN}\"\n",
			want: []string{"limits.activation_window: environment variable WIN"},
		},
		{
			name: "every unset variable is reported",
			text: "[stripe]\nsecret_key = \"${X1}\"\nwebhook_secret = \"${X2}\"\n",
			want: []string{"stripe.secret_key: environment variable X1", "stripe.webhook_secret: environment variable X2"},
		},
		{
			name: "unknown top-level table",
			text: "[serverr]\nlisten = \":1\"\n",
			want: []string{`serverr: unknown key (did you mean "server"?)`},
		},
		{
			name: "unknown keys, all named",
			text: "[server]\nlisen = \":1\"\n[telegram]\nadmin = [1]\n[[products]]\nid = \"a\"\nprise_id = \"p\"\n",
			want: []string{
				`server.lisen: unknown key (did you mean "listen"?)`,
				`telegram.admin: unknown key (did you mean "admins"?)`,
				`products[0].prise_id: unknown key (did you mean "price_id"?)`,
			},
		},
		{
			name: "key in wrong case is unknown",
			text: "[server]\nListen = \":1\"\n",
			want: []string{`server.Listen: unknown key (did you mean "listen"?)`},
		},
		{
			name: "unknown quoted key",
			text: "[server]\n\"a.b\" = 1\n",
			want: []string{`server."a.b": unknown key`},
		},
		{
			name: "syntax error has line and column",
			text: "[server]\nlisten = \":8080\"\nmax_body_bytes = = 3\n",
			want: []string{"line 3, column"},
		},
		{
			name: "duplicate key is a syntax error",
			text: "[server]\nlisten = \"a\"\nlisten = \"b\"\n",
			want: []string{"line 3"},
		},
		{
			name: "wrong type",
			text: "[server]\nmax_body_bytes = \"big\"\n",
			want: []string{`server.max_body_bytes: expected an integer, found the string "big"`},
		},
		{
			name: "wrong type in array",
			text: "[telegram]\nadmins = [1, \"2\"]\n",
			want: []string{"telegram.admins[1]: expected an integer"},
		},
		{
			name: "table instead of array of tables",
			text: "[products]\nid = \"a\"\n",
			want: []string{"products: expected an array of tables ([[products]])"},
		},
		{
			name: "bad duration",
			text: "[stripe]\nsubscription_grace = \"3 days\"\n",
			want: []string{`stripe.subscription_grace: "3 days" is not a duration`},
		},
		{
			name: "boolean expected",
			text: "[stripe]\nrevoke_on_refund = \"yes\"\n",
			want: []string{"stripe.revoke_on_refund: expected true or false"},
		},
		{
			name: "scalar instead of table",
			text: "server = 1\n",
			want: []string{"server: expected a table"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.text, tt.env)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	_, err := Load(path, mapEnv(nil))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want ErrNotExist", err)
	}
	// The fix, ready to paste.
	if want := "cp config.example.toml " + path; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to say %q", err, want)
	}
}

func TestLoadErrorsAreProblems(t *testing.T) {
	_, err := loadString(t, "[server]\nlisen = 1\nlisten = \"${NOPE}\"\n", nil)
	var p *Problem
	if !errors.As(err, &p) || p.Key == "" {
		t.Fatalf("err %v is not a *Problem with a key", err)
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != 2 {
		t.Errorf("%d problems, want 2: %v", n, err)
	}
}

func FuzzLoad(f *testing.F) {
	if b, err := os.ReadFile(examplePath); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{
		"",
		"[server]\nlisten = \"${SET}\"\n",
		"[[products]]\nid = \"${UNSET}\"\n",
		"[authforge]\npublic_keys = [\"${SET}\", 1]\n",
		"x = [{a = 1}, {b = 2}]\n",
		"[[products]]\n[[products]]\nmax_hwid_slots = 99\n",
		"server = []\n",
		"[limits]\nactivation_window = 5\n",
		"a = 1979-05-27T07:32:00Z\n",
		"[stripe]\nsecret_key = \"$${${}}\"\n",
	} {
		f.Add(s)
	}
	env := func(name string) (string, bool) {
		if strings.HasPrefix(name, "SET") {
			return "v${SET}", true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := Load(writeConfig(t, text), env)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		for _, p := range cfg.Products {
			if p.MaxHWIDSlots == 0 {
				t.Fatal("normalize left max_hwid_slots at 0")
			}
		}
		if err := cfg.Validate(); err != nil {
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var p *Problem
				if !errors.As(e, &p) || p.Key == "" || p.Message == "" {
					t.Fatalf("validation error %q has no key path", e)
				}
			}
		}
		_, _ = cfg.AuthForgePublicKeys()
		_, _ = cfg.StoreKey()
	})
}
