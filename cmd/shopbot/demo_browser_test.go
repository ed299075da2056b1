package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
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

// jsLastButtonSeen is "ok" when the last button of the Telegram chat is
// wholly inside the chat's visible pane and the window, and nothing (the
// command chips, say) covers it; else what is wrong. It measures after two
// frames, once the page is laid out.
const jsLastButtonSeen = `new Promise(ok => requestAnimationFrame(() => requestAnimationFrame(() => {
	const all = document.querySelectorAll('#tg-messages .tg-btn'), b = all[all.length - 1];
	if (!b) return ok('no button in the Telegram chat');
	const r = b.getBoundingClientRect(), m = document.querySelector('#tg-messages').getBoundingClientRect();
	const box = 'button ' + Math.round(r.top) + '..' + Math.round(r.bottom) + ', chat pane ' + Math.round(m.top) + '..' + Math.round(m.bottom) + ', window ' + innerHeight;
	if (r.top < m.top - 0.5 || r.bottom > m.bottom + 0.5) return ok('cut off by the chat pane: ' + box);
	if (r.top < 0 || r.bottom > innerHeight) return ok('outside the window: ' + box);
	for (const y of [r.top + 2, r.top + r.height / 2, r.bottom - 2]) {
		const el = document.elementFromPoint(r.left + r.width / 2, y);
		if (!(el === b || b.contains(el))) return ok('covered at y=' + Math.round(y) + ' by ' + (el ? el.outerHTML.slice(0, 80) : 'nothing') + ': ' + box);
	}
	ok('ok');
})))`

// lastButtonSeen fails the test unless the Telegram chat's last button is
// fully visible at width x height, on a freshly loaded page (the chats
// scroll to their end while the page fills in).
func (b *browser) lastButtonSeen(url string, width, height int64) {
	b.t.Helper()
	b.run(fmt.Sprintf("load the page at %dx%d", width, height), chromedp.EmulateViewport(width, height), chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#tg-messages .tg-btn")), chromedp.WaitVisible(chromedp.CSS("#tg-chips button")))
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](jsLastButtonSeen, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("measure the last button: %v", err)
	}
	if v != "ok" {
		b.screenshot(filepath.Join(b.t.ArtifactDir(), fmt.Sprintf("last-button-%dx%d.png", width, height)))
		b.t.Fatalf("at %dx%d the last button of the Telegram chat is not fully visible: %s", width, height, v)
	}
}

// jsTimes lists the date-like strings in the elements matching a CSS
// selector, as the page spells them.
const jsTimes = `[...document.querySelectorAll(%q)].map(e => e.innerText).join('\n')
	.match(/\d{4}-\d{2}-\d{2}|\d{1,2}\/\d{1,2}\/\d{2,4}|[A-Z][a-z]{2},? [A-Z][a-z]{2} \d{1,2},? \d{4}|[A-Z][a-z]{2} \d{1,2}, \d{4}|\d{1,2} [A-Z][a-z]{2} \d{4}( \d{2}:\d{2} UTC)?/g) || []`

// timeLayout is notify.TimeLayout as a pattern: the one way the page and
// the chats write a date.
var timeLayout = regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} UTC$`)

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
	// With more than a screenful of chat, the last button (the catalog's
	// again) is not hidden behind the command chips, on a phone or a
	// desktop.
	if r := b.tgSay("/help"); !strings.Contains(r, "/activate") {
		t.Fatalf("/help reply = %q", r)
	}
	if r := b.tgSay("/buy"); !strings.Contains(r, "Pro") {
		t.Fatalf("second /buy reply = %q", r)
	}
	if eval[bool](b, `(m => m.scrollHeight <= m.clientHeight)(document.querySelector('#tg-messages'))`) {
		t.Fatal("the Telegram chat does not overflow; the visibility check below would prove nothing")
	}
	b.lastButtonSeen(d.url, 390, 844)
	b.lastButtonSeen(d.url, 1280, 800)
	b.run("tap Pro", chromedp.Click(chromedp.CSS(`#tg-messages .tg-msg:last-child .tg-btn[data-data="buy:pro"]`)))
	b.waitTrue("checkout link", `document.querySelector('#tg-messages .tg-btn.link') !== null`)
	// "Pay for Pro ↗" is a link that opens the checkout in a new tab, so
	// the chats stay where they were.
	if got := eval[string](b, `(a => a.tagName + ' ' + a.target + ' ' + a.rel + ' ' + a.getAttribute('href'))(document.querySelector('#tg-messages .tg-btn.link'))`); !regexp.MustCompile(`^A _blank noopener http://127\.0\.0\.1:\d+/pay/cs_test_\w+$`).MatchString(got) {
		t.Fatalf("checkout button = %q, want a link to /pay/... with target _blank", got)
	}
	newTab := chromedp.WaitNewTarget(b.ctx, func(i *target.Info) bool { return strings.Contains(i.URL, "/pay/") })
	b.run("open checkout", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn.link`)))
	var tabID target.ID
	select {
	case tabID = <-newTab:
	case <-time.After(20 * time.Second):
		t.Fatal("the checkout link opened no new tab")
	}
	tabCtx, closeTab := chromedp.NewContext(b.ctx, chromedp.WithTargetID(tabID))
	pay := &browser{t: t, ctx: tabCtx}
	pay.run("checkout tab", chromedp.WaitVisible(chromedp.CSS("#pay")))

	// A declined card sends nothing; then the payment goes through.
	pay.run("declined card", chromedp.Click(chromedp.CSS("#decline")), chromedp.WaitVisible(chromedp.CSS("#note")))
	note, err := chromedp.Run(pay.ctx, chromedp.Text(chromedp.CSS("#note")))
	if err != nil {
		t.Fatalf("read note: %v", err)
	}
	if !strings.Contains(note, "declined") {
		t.Errorf("after a declined card the page says %q", note)
	}
	pay.run("pay", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#paid")))
	pay.run("return to the shop", chromedp.Click(chromedp.CSS("#return")), chromedp.WaitVisible(chromedp.CSS("#back")))
	closeTab()
	// The first tab was never left: it shows the key as it arrives.
	if u := eval[string](b, `location.href`); u != d.url+"/" {
		t.Fatalf("the chats' tab moved to %s", u)
	}

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
	// Telegram makes links in a message clickable; so does the page.
	b.waitTrue("the premium link is a link", `(a => !!a && a.target === '_blank')(document.querySelector('#tg-messages a[href="https://example.com/premium-guide"]'))`)

	// One date format on the page and in the chats: the purchase message's
	// "runs until" is the panel's "expires", spelled the same way.
	chatTimes := eval[[]string](b, fmt.Sprintf(jsTimes, "#tg-messages .tg-msg:not(.me) .bubble"))
	panelTimes := eval[[]string](b, fmt.Sprintf(jsTimes, ".panel"))
	if len(chatTimes) == 0 || len(panelTimes) < 2 {
		t.Fatalf("dates in the chat %q, in the panel %q; want the license's end in both and the clock", chatTimes, panelTimes)
	}
	for _, tm := range append(chatTimes, panelTimes...) {
		if !timeLayout.MatchString(tm) {
			t.Errorf("date %q is not written as %q", tm, "2 Jan 2006 15:04 UTC")
		}
	}
	if expires := eval[string](b, `(document.querySelector('#licenses .license').innerText.match(/expires (.*UTC)/) || [])[1] || ''`); !slices.Contains(chatTimes, expires) {
		t.Errorf("the panel's license expires %q, the chat says %q", expires, chatTimes)
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
	if h := eval[string](b, `document.querySelector('#licenses .license .holders').innerText`); !strings.Contains(h, "tg:5001") ||
		!strings.Contains(h, demoBuyer().DiscordID) || !strings.HasSuffix(h, "(2 of 2 slots)") {
		t.Errorf("panel holders before revoke = %q", h)
	}
	if path := os.Getenv("SHOPBOT_SCREENSHOT"); path != "" {
		b.screenshot(path)
	}

	// The admin feed pane shows the sale.
	b.waitTrue("sale in the admin feed", `/New sale: Pro, [\d.]+ USD via stripe, buyer tg:5001/.test(document.querySelector('#feed').innerText)`)

	// 28 days on, two days before the license ends, the buyer gets its
	// reminder with a Renew button.
	b.run("skip 28 days", chromedp.Click(chromedp.CSS("#advance-28")))
	b.waitTrue("clock 28 days ahead", `document.querySelector('#clock-ahead').textContent.includes('28 day')`)
	b.waitTrue("reminder with Renew", `[...document.querySelectorAll('#tg-messages .tg-msg')].some(m => m.innerText.includes('runs out on') && m.querySelector('.tg-btn[data-data="buy:pro"]'))`)

	// The admin revokes the key from their own Telegram chat.
	b.run("act as admin", chromedp.Click(chromedp.CSS("#persona-admin")))
	b.waitTrue("admin chat", `document.querySelector('#tg-who').textContent.includes('tg:9001')`)
	if r := b.tgSay("/revoke " + key); !strings.Contains(strings.ToLower(r), "revoked") {
		t.Fatalf("/revoke reply = %q", r)
	}
	// The panel says what /lookup says: AuthForge keeps both HWIDs bound,
	// the shop holds no activation, so nobody holds a slot.
	lookup := b.tgSay("/lookup " + key)
	holders := regexp.MustCompile(`Holders: [^\n]*`).FindString(lookup)
	if holders != "Holders: none (2 of 2 slots)" {
		t.Fatalf("/lookup after revoke = %q", lookup)
	}
	b.waitTrue("panel holders after revoke", fmt.Sprintf(`document.querySelector('#licenses .license .holders').innerText === %q`, holders))
	if used, bound := eval[int](b, `document.querySelectorAll('#licenses .slot.used').length`), eval[int](b, `document.querySelectorAll('#licenses .slot.bound').length`); used != 0 || bound != 2 {
		t.Errorf("after revoke the panel shows %d slot(s) used by a holder and %d only bound in AuthForge; want 0 and 2", used, bound)
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
	b.waitTrue("clock ahead", `document.querySelector('#clock-ahead').textContent.includes('59 day')`)
	b.waitTrue("AuthForge calls shown", `/\d+ validation/.test(document.querySelector('#auth-calls').textContent)`)
	t.Logf("story done with key %s…", key[:4])
}
