package commands

import (
	"context"
	"strings"
	"time"

	"github.com/shopbot/shopbot/notify"
)

// activate is /activate KEY and the Activate button of a delivered key.
func (h *Handler) activate(ctx context.Context, req Request, key string) Reply {
	key = strings.TrimSpace(key)
	l := h.to(req)
	if r, ok := keyCommandGuard(l, req, "activate", key, "private.key_exposed", "activate.usage"); !ok {
		return r
	}
	if r, ask := h.askTerms(ctx, req, key); ask {
		return r
	}
	return h.bind(ctx, req, key)
}

// bind activates key once nothing stands in the way.
func (h *Handler) bind(ctx context.Context, req Request, key string) Reply {
	a, err := h.shop.Activate(ctx, req.Who, key)
	if err != nil {
		return h.fail(ctx, req, "activate "+maskKey(key), err)
	}
	name := a.ProductName
	if name == "" {
		name = h.nameOf(a.ProductID)
	}
	l := h.to(req)
	msg := "activate.done"
	if a.Renewed {
		msg = "activate.again"
	}
	return Reply{
		Text:      l.say(msg, "product", plain(name), "validity", expiryIn(l, a.ExpiresAt), "used", a.SlotsUsed, "slots", a.MaxSlots),
		Ephemeral: true,
	}
}

// licenses is /license: the user's own licenses. Keys are shown whole only
// in a private reply (they belong to the asker); a shared chat gets a
// button to the private chat instead of a list.
func (h *Handler) licenses(ctx context.Context, req Request) Reply {
	tr := h.to(req)
	if !req.Private {
		return goPrivate(tr, tr.say("private.go"), "license")
	}
	list, err := h.shop.Licenses(ctx, req.Who)
	if err != nil {
		return h.fail(ctx, req, "licenses", err)
	}
	if len(list) == 0 {
		r := h.catalog(req)
		if len(h.products) > 0 {
			r.Text = tr.say("license.none") + "\n\n" + r.Text
		}
		return r
	}
	var b strings.Builder
	b.WriteString(tr.say("license.header"))
	var rows [][]Button
	for _, l := range list {
		name := l.ProductName
		if name == "" {
			name = h.nameOf(l.ProductID)
		}
		b.WriteString("\n\n")
		b.WriteString(tr.say("license.line", "product", plain(name), "status", statusIn(tr, l.Status), "key", plain(l.Key),
			"validity", expiryIn(tr, l.ExpiresAt), "used", l.SlotsUsed, "slots", l.MaxSlots))
		if !l.Activated && l.Status == StatusActive {
			b.WriteString("\n" + tr.say("license.not_here"))
			rows = append(rows, []Button{{Label: tr.say("license.activate_button", "product", name), Data: ActivateData(l.Key)}})
		}
		if url := h.billingLink(ctx, req, l); url != "" {
			rows = append(rows, []Button{{Label: tr.say("license.manage_button", "product", name), URL: url}})
		}
		switch {
		case l.StarsSubscription && l.Canceled:
			b.WriteString("\n" + tr.say("license.sub_ends"))
		case l.StarsSubscription && l.Status == StatusActive && h.pay != nil:
			rows = append(rows, []Button{{Label: tr.say("license.cancel_button", "product", name), Data: CancelSubData(l.Key)}})
		}
	}
	return Reply{Text: b.String(), Buttons: rows, Ephemeral: true, Sensitive: true}
}

// billingLink is the billing page of a subscription license the asker
// pays for, or "" when there is none. A failure only costs the button:
// the list of licenses matters more and is still shown.
func (h *Handler) billingLink(ctx context.Context, req Request, l License) string {
	if !l.Billing || l.Status == StatusRevoked || h.account == nil {
		return ""
	}
	url, err := h.account.BillingLink(ctx, req.Who, l.Key)
	if err != nil {
		h.log.WarnContext(ctx, "billing portal link not created", "identity", req.Who.String(), "key", maskKey(l.Key), "err", err)
		return ""
	}
	return url
}

// transfer is /transfer KEY: the holder frees every slot of the key to
// activate it on another account. Like /activate, it only runs where no
// one else reads the key.
func (h *Handler) transfer(ctx context.Context, req Request) Reply {
	key := strings.TrimSpace(strings.Join(req.Args, " "))
	l := h.to(req)
	if r, ok := keyCommandGuard(l, req, "transfer", key, "private.move_exposed", "transfer.usage"); !ok {
		return r
	}
	if h.account == nil {
		return Reply{Text: l.say("chat.unavailable"), Ephemeral: true}
	}
	remaining, err := h.account.Transfer(ctx, req.Who, key)
	if err != nil {
		return h.fail(ctx, req, "transfer "+maskKey(key), err)
	}
	h.log.InfoContext(ctx, "key transferred", "identity", req.Who.String(), "key", maskKey(key), "remaining", remaining)
	next := l.say("transfer.last")
	if remaining > 0 {
		next = l.say("transfer.left", "count", remaining)
	}
	return Reply{Text: l.say("transfer.done", "key", maskKey(strings.ToUpper(key))) + "\n" + next, Ephemeral: true}
}

// keyCommandGuard is the common start of a command that takes a license
// key (cmd is its name and /start payload). It reports ok when the command
// may go on: in a private chat, with a key. Otherwise r is the answer: outside
// a private chat, a pointer to the private chat, and when the key was typed
// anyway (it is now readable by everyone in the chat) the exposed text and a
// request to delete the message; in private without a key, the usage text.
// exposed and usage are message keys.
func keyCommandGuard(l reader, req Request, cmd, key, exposed, usage string) (r Reply, ok bool) {
	switch {
	case !req.Private && key == "":
		return goPrivate(l, l.say("private.go"), cmd), false
	case !req.Private:
		r = goPrivate(l, l.say(exposed), cmd)
		r.DeleteRequest = true
		return r, false
	case key == "":
		return Reply{Text: l.say(usage), Ephemeral: true}, false
	}
	return Reply{}, true
}

func (h *Handler) nameOf(productID string) string {
	if p, ok := h.byID[productID]; ok {
		return productName(p)
	}
	return productID
}

func statusIn(l reader, s Status) string {
	switch s {
	case StatusActive:
		return l.say("license.status_active")
	case StatusExpired:
		return l.say("license.status_expired")
	case StatusRevoked:
		return l.say("license.status_revoked")
	case "":
		return l.say("license.status_unknown")
	}
	return plain(string(s))
}

// expiryText is "Valid until 2 Jan 2026 15:04 UTC." or "Lifetime license.";
// UTC because buyers are anywhere and the chat cannot tell their zone.
func expiryIn(l reader, t time.Time) string {
	if t.IsZero() {
		return l.say("license.lifetime")
	}
	return l.say("license.valid_until", "date", dateText(t))
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(notify.TimeLayout)
}

// maskKey shows the first and last four characters, the same shape as
// the core's authforge.MaskKey, so logs and admin replies never carry a
// whole key. Runes, not bytes, because the input may be anything a user
// typed.
func maskKey(key string) string {
	r := []rune(strings.TrimSpace(key))
	if len(r) < 12 {
		return "…"
	}
	return string(r[:4]) + "-…-" + string(r[len(r)-4:])
}
