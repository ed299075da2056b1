package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/store"
)

// TestStarSubscriptionPaidTwice: the buyer taps Pay twice on one Star
// subscription invoice while the shop is down, starting two
// subscriptions at Telegram. At the next start (the payments come as
// updates and from the history, or from the history alone) one
// subscription makes the license; the other is canceled and its payment
// refunded, the admins are told, /stats counts one sale, Telegram's
// refunded_payment for it revokes nothing, and the kept subscription's
// renewal extends the license.
func TestStarSubscriptionPaidTwice(t *testing.T) {
	for _, tc := range []struct {
		name    string
		updates bool
	}{{"updates and history", true}, {"history only", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := starsWorld(t)
			w.start()
			w.say(w.admin, "/start") // opens the private chat alerts go to
			link := w.starsLink("club")
			w.shutdown()
			a := w.tg.PayOffline(w.buyer, link)
			b := w.tg.PayOffline(w.buyer, link)
			if tc.updates {
				for _, c := range []string{a, b} {
					if err := w.tg.ResendPayment(c); err != nil {
						t.Fatal(err)
					}
				}
			}
			w.start()
			orderID := "stars_" + strings.Split(w.invoicePayload(link), "|")[3]
			var kept, dup string
			w.waitUntil("one subscription canceled and refunded", func() bool {
				o, err := w.live().GetOrder(context.Background(), orderID)
				if err != nil || o.LicenseKey == "" {
					return false
				}
				kept, dup = o.ChargeID, a
				if kept == a {
					dup = b
				}
				return w.tg.Refunded(dup) && w.tg.SubscriptionCanceled(dup)
			})
			// Telegram's refunded_payment for it comes in and is handled.
			w.waitUntil("the refund update taken", func() bool { return w.tg.Pending() == 0 })
			w.waitIdle()
			if w.tg.Refunded(kept) || w.tg.SubscriptionCanceled(kept) {
				t.Fatalf("the kept subscription %s was refunded or canceled", kept)
			}
			if n := len(w.af.Licenses()); n != 1 {
				t.Fatalf("AuthForge has %d licenses, want 1", n)
			}
			if n := len(w.keyMessages(w.buyer.ID)); n != 1 {
				t.Fatalf("key sent %d times, want once", n)
			}
			o, err := w.live().GetOrder(context.Background(), orderID)
			if err != nil {
				t.Fatal(err)
			}
			l, err := w.live().GetLicense(context.Background(), o.LicenseKey)
			if err != nil {
				t.Fatal(err)
			}
			if o.Status != store.OrderFulfilled || o.LastChargeID != kept || l.Status != store.LicenseActive {
				t.Fatalf("after the second subscription's refund: order %+v, license %+v", o, l)
			}
			w.waitUntil("the admins told of the second subscription", func() bool {
				for _, m := range w.tg.BotMessages(testAdminID) {
					if strings.Contains(m.Text, "second Star subscription") && strings.Contains(m.Text, dup) {
						return true
					}
				}
				return false
			})
			stats := w.say(w.admin, "/stats")
			if !strings.Contains(stats.Text, "100 Stars from 1 payment(s)") || !strings.Contains(stats.Text, "Active subscriptions: 1") {
				t.Fatalf("/stats = %q", stats.Text)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := w.tg.Renew(ctx, w.buyer, dup); !errors.Is(err, telegramtest.ErrSubscriptionCanceled) {
				t.Fatalf("renewing the second subscription: %v, want it canceled", err)
			}
			if _, err := w.tg.Renew(ctx, w.buyer, kept); err != nil {
				t.Fatal(err)
			}
			want := l.ExpiresAt.Add(30 * 24 * time.Hour)
			w.waitUntil("the renewal extends the license", func() bool {
				l, err := w.live().GetLicense(context.Background(), o.LicenseKey)
				return err == nil && !l.ExpiresAt.Before(want.Add(-time.Minute))
			})
			w.waitIdle()
			stats = w.say(w.admin, "/stats")
			if !strings.Contains(stats.Text, "200 Stars from 2 payment(s)") {
				t.Fatalf("/stats after the renewal = %q", stats.Text)
			}
		})
	}
}
