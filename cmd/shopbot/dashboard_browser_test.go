package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// TestDashboardBrowser signs in to the dashboard in headless Chromium from
// a /dashboard link obtained in the (fake) Telegram chat, finds a license
// by its key, revokes it, and replays a failed event. With
// SHOPBOT_DASHBOARD_SHOTS=dir it saves dashboard-overview.png and
// dashboard-licenses.png there (docs/ holds the README's copies).
func TestDashboardBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := newBrowser(t)
	w := newWorld(t)
	seedLedger(t, filepath.Join(w.dir, "shop.db"))
	w.start()
	key := w.buyAndDeliver("evt_browser_a", "cs_test_browser_a")
	w.buyAndDeliver("evt_browser_b", "cs_test_browser_b")
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_browser_gold", SessionID: "cs_test_browser_gold", Product: "gold", Identity: "tg:5001"}))
	w.waitUntil("the failed event", func() bool { return w.health().Failed == 1 })
	shots := os.Getenv("SHOPBOT_DASHBOARD_SHOTS")

	// Sign in: the link sets the session and leaves the address bar.
	link := "http://" + w.addr + w.dashLink()
	b.run("open the sign-in link", chromedp.EmulateViewport(1100, 900), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("section.cards")))
	if u := eval[string](b, `location.href`); u != "http://"+w.addr+"/admin/" {
		t.Fatalf("after sign-in the address is %s", u)
	}
	if got := eval[string](b, `document.querySelector('header .who span').textContent`); got != "tg:9001" {
		t.Fatalf("signed in as %q", got)
	}
	// Today's bar is the two sales just made, over the seeded history.
	b.waitTrue("revenue in the overview", `document.querySelectorAll('figure.chart svg rect').length === 60`)
	if tip := eval[string](b, `[...document.querySelectorAll('figure.chart svg rect')][29].textContent`); !strings.HasSuffix(tip, ": 40.00 USD") {
		t.Fatalf("today's revenue bar says %q", tip)
	}
	if shots != "" {
		b.screenshot(filepath.Join(shots, "dashboard-overview.png"))
	}
	// The link was for one use: a second tab without the cookie cannot.
	if got := eval[bool](b, `document.cookie === ''`); !got {
		t.Error("the session cookie is readable from the page (not HttpOnly)")
	}

	// Find the license by its key.
	b.run("search the key", chromedp.Click(chromedp.CSS(`nav a[href="/admin/licenses"]`)), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), strings.ToLower(key)), chromedp.Click(chromedp.CSS("#search")),
		chromedp.WaitVisible(chromedp.CSS("article.license")))
	masked := eval[string](b, `document.querySelector('article.license code.key').textContent`)
	if masked != authforge.MaskKey(key) {
		t.Fatalf("license shown as %q, want %q", masked, authforge.MaskKey(key))
	}
	if eval[bool](b, fmt.Sprintf(`document.documentElement.outerHTML.includes(%q)`, key)) {
		t.Fatal("the licenses page carries the whole key")
	}
	if shots != "" {
		b.screenshot(filepath.Join(shots, "dashboard-licenses.png"))
	}

	// Revoke it.
	b.run("revoke", chromedp.Click(chromedp.CSS("article.license button.revoke")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if msg := eval[string](b, `document.querySelector('#flash').textContent`); !strings.HasPrefix(msg, "Revoked "+masked) {
		t.Fatalf("after revoke the page says %q", msg)
	}
	b.waitTrue("status revoked", `document.querySelector('article.license .status').textContent === 'revoked'`)
	if lic, _ := w.af.License(key); lic.Status != "revoked" {
		t.Fatalf("AuthForge license after the dashboard's revoke: %q", lic.Status)
	}

	// Replay the failed event.
	b.run("failed events", chromedp.Click(chromedp.CSS(`nav a[href="/admin/events"]`)), chromedp.WaitVisible(chromedp.CSS(".filter")),
		chromedp.Click(chromedp.CSS(`.filter a[href="/admin/events?state=failed"]`)), chromedp.WaitVisible(chromedp.CSS("#ev-evt_browser_gold")))
	if got := eval[string](b, `document.querySelector('#ev-evt_browser_gold').innerText`); !strings.Contains(got, "gold") || !strings.Contains(got, "\t1\t") {
		t.Fatalf("failed event row = %q", got)
	}
	b.run("replay", chromedp.Click(chromedp.CSS("#ev-evt_browser_gold button.replay")), chromedp.WaitVisible(chromedp.CSS("#flash")))
	if msg := eval[string](b, `document.querySelector('#flash').textContent`); !strings.HasPrefix(msg, "Replay evt_browser_gold: ") || !strings.Contains(msg, `unknown product "gold"`) {
		t.Fatalf("after replay the page says %q", msg)
	}
	b.run("audit log", chromedp.Click(chromedp.CSS(`nav a[href="/admin/audit"]`)), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	audit := eval[string](b, `document.querySelector('table.audit').innerText`)
	for _, want := range []string{"tg:9001\treplay\tevt_browser_gold", "tg:9001\trevoke\t" + masked, "tg:9001\tdashboard sign-in"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %q:\n%s", want, audit)
		}
	}
}

// seedLedger writes four weeks of earlier payments into a new store, so
// the overview has a history to draw: Stripe sales most days, a few
// Telegram Stars sales and a refund.
func seedLedger(t *testing.T, path string) {
	t.Helper()
	ctx := ctxTimeout(t, 10*time.Second)
	db, err := store.Open(ctx, store.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	pay := func(p store.Payment) {
		if _, err := db.RecordPayment(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for day := 1; day < 29; day++ {
		at := today.AddDate(0, 0, -day).Add(12 * time.Hour)
		for n := range (day*7)%4 + day%2 {
			pay(store.Payment{ID: fmt.Sprintf("cs_seed_%d_%d", day, n), Kind: store.PaymentSale, At: at,
				ProductID: "pro", Rail: store.RailStripe, Currency: "usd", Amount: 2000})
		}
		if day%5 == 0 {
			pay(store.Payment{ID: fmt.Sprintf("stars_seed_%d", day), Kind: store.PaymentSale, At: at,
				ProductID: "pro", Rail: store.RailStars, Currency: "XTR", Amount: 1000})
		}
	}
	pay(store.Payment{ID: "re_seed", Kind: store.PaymentRefund, At: today.AddDate(0, 0, -3), ProductID: "pro", Rail: store.RailStripe, Currency: "usd", Amount: 2000})
}
