package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/checkout"
)

// TestRunCommandLine covers what a seller types that needs no service.
func TestRunCommandLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte(`
[server]
listn = ":8080"

[[products]]
id = "Pro!"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	unset := filepath.Join(dir, "unset.toml")
	if err := os.WriteFile(unset, []byte("[stripe]\nsecret_key = \"${NOT_SET_ANYWHERE}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"no arguments", nil, 2, nil, []string{"Usage:"}},
		{"version", []string{"version"}, 0, []string{"shopbot "}, nil},
		{"help", []string{"help"}, 0, []string{"shopbot run", "shopbot check"}, nil},
		{"unknown command", []string{"sell"}, 2, nil, []string{`unknown command "sell"`}},
		{"missing config", []string{"check", "-config", filepath.Join(dir, "none.toml")}, 1, nil, []string{"none.toml"}},
		{"unknown key named", []string{"check", "-config", bad}, 1, nil, []string{"server.listn: unknown key"}},
		{"unset variable named", []string{"check", "-config", unset}, 1, nil, []string{"stripe.secret_key", "NOT_SET_ANYWHERE"}},
		{"bad flag", []string{"run", "-bogus"}, 2, nil, []string{"-bogus"}},
		{"setup without platform", []string{"setup"}, 2, nil, []string{"stripe|telegram|discord"}},
		{"setup unknown platform", []string{"setup", "slack", "-config", bad}, 1, nil, nil},
		{"backup without -o", []string{"backup"}, 2, nil, []string{"-o FILE is required"}},
		{"restore without file", []string{"restore"}, 2, nil, []string{"give the snapshot file"}},
		{"rebuild extra argument", []string{"rebuild", "now"}, 2, nil, []string{`unexpected argument "now"`}},
		{"help lists recovery", []string{"help"}, 0, []string{"shopbot backup", "shopbot restore", "shopbot rebuild"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			env := func(string) (string, bool) { return "", false }
			code := run(context.Background(), c.args, env, &out, &errOut)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, c.code, &out, &errOut)
			}
			for _, want := range c.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &out)
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &errOut)
				}
			}
		})
	}
}

// TestCheckOnline runs `check --online` against the fakes. stripe-mock's
// price fixture is always recurring, so the subscription product passes and
// the one-time product is reported as the catalog mistake it would be.
func TestCheckOnline(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.extra = "\n[[products]]\nid = \"pro-monthly\"\nname = \"Pro monthly\"\nprice_id = \"price_monthly\"\nmode = \"subscription\"\n"
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), []string{"check", "-config", path, "--online"}, env, &out, &errOut, hooks{})
	if code != 1 {
		t.Fatalf("check --online exit %d, want 1\n%s\n%s", code, &out, &errOut)
	}
	for _, want := range []string{
		"config " + path + ": ok",
		"ok   stripe price price_monthly",
		"FAIL stripe price price_pro of product pro: product mode is payment but the Stripe price is recurring",
		"ok   authforge", "ok   telegram getMe", "ok   discord",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, &out)
		}
	}

	// A bot role above the product role is reported before anyone buys.
	out.Reset()
	w.dc.SetRole(discordtest.Role{ID: testRoleID, Name: "Pro", Position: 50})
	code = runWith(context.Background(), []string{"check", "-config", path, "--online"}, env, &out, &errOut, hooks{})
	if !strings.Contains(out.String(), "FAIL discord") {
		t.Fatalf("check --online with a misordered role: exit %d\n%s", code, &out)
	}
}

// TestSetupStripe creates the webhook endpoint against stripe-mock before
// the signing secret exists, pinned to the API version shopbot reads and
// with exactly the events it handles.
func TestSetupStripe(t *testing.T) {
	w := newWorld(t)
	w.env["STRIPE_WEBHOOK_SECRET"] = ""
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	var out, errOut bytes.Buffer
	if code := runWith(context.Background(), []string{"setup", "stripe", "-config", path}, env, &out, &errOut, hooks{}); code != 0 {
		t.Fatalf("setup stripe exit %d\n%s\n%s", code, &out, &errOut)
	}
	if !strings.Contains(out.String(), "Signing secret") {
		t.Fatalf("output lacks the signing secret:\n%s", &out)
	}
	reqs := w.stripe.Requests("/v1/webhook_endpoints")
	var created url.Values
	for _, r := range reqs {
		if r.Method == "POST" {
			created = r.Form
		}
	}
	if created == nil {
		t.Fatalf("no endpoint created; requests: %+v", reqs)
	}
	if got := created.Get("url"); got != "https://shop.example.com/webhooks/stripe" {
		t.Errorf("endpoint url = %q", got)
	}
	if got := created.Get("api_version"); got != "2023-10-16" {
		t.Errorf("api_version = %q", got)
	}
	var events []string
	for i := 0; created.Has(fmt.Sprintf("enabled_events[%d]", i)); i++ {
		events = append(events, created.Get(fmt.Sprintf("enabled_events[%d]", i)))
	}
	if !slices.Equal(events, checkout.EventTypes()) {
		t.Errorf("enabled_events = %v, want %v", events, checkout.EventTypes())
	}
}

// TestSecondInstanceRefused: a second shopbot on the same store stops with
// a message that says why, instead of waiting or corrupting anything.
func TestSecondInstanceRefused(t *testing.T) {
	w := newWorld(t)
	w.start()
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), []string{"run", "-config", filepath.Join(w.dir, "config.toml")}, env, &out, &errOut, hooks{})
	if code != 1 || !strings.Contains(errOut.String(), "another shopbot process") {
		t.Fatalf("second instance: exit %d\n%s", code, &errOut)
	}
}

// TestStartRetriesUnreachableChatAPI: Telegram failing at start-up (an
// outage during a restart) delays the shop instead of stopping it.
func TestStartRetriesUnreachableChatAPI(t *testing.T) {
	w := newWorld(t)
	w.tg.FailNext("getMe", http.StatusBadGateway, "Bad Gateway", 0)
	w.tg.FailNext("getMe", http.StatusBadGateway, "Bad Gateway", 0)
	w.start()
	if got := strings.Count(w.logs.String(), "chat API unreachable at start; retrying"); got != 2 {
		t.Fatalf("%d start-up retries logged, want 2:\n%s", got, w.logs)
	}
	if r := w.say(w.buyer, "/help"); r.Text == "" {
		t.Fatal("no answer after a delayed start")
	}
}

// TestRefusedTokenStopsAtOnce: a wrong token is a config mistake; shopbot
// says which key to fix and does not retry.
func TestRefusedTokenStopsAtOnce(t *testing.T) {
	for _, platform := range []string{"telegram", "discord"} {
		t.Run(platform, func(t *testing.T) {
			w := newWorld(t)
			key := "TELEGRAM_TOKEN"
			if platform == "discord" {
				w.withDiscord("http")
				key = "DISCORD_TOKEN"
			}
			w.env[key] = "123456:wrong"
			path := filepath.Join(w.dir, "config.toml")
			if err := os.WriteFile(path, []byte(w.config()), 0o600); err != nil {
				t.Fatal(err)
			}
			env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
			var out, errOut bytes.Buffer
			code := runWith(context.Background(), []string{"run", "-config", path}, env, &out, &errOut, hooks{})
			if code != 1 || !strings.Contains(errOut.String(), platform+".token") || strings.Contains(errOut.String(), "retrying") {
				t.Fatalf("exit %d:\n%s", code, &errOut)
			}
		})
	}
}
