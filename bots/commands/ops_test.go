package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

var (
	errUnknownEvent = errors.New("no such event")
	errReplayFailed = errors.New("replay failed")
	errLifetime     = errors.New("lifetime")
	errMoved        = errors.New("moved too often")
)

// opsClassify extends classify with the sentinels of the admin and
// account commands.
func opsClassify(err error) Problem {
	switch {
	case errors.Is(err, errUnknownEvent):
		return Problem{Kind: KindUnknownEvent}
	case errors.Is(err, errReplayFailed):
		return Problem{Kind: KindReplayFailed}
	case errors.Is(err, errLifetime):
		return Problem{Kind: KindLifetime}
	case errors.Is(err, errMoved):
		return Problem{Kind: KindTransferLimit, Limit: 2, RetryAfter: 72 * time.Hour}
	}
	return classify(err)
}

// ops is an in-test Admin and Account, recording calls.
type ops struct {
	mu        sync.Mutex
	calls     []string
	lic       License
	err       error
	stats     Stats
	audit     []AuditEntry
	events    []Event
	replayed  Event
	synced    int
	remaining int
	billing   string
	billErr   error
}

func (o *ops) record(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, fmt.Sprintf(format, args...))
}

func (o *ops) Calls() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.calls...)
}

func (o *ops) Grant(_ context.Context, actor, who identity.Identity, productID string) (License, error) {
	o.record("grant %s %s %s", actor, who, productID)
	return o.lic, o.err
}

func (o *ops) Extend(_ context.Context, actor identity.Identity, key string, by time.Duration) (License, error) {
	o.record("extend %s %s %s", actor, key, by)
	return o.lic, o.err
}

func (o *ops) ResetHWID(_ context.Context, actor identity.Identity, key string) (License, error) {
	o.record("resethwid %s %s", actor, key)
	return o.lic, o.err
}

func (o *ops) Stats(context.Context) (Stats, error) {
	o.record("stats")
	return o.stats, o.err
}

func (o *ops) Audit(_ context.Context, n int) ([]AuditEntry, error) {
	o.record("audit %d", n)
	return o.audit, o.err
}

func (o *ops) FailedEvents(_ context.Context, n int) ([]Event, error) {
	o.record("failed %d", n)
	return o.events, o.err
}

func (o *ops) Replay(_ context.Context, actor identity.Identity, id string) (Event, error) {
	o.record("replay %s %s", actor, id)
	return o.replayed, o.err
}

func (o *ops) SyncAll(_ context.Context, actor identity.Identity) (int, error) {
	o.record("sync %s", actor)
	return o.synced, o.err
}

func (o *ops) Transfer(_ context.Context, who identity.Identity, key string) (int, error) {
	o.record("transfer %s %s", who, key)
	return o.remaining, o.err
}

func (o *ops) BillingLink(_ context.Context, who identity.Identity, key string) (string, error) {
	o.record("billing %s %s", who, key)
	return o.billing, o.billErr
}

func newOpsHandler(t *testing.T, o *ops) *Handler {
	t.Helper()
	h, err := New(Options{Shop: &shop{}, Admin: o, Account: o, Products: products, Classify: opsClassify})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var adminWho = identity.TelegramUser(1)

func adminReq(cmd string, args ...string) Request {
	return Request{Who: adminWho, Command: cmd, Args: args, Admin: true, Private: true}
}

func TestAdminOpsRefuseNonAdmins(t *testing.T) {
	o := &ops{}
	h := newOpsHandler(t, o)
	cases := map[string][]string{
		"grant": {"tg:5", "lifetime"}, "extend": {"ABCD-EFGH-IJKL-MNOP", "30d"}, "resethwid": {"ABCD-EFGH-IJKL-MNOP"},
		"stats": nil, "audit": nil, "failed": nil, "replay": {"evt_1"}, "sync": nil,
	}
	for cmd, args := range cases {
		r := h.Handle(context.Background(), private(cmd, args...))
		if r.Text != msgAdminOnly || !r.Ephemeral {
			t.Errorf("non-admin /%s = %+v", cmd, r)
		}
	}
	if len(o.Calls()) != 0 {
		t.Fatalf("non-admins reached the core: %q", o.Calls())
	}
}

func TestAdminOpsUsage(t *testing.T) {
	o := &ops{}
	h := newOpsHandler(t, o)
	for _, c := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"grant", nil, "Usage: `/grant USER PRODUCT`"},
		{"grant", []string{"tg:5"}, "Usage: `/grant USER PRODUCT`"},
		{"grant", []string{"lifetime", "ABCD-EFGH-IJKL-MNOP"}, "Usage: `/grant USER PRODUCT`"},
		{"grant", []string{"tg:5", "tg:6"}, "Usage: `/grant USER PRODUCT`"},
		{"grant", []string{"tg:abc", "lifetime"}, "Usage: `/grant USER PRODUCT`"},
		{"grant", []string{"tg:5", "gold"}, "There is no product `gold`. Products: `pro-monthly`, `lifetime`."},
		{"extend", []string{"ABCD-EFGH-IJKL-MNOP"}, "Usage: `/extend KEY DURATION`"},
		{"extend", []string{"ABCD-EFGH-IJKL-MNOP", "soon"}, "Usage: `/extend KEY DURATION`"},
		{"extend", []string{"ABCD-EFGH-IJKL-MNOP", "-3d"}, "Usage: `/extend KEY DURATION`"},
		{"extend", []string{"ABCD-EFGH-IJKL-MNOP", "0h"}, "Usage: `/extend KEY DURATION`"},
		{"extend", []string{"ABCD-EFGH-IJKL-MNOP", "99999999d"}, "Usage: `/extend KEY DURATION`"},
		{"extend", []string{"tg:5", "30d"}, "Usage: `/extend KEY DURATION`"},
		{"resethwid", nil, "Usage: `/resethwid KEY`."},
		{"resethwid", []string{"tg:5"}, "Usage: `/resethwid KEY`."},
		{"resethwid", []string{"a", "b"}, "Usage: `/resethwid KEY`."},
		{"audit", []string{"many"}, "Usage: `/audit` or `/audit N`"},
		{"audit", []string{"0"}, "Usage: `/audit` or `/audit N`"},
		{"failed", []string{"1", "2"}, "Usage: `/failed` or `/failed N`"},
		{"replay", nil, "Usage: `/replay EVENT_ID`"},
		{"replay", []string{"evt 1<b>"}, "Usage: `/replay EVENT_ID`"},
	} {
		r := h.Handle(context.Background(), adminReq(c.cmd, c.args...))
		if !strings.HasPrefix(r.Text, c.want) || !r.Ephemeral {
			t.Errorf("/%s %q = %q, want prefix %q", c.cmd, c.args, r.Text, c.want)
		}
	}
	if len(o.Calls()) != 0 {
		t.Fatalf("bad arguments reached the core: %q", o.Calls())
	}
}

func TestGrantExtendResetHWID(t *testing.T) {
	ctx := context.Background()
	until := time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC)
	o := &ops{lic: License{Key: "ABCD-EFGH-IJKL-MNOP", ProductID: "pro-monthly", ExpiresAt: until}}
	h := newOpsHandler(t, o)

	// Either order, as Discord sends options in the order filled in.
	for _, args := range [][]string{{"tg:5", "Pro-Monthly"}, {"pro-monthly", "tg:5"}} {
		r := h.Handle(ctx, adminReq("grant", args...))
		want := "Granted Pro (monthly) to `tg:5`: key `ABCD-…-MNOP`. Valid until 4 Mar 2026 05:06 UTC."
		if !strings.HasPrefix(r.Text, want) || strings.Contains(r.Text, "EFGH") {
			t.Errorf("grant %q = %q", args, r.Text)
		}
	}
	r := h.Handle(ctx, adminReq("extend", "abcd-efgh-ijkl-mnop", "30d"))
	if r.Text != "Extended `ABCD-…-MNOP` (Pro (monthly)) by 30 day(s). Valid until 4 Mar 2026 05:06 UTC. The owner was told." {
		t.Errorf("extend = %q", r.Text)
	}
	h.Handle(ctx, adminReq("extend", "2w", "ABCD-EFGH-IJKL-MNOP"))
	h.Handle(ctx, adminReq("extend", "ABCD-EFGH-IJKL-MNOP", "36h"))
	r = h.Handle(ctx, adminReq("resethwid", "ABCD-EFGH-IJKL-MNOP"))
	if !strings.HasPrefix(r.Text, "Every slot of `ABCD-…-MNOP` (Pro (monthly)) is free again.") {
		t.Errorf("resethwid = %q", r.Text)
	}
	want := []string{
		"grant tg:1 tg:5 pro-monthly", "grant tg:1 tg:5 pro-monthly",
		"extend tg:1 ABCD-EFGH-IJKL-MNOP 720h0m0s", "extend tg:1 ABCD-EFGH-IJKL-MNOP 336h0m0s",
		"extend tg:1 ABCD-EFGH-IJKL-MNOP 36h0m0s", "resethwid tg:1 ABCD-EFGH-IJKL-MNOP",
	}
	if got := o.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q", got)
	}

	o.err = errLifetime
	if r := h.Handle(ctx, adminReq("extend", "ABCD-EFGH-IJKL-MNOP", "1d")); r.Text != problemText(Problem{Kind: KindLifetime}) {
		t.Errorf("lifetime = %q", r.Text)
	}
	o.err = errBoom
	if r := h.Handle(ctx, adminReq("grant", "tg:5", "lifetime")); r.Text != TextInternalError || strings.Contains(r.Text, "exploded") {
		t.Errorf("core failure = %q", r.Text)
	}
}

func TestStatsAuditFailed(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	o := &ops{
		stats: Stats{Orders: 4, OrdersByStatus: map[string]int{"pending": 1, "fulfilled": 3}, ActiveLicenses: 3, RevokedLicenses: 1,
			Activations: 2, Holders: 2, EventsPending: 1, EventsFailed: 1, Validations: 5, Heartbeats: 25, CreditsEstimate: 7.5,
			Chat: []ChatLoad{{Platform: "telegram", CommandsDropped: 990, RepliesDropped: 12, Queued: 3, RateLimited: 1}}},
		audit: []AuditEntry{{Time: at, Actor: "tg:1", Action: "grant", Target: "ABCD-…-MNOP", Detail: "product pro to `tg:5`"}},
		events: []Event{{ID: "evt_1", Type: "checkout.session.completed", Attempts: 1, ReceivedAt: at,
			LastError: `unknown product "gold" ` + strings.Repeat("x", 300)}},
	}
	h := newOpsHandler(t, o)
	r := h.Handle(ctx, adminReq("stats"))
	for _, want := range []string{"Orders: 4 (fulfilled 3, pending 1)", "Licenses: 3 active, 1 revoked", "Activations: 2 on 2 account(s)",
		"Payment events: 1 pending, 1 failed", "5 validation(s), 25 heartbeat(s), about 7.5 credit(s) spent",
		"telegram since start: 990 command(s) dropped, 12 reply(ies) dropped, 3 waiting to go out, 1 rate-limit answer(s)"} {
		if !strings.Contains(r.Text, want) {
			t.Errorf("stats lacks %q:\n%s", want, r.Text)
		}
	}
	r = h.Handle(ctx, adminReq("audit"))
	if want := "• 2 Jan 2026 03:04 UTC — `tg:1` grant `ABCD-…-MNOP`: product pro to 'tg:5'"; !strings.Contains(r.Text, want) {
		t.Errorf("audit = %q", r.Text)
	}
	h.Handle(ctx, adminReq("audit", "500"))
	r = h.Handle(ctx, adminReq("failed"))
	if !strings.Contains(r.Text, "• `evt_1` checkout.session.completed — 1 attempt(s), received 2 Jan 2026 03:04 UTC\n  Last error: unknown product \"gold\"") ||
		!strings.Contains(r.Text, "…") || len(r.Text) > 600 || !strings.Contains(r.Text, "/replay EVENT_ID") {
		t.Errorf("failed = %q", r.Text)
	}
	h.Handle(ctx, adminReq("failed", "3"))
	if want := []string{"stats", "audit 10", "audit 50", "failed 10", "failed 3"}; strings.Join(o.Calls(), "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q", o.Calls())
	}
	o.audit, o.events = nil, nil
	if r := h.Handle(ctx, adminReq("audit")); r.Text != msgAuditEmpty {
		t.Errorf("empty audit = %q", r.Text)
	}
	if r := h.Handle(ctx, adminReq("failed")); r.Text != msgFailedEmpty {
		t.Errorf("no failed events = %q", r.Text)
	}
}

func TestReplayAndSync(t *testing.T) {
	ctx := context.Background()
	o := &ops{replayed: Event{ID: "evt_1", Type: "checkout.session.completed", State: "done"}, synced: 3}
	h := newOpsHandler(t, o)
	if h.Handle(ctx, adminReq("replay", "tgpay:stxAbC-123_x")); !slices.Contains(o.Calls(), "replay tg:1 tgpay:stxAbC-123_x") {
		t.Errorf("a Telegram Stars event id was not replayed: calls %q", o.Calls())
	}
	if r := h.Handle(ctx, adminReq("replay", "evt_1")); r.Text != "Replayed `evt_1` (checkout.session.completed): it is no longer failed." {
		t.Errorf("replay ok = %q", r.Text)
	}
	o.err, o.replayed = errUnknownEvent, Event{}
	if r := h.Handle(ctx, adminReq("replay", "evt_nope")); !strings.HasPrefix(r.Text, "No payment event with that id") {
		t.Errorf("unknown event = %q", r.Text)
	}
	o.err = errReplayFailed
	o.replayed = Event{ID: "evt_1", Type: "checkout.session.completed", State: "failed", LastError: `unknown product "gold"`}
	if r := h.Handle(ctx, adminReq("replay", "evt_1")); !strings.Contains(r.Text, `but it failed again: unknown product "gold"`) ||
		!strings.Contains(r.Text, "Fix the cause") {
		t.Errorf("failed again = %q", r.Text)
	}
	o.replayed.State, o.replayed.NextAttemptAt = "pending", time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	if r := h.Handle(ctx, adminReq("replay", "evt_1")); !strings.Contains(r.Text, "retried automatically at 2 Jan 2026 03:04 UTC") {
		t.Errorf("retry = %q", r.Text)
	}

	o.err = nil
	if r := h.Handle(ctx, adminReq("sync")); r.Text != "Synced roles and chat access of 3 account(s)." {
		t.Errorf("sync = %q", r.Text)
	}
	o.err = errBoom
	if r := h.Handle(ctx, adminReq("sync")); !strings.Contains(r.Text, "some changes failed") {
		t.Errorf("partial sync = %q", r.Text)
	}
	o.synced = 0
	if r := h.Handle(ctx, adminReq("sync")); r.Text != TextInternalError {
		t.Errorf("failed sync = %q", r.Text)
	}
}
