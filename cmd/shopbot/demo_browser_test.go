package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// findChrome is the browser to drive: $CHROME_PATH, else the usual names.
func findChrome() string {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser drives one headless Chromium tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	chrome := findChrome()
	if chrome == "" {
		msg := "no Chromium found (/usr/bin/chromium, chromium-browser, google-chrome or $CHROME_PATH); install it with: apt-get install -y chromium"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	// The first Do starts the browser and binds its life to browserCtx;
	// the test's actions run on a context with a deadline derived from it.
	startErr := chromedp.Do(browserCtx)
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 4*time.Minute)
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		if t.Failed() && startErr == nil {
			b.screenshot(filepath.Join(t.ArtifactDir(), "failure.png"))
		}
		cancelTimeout()
		cancelBrowser()
		cancelAlloc()
	})
	if startErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("start %s: %v", chrome, startErr)
		}
		t.Skipf("cannot start %s: %v", chrome, startErr)
	}
	return b
}

// run runs steps; a failure ends the test (and Cleanup saves a
// screenshot).
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves the visible page as PNG at path.
func (b *browser) screenshot(path string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot saved: %s", path)
}

// wait polls the JavaScript expression until it is truthy and returns
// its value.
func wait[T any](b *browser, what, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Poll[T](expr, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

// waitTrue waits until expr is true.
func (b *browser) waitTrue(what, expr string) {
	b.t.Helper()
	wait[bool](b, what, expr)
}

// say types text into a chat's composer and sends it.
func (b *browser) say(chat, text string) {
	b.t.Helper()
	b.run(chat+": "+text,
		chromedp.Clear(chromedp.CSS("#"+chat+"-input")),
		chromedp.SendKeys(chromedp.CSS("#"+chat+"-input"), text),
		chromedp.Click(chromedp.CSS("#"+chat+"-send")),
	)
}

// JavaScript helpers the waits use: the last Telegram bot message's text
// once the chat holds more than n messages, and the text of the reply to
// the Discord entry number n (1-based) once the bot answered.
const (
	jsTGCount = `document.querySelectorAll('#tg-messages .tg-msg').length`
	jsTGAfter = `(n => { const m = document.querySelectorAll('#tg-messages .tg-msg'); if (m.length <= n) return false;
		const bot = document.querySelectorAll('#tg-messages .tg-msg:not(.me) .bubble'); return bot.length ? bot[bot.length-1].innerText : false; })(%d)`
	jsDCCount = `document.querySelectorAll('#dc-messages .dc-entry[data-interaction]').length`
	jsDCReply = `(n => { const e = document.querySelectorAll('#dc-messages .dc-entry[data-interaction]')[n-1];
		const c = e && e.querySelector('.content'); return c ? c.innerText + (e.querySelector('.eph') ? ' [ephemeral]' : '') : false; })(%d)`
	jsKey = `(() => { for (const c of document.querySelectorAll('#tg-messages .tg-msg:not(.me) code'))
		if (/^[A-Z0-9]{4,}(-[A-Z0-9]{4,}){2,}$/.test(c.textContent)) return c.textContent; return false; })()`
)

// tgSay sends text in Telegram and returns the bot's reply.
func (b *browser) tgSay(text string) string {
	b.t.Helper()
	n := eval[int](b, jsTGCount)
	b.say("tg", text)
	return wait[string](b, "Telegram reply to "+text, fmt.Sprintf(jsTGAfter, n+1))
}

// dcSay runs a slash command in Discord and returns the bot's reply.
func (b *browser) dcSay(text string) string {
	b.t.Helper()
	n := eval[int](b, jsDCCount)
	b.say("dc", text)
	return wait[string](b, "Discord reply to "+text, fmt.Sprintf(jsDCReply, n+1))
}

// TestDemoBrowser drives the demo page in headless Chromium through the
// whole story: buy in Telegram, pay on the checkout page, key delivered,
// activate, gated command answered, the same key activated in Discord and
// its role granted, admin revoke, gated command refused in both chats,
// role gone.
func TestDemoBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := newBrowser(t)
	d := startDemo(t)

	b.run("open the page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(d.url), chromedp.WaitVisible(chromedp.CSS("#tg-input")))
	b.waitTrue("the Discord bot", `document.querySelector('#dc-who').textContent.startsWith('you are')`)

	// Buy in Telegram: the catalog, a product button, the checkout link.
	if r := b.tgSay("/buy"); !strings.Contains(r, "Pro") {
		t.Fatalf("/buy reply = %q", r)
	}
	b.run("tap Pro", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn[data-data="buy:pro"]`)))
	b.waitTrue("checkout link", `document.querySelector('#tg-messages .tg-btn.link') !== null`)
	b.run("open checkout", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn.link`)), chromedp.WaitVisible(chromedp.CSS("#pay")))

	// A declined card sends nothing; then the payment goes through.
	b.run("declined card", chromedp.Click(chromedp.CSS("#decline")), chromedp.WaitVisible(chromedp.CSS("#note")))
	note, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#note")))
	if err != nil {
		t.Fatalf("read note: %v", err)
	}
	if !strings.Contains(note, "declined") {
		t.Errorf("after a declined card the page says %q", note)
	}
	b.run("pay", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#paid")))
	b.run("return to the shop", chromedp.Click(chromedp.CSS("#return")), chromedp.WaitVisible(chromedp.CSS("#back")),
		chromedp.Click(chromedp.CSS("#back")), chromedp.WaitVisible(chromedp.CSS("#tg-input")))

	// The key arrives in the chat; one tap activates it.
	key := wait[string](b, "license key in Telegram", jsKey)
	b.waitTrue("webhook event done", `document.querySelector('#events').innerText.includes('checkout.session.completed')`)
	n := eval[int](b, jsTGCount)
	b.run("tap Activate", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn[data-data^="act:"]`)))
	r := wait[string](b, "activation reply", fmt.Sprintf(jsTGAfter, n))
	if !strings.Contains(r, "Activated") {
		t.Fatalf("Activate reply = %q", r)
	}
	if r := b.tgSay("/premium"); !strings.Contains(r, demoGatedReply) {
		t.Fatalf("/premium after activation = %q", r)
	}

	// The same key in Discord takes the second slot and grants the role.
	if r := b.dcSay("/activate " + key); !strings.Contains(r, "Activated") || !strings.Contains(r, "[ephemeral]") {
		t.Fatalf("Discord /activate reply = %q", r)
	}
	b.waitTrue("Pro role", `document.querySelector('#roles-buyer').innerText.includes('@Pro')`)
	if r := b.dcSay("/premium"); !strings.Contains(r, demoGatedReply) {
		t.Fatalf("Discord /premium after activation = %q", r)
	}
	b.waitTrue("both slots used", `document.querySelectorAll('#licenses .slot.used').length === 2`)
	if path := os.Getenv("SHOPBOT_SCREENSHOT"); path != "" {
		b.screenshot(path)
	}

	// The admin revokes the key from their own Telegram chat.
	b.run("act as admin", chromedp.Click(chromedp.CSS("#persona-admin")))
	b.waitTrue("admin chat", `document.querySelector('#tg-who').textContent.includes('tg:9001')`)
	if r := b.tgSay("/revoke " + key); !strings.Contains(strings.ToLower(r), "revoked") {
		t.Fatalf("/revoke reply = %q", r)
	}

	// The buyer has lost access everywhere.
	b.run("act as buyer", chromedp.Click(chromedp.CSS("#persona-buyer")))
	b.waitTrue("buyer chat", `document.querySelector('#tg-who').textContent.includes('tg:5001')`)
	if r := b.tgSay("/premium"); strings.Contains(r, demoGatedReply) {
		t.Fatalf("Telegram /premium answered after revoke: %q", r)
	}
	if r := b.dcSay("/premium"); strings.Contains(r, demoGatedReply) {
		t.Fatalf("Discord /premium answered after revoke: %q", r)
	}
	b.waitTrue("Pro role removed", `!document.querySelector('#roles-buyer').innerText.includes('@Pro')`)
	b.waitTrue("license revoked in AuthForge", `document.querySelector('#licenses .license .pill').textContent === 'revoked'`)

	// The demo clock skips ahead from the panel.
	b.waitTrue("clock shown", `document.querySelector('#clock-ahead').textContent.includes('real time')`)
	b.run("skip 31 days", chromedp.Click(chromedp.CSS("#advance-31")))
	b.waitTrue("clock ahead", `document.querySelector('#clock-ahead').textContent.includes('31 day')`)
	b.waitTrue("AuthForge calls shown", `/\d+ validation/.test(document.querySelector('#auth-calls').textContent)`)
	t.Logf("story done with key %s…", key[:4])
}
