package main

import (
	"context"

	"github.com/shopbot/shopbot/broadcast"
	"github.com/shopbot/shopbot/identity"
)

// newBroadcasts builds the /broadcast runner over the store and the chat
// adapters (through the router, so each holder gets it on their platform).
func (a *app) newBroadcasts() (*broadcast.Service, error) {
	return broadcast.New(broadcast.Options{
		Store: a.db, Notifier: a.router, Clock: a.hooks.now, Logger: a.log.With("part", "broadcast"),
	})
}

// The set-up tools publish /broadcast, /mute and /unmute in the menu but
// never run them.
func (offlineShop) Draft(context.Context, identity.Identity, string, string) (uint64, int, error) {
	return 0, 0, errOffline
}
func (offlineShop) Confirm(context.Context, identity.Identity, uint64) error { return errOffline }
func (offlineShop) SetMuted(context.Context, identity.Identity, bool) error  { return errOffline }
