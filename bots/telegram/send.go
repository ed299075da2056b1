package telegram

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Telegram's documented limits: about 30 messages a second overall, one a
// second per chat, 20 a minute per group.
const (
	globalInterval  = time.Second / 30
	privateInterval = time.Second
	groupInterval   = 3 * time.Second
	// maxRetries bounds how often one call is retried after 429.
	maxRetries = 3
)

// pacer hands out send slots: each message reserves the earliest time
// that respects both the global rate and its chat's rate. Reserving
// (instead of token buckets) makes the wait computable up front, so it
// runs through the injectable Sleep and tests need no real time.
type pacer struct {
	mu    sync.Mutex
	next  time.Time
	chats map[int64]time.Time
}

func newPacer() *pacer { return &pacer{chats: map[int64]time.Time{}} }

// reserve books a slot for chat and returns how long to wait for it.
func (p *pacer) reserve(chat int64, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The global slot is booked on its own: folding one chat's spacing
	// into it would make a busy chat (a group spamming /help) delay every
	// other chat's replies.
	global := now
	if p.next.After(global) {
		global = p.next
	}
	p.next = global.Add(globalInterval)
	at := global
	if c := p.chats[chat]; c.After(at) {
		at = c
	}
	gap := privateInterval
	if chat < 0 {
		gap = groupInterval
	}
	p.chats[chat] = at.Add(gap)
	if len(p.chats) > 4096 {
		for id, t := range p.chats {
			if t.Before(now) {
				delete(p.chats, id)
			}
		}
	}
	return at.Sub(now)
}

// hold keeps chat quiet until until: after a 429 every sender to that
// chat must wait, not only the one that was refused.
func (p *pacer) hold(chat int64, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.chats[chat].Before(until) {
		p.chats[chat] = until
	}
}

// do runs one API call with a timeout, paced when it sends a message to
// chat, and retried after the retry_after of a 429 (bounded in count and
// wait, and cancelled with ctx).
func (b *Bot) do(ctx context.Context, chat int64, paced bool, call func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		if paced {
			if err := b.sleep(ctx, b.pace.reserve(chat, b.now())); err != nil {
				return err
			}
		}
		cctx, cancel := context.WithTimeout(ctx, b.callTimeout)
		err := call(cctx)
		cancel()
		var tooMany *bot.TooManyRequestsError
		if !errors.As(err, &tooMany) {
			return err
		}
		wait := time.Duration(tooMany.RetryAfter) * time.Second
		if wait <= 0 {
			wait = time.Second
		}
		if attempt >= maxRetries || wait > b.maxRetryAfter {
			return err
		}
		b.log.Warn("telegram rate limited; retrying", "chat", chat, "retry_after", wait, "attempt", attempt+1)
		b.pace.hold(chat, b.now().Add(wait))
		if err := b.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// send posts an HTML message and returns its id.
func (b *Bot) send(ctx context.Context, chat int64, html string, kb *inlineKeyboard, replyTo int) (int, error) {
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
	var id int
	err := b.do(ctx, chat, true, func(ctx context.Context) error {
		m, err := b.api.SendMessage(ctx, params)
		if err == nil {
			id = m.ID
		}
		return err
	})
	return id, err
}

// deleteMessage removes a message; failure (no admin right, too old) is
// expected and only logged.
func (b *Bot) deleteMessage(ctx context.Context, chat int64, id int) {
	err := b.do(ctx, chat, false, func(ctx context.Context) error {
		_, err := b.api.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: chat, MessageID: id})
		return err
	})
	if err != nil {
		b.log.Info("telegram: could not delete a message that exposed a key", "chat", chat, "err", b.redact(err))
	}
}

// answerCallback stops the client's loading spinner on a pressed button.
func (b *Bot) answerCallback(ctx context.Context, id string) {
	err := b.do(ctx, 0, false, func(ctx context.Context) error {
		_, err := b.api.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id})
		return err
	})
	if err != nil {
		b.log.Info("telegram: answerCallbackQuery failed", "err", b.redact(err))
	}
}
