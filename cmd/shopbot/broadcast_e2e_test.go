package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

const broadcastHolders = 500

// TestBroadcastSurvivesRestart: /broadcast to 500 holders, confirmed with
// its button, is interrupted by a restart and finishes after it with every
// holder reached exactly once; a muted holder is skipped and a holder who
// blocked the bot is counted, and the admin gets the final count.
func TestBroadcastSurvivesRestart(t *testing.T) {
	w := newWorld(t)
	w.paced = true // Telegram's real pace (30 a second): the restart lands mid-way
	var seed sync.Once
	w.storeOpened = func(db *store.DB) {
		seed.Do(func() {
			ctx := context.Background()
			for i := range broadcastHolders {
				l := store.License{Key: fmt.Sprintf("BCST-%04d-AAAA-AAAA", i), ProductID: "pro", Owner: identity.TelegramUser(int64(7000 + i)),
					Status: store.LicenseActive, MaxSlots: 1, Label: "test", Source: "grant"}
				if err := db.PutLicense(ctx, l); err != nil {
					t.Errorf("seed license %d: %v", i, err)
				}
			}
		})
	}
	for i := range broadcastHolders {
		w.tg.OpenPrivateChat(telegramtest.User{ID: int64(7000 + i)})
	}
	w.start()
	muted, blocked := telegramtest.User{ID: 7003, FirstName: "Mo"}, int64(7004)
	if r := w.say(muted, "/mute"); !strings.Contains(r.Text, "muted") {
		t.Fatalf("/mute = %q", r.Text)
	}
	w.tg.BlockBot(blocked)

	// More than 16 words and a line break: the announcement is sent as
	// typed, not as the command's first words.
	const news = "Version 2 is out!\nIt brings the new editor, faster sync, dark mode, a plugin store, and many fixes you asked for: thank you all."
	draft := w.say(w.admin, "/broadcast pro "+news)
	if !strings.Contains(draft.Text, "reaches 499 buyer(s)") || len(draft.Buttons()) != 1 {
		t.Fatalf("draft = %q %+v, want 499 reached (one muted) and a Send button", draft.Text, draft.Buttons())
	}
	if _, err := w.tg.Press(w.admin, draft.MessageID, draft.Buttons()[0].CallbackData); err != nil {
		t.Fatal(err)
	}

	received := func() map[int64]int {
		got := map[int64]int{}
		for i := range broadcastHolders {
			id := int64(7000 + i)
			for _, m := range w.tg.BotMessages(id) {
				if strings.Contains(m.Text, news) {
					got[id]++
				}
			}
		}
		return got
	}
	w.waitUntil("the broadcast to be under way", func() bool { return len(received()) >= 60 })
	w.shutdown()
	if n := len(received()); n >= broadcastHolders-2 {
		t.Fatalf("all %d reached before the restart: nothing was interrupted", n)
	}
	w.start()

	final := w.wait(w.admin.ID, draft.MessageID, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "finished") }, "final count")
	if want := "Broadcast #1 finished: 498 sent, 1 blocked the bot, 0 failed, 1 skipped (muted)."; final.Text != want {
		t.Fatalf("final count = %q, want %q", final.Text, want)
	}
	got := received()
	for i := range broadcastHolders {
		id := int64(7000 + i)
		want := 1
		if id == muted.ID || id == blocked {
			want = 0
		}
		if got[id] != want {
			t.Fatalf("holder %d got the announcement %d times, want %d", id, got[id], want)
		}
	}
}

// TestDiscordBroadcastAndMute: in Discord, /broadcast with its options
// drafts, the Send button starts it, the holder gets the announcement by
// DM and the admin the final count; a holder who ran /mute is skipped.
func TestDiscordBroadcastAndMute(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.start()
	w.postEvent(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_dc_bc", SessionID: "cs_test_dc_bc", Product: "pro", Identity: "discord:" + discordBuyer.ID}))
	w.waitDMKey(discordBuyer.ID)

	draft := w.slash(discordAdmin, "broadcast", discordtest.StringOption("product", "pro"), discordtest.StringOption("text", "Maintenance tonight"))
	if !strings.Contains(draft.Content, "reaches 1 buyer(s)") || len(draft.Buttons) != 1 {
		t.Fatalf("draft = %q %+v", draft.Content, draft.Buttons)
	}
	if r := w.click(discordAdmin, draft.Buttons[0].CustomID); !strings.Contains(r.Content, "started") {
		t.Fatalf("Send = %q", r.Content)
	}
	if r := w.click(discordAdmin, draft.Buttons[0].CustomID); !strings.Contains(r.Content, "already started") {
		t.Fatalf("Send pressed again = %q", r.Content)
	}
	dm := func(user, text string) func() bool {
		return func() bool {
			return slices.ContainsFunc(w.dc.DMs(user), func(m discordtest.Message) bool { return strings.Contains(m.Content, text) })
		}
	}
	w.waitUntil("the announcement", dm(discordBuyer.ID, "Maintenance tonight"))
	w.waitUntil("the final count", dm(discordAdmin.ID, "finished: 1 sent, 0 blocked the bot, 0 failed, 0 skipped"))

	if r := w.slash(discordBuyer, "mute"); !strings.Contains(r.Content, "muted") {
		t.Fatalf("/mute = %q", r.Content)
	}
	if r := w.slash(discordAdmin, "broadcast", discordtest.StringOption("product", "all"), discordtest.StringOption("text", "Second news")); !strings.Contains(r.Content, "can be reached") {
		t.Fatalf("draft to a muted holder only = %q", r.Content)
	}
	if r := w.slash(discordBuyer, "broadcast", discordtest.StringOption("product", "pro"), discordtest.StringOption("text", "x")); strings.Contains(r.Content, "reaches") {
		t.Fatalf("a buyer drafted a broadcast: %q", r.Content)
	}
}

// click presses a button of a bot message as u and returns the reply.
func (w *world) click(u discordtest.User, customID string) discordtest.Reply {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	in := w.dc.ComponentClick(u, customID)
	if code, err := w.dc.PostInteraction(ctx, "http://"+w.addr+"/discord/interactions", in); err != nil || code != 200 {
		w.t.Fatalf("click %s: %d %v", customID, code, err)
	}
	r, err := w.dc.WaitReply(ctx, in)
	if err != nil {
		w.t.Fatalf("reply to click %s: %v\n%s", customID, err, w.logs)
	}
	return r
}
