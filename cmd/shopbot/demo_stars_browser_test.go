package main

import (
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// jsSheetOpen is true while the stand-in payment sheet is shown.
const jsSheetOpen = `!document.querySelector('#stars-sheet').hidden`

// TestDemoBrowserStars drives the demo page's Stars rail in headless
// Chromium: /buy shows a ⭐ button beside the card link, the button opens
// the stand-in payment sheet (not a link), Pay delivers the key with a
// payment line in the chat, paying the same order again shows the shop's
// refusal in the sheet, and Telegram's refund from the panel revokes the
// key.
func TestDemoBrowserStars(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	b := newBrowser(t)
	d := startDemo(t)
	b.run("open the page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(d.url), chromedp.WaitVisible(chromedp.CSS("#tg-input")))

	b.say("tg", "/buy pro")
	b.waitTrue("Stars and card buttons", `(m => !!m && !!m.querySelector('.tg-btn.stars') && !!m.querySelector('.tg-btn.link'))
		([...document.querySelectorAll('#tg-messages .tg-msg')].pop())`)
	if got := eval[string](b, `(e => e.tagName + ' ' + e.innerText)(document.querySelector('#tg-messages .tg-btn.stars'))`); got != "BUTTON Pay 250 ⭐ for Pro" {
		t.Fatalf("Stars button = %q, want a button (not a link) that pays 250 Stars", got)
	}

	// The sheet opens and closes without paying.
	b.run("open the sheet", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn.stars`)))
	b.waitTrue("the sheet open", jsSheetOpen)
	if got := eval[string](b, `document.querySelector('.sheet').innerText`); !strings.Contains(got, "Pro") || !strings.Contains(got, "250 ⭐") {
		t.Fatalf("sheet = %q", got)
	}
	b.run("cancel", chromedp.Click(chromedp.CSS("#stars-cancel")))
	b.waitTrue("the sheet closed", "!"+jsSheetOpen)
	if n := eval[int](b, `document.querySelectorAll('#stars .stars-payment').length`); n != 0 {
		t.Fatalf("canceling the sheet made %d payment(s)", n)
	}

	// Pay: the key arrives in the chat with the payment's service line.
	b.run("open the sheet again", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn.stars`)))
	b.waitTrue("the sheet open", jsSheetOpen)
	if path := os.Getenv("SHOPBOT_STARS_SCREENSHOT"); path != "" {
		b.screenshot(path)
	}
	b.run("pay", chromedp.Click(chromedp.CSS("#stars-pay")))
	b.waitTrue("the sheet closed after paying", "!"+jsSheetOpen)
	key := wait[string](b, "license key in Telegram", jsKey)
	b.waitTrue("payment line", `[...document.querySelectorAll('#tg-messages .tg-msg.service')].some(m => m.innerText === 'You paid 250 ⭐ for Pro')`)
	b.waitTrue("payment in the panel", `/Pro · 250 ⭐/.test(document.querySelector('#stars').innerText)`)
	b.waitTrue("sale in the admin feed", `document.querySelector('#feed').innerText.includes('New sale: Pro, 250 Stars via stars, buyer tg:5001')`)

	// The same order again: the shop refuses it and the sheet says why.
	b.run("open the sheet for the paid order", chromedp.Click(chromedp.CSS(`#tg-messages .tg-btn.stars`)))
	b.waitTrue("the sheet open", jsSheetOpen)
	b.run("pay again", chromedp.Click(chromedp.CSS("#stars-pay")))
	refusal := wait[string](b, "the refusal in the sheet", `(e => !e.hidden && e.innerText)(document.querySelector('#stars-error'))`)
	if !eval[bool](b, jsSheetOpen) {
		t.Fatalf("the sheet closed on a refusal (%q)", refusal)
	}
	b.run("close the sheet", chromedp.Click(chromedp.CSS("#stars-cancel")))
	b.waitTrue("the sheet closed", "!"+jsSheetOpen)
	if n := eval[int](b, `document.querySelectorAll('#stars .stars-payment').length`); n != 1 {
		t.Fatalf("after a refused payment the panel shows %d payments, want 1", n)
	}

	// Telegram refunds on its own: the key is revoked.
	b.run("refund by Telegram", chromedp.Click(chromedp.CSS(`#stars button[data-stars="refund"]`)))
	b.waitTrue("refund line", `[...document.querySelectorAll('#tg-messages .tg-msg.service')].some(m => m.innerText === '250 ⭐ refunded for Pro')`)
	b.waitTrue("license revoked", `document.querySelector('#licenses .license .pill').textContent === 'revoked'`)
	t.Logf("Stars story done with key %s…", key[:4])
}
