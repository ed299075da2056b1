package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/notify"
)

// alert tells the admins through the admin feed, or in private without one.
func (b *Bot) alert(ctx context.Context, a notify.Alert) error {
	if b.feed != nil {
		return b.feed.Alert(ctx, a)
	}
	return b.AlertAdmins(ctx, a.Text)
}

// FeedChannel is the admin feed's Discord text channel.
func (b *Bot) FeedChannel(channelID string) notify.Poster {
	return feedChannel{b: b, id: channelID}
}

type feedChannel struct {
	b  *Bot
	id string
}

func (c feedChannel) FeedPlace() string { return "Discord channel " + c.id }

// PostFeed posts text in the channel (REST channel message endpoint).
// Mentions are off: a buyer's name in a line must not ping anyone.
func (c feedChannel) PostFeed(ctx context.Context, text string) error {
	msg := &discordgo.MessageSend{Content: escape(truncateRunes(text, maxContentRunes)), AllowedMentions: noMentions()}
	err := c.b.call(ctx, func(o ...discordgo.RequestOption) error {
		_, err := c.b.s.ChannelMessageSendComplex(c.id, msg, o...)
		return err
	})
	if err != nil {
		return fmt.Errorf("discord: post in feed channel %s: %w", c.id, err)
	}
	return nil
}
