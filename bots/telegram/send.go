package telegram

import (
	"context"
	"errors"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"golang.org/x/time/rate"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/outbox"
	"github.com/shopbot/shopbot/notify"
)

// maxRetries bounds how often one call is retried after 429.
const maxRetries = 3

// Pacing is how fast messages go out. Zero fields take Telegram's
// documented limits: about 30 messages a second overall, one a second per
// chat and 20 a minute per group, short bursts tolerated.
type Pacing struct {
	PerSecond        float64 // overall; default 30
	Burst            int     // overall burst; default 5
	PrivatePerMinute int     // per private chat; default 60
	GroupPerMinute   int     // per group or channel; default 20
	ChatBurst        int     // per chat; default 3
	ChatQueue        int     // queued replies per chat; default 20
	TotalQueue       int     // queued replies in all; default 10,000
	// Unlimited sends everything at once (tests of other behaviour).
	Unlimited bool
}

// outboxOptions turns Pacing into the outbox's limits.
func (p Pacing) outboxOptions() outbox.Options {
	if p.Burst <= 0 {
		p.Burst = 5
	}
	o := outbox.Options{
		Rate:     rate.Limit(p.PerSecond),
		Burst:    p.Burst,
		ChatCap:  p.ChatQueue,
		TotalCap: p.TotalQueue,
	}
	private, group, burst := p.PrivatePerMinute, p.GroupPerMinute, p.ChatBurst
	if private <= 0 {
		private = 60
	}
	if group <= 0 {
		group = 20
	}
	if burst <= 0 {
		burst = 3
	}
	o.ChatLimit = func(chat int64) (rate.Limit, int) {
		// Telegram's group, supergroup and channel ids are negative.
		if chat < 0 {
			return rate.Limit(float64(group) / 60), burst
		}
		return rate.Limit(float64(private) / 60), burst
	}
	if p.Unlimited {
		o.Rate = rate.Inf
		o.ChatLimit = func(int64) (rate.Limit, int) { return rate.Inf, 1 }
	}
	return o
}

// retryAfter recognises Telegram's 429 and its retry_after.
func retryAfter(err error) (time.Duration, bool) {
	var tooMany *bot.TooManyRequestsError
	if !errors.As(err, &tooMany) {
		return 0, false
	}
	return time.Duration(tooMany.RetryAfter) * time.Second, true
}

// do runs one API call that is not a message (getMe, bans, invite links)
// with a timeout, retried after the retry_after of a 429 (bounded in
// count and wait, and cancelled with ctx). A 429 about a chat also holds
// that chat's messages in the outbox.
func (b *Bot) do(ctx context.Context, chat int64, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, b.callTimeout)
		err := call(cctx)
		cancel()
		wait, limited := retryAfter(err)
		if !limited {
			return err
		}
		b.rateLimited.Add(1)
		if wait <= 0 {
			wait = time.Second
		}
		if attempt >= maxRetries || wait > b.maxRetryAfter {
			return err
		}
		b.log.Warn("telegram rate limited; retrying", "chat", chat, "retry_after", wait, "attempt", attempt+1)
		if chat != 0 {
			b.out.Hold(chat, b.now().Add(wait))
		}
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// message builds the sendMessage call for an HTML text; id receives the
// sent message's id.
func (b *Bot) message(chat int64, html string, kb *inlineKeyboard, replyTo int, id *int) func(context.Context) error {
	params := &bot.SendMessageParams{
		ChatID:    chat,
		Text:      html,
		ParseMode: models.ParseModeHTML,
		// Previews of checkout and invite links only add noise.
		LinkPreviewOptions: &models.LinkPreviewOptions{IsDisabled: bot.True()},
	}
	if kb != nil {
		// Set only when present: a typed nil in the interface field
		// would be sent as "null".
		params.ReplyMarkup = kb
	}
	if replyTo != 0 {
		params.ReplyParameters = &models.ReplyParameters{MessageID: replyTo, AllowSendingWithoutReply: true}
	}
	return func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, b.callTimeout)
		defer cancel()
		m, err := b.api.SendMessage(ctx, params)
		if err == nil && id != nil {
			*id = m.ID
		}
		return err
	}
}

// send posts an HTML message through the outbox at prio and waits until
// it is sent; it returns the message's id.
func (b *Bot) send(ctx context.Context, chat int64, prio notify.Priority, html string, kb *inlineKeyboard, replyTo int) (int, error) {
	var id int
	if err := b.out.Send(ctx, chat, prio, b.message(chat, html, kb, replyTo, &id)); err != nil {
		// Not id: a send the caller stopped waiting for may still be
		// on the wire and write it. A nil error came through the
		// outbox's result channel, after the write.
		return 0, err
	}
	return id, nil
}

// post queues a reply to a command without waiting for it: the update's
// handler is free at once, and a flooding chat's replies wait in its own
// queue (dropped oldest first when it overflows) instead of in a worker.
func (b *Bot) post(chat int64, html string, kb *inlineKeyboard, replyTo int) {
	b.out.Post(chat, notify.Normal, b.message(chat, html, kb, replyTo, nil), func(err error) {
		if errors.Is(err, outbox.ErrDropped) {
			b.log.Info("telegram: reply dropped, the chat's queue is full", "chat", chat)
			return
		}
		b.log.Warn("telegram: reply not sent", "chat", chat, "err", b.redact(err))
	})
}

// deleteMessage removes a message; failure (no admin right, too old) is
// expected and only logged.
func (b *Bot) deleteMessage(ctx context.Context, chat int64, id int) {
	err := b.do(ctx, chat, func(ctx context.Context) error {
		_, err := b.api.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: chat, MessageID: id})
		return err
	})
	if err != nil {
		b.log.Info("telegram: could not delete a message that exposed a key", "chat", chat, "err", b.redact(err))
	}
}

// answerCallback stops the client's loading spinner on a pressed button.
func (b *Bot) answerCallback(ctx context.Context, id string) {
	err := b.do(ctx, 0, func(ctx context.Context) error {
		_, err := b.api.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id})
		return err
	})
	if err != nil {
		b.log.Info("telegram: answerCallbackQuery failed", "err", b.redact(err))
	}
}

// Close sends what is still queued (until ctx ends) and stops the
// outbox. Call it after the shop's worker has stopped, so deliveries
// made during shutdown still go out.
func (b *Bot) Close(ctx context.Context) { b.out.Close(ctx) }

// Stats are the adapter's crowd counters for /metrics and /stats.
type Stats struct {
	Budget      budget.Stats
	Outbox      outbox.Stats
	RateLimited uint64 // 429 answers to calls outside the outbox
}

// Stats reads the counters.
func (b *Bot) Stats() Stats {
	return Stats{Budget: b.budget.Stats(), Outbox: b.out.Stats(), RateLimited: b.rateLimited.Load()}
}
