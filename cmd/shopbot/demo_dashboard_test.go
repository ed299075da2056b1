package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDemoDashboardLink: in the demo's Admin view a "Dashboard" link opens
// the shop's web dashboard signed in as the demo's admin, through the
// page's address; the buyer's view has no such link.
func TestDemoDashboardLink(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := newBrowser(t)
	d := startDemo(t)
	b.run("open the page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(d.url), chromedp.WaitVisible(chromedp.CSS("#tg-input")))
	if eval[bool](b, `!document.querySelector('#dashboard-link').hidden`) {
		t.Fatal("the buyer's view shows the dashboard link")
	}
	b.run("act as admin", chromedp.Click(chromedp.CSS("#persona-admin")))
	b.waitTrue("the dashboard link", `!document.querySelector('#dashboard-link').hidden`)
	// The link opens a new tab; following its address in this tab signs
	// in the same way.
	href := eval[string](b, `document.querySelector('#dashboard-link').href`)
	if href != d.url+"/dashboard" {
		t.Fatalf("dashboard link = %q", href)
	}
	b.run("open the dashboard", chromedp.Navigate(href))
	b.waitTrue("the overview", `!!document.querySelector('section.cards')`)
	if u := eval[string](b, `location.href`); u != d.url+"/admin/" {
		t.Fatalf("the dashboard opened at %s", u)
	}
	if who := eval[string](b, `document.querySelector('header .who span').textContent`); who != "tg:9001" {
		t.Fatalf("signed in as %q, want the demo's admin tg:9001", who)
	}
	b.run("licenses page", chromedp.Click(chromedp.CSS(`nav a[href="/admin/licenses"]`)), chromedp.WaitVisible(chromedp.CSS("#q")))
	if body := eval[string](b, `document.body.innerText`); !strings.Contains(body, "Grant a license") {
		t.Fatalf("licenses page through the demo:\n%s", body)
	}
}
