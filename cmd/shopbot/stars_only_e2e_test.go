package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/store"
)

// TestStarsOnlyShopWithoutStripe: a Telegram shop that sells only for
// Stars, with no Discord, has no [stripe] keys and no Stripe fake at all.
// `shopbot check` accepts it; `run` serves no Stripe webhook; /buy offers
// the Stars invoice alone; a purchase delivers its key and is counted.
func TestStarsOnlyShopWithoutStripe(t *testing.T) {
	w := newWorld(t)
	w.noStripe = true
	delete(w.env, "STRIPE_SECRET_KEY")
	delete(w.env, "STRIPE_WEBHOOK_SECRET")
	w.storeOpened = func(db *store.DB) { liveStores.Store(w, db) }
	w.telegramExtra = `payments = "stars"`
	w.productExtra = "stars_price = 250\n"
	w.stripeExtra = `subscription_grace = "24h"`
	if strings.Contains(w.config(), "secret_key") {
		t.Fatalf("the config still has Stripe keys:\n%s", w.config())
	}

	w.start()
	var out bytes.Buffer
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	path := filepath.Join(w.dir, "config.toml")
	if code := runWith(context.Background(), []string{"check", "-config", path, "--online"}, env, &out, &out, hooks{}); code != 0 || strings.Contains(out.String(), "stripe price") || !strings.Contains(out.String(), "ok   telegram getMe") {
		t.Fatalf("shopbot check --online = %d, want it to pass and check nothing of Stripe:\n%s", code, out.String())
	}

	req, err := http.NewRequest(http.MethodPost, "http://"+w.addr+"/webhooks/stripe", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("POST /webhooks/stripe = %d, want 404: a shop without Stripe has no Stripe webhook", resp.StatusCode)
	}

	m := w.say(w.buyer, "/buy pro")
	var stars string
	for _, b := range m.Buttons() {
		switch {
		case strings.HasPrefix(b.URL, "https://t.me/$"):
			stars = b.URL
		case b.URL != "":
			t.Fatalf("/buy offers %q beside the Stars invoice", b.URL)
		}
	}
	if stars == "" || strings.Contains(m.Text, "by card") {
		t.Fatalf("/buy pro = %q %+v, want the Stars invoice alone", m.Text, m.Buttons())
	}
	charge := w.pay(stars)
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	w.waitIdle()
	order, err := w.live().GetOrder(context.Background(), "stars_"+strings.Split(w.invoicePayload(stars), "|")[3])
	if err != nil {
		t.Fatal(err)
	}
	if order.Rail != store.RailStars || order.ChargeID != charge || order.Status != store.OrderFulfilled {
		t.Fatalf("order %+v", order)
	}
	if stats := w.say(w.admin, "/stats"); !strings.Contains(stats.Text, "Revenue via Telegram Stars: 250 Stars from 1 payment(s)") {
		t.Fatalf("/stats = %q", stats.Text)
	}
	out.Reset()
	if code := runWith(context.Background(), []string{"rebuild", "-config", path}, env, &out, &out, hooks{}); code != 1 || !strings.Contains(out.String(), "no [stripe] keys") {
		t.Fatalf("shopbot rebuild = %d, want a clear refusal:\n%s", code, out.String())
	}
	if logs := w.logs.String(); strings.Contains(logs, "stripe catch-up") || strings.Contains(logs, "api.stripe.com") {
		t.Fatalf("a shop without Stripe talked of Stripe:\n%s", logs)
	}
}
