package main

import (
	"github.com/shopbot/shopbot/notify"
)

// newFeed builds the admin feed ([alerts]) over the chat adapters: its
// channels when configured and their platform is on, else the admins'
// private chats. Lines queue (bounded) and go out from Feed.Run, so no
// input path ever waits for a feed chat.
func (a *app) newFeed() *notify.Feed {
	c := a.cfg.Alerts
	var channels []notify.Poster
	if c.TelegramChatID != 0 && a.tg != nil {
		channels = append(channels, a.tg.FeedChannel(c.TelegramChatID))
	}
	if c.DiscordChannelID != "" && a.dc != nil {
		channels = append(channels, a.dc.FeedChannel(c.DiscordChannelID))
	}
	kinds := make([]notify.Kind, 0, len(c.Events))
	for _, e := range c.Events {
		kinds = append(kinds, notify.Kind(e))
	}
	return notify.NewFeed(notify.FeedOptions{
		Kinds: kinds, Channels: channels, Admins: a.router, Log: a.log.With("part", "feed"),
	})
}
