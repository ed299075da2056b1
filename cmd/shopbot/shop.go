package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/accesslog"
	"github.com/shopbot/shopbot/internal/terms"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// shop adapts the core (checkout sessions and the licensing service) to
// what the chat commands need. It is the only place that knows both sides'
// types, so neither the core nor the bots import each other.
type shop struct {
	// terms, when set, must be accepted before a key is bound; uses
	// counts gated uses for dispute evidence (terms.go).
	terms    *terms.Terms
	uses     *accesslog.Log
	sessions *checkout.Sessions
	lic      *licensing.Service
	worker   *checkout.Worker
	db       *store.DB
	now      func() time.Time
	// billingReturn is where the Stripe Billing Portal's return link
	// leads; empty uses the portal's default from the Stripe Dashboard.
	billingReturn string
	// log records what the chat cannot show (an audit entry not written);
	// nil discards.
	log *slog.Logger
	// chatLoad reads the bots' crowd counters; nil shows none.
	chatLoad func() []commands.ChatLoad
	// sweepAccess re-checks the members of the members-only chats and
	// roles after /sync; nil does nothing.
	sweepAccess func(ctx context.Context) (removed int, err error)
}

var (
	_ commands.Shop    = (*shop)(nil)
	_ commands.Admin   = (*shop)(nil)
	_ commands.Account = (*shop)(nil)
)

// errNoCard answers a card payment or billing portal asked of a shop
// without Stripe; its chats offer neither, so only a stale button gets it.
var errNoCard = fmt.Errorf("%w: this shop takes no card payments (no [stripe] keys in the config)", checkout.ErrStripe)

func (s *shop) CheckoutLink(ctx context.Context, who identity.Identity, productID, code string) (string, error) {
	if s.sessions == nil {
		return "", errNoCard
	}
	return s.sessions.Link(ctx, who, productID, code)
}

func (s *shop) Activate(ctx context.Context, who identity.Identity, key string) (commands.Activation, error) {
	if s.terms != nil {
		ok, err := s.terms.Accepted(ctx, who)
		if err != nil {
			return commands.Activation{}, err
		}
		if !ok {
			return commands.Activation{}, terms.ErrNotAccepted
		}
	}
	a, err := s.lic.Activate(ctx, who, key)
	if err != nil {
		return commands.Activation{}, err
	}
	return commands.Activation{
		ProductID:   a.License.ProductID,
		ProductName: a.Product.Name,
		ExpiresAt:   a.License.ExpiresAt,
		SlotsUsed:   a.SlotsUsed,
		MaxSlots:    a.MaxSlots,
		Renewed:     a.Renewed,
	}, nil
}

func (s *shop) Licenses(ctx context.Context, who identity.Identity) ([]commands.License, error) {
	infos, err := s.lic.Licenses(ctx, who)
	if err != nil {
		return nil, err
	}
	out := make([]commands.License, 0, len(infos))
	for _, in := range infos {
		out = append(out, s.license(in, who))
	}
	return out, nil
}

func (s *shop) Check(ctx context.Context, who identity.Identity, productIDs ...string) error {
	ent, err := s.lic.Check(ctx, who, productIDs...)
	if err == nil && s.uses != nil {
		s.uses.Record(who, ent.Key)
	}
	return err
}

func (s *shop) Revoke(ctx context.Context, actor identity.Identity, t commands.Target) ([]commands.License, error) {
	var (
		revoked []store.License
		err     error
	)
	if t.Key != "" {
		var l store.License
		l, err = s.lic.Revoke(ctx, actor.String(), t.Key)
		if l.Key != "" {
			revoked = append(revoked, l)
		}
	} else {
		revoked, err = s.lic.RevokeIdentity(ctx, actor.String(), t.Who)
	}
	out := make([]commands.License, 0, len(revoked))
	for _, l := range revoked {
		out = append(out, s.license(licensing.Info{License: l}, identity.Identity{}))
	}
	// With ErrNotConfirmed the shop already refuses the key and out is
	// what it revoked; the message table tells the admin AuthForge lags.
	return out, err
}

func (s *shop) Lookup(ctx context.Context, actor identity.Identity, t commands.Target) ([]commands.LicenseDetails, error) {
	// Reading buyers' data is an admin action like any other.
	s.audit(ctx, actor, "lookup", t.String(), "")
	var infos []licensing.Info
	if t.Key != "" {
		in, err := s.lic.Lookup(ctx, t.Key)
		if err != nil {
			return nil, err
		}
		infos = []licensing.Info{in}
	} else {
		var err error
		infos, err = s.lic.LookupIdentity(ctx, t.Who)
		if err != nil {
			return nil, err
		}
	}
	out := make([]commands.LicenseDetails, 0, len(infos))
	for _, in := range infos {
		d := commands.LicenseDetails{
			License:   s.license(in, identity.Identity{}),
			Owner:     in.License.Owner,
			CreatedAt: in.License.CreatedAt,
		}
		for _, h := range in.Holders {
			d.Holders = append(d.Holders, h.Identity)
		}
		if in.Order != nil {
			d.OrderID = in.Order.ID
			d.OrderStatus = string(in.Order.Status)
			d.Rail = in.Order.OrderRail()
			if in.Order.Amount > 0 {
				d.Paid = notify.Money(in.Order.Amount, in.Order.Currency)
			}
		}
		switch {
		case in.Remote != nil:
			d.RemoteStatus = in.Remote.Status
		case in.RemoteError != "":
			d.RemoteUnavailable = true
		}
		out = append(out, d)
	}
	return out, nil
}

func (s *shop) Transfer(ctx context.Context, who identity.Identity, key string) (int, error) {
	return s.lic.Transfer(ctx, who, key)
}

// BillingLink opens the Stripe Billing Portal for the subscription that
// pays for key, when who is the buyer who pays for it.
func (s *shop) BillingLink(ctx context.Context, who identity.Identity, key string) (string, error) {
	infos, err := s.lic.Licenses(ctx, who)
	if err != nil {
		return "", err
	}
	key = strings.ToUpper(strings.TrimSpace(key))
	for _, in := range infos {
		if in.License.Key == key && billable(in, who) {
			if s.sessions == nil {
				return "", errNoCard
			}
			return s.sessions.PortalLink(ctx, in.Order.CustomerID, s.billingReturn)
		}
	}
	return "", licensing.ErrNotHolder
}

func (s *shop) Grant(ctx context.Context, actor, who identity.Identity, productID string) (commands.License, error) {
	l, err := s.lic.Grant(ctx, actor.String(), who, productID)
	if err != nil {
		return commands.License{}, err
	}
	return s.license(licensing.Info{License: l}, identity.Identity{}), nil
}

func (s *shop) Extend(ctx context.Context, actor identity.Identity, key string, by time.Duration) (commands.License, error) {
	l, err := s.lic.Extend(ctx, actor.String(), key, by)
	if err != nil {
		return commands.License{}, err
	}
	return s.license(licensing.Info{License: l}, identity.Identity{}), nil
}

func (s *shop) ResetHWID(ctx context.Context, actor identity.Identity, key string) (commands.License, error) {
	l, err := s.lic.ResetHWID(ctx, actor.String(), key)
	if err != nil {
		return commands.License{}, err
	}
	return s.license(licensing.Info{License: l}, identity.Identity{}), nil
}

// Stats joins the store's record counts with licensing's credit counters.
func (s *shop) Stats(ctx context.Context) (commands.Stats, error) {
	db, err := s.db.Stats(ctx)
	if err != nil {
		return commands.Stats{}, err
	}
	ls, err := s.lic.Stats(ctx)
	if err != nil {
		return commands.Stats{}, err
	}
	byStatus := make(map[string]int, len(db.OrdersByStatus))
	for st, n := range db.OrdersByStatus {
		byStatus[string(st)] = n
	}
	return commands.Stats{
		Orders:          db.Orders,
		OrdersByStatus:  byStatus,
		ActiveLicenses:  ls.ActiveLicenses,
		RevokedLicenses: ls.RevokedLicenses,
		Activations:     ls.Activations,
		Holders:         ls.Holders,
		EventsPending:   db.EventsByState[store.EventPending],
		EventsFailed:    db.EventsByState[store.EventFailed],
		Validations:     ls.Validations,
		Heartbeats:      ls.Heartbeats,
		CreditsEstimate: ls.CreditsEstimate,
		Chat:            s.chatLoadNow(),
		AccessRemovals:  db.AccessRemovals,

		Revenue:             revenueLines(db.Revenue),
		ActiveSubscriptions: db.ActiveSubscriptions,
	}, nil
}

func (s *shop) chatLoadNow() []commands.ChatLoad {
	if s.chatLoad == nil {
		return nil
	}
	return s.chatLoad()
}

func (s *shop) Audit(ctx context.Context, n int) ([]commands.AuditEntry, error) {
	entries, err := s.db.RecentAudit(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]commands.AuditEntry, len(entries))
	for i, e := range entries {
		out[i] = commands.AuditEntry{Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail}
	}
	return out, nil
}

func (s *shop) FailedEvents(ctx context.Context, n int) ([]commands.Event, error) {
	evs, err := s.worker.Failed(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]commands.Event, len(evs))
	for i, e := range evs {
		out[i] = chatEvent(e)
	}
	return out, nil
}

// Replay runs the worker's replay and reads the event back, so the admin
// sees why it failed again. The worker does not audit; the admin's replay
// is recorded here once it was attempted.
func (s *shop) Replay(ctx context.Context, actor identity.Identity, eventID string) (commands.Event, error) {
	err := s.worker.Replay(ctx, eventID)
	ev := commands.Event{ID: eventID}
	if got, gerr := s.db.GetEvent(ctx, eventID); gerr == nil {
		ev = chatEvent(got)
	}
	if err == nil || errors.Is(err, checkout.ErrReplayFailed) {
		detail := "type " + ev.Type + ", now " + ev.State
		if ev.LastError != "" {
			detail += ": " + ev.LastError
		}
		s.audit(ctx, actor, "replay", eventID, detail)
	}
	return ev, err
}

func (s *shop) SyncAll(ctx context.Context, actor identity.Identity) (int, error) {
	n, err := s.lic.SyncAll(ctx)
	detail := fmt.Sprintf("%d account(s) synced", n)
	if s.sweepAccess != nil {
		removed, serr := s.sweepAccess(ctx)
		detail += fmt.Sprintf(", %d member(s) without a license removed", removed)
		err = errors.Join(err, serr)
	}
	if err != nil {
		detail += "; some failed"
	}
	s.audit(ctx, actor, "sync", "", detail)
	return n, err
}

// audit records an admin action the core does not record itself.
func (s *shop) audit(ctx context.Context, actor identity.Identity, action, target, detail string) {
	err := s.db.Audit(ctx, store.AuditEntry{Actor: actor.String(), Action: action, Target: target, Detail: detail})
	if err != nil && s.log != nil {
		s.log.Error("audit entry not written", "action", action, "err", err)
	}
}

func chatEvent(e store.Event) commands.Event {
	return commands.Event{
		ID: e.ID, Type: e.Type, State: string(e.State), Attempts: e.Attempts,
		LastError: e.LastError, ReceivedAt: e.ReceivedAt, NextAttemptAt: e.NextAttemptAt,
	}
}

// license is the buyer-facing view of one license; viewer, when set, marks
// whether they hold a slot of it.
func (s *shop) license(in licensing.Info, viewer identity.Identity) commands.License {
	l := in.License
	c := commands.License{
		Key:         l.Key,
		ProductID:   l.ProductID,
		ProductName: in.Product.Name,
		Status:      commands.StatusActive,
		ExpiresAt:   l.ExpiresAt,
		SlotsUsed:   len(in.Holders),
		MaxSlots:    l.MaxSlots,
	}
	switch {
	case l.Status == store.LicenseRevoked:
		c.Status = commands.StatusRevoked
	case !l.ExpiresAt.IsZero() && !l.ExpiresAt.After(s.now()):
		c.Status = commands.StatusExpired
	}
	if in.Remote != nil && len(in.Remote.HWIDList) > c.SlotsUsed {
		c.SlotsUsed = len(in.Remote.HWIDList)
	}
	if viewer.Platform != "" {
		c.Activated = slices.ContainsFunc(in.Holders, func(a store.Activation) bool { return a.Identity == viewer })
		c.Billing = billable(in, viewer)
		if o := in.Order; o != nil && o.Mode == config.ModeSubscription && o.OrderRail() == store.RailStars && l.Owner == viewer && !o.Ended {
			c.StarsSubscription, c.Canceled = true, o.Canceled
		}
	}
	return c
}

// billable reports whether who pays for the license by a subscription
// whose Stripe customer is known, i.e. has a billing portal to open.
func billable(in licensing.Info, who identity.Identity) bool {
	o := in.Order
	return o != nil && o.Mode == config.ModeSubscription && o.CustomerID != "" && in.License.Owner == who
}

// classify turns the core's errors into the chat's message kinds. Errors it
// does not know become the generic apology, and the chat layer logs them.
func classify(err error) commands.Problem {
	var (
		rl    *licensing.RateLimitError
		full  *licensing.SlotsFullError
		moved *licensing.TransferLimitError
	)
	switch {
	case errors.As(err, &rl):
		return commands.Problem{Kind: commands.KindTooManyAttempts, RetryAfter: rl.RetryAfter}
	case errors.As(err, &full):
		return commands.Problem{Kind: commands.KindSlotsFull, Slots: full.Max}
	case errors.As(err, &moved):
		return commands.Problem{Kind: commands.KindTransferLimit, Limit: moved.Limit, RetryAfter: moved.RetryAfter}
	}
	table := []struct {
		err  error
		kind commands.Kind
	}{
		{licensing.ErrMalformedKey, commands.KindMalformedKey},
		{licensing.ErrUnknownKey, commands.KindUnknownKey},
		{licensing.ErrNoOutsideProduct, commands.KindNoOutsideProduct},
		{licensing.ErrInvalidKey, commands.KindInvalidKey},
		{licensing.ErrExpired, commands.KindExpired},
		{licensing.ErrRevoked, commands.KindRevoked},
		{licensing.ErrSlotsFull, commands.KindSlotsFull},
		{licensing.ErrBlocked, commands.KindBlocked},
		{licensing.ErrNoCredits, commands.KindNoCredits},
		{licensing.ErrTooManyAttempts, commands.KindTooManyAttempts},
		{licensing.ErrRateLimited, commands.KindRateLimited},
		{licensing.ErrNotEntitled, commands.KindNotEntitled},
		{licensing.ErrUnknownProduct, commands.KindUnknownProduct},
		{licensing.ErrLifetime, commands.KindLifetime},
		{licensing.ErrInvalidArgument, commands.KindInvalidArgument},
		{licensing.ErrNotHolder, commands.KindNotHolder},
		{licensing.ErrTransferLimit, commands.KindTransferLimit},
		{licensing.ErrNotConfirmed, commands.KindNotConfirmed},
		{terms.ErrNotAccepted, commands.KindTermsNotAccepted},
		// Unavailable comes after the specific kinds: a failed check can
		// wrap both "not entitled" and "could not ask".
		{licensing.ErrUnavailable, commands.KindUnavailable},
		{store.ErrNotFound, commands.KindNotFound},
		{checkout.ErrUnknownEvent, commands.KindUnknownEvent},
		{checkout.ErrNotReplayable, commands.KindNotReplayable},
		{checkout.ErrReplayFailed, commands.KindReplayFailed},
		{checkout.ErrUnknownProduct, commands.KindUnknownProduct},
		{checkout.ErrPromotionCode, commands.KindPromotionCode},
		{checkout.ErrRateLimited, commands.KindRateLimited},
		{checkout.ErrStripe, commands.KindPaymentUnavailable},
	}
	for _, e := range table {
		if errors.Is(err, e.err) {
			return commands.Problem{Kind: e.kind}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return commands.Problem{Kind: commands.KindUnavailable}
	}
	return commands.Problem{Kind: commands.KindUnknown}
}
