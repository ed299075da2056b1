package main

import (
	"context"
	"errors"
)

// demoFeedChat is the demo's admin feed: a Telegram group the bot posts
// in, shown as the page's Admin feed pane.
const demoFeedChat = -1009990001

// demoSweep is what the demo runs after its clock jumps: the sweeper's
// two passes, expiry (access removed) and reminders, as RunSweeper does
// every interval.
func (a *app) demoSweep(ctx context.Context) (int, error) {
	removed, err := a.lic.Sweep(ctx)
	_, rerr := a.lic.Remind(ctx)
	return removed, errors.Join(err, rerr)
}
