package telegram

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/identity"
)

// onUpdate is the library's handler in polling mode. It runs in one of
// the library's few workers, which only dispatch: payments and the
// gate's updates are handled here at once, and an admitted command or
// button press goes on to a goroutine of its own (detach), so the worker
// reads the next update at once and a payment never waits behind slow
// commands.
func (b *Bot) onUpdate(ctx context.Context, _ *bot.Bot, upd *models.Update) {
	if err := b.process(ctx, upd, true); err != nil {
		// Polling has moved past the update already; the shop's recovery
		// from getStarTransactions picks the payment up.
		b.log.Error("telegram: payment not stored; left to the star transactions recovery", "update_id", upd.ID, "err", err)
	}
}

// process handles one update from either source. Its context outlives
// the caller's cancellation (bounded by HandlerTimeout) so that shutdown
// lets an update in progress finish instead of cutting its reply off.
// An error means a payment was not stored: the webhook answers 500 and
// the update is not remembered as seen, so Telegram's redelivery is
// handled. With detach an admitted command runs on its own goroutine
// (see command); the webhook handles it in its request, whose answer
// waits for it.
func (b *Bot) process(parent context.Context, upd *models.Update, detach bool) (err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), b.handlerTimeout)
	defer cancel()
	// A detached command is marked processed when it is handed on: Run
	// waits for it before it confirms the processed updates to Telegram.
	defer b.markProcessed(upd.ID)
	if !b.seen.add(upd.ID) {
		// Telegram redelivers a webhook update it thinks failed.
		b.log.Debug("telegram: duplicate update ignored", "update_id", upd.ID)
		return nil
	}
	defer func() {
		// One bad update must not take the whole bot down.
		if r := recover(); r != nil {
			b.logPanic(upd.ID, r)
			if isPayment(upd) {
				err = fmt.Errorf("telegram: payment handler panicked: %v", r)
			}
		}
		if err != nil {
			b.seen.forget(upd.ID)
		}
	}()
	run := b.commandRunner(upd.ID, detach)
	// Payments first and outside the command budget: Telegram waits on
	// the pre-checkout answer, and a payment is money already taken.
	switch {
	case upd.PreCheckoutQuery != nil:
		b.onPreCheckout(ctx, upd.PreCheckoutQuery)
	case isPayment(upd):
		return b.onPayment(ctx, upd.Message)
	case upd.ChatMember != nil:
		b.onChatMember(ctx, upd.ChatMember)
	case upd.ChatJoinRequest != nil:
		b.onJoinRequest(ctx, upd.ChatJoinRequest)
	case upd.Message != nil && (len(upd.Message.NewChatMembers) > 0 || upd.Message.LeftChatMember != nil):
		b.onServiceMessage(ctx, upd.Message)
	case upd.Message != nil:
		b.onMessage(ctx, upd.Message, run)
	case upd.CallbackQuery != nil:
		b.onCallback(ctx, upd.CallbackQuery, run)
	}
	return nil
}

func (b *Bot) logPanic(updateID int64, r any) {
	b.log.Error("telegram: update handler panicked", "update_id", updateID, "panic", r, "stack", string(debug.Stack()))
}

// runner runs the work of an admitted command and then releases its
// budget ticket.
type runner func(ctx context.Context, t budget.Ticket, work func(ctx context.Context))

// commandRunner returns how update id's command runs. Inline, in the caller's
// goroutine, for the webhook: the answer to Telegram waits for it. With
// detach, on a goroutine of its own, so that the library's worker goes
// back to reading updates. Those goroutines are bounded by the command
// budget, without a queue: each holds its command's ticket until it
// ends, so there are never more than the budget's InFlightAll (per
// identity InFlight), and a command over the budget is dropped by admit
// on the worker, never started or left waiting. Run waits for them
// (b.detached) before it returns.
func (b *Bot) commandRunner(id int64, detach bool) runner {
	return func(ctx context.Context, t budget.Ticket, work func(ctx context.Context)) {
		// The gate is closed only after the library's workers stopped,
		// so Enter fails only for a late caller; running inline then
		// still handles the command.
		if !detach || !b.detached.Enter() {
			defer t.Done()
			work(ctx)
			return
		}
		go func() {
			defer b.detached.Exit()
			defer t.Done()
			// Like process: shutdown lets the command finish, within
			// HandlerTimeout of its own.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.handlerTimeout)
			defer cancel()
			defer func() {
				if r := recover(); r != nil {
					b.logPanic(id, r)
				}
			}()
			work(ctx)
		}()
	}
}

func (b *Bot) markProcessed(id int64) {
	for {
		cur := b.processed.Load()
		if id <= cur || b.processed.CompareAndSwap(cur, id) {
			return
		}
	}
}

// onMessage handles a text message: commands anywhere, chatter only in
// the private chat (in groups it is not for the bot). The budget is asked
// here; the work is run's.
func (b *Bot) onMessage(ctx context.Context, m *models.Message, run runner) {
	if m.From == nil || m.From.IsBot || m.Chat.Type == models.ChatTypeChannel {
		return
	}
	private := isPrivate(m.Chat)
	req := commands.Request{
		Who:     identity.TelegramUser(m.From.ID),
		Admin:   b.admins[m.From.ID],
		Private: private,
		Lang:    m.From.LanguageCode,
	}
	if p, ok := commands.ParseCommand(m.Text); ok {
		if p.Mention != "" && !strings.EqualFold(p.Mention, b.username) {
			return
		}
		req.Command, req.Args, req.Raw = p.Command, p.Args, p.Rest
	} else if !private {
		return
	}
	ticket, ok := b.admit(req.Who, req.Lang, m.Chat)
	if !ok {
		return
	}
	run(ctx, ticket, func(ctx context.Context) {
		// Arguments are not logged: they may be license keys.
		b.log.Info("telegram command", "command", req.Command, "identity", req.Who.String(), "chat", m.Chat.ID, "private", private)
		reply := b.cmds.Handle(ctx, req)
		if reply.DeleteRequest {
			b.deleteMessage(ctx, m.Chat.ID, m.ID)
		}
		replyTo := 0
		if !private && !reply.DeleteRequest {
			// In a busy group, quoting the command shows whom the answer is for.
			replyTo = m.ID
		}
		b.respond(ctx, m.Chat, m.From.ID, reply, replyTo)
	})
}

// onCallback handles a pressed inline button; like onMessage, the budget
// is asked here and the work is run's.
func (b *Bot) onCallback(ctx context.Context, q *models.CallbackQuery, run runner) {
	chat := models.Chat{ID: q.From.ID, Type: models.ChatTypePrivate}
	switch {
	case q.Message.Message != nil:
		chat = q.Message.Message.Chat
	case q.Message.InaccessibleMessage != nil:
		chat = q.Message.InaccessibleMessage.Chat
	}
	req := commands.Request{
		Who:     identity.TelegramUser(q.From.ID),
		Admin:   b.admins[q.From.ID],
		Private: isPrivate(chat),
		Lang:    q.From.LanguageCode,
	}
	// Over budget, even the spinner is left to time out: answering it
	// would be work done for the flood.
	ticket, ok := b.admit(req.Who, req.Lang, chat)
	if !ok {
		return
	}
	run(ctx, ticket, func(ctx context.Context) {
		b.answerCallback(ctx, q.ID)
		b.log.Info("telegram button", "identity", req.Who.String(), "chat", chat.ID, "private", req.Private)
		b.respond(ctx, chat, q.From.ID, b.cmds.Callback(ctx, req, q.Data), 0)
	})
}

// respond sends a reply into chat. A reply holding a whole key is never
// posted in a shared chat: as a last line of defence it goes to the
// user's private chat instead.
func (b *Bot) respond(ctx context.Context, chat models.Chat, userID int64, r commands.Reply, replyTo int) {
	if r.Empty() {
		return
	}
	to := chat.ID
	if r.Sensitive && !isPrivate(chat) {
		b.log.Error("telegram: sensitive reply redirected to the private chat", "chat", chat.ID)
		to, replyTo = userID, 0
	}
	b.post(to, renderText(r.Text), b.keyboard(r.Buttons), replyTo)
}

// admit asks who's budget before any work on their command. Over budget
// the command is dropped; once a minute the sender is told to slow down,
// in the chat they used (in a group, only if the notice fits that
// group's own queue, which is the group's problem, not anyone else's).
func (b *Bot) admit(who identity.Identity, lang string, chat models.Chat) (budget.Ticket, bool) {
	verdict, reason, ticket := b.budget.Admit(who.String())
	if verdict == budget.Allow {
		return ticket, true
	}
	b.log.Debug("telegram: command dropped", "identity", who.String(), "chat", chat.ID, "reason", reason)
	if verdict == budget.DropNotify {
		b.log.Info("telegram: identity over its command budget", "identity", who.String(), "chat", chat.ID, "reason", reason)
		b.post(chat.ID, escape(commands.SlowDownIn(b.words, lang, reason == budget.ReasonFull)), nil, 0)
	}
	return budget.Ticket{}, false
}

// recent remembers the last n update ids to drop redeliveries.
type recent struct {
	mu   sync.Mutex
	ids  map[int64]bool
	ring []int64
	pos  int
}

func newRecent(n int) *recent {
	return &recent{ids: make(map[int64]bool, n), ring: make([]int64, n)}
}

// add reports false when id was seen recently.
func (r *recent) add(id int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids[id] {
		return false
	}
	if old := r.ring[r.pos]; old != 0 {
		delete(r.ids, old)
	}
	r.ring[r.pos] = id
	r.pos = (r.pos + 1) % len(r.ring)
	r.ids[id] = true
	return true
}

// forget drops id, so that its redelivery is handled.
func (r *recent) forget(id int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.ids, id)
	for i, v := range r.ring {
		if v == id {
			r.ring[i] = 0
		}
	}
}
