package telegram

import (
	"context"
	"fmt"

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
