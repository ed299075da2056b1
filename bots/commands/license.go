package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/shopbot/shopbot/notify"
)

// activate is /activate KEY and the Activate button of a delivered key.
func (h *Handler) activate(ctx context.Context, req Request, key string) Reply {
	key = strings.TrimSpace(key)
	if r, ok := keyCommandGuard(req, "activate", key, msgGoPrivateKey, msgActivateUsage); !ok {
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
		return h.fail(ctx, "activate "+maskKey(key), err)
	}
	name := a.ProductName
	if name == "" {
		name = h.nameOf(a.ProductID)
	}
	format := msgActivated
	if a.Renewed {
		format = msgReactivated
	}
	return Reply{
		Text:      fmt.Sprintf(format, plain(name), expiryText(a.ExpiresAt), a.SlotsUsed, a.MaxSlots),
		Ephemeral: true,
	}
}

// licenses is /license: the user's own licenses. Keys are shown whole only
// in a private reply (they belong to the asker); a shared chat gets a
// button to the private chat instead of a list.
func (h *Handler) licenses(ctx context.Context, req Request) Reply {
	if !req.Private {
		return goPrivate(msgGoPrivate, "license")
	}
	list, err := h.shop.Licenses(ctx, req.Who)
	if err != nil {
		return h.fail(ctx, "licenses", err)
	}
	if len(list) == 0 {
		r := h.catalog(req)
		if len(h.products) > 0 {
			r.Text = msgNoLicenses + "\n\n" + r.Text
		}
		return r
	}
	var b strings.Builder
	b.WriteString(msgLicensesHeader)
	var rows [][]Button
	for _, l := range list {
		name := l.ProductName
		if name == "" {
			name = h.nameOf(l.ProductID)
		}
		b.WriteString("\n\n")
		fmt.Fprintf(&b, msgLicenseLine, plain(name), statusText(l.Status), plain(l.Key),
			expiryText(l.ExpiresAt), l.SlotsUsed, l.MaxSlots)
		if !l.Activated && l.Status == StatusActive {
			b.WriteString("\n" + msgLicenseNotHere)
			rows = append(rows, []Button{{Label: fmt.Sprintf(msgActivateButton, name), Data: ActivateData(l.Key)}})
		}
		if url := h.billingLink(ctx, req, l); url != "" {
			rows = append(rows, []Button{{Label: fmt.Sprintf(msgManageButton, name), URL: url}})
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
	if r, ok := keyCommandGuard(req, "transfer", key, msgGoPrivateMove, msgTransferUsage); !ok {
		return r
	}
	if h.account == nil {
		return Reply{Text: msgUnavailable, Ephemeral: true}
	}
	remaining, err := h.account.Transfer(ctx, req.Who, key)
	if err != nil {
		return h.fail(ctx, "transfer "+maskKey(key), err)
	}
	h.log.InfoContext(ctx, "key transferred", "identity", req.Who.String(), "key", maskKey(key), "remaining", remaining)
	next := msgTransferLast
	if remaining > 0 {
		next = fmt.Sprintf(msgTransferLeft, remaining)
	}
	return Reply{Text: fmt.Sprintf(msgTransferred, maskKey(strings.ToUpper(key))) + "\n" + next, Ephemeral: true}
}

// keyCommandGuard is the common start of a command that takes a license
// key (cmd is its name and /start payload). It reports ok when the command
// may go on: in a private chat, with a key. Otherwise r is the answer: outside
// a private chat, a pointer to the private chat, and when the key was typed
// anyway (it is now readable by everyone in the chat) the exposed text and a
// request to delete the message; in private without a key, the usage text.
func keyCommandGuard(req Request, cmd, key, exposed, usage string) (r Reply, ok bool) {
	switch {
	case !req.Private && key == "":
		return goPrivate(msgGoPrivate, cmd), false
	case !req.Private:
		r = goPrivate(exposed, cmd)
		r.DeleteRequest = true
		return r, false
	case key == "":
		return Reply{Text: usage, Ephemeral: true}, false
	}
	return Reply{}, true
}

func (h *Handler) nameOf(productID string) string {
	if p, ok := h.byID[productID]; ok {
		return productName(p)
	}
	return productID
}

func statusText(s Status) string {
	switch s {
	case StatusActive:
		return "active"
	case StatusExpired:
		return "expired"
	case StatusRevoked:
		return "revoked"
	case "":
		return "unknown"
	}
	return plain(string(s))
}

// expiryText is "Valid until 2 Jan 2026 15:04 UTC." or "Lifetime license.";
// UTC because buyers are anywhere and the chat cannot tell their zone.
func expiryText(t time.Time) string {
	if t.IsZero() {
		return msgLifetime
	}
	return fmt.Sprintf(msgValidUntil, dateText(t))
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
