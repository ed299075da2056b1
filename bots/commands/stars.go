package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopbot/shopbot/identity"
)

// Payments is the choice of payment rails and the money-back operations:
// Telegram Stars beside Stripe (issue 12). Options.Payments sets it; when
// nil, every buyer gets the Stripe link and /refund is not offered.
type Payments interface {
	// StripeOffered reports whether who is offered a Stripe Checkout link
	// for productID.
	StripeOffered(who identity.Identity, productID string) bool
	// StarsLink returns a Telegram Stars invoice link for productID; ok is
	// false when who is not offered Stars for it.
	StarsLink(ctx context.Context, who identity.Identity, productID string) (url string, ok bool, err error)
	// Refund gives back what was paid for the key, or for every paid
	// license of the identity, where shopbot can (Stars), and says how
	// otherwise (Stripe), on behalf of actor.
	Refund(ctx context.Context, actor identity.Identity, target Target) ([]Refund, error)
	// CancelSubscription stops who's Star subscription of key from
	// renewing; the license runs to the end of the paid period.
	CancelSubscription(ctx context.Context, who identity.Identity, key string) (License, error)
}

// Refund is what /refund did for one license.
type Refund struct {
	Key         string
	ProductName string
	// Rail is "stars", "stripe", or "" for a license nobody paid for.
	Rail string
	// Amount is what went back ("250 Stars"), when Refunded.
	Amount   string
	Refunded bool
	// Link is where the admin refunds a Stripe payment themselves.
	Link string
	// Note is anything else worth saying (already refunded before).
	Note string
}

// Callback data of the button that cancels a Star subscription.
const dataCancelSub = "cs:"

// CancelSubData is the callback payload of a button that cancels the Star
// subscription paying for key.
func CancelSubData(key string) string { return dataCancelSub + key }

// payButtons are the buttons that pay for p: a Stripe link, a Stars
// invoice, or both, as the shop offers them to this buyer.
func (h *Handler) payButtons(ctx context.Context, req Request, productID, name, code string) ([][]Button, bool, error) {
	l := h.to(req)
	var rows [][]Button
	stripe := h.pay == nil || h.pay.StripeOffered(req.Who, productID)
	if h.pay != nil {
		url, ok, err := h.pay.StarsLink(ctx, req.Who, productID)
		if err != nil {
			return nil, false, err
		}
		if ok {
			rows = append(rows, []Button{{Label: l.say("buy.stars_button", "product", name, "stars", h.starsPrice(productID)), URL: url}})
		}
	}
	if stripe {
		url, err := h.shop.CheckoutLink(ctx, req.Who, productID, code)
		if err != nil {
			return nil, false, err
		}
		label := l.say("buy.pay_button", "product", name)
		if len(rows) > 0 {
			label = l.say("buy.card_button", "product", name)
		}
		rows = append(rows, []Button{{Label: label, URL: url}})
	}
	return rows, stripe, nil
}

func (h *Handler) starsPrice(productID string) int {
	return h.byID[productID].StarsPrice
}

// refund is /refund KEY|user.
func (h *Handler) refund(ctx context.Context, req Request, t Target) Reply {
	if h.pay == nil {
		return Reply{Text: msgRefundUnavailable, Ephemeral: true}
	}
	done, err := h.pay.Refund(ctx, req.Who, t)
	if err != nil {
		return h.fail(ctx, req, "refund "+t.String(), err)
	}
	h.log.InfoContext(ctx, "admin refund", "actor", req.Who.String(), "target", t.String(), "licenses", len(done))
	if len(done) == 0 {
		return Reply{Text: fmt.Sprintf(msgNothingToRefund, t.String()), Ephemeral: true}
	}
	lines := make([]string, 0, len(done))
	for _, r := range done {
		name := plain(r.ProductName)
		var line string
		switch {
		case r.Refunded:
			line = fmt.Sprintf(msgRefundedStars, maskKey(r.Key), name, plain(r.Amount))
		case r.Rail == "stripe":
			line = fmt.Sprintf(msgRefundStripe, maskKey(r.Key), name, r.Link)
		case r.Rail == "":
			line = fmt.Sprintf(msgRefundNotPaid, maskKey(r.Key), name)
		default:
			line = fmt.Sprintf(msgRefundNotDone, maskKey(r.Key), name)
		}
		if r.Note != "" {
			line += " " + plain(r.Note)
		}
		lines = append(lines, line)
	}
	return Reply{Text: strings.Join(lines, "\n\n"), Ephemeral: true}
}

// cancelSub is the Cancel subscription button of /license.
func (h *Handler) cancelSub(ctx context.Context, req Request, key string) Reply {
	l := h.to(req)
	if h.pay == nil || !req.Private {
		return Reply{Text: l.say("chat.stale_button"), Ephemeral: true}
	}
	lic, err := h.pay.CancelSubscription(ctx, req.Who, key)
	if err != nil {
		return h.fail(ctx, req, "cancel subscription", err)
	}
	return Reply{Text: l.say("license.sub_canceled", "product", plain(h.licenseName(lic)), "validity", expiryIn(l, lic.ExpiresAt)), Ephemeral: true}
}

// Admin texts of /refund (English, like every admin reply).
const (
	descRefund           = "Refund a Stars payment: /refund KEY or /refund tg:123"
	msgRefundUnavailable = "Refunds are not available in this shop."
	msgNothingToRefund   = "No paid license found for `%s`."
	msgRefundedStars     = "`%s` — %s: %s refunded to the buyer; the license is revoked."
	msgRefundStripe      = "`%s` — %s: paid with Stripe. Refund it in the Stripe Dashboard: %s — shopbot revokes the license when Stripe reports the refund (with stripe.revoke_on_refund)."
	msgRefundNotPaid     = "`%s` — %s: not paid (granted or imported); nothing to refund. /revoke it instead."
	msgRefundNotDone     = "`%s` — %s: not refunded."
)
