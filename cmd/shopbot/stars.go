package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
	"github.com/shopbot/shopbot/words"
)

// starsCatchUpEvery is how often getStarTransactions is read for payments
// no update brought.
const starsCatchUpEvery = 10 * time.Minute

// payments joins the two payment rails for the chat commands
// (commands.Payments) and takes the Telegram adapter's payment updates
// (telegram.Payments). stars is set once the Telegram bot exists (the
// rail calls its API, and the bot needs this to start); it stays nil
// without Telegram.
type payments struct {
	cfg   *config.Config
	db    *store.DB
	lic   *licensing.Service
	words *words.Catalog
	stars *checkout.Stars
}

var (
	_ commands.Payments = (*payments)(nil)
	_ telegram.Payments = (*payments)(nil)
)

func (p *payments) product(id string) config.Product {
	for _, pr := range p.cfg.Products {
		if pr.ID == id {
			return pr
		}
	}
	return config.Product{}
}

func (p *payments) StripeOffered(who identity.Identity, productID string) bool {
	return who.Platform != identity.Telegram || p.stars == nil || p.cfg.OffersStripeOnTelegram(p.product(productID))
}

func (p *payments) StarsLink(ctx context.Context, who identity.Identity, productID string) (string, bool, error) {
	if p.stars == nil || !p.stars.Offers(who, productID) {
		return "", false, nil
	}
	url, err := p.stars.InvoiceLink(ctx, who, productID)
	return url, err == nil, err
}

// Refund refunds each paid license of the target where shopbot can, and
// audits what it did.
func (p *payments) Refund(ctx context.Context, actor identity.Identity, t commands.Target) ([]commands.Refund, error) {
	var ls []store.License
	if t.Key != "" {
		l, err := p.db.GetLicense(ctx, t.Key)
		if errors.Is(err, store.ErrNotFound) {
			return nil, licensing.ErrUnknownKey
		}
		if err != nil {
			return nil, err
		}
		ls = []store.License{l}
	} else {
		var err error
		if ls, err = p.db.LicensesByOwner(ctx, t.Who); err != nil {
			return nil, err
		}
	}
	out := make([]commands.Refund, 0, len(ls))
	for _, l := range ls {
		r, err := p.refund1(ctx, actor, l)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (p *payments) refund1(ctx context.Context, actor identity.Identity, l store.License) (commands.Refund, error) {
	r := commands.Refund{Key: l.Key, ProductName: orName(p.product(l.ProductID), l.ProductID)}
	if l.OrderID == "" {
		return r, nil
	}
	o, err := p.db.GetOrder(ctx, l.OrderID)
	if errors.Is(err, store.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	r.Rail = o.OrderRail()
	if r.Rail == store.RailStripe {
		r.Link = "https://dashboard.stripe.com/payments"
		if o.PaymentIntentID != "" {
			r.Link += "/" + o.PaymentIntentID
		}
		return r, nil
	}
	if p.stars == nil {
		r.Note = "Telegram is not configured, so shopbot cannot refund Stars now."
		return r, nil
	}
	err = p.stars.Refund(ctx, o)
	switch {
	case errors.Is(err, checkout.ErrAlreadyRefunded):
		r.Refunded, r.Note = true, "Telegram had refunded this payment already."
	case err != nil:
		return r, err
	default:
		r.Refunded = true
	}
	r.Amount = notify.Money(o.Amount, o.Currency)
	if err := p.db.Audit(ctx, store.AuditEntry{Actor: actor.String(), Action: "refund", Target: authforge.MaskKey(l.Key),
		Detail: fmt.Sprintf("%s of order %s to %s", r.Amount, o.ID, o.Identity)}); err != nil {
		return r, fmt.Errorf("audit refund of %s: %w", authforge.MaskKey(l.Key), err)
	}
	return r, nil
}

func orName(pr config.Product, id string) string {
	if pr.Name != "" {
		return pr.Name
	}
	return id
}

// CancelSubscription cancels the Star subscription who pays for key.
func (p *payments) CancelSubscription(ctx context.Context, who identity.Identity, key string) (commands.License, error) {
	if p.stars == nil {
		return commands.License{}, licensing.ErrNotHolder
	}
	l, err := p.db.GetLicense(ctx, strings.ToUpper(strings.TrimSpace(key)))
	if errors.Is(err, store.ErrNotFound) || (err == nil && l.Owner != who) || (err == nil && l.OrderID == "") {
		return commands.License{}, licensing.ErrNotHolder
	}
	if err != nil {
		return commands.License{}, err
	}
	o, err := p.db.GetOrder(ctx, l.OrderID)
	if err != nil {
		return commands.License{}, err
	}
	if _, err := p.stars.CancelSubscription(ctx, o); err != nil {
		if errors.Is(err, checkout.ErrNotStarsSubscription) {
			return commands.License{}, licensing.ErrNotHolder
		}
		return commands.License{}, err
	}
	return commands.License{Key: l.Key, ProductID: l.ProductID, ProductName: p.product(l.ProductID).Name, ExpiresAt: l.ExpiresAt}, nil
}

// PreCheckout answers Telegram's pre-checkout query in the buyer's
// language.
func (p *payments) PreCheckout(ctx context.Context, q telegram.PreCheckout) string {
	if p.stars == nil {
		return telegram.TextNoPayments
	}
	n := p.stars.PreCheckout(ctx, checkout.StarsQuery{UserID: q.UserID, Currency: q.Currency, TotalAmount: q.TotalAmount, Payload: q.Payload})
	if n == nil {
		return ""
	}
	if n.Message.Key == "" || p.words == nil {
		return n.Text
	}
	return commands.Say(p.words, q.LanguageCode, n.Message.Key, n.Message.Args...)
}

func (p *payments) Paid(ctx context.Context, tp telegram.Payment) error {
	if p.stars == nil {
		return errors.New("stars payments are not wired")
	}
	return p.stars.Paid(ctx, starsPayment(tp))
}

func (p *payments) Refunded(ctx context.Context, tp telegram.Payment) error {
	if p.stars == nil {
		return errors.New("stars payments are not wired")
	}
	return p.stars.Refunded(ctx, starsPayment(tp))
}

func starsPayment(tp telegram.Payment) checkout.StarsPayment {
	return checkout.StarsPayment{
		UserID: tp.UserID, Currency: tp.Currency, TotalAmount: tp.TotalAmount, Payload: tp.Payload,
		ChargeID: tp.ChargeID, SubscriptionExpiration: tp.SubscriptionExpiration,
		IsRecurring: tp.IsRecurring, IsFirstRecurring: tp.IsFirstRecurring, Date: tp.Date,
	}
}

// starsAPI is the Telegram adapter as the Stars rail's StarsAPI.
type starsAPI struct{ bot *telegram.Bot }

func (a starsAPI) InvoiceLink(ctx context.Context, inv checkout.StarsInvoice) (string, error) {
	return a.bot.InvoiceLink(ctx, telegram.Invoice{Title: inv.Title, Description: inv.Description,
		Payload: inv.Payload, Stars: inv.Stars, SubscriptionPeriod: inv.SubscriptionPeriod})
}

func (a starsAPI) RefundStarPayment(ctx context.Context, userID int64, chargeID string) error {
	err := a.bot.RefundStarPayment(ctx, userID, chargeID)
	if errors.Is(err, telegram.ErrAlreadyRefunded) {
		return fmt.Errorf("%w: %v", checkout.ErrAlreadyRefunded, err)
	}
	return err
}

func (a starsAPI) EditStarSubscription(ctx context.Context, userID int64, chargeID string, canceled bool) error {
	return a.bot.EditStarSubscription(ctx, userID, chargeID, canceled)
}

func (a starsAPI) StarTransactions(ctx context.Context, offset, limit int) ([]checkout.StarTransaction, error) {
	txs, err := a.bot.StarTransactions(ctx, offset, limit)
	if err != nil {
		return nil, err
	}
	out := make([]checkout.StarTransaction, len(txs))
	for i, t := range txs {
		out[i] = checkout.StarTransaction{ID: t.ID, Amount: t.Amount, Date: t.Date, UserID: t.UserID,
			Payload: t.Payload, SubscriptionPeriod: t.SubscriptionPeriod, Refund: t.Refund}
	}
	return out, nil
}

// revenueLines formats the ledger's totals for /stats.
func revenueLines(rs []store.Revenue) []commands.Revenue {
	out := make([]commands.Revenue, 0, len(rs))
	for _, r := range rs {
		c := commands.Revenue{Rail: r.Rail, Amount: notify.Money(r.Amount, r.Currency), Payments: r.Payments}
		if r.Refunded > 0 {
			c.Refunded = notify.Money(r.Refunded, r.Currency)
		}
		out = append(out, c)
	}
	return out
}
