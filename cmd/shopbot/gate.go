package main

import (
	"context"
	"errors"
	"fmt"
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

// accessRemoved audits and counts one removal and puts one line in the
// admin feed (the admins' alerts).
func (a *app) accessRemoved(ctx context.Context, r notify.Removal) {
	err := a.db.RecordAccessRemoval(ctx, store.AuditEntry{
		Actor: "shopbot", Action: "access_removed", Target: r.Who.String(), Detail: r.Place + ": " + r.Reason,
	})
	if err != nil {
		a.log.Error("access removal not audited", "identity", r.Who.String(), "place", r.Place, "err", err)
	}
	if err := a.router.AlertAdmins(ctx, fmt.Sprintf(commands.TextAccessRemovedAlert, r.Who, r.Place, r.Reason)); err != nil {
		a.log.Warn("admins not told of an access removal", "identity", r.Who.String(), "err", err)
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
