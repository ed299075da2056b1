package commands

import (
	"context"
	"fmt"
	"github.com/shopbot/shopbot/words"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of the admin commands' arguments.
const (
	defaultListed = 10
	maxListed     = 50
	// maxExtension keeps /extend's arithmetic far from overflowing and
	// catches a typo like 3000000d.
	maxExtension = 100 * 365 * 24 * time.Hour
	// Clipped lengths of core text quoted in admin replies.
	maxDetailRunes = 120
	maxErrorRunes  = 200
)

// eventID is the shape of a stored event id (Stripe's evt_..., Telegram
// Stars' tgpay:<charge id> and tgrefund:<charge id>); anything else is
// refused before it reaches the core or the logs.
var eventID = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,255}$`)

// adminOp runs the admin commands that go through Admin, after the
// permission check.
func (h *Handler) adminOp(ctx context.Context, req Request, cmd string) Reply {
	if r, refused := h.refuse(ctx, req, cmd); refused {
		return r
	}
	if h.ops == nil {
		return Reply{Text: msgUnavailable, Ephemeral: true}
	}
	switch cmd {
	case "grant":
		return h.grant(ctx, req)
	case "extend":
		return h.extend(ctx, req)
	case "resethwid":
		return h.resetHWID(ctx, req)
	case "stats":
		return h.stats(ctx)
	case "audit":
		return h.audit(ctx, req)
	case "failed":
		return h.failed(ctx, req)
	case "replay":
		return h.replay(ctx, req)
	}
	return h.syncAll(ctx, req)
}

// grant is /grant USER PRODUCT; the two may come in either order (Discord
// sends options in the order the admin filled them in).
func (h *Handler) grant(ctx context.Context, req Request) Reply {
	usage := Reply{Text: fmt.Sprintf(msgGrantUsage, h.productList()), Ephemeral: true}
	if len(req.Args) != 2 {
		return usage
	}
	userArg, productArg := req.Args[0], req.Args[1]
	if !strings.Contains(userArg, ":") {
		userArg, productArg = productArg, userArg
	}
	t, ok := ParseTarget(userArg)
	if !ok || t.Who.IsZero() || strings.Contains(productArg, ":") {
		return usage
	}
	p, ok := h.byID[strings.ToLower(productArg)]
	if !ok {
		return Reply{Text: fmt.Sprintf(msgGrantNoProduct, plain(productArg), h.productList()), Ephemeral: true}
	}
	l, err := h.ops.Grant(ctx, req.Who, t.Who, p.ID)
	if err != nil {
		return h.fail(ctx, req, "grant "+p.ID+" to "+t.Who.String(), err)
	}
	h.log.InfoContext(ctx, "admin granted", "actor", req.Who.String(), "to", t.Who.String(), "product", p.ID, "key", maskKey(l.Key))
	return Reply{
		Text:      fmt.Sprintf(msgGranted, plain(productName(p)), identityText(t.Who), maskKey(l.Key), expiryIn(h.adminWords(), l.ExpiresAt)),
		Ephemeral: true,
	}
}

// extend is /extend KEY DURATION, in either order.
func (h *Handler) extend(ctx context.Context, req Request) Reply {
	usage := Reply{Text: msgExtendUsage, Ephemeral: true}
	if len(req.Args) != 2 {
		return usage
	}
	keyArg, durArg := req.Args[0], req.Args[1]
	if _, ok := ParseExtension(keyArg); ok {
		keyArg, durArg = durArg, keyArg
	}
	by, ok := ParseExtension(durArg)
	if !ok {
		return usage
	}
	t, ok := ParseTarget(keyArg)
	if !ok || t.Key == "" {
		return usage
	}
	l, err := h.ops.Extend(ctx, req.Who, t.Key, by)
	if err != nil {
		return h.fail(ctx, req, "extend "+t.String(), err)
	}
	h.log.InfoContext(ctx, "admin extended", "actor", req.Who.String(), "key", t.String(), "by", by)
	return Reply{
		Text:      fmt.Sprintf(msgExtended, t.String(), plain(h.licenseName(l)), durationText(by), expiryIn(h.adminWords(), l.ExpiresAt)),
		Ephemeral: true,
	}
}

// resetHWID is /resethwid KEY.
func (h *Handler) resetHWID(ctx context.Context, req Request) Reply {
	t, ok := h.keyArg(req)
	if !ok {
		return Reply{Text: fmt.Sprintf(msgKeyUsage, "resethwid"), Ephemeral: true}
	}
	l, err := h.ops.ResetHWID(ctx, req.Who, t.Key)
	if err != nil {
		return h.fail(ctx, req, "resethwid "+t.String(), err)
	}
	h.log.InfoContext(ctx, "admin reset HWIDs", "actor", req.Who.String(), "key", t.String())
	return Reply{Text: fmt.Sprintf(msgResetHWID, t.String(), plain(h.licenseName(l))), Ephemeral: true}
}

func (h *Handler) keyArg(req Request) (Target, bool) {
	if len(req.Args) != 1 {
		return Target{}, false
	}
	t, ok := ParseTarget(req.Args[0])
	return t, ok && t.Key != ""
}

// stats is /stats.
func (h *Handler) stats(ctx context.Context) Reply {
	st, err := h.ops.Stats(ctx)
	if err != nil {
		return h.fail(ctx, Request{Lang: words.English}, "stats", err)
	}
	text := fmt.Sprintf(msgStats, st.Orders, ordersText(st.OrdersByStatus),
		st.ActiveLicenses, st.RevokedLicenses, st.Activations, st.Holders,
		st.EventsPending, st.EventsFailed, st.Validations, st.Heartbeats, creditsText(st.CreditsEstimate))
	text += fmt.Sprintf(msgStatsRemovals, st.AccessRemovals)
	text += revenueText(st)
	for _, c := range st.Chat {
		text += fmt.Sprintf(msgStatsChat, plain(c.Platform), c.CommandsDropped, c.RepliesDropped, c.Queued, c.RateLimited)
	}
	return Reply{Text: text, Ephemeral: true}
}

// audit is /audit [N].
func (h *Handler) audit(ctx context.Context, req Request) Reply {
	n, ok := countArg(req.Args)
	if !ok {
		return Reply{Text: fmt.Sprintf(msgCountUsage, "audit", "audit"), Ephemeral: true}
	}
	entries, err := h.ops.Audit(ctx, n)
	if err != nil {
		return h.fail(ctx, req, "audit", err)
	}
	if len(entries) == 0 {
		return Reply{Text: msgAuditEmpty, Ephemeral: true}
	}
	var b strings.Builder
	fmt.Fprintf(&b, msgAuditHeader, len(entries))
	for _, e := range entries {
		rest := ""
		if e.Target != "" {
			rest += " `" + plain(e.Target) + "`"
		}
		if e.Detail != "" {
			rest += ": " + plain(clip(e.Detail, maxDetailRunes))
		}
		b.WriteByte('\n')
		fmt.Fprintf(&b, msgAuditLine, dateText(e.Time), plain(e.Actor), plain(e.Action), rest)
	}
	return Reply{Text: b.String(), Ephemeral: true}
}

// failed is /failed [N].
func (h *Handler) failed(ctx context.Context, req Request) Reply {
	n, ok := countArg(req.Args)
	if !ok {
		return Reply{Text: fmt.Sprintf(msgCountUsage, "failed", "failed"), Ephemeral: true}
	}
	evs, err := h.ops.FailedEvents(ctx, n)
	if err != nil {
		return h.fail(ctx, req, "failed events", err)
	}
	if len(evs) == 0 {
		return Reply{Text: msgFailedEmpty, Ephemeral: true}
	}
	var b strings.Builder
	b.WriteString(msgFailedHeader)
	for _, e := range evs {
		b.WriteByte('\n')
		fmt.Fprintf(&b, msgFailedLine, plain(e.ID), plain(e.Type), e.Attempts, dateText(e.ReceivedAt), errorText(e.LastError))
	}
	b.WriteString("\n" + msgFailedFooter)
	return Reply{Text: b.String(), Ephemeral: true}
}

// replay is /replay EVENT_ID.
func (h *Handler) replay(ctx context.Context, req Request) Reply {
	if len(req.Args) != 1 || !eventID.MatchString(req.Args[0]) {
		return Reply{Text: msgReplayUsage, Ephemeral: true}
	}
	id := req.Args[0]
	ev, err := h.ops.Replay(ctx, req.Who, id)
	h.log.InfoContext(ctx, "admin replayed event", "actor", req.Who.String(), "event", id, "state", ev.State, "err", err)
	if ev.ID == "" {
		ev.ID = id
	}
	switch {
	case err == nil:
		return Reply{Text: fmt.Sprintf(msgReplayed, plain(ev.ID), plain(ev.Type)), Ephemeral: true}
	case h.problem(err).Kind != KindReplayFailed || ev.LastError == "":
		return h.fail(ctx, req, "replay "+id, err)
	case ev.State == "pending" && !ev.NextAttemptAt.IsZero():
		return Reply{Text: fmt.Sprintf(msgReplayRetry, plain(ev.ID), plain(ev.Type), errorText(ev.LastError), dateText(ev.NextAttemptAt)), Ephemeral: true}
	}
	return Reply{Text: fmt.Sprintf(msgReplayFailed, plain(ev.ID), plain(ev.Type), errorText(ev.LastError)), Ephemeral: true}
}

// syncAll is /sync.
func (h *Handler) syncAll(ctx context.Context, req Request) Reply {
	n, err := h.ops.SyncAll(ctx, req.Who)
	switch {
	case err == nil:
		h.log.InfoContext(ctx, "admin synced access", "actor", req.Who.String(), "accounts", n)
		return Reply{Text: fmt.Sprintf(msgSynced, n), Ephemeral: true}
	case n > 0:
		h.log.WarnContext(ctx, "admin sync partly failed", "actor", req.Who.String(), "accounts", n, "err", err)
		return Reply{Text: fmt.Sprintf(msgSyncedPartly, n), Ephemeral: true}
	}
	return h.fail(ctx, req, "sync", err)
}

// ParseExtension reads /extend's duration: a Go duration ("72h", "90m")
// or whole days or weeks ("30d", "2w"). It must be positive and at most
// 100 years.
func ParseExtension(s string) (time.Duration, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(s, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(s, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit != 0 {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n <= 0 || time.Duration(n) > maxExtension/unit {
			return 0, false
		}
		return time.Duration(n) * unit, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > maxExtension {
		return 0, false
	}
	return d, true
}

// countArg reads the optional N of /audit and /failed: default 10, at
// most 50 (more is shown as 50).
func countArg(args []string) (int, bool) {
	switch len(args) {
	case 0:
		return defaultListed, true
	case 1:
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return 0, false
		}
		return min(n, maxListed), true
	}
	return 0, false
}

// productList names the product ids for usage messages.
func (h *Handler) productList() string {
	if len(h.products) == 0 {
		return "none"
	}
	ids := make([]string, len(h.products))
	for i, p := range h.products {
		ids[i] = "`" + plain(p.ID) + "`"
	}
	return strings.Join(ids, ", ")
}

// durationText says a duration in days when it is whole days.
func durationText(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%d day(s)", d/day)
	}
	return d.String()
}

// ordersText is " (fulfilled 3, pending 1)", known states first.
func ordersText(by map[string]int) string {
	states := make([]string, 0, len(by))
	for s, n := range by {
		if n > 0 {
			states = append(states, s)
		}
	}
	rank := func(s string) int {
		if i := slices.Index([]string{"fulfilled", "pending", "revoked", "ended"}, s); i >= 0 {
			return i
		}
		return 4
	}
	slices.SortFunc(states, func(a, b string) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = fmt.Sprintf("%s %d", plain(s), by[s])
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func creditsText(c float64) string {
	if c == float64(int64(c)) {
		return strconv.FormatInt(int64(c), 10)
	}
	return strconv.FormatFloat(c, 'f', 1, 64)
}

func errorText(s string) string {
	if s == "" {
		return "none recorded"
	}
	return plain(clip(s, maxErrorRunes))
}

// clip cuts s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(strings.TrimSpace(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// revenueText is /stats' money lines: each rail's takings, side by side.
func revenueText(st Stats) string {
	var b strings.Builder
	for _, r := range st.Revenue {
		rail := "Stripe"
		if r.Rail == "stars" {
			rail = "Telegram Stars"
		}
		fmt.Fprintf(&b, msgStatsRevenue, rail, plain(r.Amount), r.Payments)
		if r.Refunded != "" {
			fmt.Fprintf(&b, msgStatsRefunded, plain(r.Refunded))
		}
	}
	if st.ActiveSubscriptions > 0 {
		fmt.Fprintf(&b, msgStatsSubs, st.ActiveSubscriptions)
	}
	return b.String()
}

const (
	msgStatsRevenue  = "\nRevenue via %s: %s from %d payment(s)"
	msgStatsRefunded = ", %s refunded"
	msgStatsSubs     = "\nActive subscriptions: %d"
)
