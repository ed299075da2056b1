package telegram

// Telegram Stars: invoices (createInvoiceLink), the pre-checkout answer,
// successful and refunded payments, refunds, subscription cancels and the
// star transaction list. The money flow, on the Telegram side:
//
//  1. The shop makes an invoice link (InvoiceLink); the buyer opens it.
//  2. Telegram asks the bot with a pre_checkout_query; Payments.PreCheckout
//     decides and the adapter answers at once, outside the command budget
//     and the outbox, because Telegram cancels the payment after 10 s.
//  3. Telegram charges the buyer and sends a successful_payment message;
//     Payments.Paid stores it durably. Until it is stored the update is not
//     acknowledged (webhook mode), so Telegram delivers it again.
//  4. A refund, by the shop (RefundStarPayment) or by Telegram, arrives as
//     a refunded_payment message; Payments.Refunded stores it.
//  5. Anything missed (polling mode, long outages) is in StarTransactions.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// Payments receives Telegram Stars payment updates. Declared here,
// implemented by the shop's checkout.
type Payments interface {
	// PreCheckout returns "" to accept the pre-checkout query, else the
	// error_message shown to the buyer. It must be quick (Telegram gives 10 s).
	PreCheckout(ctx context.Context, q PreCheckout) string
	// Paid stores a successful_payment durably; Refunded a refunded_payment.
	// An error means "not stored": in webhook mode the update is answered
	// 500 so Telegram delivers it again.
	Paid(ctx context.Context, p Payment) error
	Refunded(ctx context.Context, p Payment) error
}

// PreCheckout is a pre_checkout_query: the buyer pressed Pay.
type PreCheckout struct {
	QueryID      string
	UserID       int64
	LanguageCode string
	Currency     string
	TotalAmount  int
	Payload      string
}

// Payment is a successful_payment or a refunded_payment message.
type Payment struct {
	UserID           int64
	LanguageCode     string
	Currency         string
	TotalAmount      int
	Payload          string
	ChargeID         string // telegram_payment_charge_id
	ProviderChargeID string
	// Subscription fields (zero for one-time payments).
	SubscriptionExpiration        time.Time
	IsRecurring, IsFirstRecurring bool
	Date                          time.Time // the message's date
}

// CurrencyStars is the currency code of Telegram Stars.
const CurrencyStars = "XTR"

// StarSubscriptionPeriod is the only subscription period Telegram allows.
const StarSubscriptionPeriod = 30 * 24 * time.Hour

// Pre-checkout timing. Telegram cancels the payment when no answer came
// within 10 s; the decision (Options.PreCheckoutTimeout, default 6 s)
// gets less than that so a slow store still leaves time to answer "try
// again" instead of nothing.
const (
	preCheckoutAnswerWithin = 8 * time.Second
	preCheckoutDecideWithin = 6 * time.Second
)

// Refusals the adapter gives on its own; Payments gives the others.
const (
	TextNoPayments      = "This shop does not take payments here."
	TextPreCheckoutBusy = "The shop could not confirm this order in time. Please try again in a minute."
)

// ErrAlreadyRefunded is RefundStarPayment's error when Telegram says the
// charge was refunded before: for the caller, the refund is done.
var ErrAlreadyRefunded = errors.New("telegram: the Stars payment was already refunded")

// onPreCheckout answers a pre_checkout_query directly (no outbox, no
// budget: a flood of commands must not delay a payment).
func (b *Bot) onPreCheckout(ctx context.Context, q *models.PreCheckoutQuery) {
	ctx, cancel := context.WithTimeout(ctx, preCheckoutAnswerWithin)
	defer cancel()
	refusal := b.decidePreCheckout(ctx, q)
	params := &bot.AnswerPreCheckoutQueryParams{PreCheckoutQueryID: q.ID, OK: refusal == "", ErrorMessage: refusal}
	err := b.do(ctx, 0, func(ctx context.Context) error {
		_, err := b.api.AnswerPreCheckoutQuery(ctx, params)
		return err
	})
	user := int64(0)
	if q.From != nil {
		user = q.From.ID
	}
	if err != nil {
		b.log.Error("telegram: pre-checkout query not answered; Telegram cancels the payment", "user", user, "err", b.redact(err))
		return
	}
	b.log.Info("telegram pre-checkout answered", "user", user, "ok", refusal == "", "amount", q.TotalAmount, "currency", q.Currency)
}

// decidePreCheckout asks Payments, but never for longer than
// b.decideWithin: a late decision is a refusal the buyer can
// retry, where no answer at all looks like a broken shop.
func (b *Bot) decidePreCheckout(ctx context.Context, q *models.PreCheckoutQuery) string {
	if b.payments == nil {
		return TextNoPayments
	}
	pc := PreCheckout{QueryID: q.ID, Currency: q.Currency, TotalAmount: q.TotalAmount, Payload: q.InvoicePayload}
	if q.From != nil {
		pc.UserID, pc.LanguageCode = q.From.ID, q.From.LanguageCode
	}
	dctx, cancel := context.WithTimeout(ctx, b.decideWithin)
	defer cancel()
	answer := make(chan string, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				b.log.Error("telegram: pre-checkout decision panicked", "user", pc.UserID, "panic", r)
				answer <- TextPreCheckoutBusy
			}
		}()
		answer <- b.payments.PreCheckout(dctx, pc)
	}()
	select {
	case refusal := <-answer:
		return refusal
	case <-dctx.Done():
		b.log.Warn("telegram: pre-checkout decision too slow; refused", "user", pc.UserID)
		return TextPreCheckoutBusy
	}
}

// isPayment reports whether upd carries money that must not be lost.
func isPayment(upd *models.Update) bool {
	return upd.Message != nil && (upd.Message.SuccessfulPayment != nil || upd.Message.RefundedPayment != nil)
}

// onPayment hands a successful_payment or refunded_payment message to
// Payments. Its error means the payment was not stored.
func (b *Bot) onPayment(ctx context.Context, m *models.Message) error {
	p := Payment{UserID: m.Chat.ID, Date: time.Unix(int64(m.Date), 0).UTC()}
	if m.From != nil {
		p.UserID, p.LanguageCode = m.From.ID, m.From.LanguageCode
	}
	if b.payments == nil {
		b.log.Warn("telegram: a Stars payment arrived but payments are not configured", "user", p.UserID)
		return nil
	}
	if sp := m.SuccessfulPayment; sp != nil {
		p.Currency, p.TotalAmount, p.Payload = sp.Currency, sp.TotalAmount, sp.InvoicePayload
		p.ChargeID, p.ProviderChargeID = sp.TelegramPaymentChargeID, sp.ProviderPaymentChargeID
		p.IsRecurring, p.IsFirstRecurring = sp.IsRecurring, sp.IsFirstRecurring
		if sp.SubscriptionExpirationDate > 0 {
			p.SubscriptionExpiration = time.Unix(int64(sp.SubscriptionExpirationDate), 0).UTC()
		}
		if err := b.payments.Paid(ctx, p); err != nil {
			return fmt.Errorf("telegram: successful_payment %s of user %d not stored: %w", p.ChargeID, p.UserID, err)
		}
		b.log.Info("telegram payment stored", "user", p.UserID, "charge", p.ChargeID, "amount", p.TotalAmount, "currency", p.Currency, "recurring", p.IsRecurring)
		return nil
	}
	rp := m.RefundedPayment
	p.Currency, p.TotalAmount, p.Payload = rp.Currency, rp.TotalAmount, rp.InvoicePayload
	p.ChargeID, p.ProviderChargeID = rp.TelegramPaymentChargeID, rp.ProviderPaymentChargeID
	if err := b.payments.Refunded(ctx, p); err != nil {
		return fmt.Errorf("telegram: refunded_payment %s of user %d not stored: %w", p.ChargeID, p.UserID, err)
	}
	b.log.Info("telegram refund stored", "user", p.UserID, "charge", p.ChargeID, "amount", p.TotalAmount)
	return nil
}

// Invoice is a Stars invoice for InvoiceLink. Title and Description are
// clipped to Telegram's 32 and 255 characters; an empty Description is
// the Title. Payload (1-128 bytes) comes back in the pre-checkout query
// and the payment.
type Invoice struct {
	Title, Description, Payload string
	Stars                       int // price in Stars (currency XTR, provider_token empty, one LabeledPrice)
	// SubscriptionPeriod is 0, or StarSubscriptionPeriod for a Star
	// subscription renewed every 30 days.
	SubscriptionPeriod time.Duration
}

// InvoiceLink makes a Stars invoice link (createInvoiceLink) the buyer
// opens to pay.
func (b *Bot) InvoiceLink(ctx context.Context, inv Invoice) (string, error) {
	if inv.Stars <= 0 {
		return "", fmt.Errorf("telegram: createInvoiceLink: price %d Stars: must be positive", inv.Stars)
	}
	if inv.Description == "" {
		inv.Description = inv.Title
	}
	// A product name from the config can be longer than Telegram takes;
	// clipped, the buyer still sees which product it is.
	inv.Title, inv.Description = clip(inv.Title, maxInvoiceTitle), clip(inv.Description, maxInvoiceDescription)
	params := &bot.CreateInvoiceLinkParams{
		Title:              inv.Title,
		Description:        inv.Description,
		Payload:            inv.Payload,
		Currency:           CurrencyStars,
		Prices:             []models.LabeledPrice{{Label: inv.Title, Amount: inv.Stars}},
		SubscriptionPeriod: int(inv.SubscriptionPeriod / time.Second),
	}
	var link string
	err := b.do(ctx, 0, func(ctx context.Context) error {
		var err error
		link, err = b.api.CreateInvoiceLink(ctx, params)
		return err
	})
	if err != nil {
		return "", b.apiErr("createInvoiceLink", err)
	}
	return link, nil
}

// Telegram's limits on an invoice's texts, in characters.
const (
	maxInvoiceTitle       = 32
	maxInvoiceDescription = 255
)

// clip shortens s to at most n characters, ending in "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// RefundStarPayment gives a Stars payment back to the buyer. Telegram
// then sends a refunded_payment message, which reaches Payments.Refunded.
// A charge refunded before fails with ErrAlreadyRefunded.
func (b *Bot) RefundStarPayment(ctx context.Context, userID int64, chargeID string) error {
	params := &bot.RefundStarPaymentParams{UserID: userID, TelegramPaymentChargeID: chargeID}
	err := b.do(ctx, userID, func(ctx context.Context) error {
		_, err := b.api.RefundStarPayment(ctx, params)
		return err
	})
	if err != nil && strings.Contains(err.Error(), "CHARGE_ALREADY_REFUNDED") {
		return fmt.Errorf("%w (charge %s)", ErrAlreadyRefunded, chargeID)
	}
	if err != nil {
		return b.apiErr("refundStarPayment", err)
	}
	return nil
}

// EditStarSubscription cancels (canceled true) or re-enables a Star
// subscription: a canceled one is not renewed at its next period.
func (b *Bot) EditStarSubscription(ctx context.Context, userID int64, chargeID string, canceled bool) error {
	params := &bot.EditUserStarSubscriptionParams{UserID: userID, TelegramPaymentChargeID: chargeID, IsCanceled: canceled}
	err := b.do(ctx, userID, func(ctx context.Context) error {
		_, err := b.api.EditUserStarSubscription(ctx, params)
		return err
	})
	if err != nil {
		return b.apiErr("editUserStarSubscription", err)
	}
	return nil
}

// apiErr wraps a failed call's error for the caller: the text names the
// method and never holds the token, and errors.Is still sees the client
// library's kinds (bot.ErrorBadRequest, ...).
func (b *Bot) apiErr(method string, err error) error {
	return &callError{text: "telegram: " + method + ": " + b.redact(err), err: err}
}

type callError struct {
	text string
	err  error
}

func (e *callError) Error() string { return e.text }
func (e *callError) Unwrap() error { return e.err }
