package telegram_test

import (
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
)

// replies counts the bot's messages in chat, and how many of them are
// the slow-down notice.
func replies(tg *telegramtest.Server, chat int64) (all, slowDown int) {
	for _, m := range tg.BotMessages(chat) {
		all++
		if m.Text == commands.TextSlowDown {
			slowDown++
		}
	}
	return
}

// A flood from one identity is cut at its budget before any work: ten
// answers, one slow-down notice, nothing else; another identity is
// answered as usual.
func TestFloodIsCutAtTheBudget(t *testing.T) {
	e := start(t, telegram.ModePolling, func(o *telegram.Options) {
		// The clock stands still, so no token refills during the test.
		o.Budget = budget.New(budget.Options{Burst: 10, InFlight: 100, Now: o.Now})
		o.Pacing = telegram.Pacing{Unlimited: true}
	})
	flooder := telegramtest.User{ID: 5001, FirstName: "Flood"}
	for range 40 {
		e.tg.SendText(flooder, flooder.ID, "/help")
	}
	e.say(t, buyer, buyer.ID, "/help")
	// Every one of the 40 is either dropped (counted by the budget) or
	// answered (seen at the stand-in); polled, since a drop changes
	// nothing at the stand-in.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		all, _ := replies(e.tg, flooder.ID)
		dropped := e.bot.Stats().Budget.Dropped()
		if int(dropped)+all-1 >= 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("flooder: %d messages, %d commands dropped; want all 40 accounted for", all, dropped)
		}
	}
	if all, slow := replies(e.tg, flooder.ID); all != 11 || slow != 1 {
		t.Fatalf("flooder got %d messages with %d slow-down notices; want 10 answers and 1 notice", all, slow)
	}
	if d := e.bot.Stats().Budget.Dropped(); d != 30 {
		t.Fatalf("budget dropped %d commands, want 30", d)
	}
	st := e.bot.Stats()
	if st.Outbox.Dropped != 0 {
		t.Errorf("outbox dropped %d", st.Outbox.Dropped)
	}
}

// A flooding chat's replies wait in its own queue, capped: the oldest
// are dropped and counted, never another chat's.
func TestFloodingChatQueueIsCapped(t *testing.T) {
	e := start(t, telegram.ModePolling, func(o *telegram.Options) {
		o.Budget = budget.New(budget.Options{Burst: 1000, PerMinute: 60_000, InFlight: 100, Now: o.Now})
		// The group gets one message a minute: everything past its burst
		// of 1 waits, and its queue of 5 overflows.
		o.Pacing = telegram.Pacing{GroupPerMinute: 1, ChatBurst: 1, ChatQueue: 5, PerSecond: 1000, Burst: 1000}
		// Without the test clock's Sleep the outbox waits on real timers
		// against the standing test clock, so the group's minute never
		// passes and the counts below are exact.
		o.Sleep = nil
	})
	const group = -100777
	for i := range 30 {
		e.tg.SendText(telegramtest.User{ID: int64(6000 + i)}, group, "/help")
	}
	m := e.say(t, buyer, buyer.ID, "/help")
	if m.Text == "" {
		t.Fatal("the private chat got no answer while a group overflowed")
	}
	accounted := func() (sent, queued, dropped int) {
		sent, _ = replies(e.tg, group)
		st := e.bot.Stats().Outbox
		return sent, st.Queued, int(st.Dropped)
	}
	// Polled: a drop changes nothing at the stand-in, so its WaitFor
	// would not look again.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if s, q, d := accounted(); s+q+d == 30 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("group replies: %d sent, %d queued, %d dropped; want 30 in all", s, q, d)
		}
	}
	// The first reply counts against the cap until the sender takes it:
	// on a busy machine the replies behind it can arrive first, and one
	// more is dropped (4 queued, 25 dropped). Never more than the cap
	// waits, and never fewer than 24 are dropped.
	if sent, queued, dropped := accounted(); sent != 1 || queued > 5 || queued < 4 || dropped < 24 {
		t.Fatalf("group replies: %d sent, %d queued, %d dropped; want 1 (its burst), at most 5 (the cap) waiting and the rest dropped", sent, queued, dropped)
	}
}
