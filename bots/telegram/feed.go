package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/notify"
)

// FeedChannel is the admin feed's Telegram group or channel.
func (b *Bot) FeedChannel(chatID int64) notify.Poster {
	return feedChat{b: b, id: chatID}
}

type feedChat struct {
	b  *Bot
	id int64
}

func (c feedChat) FeedPlace() string { return fmt.Sprintf("Telegram chat %d", c.id) }

// PostFeed posts text in the chat, paced as Normal: behind key
// deliveries, ahead of reminders and broadcasts. A chat that refuses the
// bot (removed, not allowed to post) fails for good.
func (c feedChat) PostFeed(ctx context.Context, text string) error {
	if _, err := c.b.send(ctx, c.id, notify.Normal, escape(truncate(text)), nil, 0); err != nil {
		return c.b.sendError("post in feed chat", fmt.Sprint(c.id), err)
	}
	return nil
}

// rightsAlertEvery paces the admin feed line about one chat's missing
// rights: every join or sync would repeat it.
const rightsAlertEvery = time.Hour

// rightsMemo remembers when each chat's missing rights were last told.
type rightsMemo struct {
	mu sync.Mutex
	m  map[int64]time.Time
}

// lacksRights tells the admin feed, at most once an hour per chat, that
// Telegram refused an invite link or a removal because the bot is not an
// admin with that right there. Other errors are not the seller's to fix.
// The feed only queues, so this never waits on the input path.
func (b *Bot) lacksRights(ctx context.Context, chat int64, err error) {
	msg := strings.ToLower(err.Error())
	if b.feed == nil || !strings.Contains(msg, "not enough rights") && !strings.Contains(msg, "chat_admin_required") &&
		!strings.Contains(msg, "not a member") && !errors.Is(err, bot.ErrorForbidden) {
		return
	}
	now := b.now()
	b.rightsAlerts.mu.Lock()
	last, seen := b.rightsAlerts.m[chat]
	due := !seen || now.Sub(last) >= rightsAlertEvery
	if due {
		b.rightsAlerts.m[chat] = now
	}
	b.rightsAlerts.mu.Unlock()
	if !due {
		return
	}
	if aerr := b.feed.Alert(ctx, notify.Alert{Kind: notify.KindPermission, Text: fmt.Sprintf(commands.TextChatRights, chat)}); aerr != nil {
		b.log.Warn("telegram: missing chat rights not told", "chat", chat, "err", aerr)
	}
}
