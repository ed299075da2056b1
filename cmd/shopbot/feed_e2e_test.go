package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

const (
	testFeedChat    = -1005550001
	testFeedChannel = "300000000000000888"
)

// TestAdminFeedEveryKind: through the real wiring, each kind of event puts
// its line in the admin feed's Telegram chat and Discord channel, and not
// in the admins' private chats.
func TestAdminFeedEveryKind(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.extra = subscriptionConfig + fmt.Sprintf(`
[alerts]
telegram_chat_id = %d
discord_channel_id = %q
`, testFeedChat, testFeedChannel)
	w.tg.AddChat(testFeedChat, "Shop feed")
	// A members-only chat where the bot was never made an admin.
	const rightlessChat = -1005550002
	w.productExtra = fmt.Sprintf("telegram_chat_ids = [%d]\n", rightlessChat)
	w.tg.AddChat(rightlessChat, "Pro members")
	w.tg.SetMember(rightlessChat, w.tg.BotUser().ID, telegramtest.StatusMember)
	w.dc.AddTextChannel(testFeedChannel)
	w.start()
	w.say(w.buyer, "/start")
	adminDMs := len(w.tg.BotMessages(testAdminID))

	// A sale, then its refund; a second sale, then its dispute.
	sale := func(id string) stripetest.EventParams {
		return stripetest.EventParams{ID: "evt_" + id, SessionID: "cs_test_" + id, Product: "pro", Identity: "tg:5001", PaymentIntentID: "pi_" + id}
	}
	w.postEvent(stripetest.CheckoutCompleted(sale("feed1")))
	w.wait(w.buyer.ID, 0, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key")
	w.waitIdle()
	w.postEvent(stripetest.ChargeRefunded(stripetest.EventParams{ID: "evt_feed1_refund", PaymentIntentID: "pi_feed1"}))
	w.postEvent(stripetest.CheckoutCompleted(sale("feed2")))
	w.waitIdle()
	w.postEvent(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_feed2_dispute", PaymentIntentID: "pi_feed2"}))

	// A subscription: sale, renewal, failed payment, cancellation.
	start := time.Now().Truncate(time.Second)
	sub := func(id string, end time.Time) stripetest.EventParams {
		return stripetest.EventParams{ID: id, SessionID: "cs_test_sub", Product: "pro-monthly", Identity: "tg:5001", Mode: "subscription",
			SubscriptionID: "sub_feed", CustomerID: "cus_feed", InvoiceID: "in_" + id, PriceID: "price_monthly", Created: start, PeriodEnd: end, Amount: 990}
	}
	end1 := start.Add(30 * 24 * time.Hour)
	end2 := end1.Add(30 * 24 * time.Hour)
	for _, ev := range [][]byte{
		stripetest.SubscriptionCreated(sub("evt_sub_created", end1)),
		stripetest.CheckoutCompleted(sub("evt_sub_checkout", end1)),
		stripetest.InvoicePaid(sub("evt_sub_paid_1", end1)),
	} {
		w.postEvent(ev)
	}
	w.waitIdle()
	w.postEvent(stripetest.InvoicePaid(sub("evt_sub_paid_2", end2)))
	w.waitIdle()
	w.postEvent(stripetest.InvoicePaymentFailed(sub("evt_sub_failed", end2)))
	w.waitIdle()
	w.postEvent(stripetest.SubscriptionDeleted(sub("evt_sub_deleted", end2)))

	// An order that cannot be fulfilled: its product is not configured.
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_feed_bad", SessionID: "evt_feed_bad", Product: "gone", Identity: "tg:5001"}))
	w.waitIdle()

	// AuthForge out of credits: the activation fails and the feed says so.
	before := lastID(w.tg.BotMessages(w.buyer.ID))
	w.postEvent(stripetest.CheckoutCompleted(sale("feed3")))
	key3 := w.wait(w.buyer.ID, before, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "third key").Code()[0]
	w.af.SetCredits(0)
	w.say(w.buyer, "/activate "+key3)
	w.waitUntil("the out-of-credits line in the feed", func() bool {
		for _, m := range w.tg.BotMessages(testFeedChat) {
			if strings.Contains(m.Text, "AuthForge is out of credits") {
				return true
			}
		}
		return false
	})
	w.af.SetUnlimitedCredits()
	// With credits back the activation works, and the invite link to the
	// members-only chat is refused: the bot lacks the rights there.
	if r := w.say(w.buyer, "/activate "+key3); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate = %q", r.Text)
	}

	// A missing permission: Discord refuses the product role.
	w.dc.DenyRoles()
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_feed_dc", SessionID: "cs_test_dc", Product: "pro", Identity: "discord:" + discordBuyer.ID}))
	dkey := w.waitDMKey(discordBuyer.ID)
	w.slash(discordBuyer, "activate", discordtest.StringOption("key", dkey))

	want := []string{
		"New sale: Pro, 20.00 USD via stripe, buyer tg:5001",
		"Refund (20.00 USD) of order cs_test_feed1 (pro, tg:5001)",
		"Dispute (20.00 USD) of order cs_test_feed2 (pro, tg:5001)",
		"New sale: Pro monthly, 9.90 USD via stripe, buyer tg:5001",
		"Renewal: Pro monthly, 9.90 USD, buyer tg:5001",
		"Renewal payment failed: Pro monthly, 9.90 USD, buyer tg:5001",
		"Subscription ended: Pro monthly, buyer tg:5001",
		"evt_feed_bad",
		"AuthForge is out of credits",
		"New sale: Pro, 20.00 USD via stripe, buyer discord:" + discordBuyer.ID,
		"missing Manage Roles permission",
		"not an admin with the right to invite and ban users in the members-only Telegram chat -1005550002",
	}
	feedText := func() string {
		var b strings.Builder
		for _, m := range w.tg.BotMessages(testFeedChat) {
			b.WriteString(m.Text + "\n")
		}
		return b.String()
	}
	channelText := func() string {
		var b strings.Builder
		for _, m := range w.dc.ChannelMessages(testFeedChannel) {
			b.WriteString(strings.ReplaceAll(m.Content, "\\", "") + "\n") // markdown escapes off
		}
		return b.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	all := func(text string) bool {
		for _, s := range want {
			if !strings.Contains(text, s) {
				return false
			}
		}
		return true
	}
	if err := w.tg.WaitFor(ctx, func() bool { return all(feedText()) }); err != nil {
		t.Fatalf("Telegram feed chat:\n%s\nwant every one of %q", feedText(), want)
	}
	if err := w.dc.WaitFor(ctx, func() bool { return all(channelText()) }); err != nil {
		t.Fatalf("Discord feed channel:\n%s\nwant every one of %q", channelText(), want)
	}
	// Each sale is told once, not at every retry or delivery.
	if n := strings.Count(feedText(), "New sale: Pro, 20.00 USD via stripe, buyer tg:5001"); n != 3 {
		t.Fatalf("Telegram feed lists %d one-time sales by tg:5001, want 3:\n%s", n, feedText())
	}
	if n := len(w.tg.BotMessages(testAdminID)); n != adminDMs {
		t.Fatalf("with a feed channel the admin got %d private alerts:\n%s", n-adminDMs, w.logs)
	}
}
