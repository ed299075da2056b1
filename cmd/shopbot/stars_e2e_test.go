package main

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/store"
)

// starsWorld is a shop that offers Telegram Stars beside Stripe: "pro"
// for 250 Stars and the "club" Star subscription for 100 Stars a month.
func starsWorld(t *testing.T) *world {
	w := newWorld(t)
	w.storeOpened = func(db *store.DB) { liveStores.Store(w, db) }
	w.telegramExtra = `payments = "both"`
	w.productExtra = "stars_price = 250\n"
	w.stripeExtra = `subscription_grace = "24h"`
	w.extra = `
[[products]]
id = "club"
name = "Club"
price_id = "price_club"
mode = "subscription"
stars_price = 100
`
	return w
}

// liveStores holds each running world's store, to read while it runs
// (readStore stops the shop).
var liveStores sync.Map

func (w *world) live() *store.DB {
	db, ok := liveStores.Load(w)
	if !ok {
		w.t.Fatal("no running store")
	}
	return db.(*store.DB)
}

// starsLink sends /buy product and returns the Stars invoice link of the
// reply, checking the Stripe button is beside it.
func (w *world) starsLink(product string) string {
	w.t.Helper()
	m := w.say(w.buyer, "/buy "+product)
	var stars, card string
	for _, b := range m.Buttons() {
		switch {
		case strings.HasPrefix(b.URL, "https://t.me/$"):
			stars = b.URL
		case strings.HasPrefix(b.URL, "https://"):
			card = b.URL
		}
	}
	if stars == "" || card == "" {
		w.t.Fatalf("/buy %s offers %+v, want a Stars invoice and a card payment", product, m.Buttons())
	}
	if !strings.Contains(m.Text, "Pay with Telegram Stars, or by card") {
		w.t.Fatalf("/buy %s text = %q, want both ways to pay named", product, m.Text)
	}
	return stars
}

func (w *world) pay(link string) string {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := w.tg.Pay(ctx, w.buyer, link)
	if err != nil || !res.OK {
		w.t.Fatalf("paying %s: %+v, %v\n%s", link, res, err, w.logs)
	}
	return res.ChargeID
}

// TestStarsPurchaseOnceAcrossRedeliveryAndRestart: a buyer pays 250 Stars
// in Telegram; the successful_payment comes again after a restart; one
// license is made and delivered once, the order records the Stars rail,
// and /stats and /lookup show it.
func TestStarsPurchaseOnceAcrossRedeliveryAndRestart(t *testing.T) {
	w := starsWorld(t)
	w.start()
	link := w.starsLink("pro")
	inv, ok := w.tg.Invoice(link)
	if !ok || inv.Currency != "XTR" || inv.Amount != 250 || inv.SubscriptionPeriod != 0 || inv.Title != "Pro" {
		t.Fatalf("invoice %+v", inv)
	}
	charge := w.pay(link)
	delivery := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	key := delivery.Code()[0]
	w.waitIdle()

	w.shutdown()
	if err := w.tg.ResendPayment(charge); err != nil {
		t.Fatal(err)
	}
	// A second payment of the same invoice (two taps on Pay that both
	// passed the pre-checkout) reaches the next start through the
	// history: it is refunded, not kept for nothing.
	second := w.tg.PayOffline(w.buyer, link)
	w.start()
	w.waitUntil("the second payment refunded", func() bool { return w.tg.Refunded(second) })
	w.waitUntil("the redelivered payment handled", func() bool { return w.tg.Pending() == 0 })
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("AuthForge has %d licenses after a redelivered payment, want 1", n)
	}
	if n := len(w.keyMessages(w.buyer.ID)); n != 1 {
		t.Fatalf("key sent %d times, want once", n)
	}
	ctx := context.Background()
	l, err := w.live().GetLicense(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	order, err := w.live().GetOrder(ctx, l.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if order.Rail != store.RailStars || order.Amount != 250 || order.Currency != "XTR" || order.ChargeID != charge || order.Status != store.OrderFulfilled {
		t.Fatalf("order %+v", order)
	}
	stats := w.say(w.admin, "/stats")
	if !strings.Contains(stats.Text, "Revenue via Telegram Stars: 250 Stars from 1 payment(s)") {
		t.Fatalf("/stats = %q", stats.Text)
	}
	lookup := w.say(w.admin, "/lookup "+key)
	if !strings.Contains(lookup.Text, "paid with Telegram Stars") || !strings.Contains(lookup.Text, "250 Stars") {
		t.Fatalf("/lookup = %q", lookup.Text)
	}
}

// TestStarsPreCheckoutRefusals: Telegram's pre-checkout query is refused,
// with a reason the buyer reads, for a product removed from the config,
// an invoice another user opens, and an invoice already paid; a payment
// that still reaches the shop for a removed product is refunded.
func TestStarsPreCheckoutRefusals(t *testing.T) {
	w := starsWorld(t)
	w.start()
	link := w.starsLink("pro")
	clubLink := w.starsLink("club")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	other := telegramtest.User{ID: 5002, FirstName: "Eve"}
	res, err := w.tg.Pay(ctx, other, link)
	if err != nil || res.OK || !strings.Contains(res.ErrorMessage, "someone else") {
		t.Fatalf("another user paying the buyer's invoice: %+v, %v", res, err)
	}
	w.pay(link)
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	res, err = w.tg.Pay(ctx, w.buyer, link)
	if err != nil || res.OK || !strings.Contains(res.ErrorMessage, "already paid") {
		t.Fatalf("paying an invoice twice: %+v, %v", res, err)
	}
	// Also while the first payment is stored but has no license yet
	// (AuthForge down): the order does not exist, its payment does.
	w.af.FailNext("POST /v1/licenses", 1000, http.StatusServiceUnavailable, "server_error")
	link2 := w.starsLink("pro")
	w.pay(link2)
	order2 := "stars_" + strings.Split(w.invoicePayload(link2), "|")[3]
	w.waitUntil("the payment stored and waiting", func() bool {
		stored, err := w.live().EarlierPending(context.Background(), order2, math.MaxUint64)
		return err == nil && stored
	})
	res, err = w.tg.Pay(ctx, w.buyer, link2)
	if err != nil || res.OK || !strings.Contains(res.ErrorMessage, "already paid") {
		t.Fatalf("paying a stored, unfulfilled invoice again: %+v, %v", res, err)
	}
	w.af.ClearFaults()
	w.waitUntil("the stored payment fulfilled", func() bool { return len(w.af.Licenses()) == 2 })

	// The seller stops selling the club: an invoice made before is
	// refused, and a payment made for it while the shop was down (found
	// in the history at start) is given back, with no license.
	w.shutdown()
	missed := w.tg.PayOffline(w.buyer, clubLink)
	w.extra = ""
	w.start()
	w.waitUntil("the payment for a removed product refunded", func() bool { return w.tg.Refunded(missed) })
	res, err = w.tg.Pay(ctx, w.buyer, clubLink)
	if err != nil || res.OK || !strings.Contains(res.ErrorMessage, "no longer sold") {
		t.Fatalf("paying for a removed product: %+v, %v", res, err)
	}
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 2 {
		t.Fatalf("AuthForge has %d licenses, want only the two paid", n)
	}
}

// TestStarSubscriptionRenewsThenLapses: a Star subscription is paid,
// renewed twice (the license follows each new expiration plus grace),
// then not renewed: when its license runs out the order ends.
func TestStarSubscriptionRenewsThenLapses(t *testing.T) {
	w := starsWorld(t)
	w.start()
	link := w.starsLink("club")
	if inv, _ := w.tg.Invoice(link); inv.SubscriptionPeriod != 30*24*time.Hour || inv.Amount != 100 {
		t.Fatalf("club invoice %+v, want 100 Stars every 30 days", inv)
	}
	first := w.pay(link)
	delivery := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	key := delivery.Code()[0]
	w.waitIdle()
	expiry := func() time.Time {
		l, err := w.live().GetLicense(context.Background(), key)
		if err != nil {
			t.Fatal(err)
		}
		return l.ExpiresAt
	}
	end1 := expiry()
	if want := time.Now().Add(31 * 24 * time.Hour); end1.Before(want.Add(-time.Hour)) || end1.After(want.Add(time.Hour)) {
		t.Fatalf("license runs to %s, want about 30 days and a day of grace (%s)", end1, want)
	}
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := w.tg.Renew(ctx, w.buyer, first); err != nil {
			t.Fatal(err)
		}
		cancel()
		want := end1.Add(time.Duration(i+1) * 30 * 24 * time.Hour)
		w.waitUntil("the renewal extends the license", func() bool { return !expiry().Before(want.Add(-time.Minute)) })
	}
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 1 {
		t.Fatalf("AuthForge has %d licenses after renewals, want 1", n)
	}
	stats := w.say(w.admin, "/stats")
	if !strings.Contains(stats.Text, "300 Stars from 3 payment(s)") || !strings.Contains(stats.Text, "Active subscriptions: 1") {
		t.Fatalf("/stats = %q", stats.Text)
	}

	// No third renewal: when the license has run out, the order ends.
	last := expiry()
	w.shutdown()
	w.shift.Store(int64(last.Sub(time.Now()) + time.Hour))
	w.start()
	orderID := "stars_" + strings.Split(w.invoicePayload(link), "|")[3]
	w.waitUntil("the order ended", func() bool {
		o, err := w.live().GetOrder(context.Background(), orderID)
		return err == nil && o.Ended && o.Status == store.OrderEnded
	})
	stats = w.say(w.admin, "/stats")
	if strings.Contains(stats.Text, "Active subscriptions") {
		t.Fatalf("/stats after the lapse = %q", stats.Text)
	}
}

func (w *world) invoicePayload(link string) string {
	inv, ok := w.tg.Invoice(link)
	if !ok {
		w.t.Fatalf("no invoice %s", link)
	}
	return inv.Payload
}

// TestStarsCancelRefundAndRecovery: the buyer cancels a Star
// subscription from /license; the admin refunds with /refund (the license
// is revoked, Telegram's refunded_payment changes nothing more); a
// payment made while the shop was down, that no update brought, is found
// in getStarTransactions at the next start and fulfilled once; a Stripe
// order's /refund points to the Stripe Dashboard.
func TestStarsCancelRefundAndRecovery(t *testing.T) {
	w := starsWorld(t)
	w.start()
	first := w.pay(w.starsLink("club"))
	delivery := w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery")
	clubKey := delivery.Code()[0]
	w.waitIdle()

	lic := w.say(w.buyer, "/license")
	var cancelData string
	for _, b := range lic.Buttons() {
		if strings.HasPrefix(b.Text, "Cancel Club") {
			cancelData = b.CallbackData
		}
	}
	if cancelData == "" {
		t.Fatalf("/license has no cancel button: %+v", lic.Buttons())
	}
	if _, err := w.tg.Press(w.buyer, lic.MessageID, cancelData); err != nil {
		t.Fatal(err)
	}
	w.wait(w.buyer.ID, lic.MessageID, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "will not renew") }, "cancel answer")
	if !w.tg.SubscriptionCanceled(first) {
		t.Fatal("Telegram was not told to cancel the subscription")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := w.tg.Renew(ctx, w.buyer, first); err == nil {
		t.Fatal("a canceled subscription renewed")
	}

	r := w.say(w.admin, "/refund "+clubKey)
	if !strings.Contains(r.Text, "100 Stars refunded") {
		t.Fatalf("/refund = %q", r.Text)
	}
	if !w.tg.Refunded(first) {
		t.Fatal("refundStarPayment was not called")
	}
	w.waitIdle()
	l, err := w.live().GetLicense(context.Background(), clubKey)
	if err != nil {
		t.Fatal(err)
	}
	if l.Status != store.LicenseRevoked {
		t.Fatalf("license after the refund: %+v", l)
	}
	if again := w.say(w.admin, "/refund "+clubKey); !strings.Contains(again.Text, "already") {
		t.Fatalf("second /refund = %q", again.Text)
	}

	// Paid while the shop was down, past Telegram's update retention.
	link := w.starsLink("pro")
	w.shutdown()
	w.tg.PayOffline(w.buyer, link)
	w.start()
	w.waitUntil("the missed payment fulfilled", func() bool { return len(w.keyMessages(w.buyer.ID)) == 2 })
	w.waitIdle()
	if n := len(w.af.Licenses()); n != 2 {
		t.Fatalf("AuthForge has %d licenses, want the club's and the recovered one", n)
	}
	w.shutdown()
	before := len(w.tg.CallsTo("getStarTransactions"))
	w.start() // the history is not read again from the start
	w.waitUntil("the catch-up at start", func() bool { return len(w.tg.CallsTo("getStarTransactions")) > before })
	w.waitIdle()
	if n := len(w.keyMessages(w.buyer.ID)); n != 2 || len(w.af.Licenses()) != 2 {
		t.Fatalf("after another restart: %d deliveries, %d licenses", n, len(w.af.Licenses()))
	}
	if calls := w.tg.CallsTo("getStarTransactions"); len(calls) == 0 || calls[len(calls)-1].Params["offset"] == "" || calls[len(calls)-1].Params["offset"] == "0" {
		t.Fatalf("getStarTransactions calls %+v: the last should start past what was read", calls)
	}
}
