package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// The members-only gate (issue 16): the chat adapters remove access held
// without a license; the app records each removal and re-checks members
// on a timer and at /sync.

// memberSweepBatch bounds how many remembered Telegram members one
// periodic sweep re-checks; the next tick continues after them.
const memberSweepBatch = 500

// accessRemoved audits and counts one removal and queues its line for the
// admin feed. It runs on the chat adapters' input path (a join, a member
// update), so it never waits for the admins' chats: a raid of joins must
// not hold up anyone's commands.
func (a *app) accessRemoved(ctx context.Context, r notify.Removal) {
	err := a.db.RecordAccessRemoval(ctx, store.AuditEntry{
		Actor: "shopbot", Action: "access_removed", Target: r.Who.String(), Detail: r.Place + ": " + r.Reason,
	})
	if err != nil {
		a.log.Error("access removal not audited", "identity", r.Who.String(), "place", r.Place, "err", err)
	}
	a.removals.add(fmt.Sprintf(commands.TextAccessRemovedAlert, r.Who, r.Place, r.Reason))
}

// removalFeedLines bounds the lines one admin alert lists; the rest are
// counted.
const removalFeedLines = 10

// removalFeed gathers removal lines for the admins: the first removal
// after a quiet minute is told at once, later ones in one alert a minute.
// Its memory is bounded (removalFeedLines lines and a count).
type removalFeed struct {
	mu    sync.Mutex
	lines []string
	more  int
	wake  chan struct{}
}

func newRemovalFeed() *removalFeed { return &removalFeed{wake: make(chan struct{}, 1)} }

func (f *removalFeed) add(line string) {
	f.mu.Lock()
	if len(f.lines) < removalFeedLines {
		f.lines = append(f.lines, line)
	} else {
		f.more++
	}
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// take empties the feed and returns its alert text ("" when empty).
func (f *removalFeed) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lines) == 0 {
		return ""
	}
	text := strings.Join(f.lines, "\n")
	if f.more > 0 {
		text += fmt.Sprintf("\n"+commands.TextAccessRemovedMore, f.more)
	}
	f.lines, f.more = nil, 0
	return text
}

// runRemovalFeed sends the feed's lines to the admins, at most one alert
// per quietPeriod; what is left at shutdown is sent before it returns.
func (a *app) runRemovalFeed(ctx context.Context, quietPeriod time.Duration) {
	send := func(ctx context.Context) {
		if text := a.removals.take(); text != "" {
			if err := a.router.Alert(ctx, notify.Alert{Kind: notify.KindAccess, Text: text}); err != nil {
				a.log.Warn("admins not told of access removals", "err", err)
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			send(last)
			cancel()
			return
		case <-a.removals.wake:
		}
		send(ctx)
		t := time.NewTimer(quietPeriod)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// sweepAccess re-checks every member of the members-only chats and roles
// (admin /sync); it returns how many it removed.
func (a *app) sweepAccess(ctx context.Context) (int, error) {
	return a.sweepMembers(ctx, 0)
}

// sweepMembers re-checks remembered Telegram members (at most limit, 0:
// all) and, when the gateway does not report member updates, the
// guild's members (paged; limit bounds the pages read, 0: all).
func (a *app) sweepMembers(ctx context.Context, limit int) (int, error) {
	removed := 0
	var errs []error
	if a.tg != nil {
		n, err := a.tg.SweepMembers(ctx, limit)
		removed += n
		errs = append(errs, err)
	}
	if a.dc != nil && (limit == 0 || !a.dc.MemberEvents()) {
		n, err := a.dc.SweepRoles(ctx, pagesFor(limit))
		removed += n
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// pagesFor turns a member limit into guild member pages (1000 each).
func pagesFor(limit int) int {
	if limit == 0 {
		return 0
	}
	return max(limit/1000, 1)
}

// runMemberSweep re-checks members every sweepInterval, a bounded batch
// each time, so licenses that lapsed without a sync (and hand-given roles
// in HTTP-interaction mode) are caught.
func (a *app) runMemberSweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.sweepMembers(ctx, memberSweepBatch)
		switch {
		case err != nil && ctx.Err() == nil:
			a.log.Warn("member sweep incomplete", "removed", n, "err", err)
		case n > 0:
			a.log.Info("member sweep removed access held without a license", "removed", n)
		}
	}
}
