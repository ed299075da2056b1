package telegram_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

// activated counts the "Activated" replies in chat.
func activated(tg *telegramtest.Server, chat int64) int {
	n := 0
	for _, m := range tg.BotMessages(chat) {
		if strings.HasPrefix(m.Text, "Activated: ") {
			n++
		}
	}
	return n
}

// In polling mode a payment never waits behind slow commands: while as
// many commands and buttons as the library has workers are held in a
// slow core (run on those workers, they would hold every one), another
// user's pre-checkout query is answered, their payment reaches Paid and
// a cheap command is answered. The held ones are released only then,
// and are all answered.
func TestPaymentsDoNotWaitBehindSlowCommands(t *testing.T) {
	const buyers = 4
	const slow = 2 * buyers // a command and a button each: the budget's default in-flight cap
	p := &payments{}
	e := start(t, telegram.ModePolling, withPayments(p), func(o *telegram.Options) {
		o.Workers = slow
		o.Pacing = telegram.Pacing{Unlimited: true}
	})
	users := make([]telegramtest.User, buyers)
	delivered := make([]int, buyers)
	for i := range users {
		u := telegramtest.User{ID: int64(7100 + i), FirstName: "Buyer"}
		users[i] = u
		e.say(t, u, u.ID, "/help")
		n := notify.Notice{Text: "Your key: " + key, ActivateKey: key}
		if err := e.bot.Notify(waitCtx(t), identity.TelegramUser(u.ID), n); err != nil {
			t.Fatal(err)
		}
		msgs := e.tg.BotMessages(u.ID)
		delivered[i] = msgs[len(msgs)-1].MessageID
	}
	l := link(t, e, proInvoice)

	release := e.shop.holdActivate(t)
	for i, u := range users {
		e.tg.SendText(u, u.ID, "/activate "+key)
		if _, err := e.tg.Press(u, delivered[i], "act:"+key); err != nil {
			t.Fatal(err)
		}
	}
	e.shop.waitActivate(t, fmt.Sprintf("%d commands and buttons held in the core", slow), func(held, _ int) bool { return held == slow })

	payer := telegramtest.User{ID: 7200, FirstName: "Payer"}
	if r := pay(t, e, payer, l); !r.OK || r.Late {
		t.Fatalf("Pay while %d commands are held = %+v; want it accepted in time", slow, r)
	}
	if paid := waitPaid(t, p, 1); paid[0].UserID != payer.ID {
		t.Fatalf("Paid got %+v, want the payer's payment", paid)
	}
	if m := e.say(t, buyer, buyer.ID, "/help"); m.Text == "" {
		t.Fatal("a cheap command got an empty answer")
	}
	if held, ended := e.shop.activations(); held != slow || ended != 0 {
		t.Fatalf("%d held, %d ended before the release; want all %d still held", held, ended, slow)
	}

	release()
	for _, u := range users {
		err := e.tg.WaitFor(waitCtx(t), func() bool { return activated(e.tg, u.ID) == 2 })
		if err != nil {
			t.Fatalf("user %d: %d answers after the release, want 2 (the command and the button)", u.ID, activated(e.tg, u.ID))
		}
	}
}

// The goroutines running polled commands are bounded by the command
// budget: with room for 3 commands in all, 3 are held in the core and
// the other 3 are dropped at once (not started, not left waiting), and
// every place is given back when the held ones end.
func TestDetachedCommandsAreBoundedByTheBudget(t *testing.T) {
	const room = 3
	e := start(t, telegram.ModePolling, func(o *telegram.Options) {
		o.Budget = budget.New(budget.Options{InFlightAll: room, Now: o.Now})
		o.Pacing = telegram.Pacing{Unlimited: true}
	})
	release := e.shop.holdActivate(t)
	for i := range 2 * room {
		u := telegramtest.User{ID: int64(7300 + i), FirstName: "Buyer"}
		e.tg.SendText(u, u.ID, "/activate "+key)
	}
	// Polled: a dropped command changes nothing the shop or the fake sees.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		held, _ := e.shop.activations()
		full := e.bot.Stats().Budget.DroppedFull
		if held+int(full) >= 2*room {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d held, %d dropped as full; want all %d accounted for", held, full, 2*room)
		}
	}
	st := e.bot.Stats().Budget
	if held, _ := e.shop.activations(); held != room || st.InFlight != room || st.DroppedFull != room {
		t.Fatalf("%d held, %d in flight, %d dropped as full; want %d, %d and %d", held, st.InFlight, st.DroppedFull, room, room, room)
	}
	release()
	e.shop.waitActivate(t, "the held commands ending", func(_, ended int) bool { return ended == room })
	for deadline := time.Now().Add(10 * time.Second); e.bot.Stats().Budget.InFlight != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d commands still in flight after every one ended", e.bot.Stats().Budget.InFlight)
		}
	}
}

// goroutines returns the stacks of the goroutines that are in every one
// of frames.
func goroutines(frames ...string) []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
next:
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		for _, f := range frames {
			if !bytes.Contains(g, []byte(f)) {
				continue next
			}
		}
		out = append(out, string(g))
	}
	return out
}

// Shutdown lets a polled command in progress finish: Run waits for it
// (found waiting in the goroutine dump, which is how the test knows when
// to release the command without a timed wait), its reply goes out, and
// no goroutine of it is left once the adapter has stopped.
func TestShutdownWaitsForDetachedCommands(t *testing.T) {
	e := start(t, telegram.ModePolling, func(o *telegram.Options) {
		o.Pacing = telegram.Pacing{Unlimited: true}
	})
	release := e.shop.holdActivate(t)
	e.tg.SendText(buyer, buyer.ID, "/activate "+key)
	e.shop.waitActivate(t, "the command held in the core", func(held, _ int) bool { return held == 1 })

	stopped := make(chan struct{})
	go func() {
		e.stop()
		close(stopped)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		select {
		case <-stopped:
			t.Fatal("the adapter stopped while a command was still running")
		default:
		}
		if len(goroutines("[sync.WaitGroup.Wait", "telegram.(*Bot).Run(", "run.(*Gate).Close(")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run never waited for the running command")
		}
	}
	release()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the adapter did not stop after the command ended")
	}
	if _, ended := e.shop.activations(); ended != 1 {
		t.Fatalf("the held command ended %d times, want once", ended)
	}
	if n := activated(e.tg, buyer.ID); n != 1 {
		t.Errorf("%d answers to the command, want 1", n)
	}
	if g := goroutines("telegram.(*Bot).commandRunner.func"); len(g) > 0 {
		t.Errorf("a command goroutine is left after the adapter stopped:\n%s", g[0])
	}
	if n := e.tg.Pending(); n != 0 {
		t.Errorf("%d handled updates left unconfirmed", n)
	}
}
