package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/shopbot/shopbot/identity"
)

// admin runs an admin command after the permission and argument checks. A
// non-admin learns only that the command is for admins: no Shop call, no
// hint about whether the target exists.
func (h *Handler) admin(ctx context.Context, req Request, cmd string, run func(context.Context, Request, Target) Reply) Reply {
	if r, refused := h.refuse(ctx, req, cmd); refused {
		return r
	}
	if len(req.Args) != 1 {
		return Reply{Text: fmt.Sprintf(msgTargetUsage, cmd, cmd), Ephemeral: true}
	}
	t, ok := ParseTarget(req.Args[0])
	if !ok {
		return Reply{Text: msgBadTarget, Ephemeral: true}
	}
	return run(ctx, req, t)
}

// refuse answers an admin command that may not run here, and reports
// whether it did: outside a private chat (admin answers carry buyers'
// identities, orders and errors, which everyone in a group would read; a
// key typed there is asked to be deleted), and for a non-admin, with the
// one refusal.
func (h *Handler) refuse(ctx context.Context, req Request, cmd string) (Reply, bool) {
	if !req.Private {
		l := h.to(req)
		r := goPrivate(l, l.say("private.go"), cmd)
		r.DeleteRequest = slices.ContainsFunc(req.Args, looksLikeKey)
		return r, true
	}
	if req.Admin {
		return Reply{}, false
	}
	h.log.InfoContext(ctx, "admin command refused", "command", cmd, "identity", req.Who.String())
	return Reply{Text: msgAdminOnly, Ephemeral: true}, true
}

// looksLikeKey is a loose test for a license key in an argument: long, with
// dashes, nothing but letters, digits and dashes. Erring towards yes only
// deletes a message that did not need it.
func looksLikeKey(s string) bool {
	return len(s) >= 16 && strings.Contains(s, "-") && keyChars(s)
}

// keyChars reports whether s has only the characters of a key: ASCII
// letters, digits and dashes.
func keyChars(s string) bool {
	for _, r := range s {
		if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// ParseTarget reads an admin command argument: an identity ("tg:123",
// "discord:456") or else a license key, which is trimmed and upper-cased
// (its shape is the core's to check).
func ParseTarget(s string) (Target, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Target{}, false
	}
	if strings.Contains(s, ":") {
		who, err := identity.Parse(s)
		if err != nil {
			return Target{}, false
		}
		return Target{Who: who}, true
	}
	// Rejecting anything but a key's characters here keeps odd input out
	// of the core and the logs.
	if !keyChars(s) {
		return Target{}, false
	}
	return Target{Key: strings.ToUpper(s)}, true
}

// revoke is /revoke KEY|user.
func (h *Handler) revoke(ctx context.Context, req Request, t Target) Reply {
	revoked, err := h.shop.Revoke(ctx, req.Who, t)
	if err != nil {
		return h.fail(ctx, req, "revoke "+t.String(), err)
	}
	h.log.InfoContext(ctx, "admin revoked", "actor", req.Who.String(), "target", t.String(), "count", len(revoked))
	if len(revoked) == 0 {
		return Reply{Text: fmt.Sprintf(msgNothingToRevoke, t.String()), Ephemeral: true}
	}
	var b strings.Builder
	fmt.Fprintf(&b, msgRevokedHeader, len(revoked))
	for _, l := range revoked {
		b.WriteByte('\n')
		fmt.Fprintf(&b, msgRevokedLine, plain(h.licenseName(l)), maskKey(l.Key))
	}
	b.WriteString("\n" + msgRevokedFooter)
	return Reply{Text: b.String(), Ephemeral: true}
}

// lookup is /lookup KEY|user. Keys stay masked: the admin already has the
// key or the user id, and the reply may be read over their shoulder.
func (h *Handler) lookup(ctx context.Context, req Request, t Target) Reply {
	found, err := h.shop.Lookup(ctx, req.Who, t)
	if err != nil {
		return h.fail(ctx, req, "lookup "+t.String(), err)
	}
	if len(found) == 0 {
		return Reply{Text: problemIn(h.adminWords(), Problem{Kind: KindNotFound}), Ephemeral: true}
	}
	parts := make([]string, 0, len(found))
	for _, d := range found {
		parts = append(parts, fmt.Sprintf(msgLookupLine,
			maskKey(d.Key), plain(h.licenseName(d.License)), statusIn(h.adminWords(), d.Status),
			identityText(d.Owner), holdersText(d.Holders), d.SlotsUsed, d.MaxSlots,
			expiryIn(h.adminWords(), d.ExpiresAt), orderText(d), dateText(d.CreatedAt), remoteText(d)))
	}
	return Reply{Text: strings.Join(parts, "\n\n"), Ephemeral: true}
}

func (h *Handler) licenseName(l License) string {
	if l.ProductName != "" {
		return l.ProductName
	}
	return h.nameOf(l.ProductID)
}

func identityText(who identity.Identity) string {
	if who.IsZero() {
		return "none"
	}
	return "`" + who.String() + "`"
}

func holdersText(holders []identity.Identity) string {
	if len(holders) == 0 {
		return "none"
	}
	s := make([]string, len(holders))
	for i, h := range holders {
		s[i] = identityText(h)
	}
	return strings.Join(s, ", ")
}

func orderText(d LicenseDetails) string {
	if d.OrderID == "" {
		return "none (granted)"
	}
	var notes []string
	if d.OrderStatus != "" {
		notes = append(notes, plain(d.OrderStatus))
	}
	switch d.Rail {
	case "stars":
		notes = append(notes, "paid with Telegram Stars")
	case "stripe":
		notes = append(notes, "paid with Stripe")
	}
	if d.Paid != "" {
		notes = append(notes, plain(d.Paid))
	}
	if len(notes) == 0 {
		return "`" + plain(d.OrderID) + "`"
	}
	return "`" + plain(d.OrderID) + "` (" + strings.Join(notes, ", ") + ")"
}

func remoteText(d LicenseDetails) string {
	switch {
	case d.RemoteUnavailable:
		return "unreachable"
	case d.RemoteStatus == "":
		return "not asked"
	}
	return plain(d.RemoteStatus)
}
