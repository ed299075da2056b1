package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/internal/testlog"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

const (
	testWebhookSecret = "whsec_e2e_test_secret"
	testAdminID       = 9001
	testGatedReply    = "Premium content: https://example.com/secret"
	testAPIToken      = "e2e-entitlements-token-0123456789"
)

// shared fakes are expensive to start (stripe-mock parses Stripe's whole
// OpenAPI spec), so each test gets its own AuthForge and Telegram fake but
// one stripe-mock per package run.
var stripeMock = sync.OnceValue(stripetest.NewMock)

// world is one shop under test: the real run wiring against fakes of every
// outside service, with its store in a temp dir that survives restarts.
type world struct {
	t      *testing.T
	dir    string
	af     *authforgetest.Server
	tg     *telegramtest.Server
	dc     *discordtest.Server // nil: Discord not configured
	dcMode string
	stripe *stripetest.Mock
	env    map[string]string
	extra  string // appended to the config
	// limits are the lines of the [limits] table. Unless a test sets
	// them, budgets are too large to reach: most tests send commands
	// faster than any person would.
	limits string
	// paced runs the chat adapters at Telegram's real pace (crowd tests);
	// other tests send unpaced.
	paced bool
	// stripeExtra, telegramExtra and storeExtra are added to their tables.
	storeExtra    string
	stripeExtra   string
	telegramExtra string
	// noStripe leaves the Stripe keys out of the config (a shop selling
	// only for Telegram Stars).
	noStripe bool
	// productExtra is added to the "pro" product's table.
	productExtra string
	// authforgeExtra is added to the [authforge] table.
	authforgeExtra string
	addr           string
	stop           context.CancelFunc
	done           chan int
	logs           *testlog.Buffer
	buyer          telegramtest.User
	admin          telegramtest.User
	lastMsg        map[int64]int
	// storeOpened, when set, is given the shop's store at each start.
	storeOpened func(*store.DB)
	// shift moves the core's clock ahead of real time (nanoseconds), for
	// tests of what happens weeks later.
	shift atomic.Int64
	// dashClock, when set, is the dashboard's clock.
	dashClock func() time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{
		t:       t,
		dir:     t.TempDir(),
		af:      authforgetest.New(authforgetest.Options{}),
		tg:      telegramtest.New(telegramtest.Options{}),
		stripe:  stripeMock(),
		buyer:   telegramtest.User{ID: 5001, FirstName: "Bea"},
		admin:   telegramtest.User{ID: testAdminID, FirstName: "Ada"},
		lastMsg: map[int64]int{},
		limits:  "command_burst = 1000\ncommands_per_minute = 6000\ncommands_in_flight = 100\n",
	}
	t.Cleanup(w.af.Close)
	t.Cleanup(w.tg.Close)
	w.env = map[string]string{
		"STRIPE_SECRET_KEY":     "sk_test_e2e",
		"STRIPE_WEBHOOK_SECRET": testWebhookSecret,
		"AUTHFORGE_APP_SECRET":  authforgetest.DefaultAppSecret,
		"AUTHFORGE_API_KEY":     authforgetest.DefaultAPIKey,
		"TELEGRAM_TOKEN":        w.tg.Token(),
	}
	return w
}

// config is the seller's config.toml pointing every service at its fake.
func (w *world) config() string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
public_url = "https://shop.example.com"
api_token = %q

[store]
path = %q
%s
%s
[authforge]
app_id = %q
app_secret = "${AUTHFORGE_APP_SECRET}"
api_key = "${AUTHFORGE_API_KEY}"
public_keys = [%q]
auth_url = %q
api_url = %q
%s

[telegram]
token = "${TELEGRAM_TOKEN}"
api_url = %q
admins = [%d]
%s
%s
[[products]]
id = "pro"
name = "Pro"
price_id = "price_pro"
mode = "payment"
duration = "720h"
max_hwid_slots = 2
%s

[[gated_commands]]
command = "premium"
products = ["pro"]
reply = %q

[limits]
%s%s`, testAPIToken, filepath.Join(w.dir, "shop.db"), w.storeExtra, w.stripeConfig(), authforgetest.DefaultAppID,
		w.af.PublicKeyBase64(), w.af.URL(), w.af.URL(), w.authforgeExtra, w.tg.URL(), testAdminID, w.telegramExtra, w.discordConfig(), w.discordRoles()+w.productExtra, testGatedReply, w.limits, w.extra)
}

// stripeConfig is the [stripe] table: the keys and stripe-mock, or with
// noStripe only stripeExtra.
func (w *world) stripeConfig() string {
	if w.noStripe {
		if w.stripeExtra == "" {
			return ""
		}
		return "[stripe]\n" + w.stripeExtra + "\n"
	}
	return fmt.Sprintf(`[stripe]
secret_key = "${STRIPE_SECRET_KEY}"
webhook_secret = "${STRIPE_WEBHOOK_SECRET}"
api_url = %q
%s
`, w.stripe.URL, w.stripeExtra)
}

// Discord test fixtures: the product's role and the admin.
const (
	testRoleID         = "300000000000000777"
	testDiscordAdminID = "400000000000000009"
)

var (
	discordBuyer = discordtest.User{ID: "400000000000000042", Username: "bea"}
	discordAdmin = discordtest.User{ID: testDiscordAdminID, Username: "ada"}
)

// withDiscord adds a Discord fake and its [discord] section in mode.
func (w *world) withDiscord(mode string) {
	w.dc = discordtest.New(discordtest.Options{})
	w.dcMode = mode
	w.t.Cleanup(w.dc.Close)
	w.dc.SetRole(discordtest.Role{ID: testRoleID, Name: "Pro", Position: 1})
	w.dc.AddMember(discordBuyer.ID)
	w.dc.AddMember(discordAdmin.ID)
	w.env["DISCORD_TOKEN"] = w.dc.BotToken()
}

func (w *world) discordConfig() string {
	if w.dc == nil {
		return ""
	}
	return fmt.Sprintf(`
[discord]
token = "${DISCORD_TOKEN}"
application_id = %q
public_key = %q
guild_id = %q
api_url = %q
interactions = %q
admin_user_ids = [%q]
`, w.dc.ApplicationID(), hex.EncodeToString(w.dc.PublicKey()), w.dc.GuildID(), w.dc.URL(), w.dcMode, testDiscordAdminID)
}

func (w *world) discordRoles() string {
	if w.dc == nil {
		return ""
	}
	return fmt.Sprintf("discord_role_ids = [%q]\n", testRoleID)
}

// slash runs a slash command as u, through the gateway or the shop's
// interactions endpoint, and returns the reply the user sees.
func (w *world) slash(u discordtest.User, name string, opts ...discordtest.Option) discordtest.Reply {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := w.dc.SlashCommand(u, name, opts...)
	if w.dcMode == "http" {
		code, err := w.dc.PostInteraction(ctx, "http://"+w.addr+"/discord/interactions", in)
		if err != nil || code != http.StatusOK {
			w.t.Fatalf("POST interaction /%s: %d %v\n%s", name, code, err, w.logs)
		}
	} else if err := w.dc.DispatchInteraction(in); err != nil {
		w.t.Fatalf("dispatch /%s: %v", name, err)
	}
	r, err := w.dc.WaitReply(ctx, in)
	if err != nil {
		w.t.Fatalf("reply to /%s: %v\n%s", name, err, w.logs)
	}
	return r
}

// start runs `shopbot run` through runWith, as main does, and waits until
// it listens.
func (w *world) start() {
	w.t.Helper()
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(w.config()), 0o600); err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	w.stop, w.done, w.logs = cancel, make(chan int, 1), &testlog.Buffer{}
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	h := hooks{
		listening:   func(addr string) { listening <- addr },
		unpaced:     !w.paced,
		retryBase:   50 * time.Millisecond,
		storeOpened: w.storeOpened,
		now:         func() time.Time { return time.Now().Add(time.Duration(w.shift.Load())) },
		dashClock:   w.dashClock,
	}
	go func() {
		w.done <- runWith(ctx, []string{"run", "-config", path}, env, w.logs, w.logs, h)
	}()
	select {
	case w.addr = <-listening:
	case code := <-w.done:
		w.t.Fatalf("shopbot exited with %d before listening:\n%s", code, w.logs)
	case <-time.After(20 * time.Second):
		w.t.Fatalf("shopbot did not start:\n%s", w.logs)
	}
	w.t.Cleanup(func() { w.shutdown() })
	if w.dc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		ready := func() bool { return len(w.dc.Commands()) > 0 && (w.dcMode == "http" || w.dc.Connected()) }
		if err := w.dc.WaitFor(ctx, ready); err != nil {
			w.t.Fatalf("Discord adapter never became ready: %v\n%s", err, w.logs)
		}
	}
}

// shutdown stops the shop as SIGINT would and checks it exits cleanly.
func (w *world) shutdown() {
	if w.stop == nil {
		return
	}
	w.stop()
	w.stop = nil
	select {
	case code := <-w.done:
		if testing.Verbose() {
			w.t.Logf("shop logs:\n%s", w.logs)
		}
		if code != 0 {
			w.t.Errorf("shopbot exited with %d:\n%s", code, w.logs)
		}
	case <-time.After(30 * time.Second):
		w.t.Fatalf("shopbot did not stop:\n%s", w.logs)
	}
}

// say sends text as from in their private chat and returns the bot's
// first reply.
func (w *world) say(from telegramtest.User, text string) telegramtest.SentMessage {
	w.t.Helper()
	after := w.tg.SendText(from, from.ID, text)
	return w.wait(from.ID, after, nil, "reply to "+text)
}

// wait returns the first bot message in chat after message id after that
// matches.
func (w *world) wait(chat int64, after int, match func(telegramtest.SentMessage) bool, what string) telegramtest.SentMessage {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := w.tg.WaitMessage(ctx, chat, after, match)
	if err != nil {
		w.t.Fatalf("waiting for %s: %v\nlogs:\n%s", what, err, w.logs)
	}
	return m
}

// postEvent delivers a signed Stripe event to the shop's webhook and fails
// the test unless the shop answers 200 (stored, or seen before).
func (w *world) postEvent(payload []byte) {
	w.t.Helper()
	if code := w.post(payload, stripetest.SignEvent(testWebhookSecret, payload, time.Now())); code != http.StatusOK {
		w.t.Fatalf("webhook status %d, want 200\n%s", code, w.logs)
	}
}

func (w *world) post(payload []byte, signature string) int {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+w.addr+"/webhooks/stripe", bytes.NewReader(payload))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("POST /webhooks/stripe: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// keyMessages are the bot's messages to chat that carry a license key.
func (w *world) keyMessages(chat int64) []telegramtest.SentMessage {
	var out []telegramtest.SentMessage
	for _, m := range w.tg.BotMessages(chat) {
		if len(m.Code()) > 0 && strings.Contains(m.Text, "key") {
			out = append(out, m)
		}
	}
	return out
}

type healthz struct {
	Status  string `json:"status"`
	Pending int    `json:"pending_events"`
	Failed  int    `json:"failed_events"`
}

// health reads GET /healthz.
func (w *world) health() healthz {
	w.t.Helper()
	resp, err := http.Get("http://" + w.addr + "/healthz")
	if err != nil {
		w.t.Fatalf("GET /healthz: %v", err)
	}
	defer resp.Body.Close()
	var h healthz
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		w.t.Fatalf("GET /healthz: %v", err)
	}
	if resp.StatusCode != http.StatusOK || h.Status != "ok" {
		w.t.Fatalf("GET /healthz: %d %+v", resp.StatusCode, h)
	}
	return h
}

// getAuthorized GETs path on the shop with a bearer token and returns the
// status and body.
func (w *world) getAuthorized(path, token string) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+w.addr+path, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// storedOrder stops the shop and reads order id from its store file.
func (w *world) storedOrder(id string) store.Order {
	w.t.Helper()
	var o store.Order
	w.readStore(func(ctx context.Context, db *store.DB) (err error) {
		o, err = db.GetOrder(ctx, id)
		return err
	})
	return o
}

// storedEvent stops the shop and reads event id from its store file.
func (w *world) storedEvent(id string) store.Event {
	w.t.Helper()
	var ev store.Event
	w.readStore(func(ctx context.Context, db *store.DB) (err error) {
		ev, err = db.GetEvent(ctx, id)
		return err
	})
	return ev
}

// readStore stops the shop and runs read on its store file.
func (w *world) readStore(read func(context.Context, *store.DB) error) {
	w.t.Helper()
	w.shutdown()
	ctx := ctxTimeout(w.t, 10*time.Second)
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(w.dir, "shop.db")})
	if err != nil {
		w.t.Fatalf("open the stopped shop's store: %v", err)
	}
	defer db.Close()
	if err := read(ctx, db); err != nil {
		w.t.Fatalf("read the stopped shop's store: %v", err)
	}
}
