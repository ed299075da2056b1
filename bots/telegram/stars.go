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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

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
// within 10 s; the decision gets less than that so a slow store still
// leaves time to answer "try again" instead of nothing.
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
// preCheckoutDecideWithin: a late decision is a refusal the buyer can
// retry, where no answer at all looks like a broken shop.
func (b *Bot) decidePreCheckout(ctx context.Context, q *models.PreCheckoutQuery) string {
	if b.payments == nil {
		return TextNoPayments
	}
	pc := PreCheckout{QueryID: q.ID, Currency: q.Currency, TotalAmount: q.TotalAmount, Payload: q.InvoicePayload}
	if q.From != nil {
		pc.UserID, pc.LanguageCode = q.From.ID, q.From.LanguageCode
	}
	dctx, cancel := context.WithTimeout(ctx, preCheckoutDecideWithin)
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

// Invoice is a Stars invoice for InvoiceLink.
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

// StarTransaction is one entry of the bot's Stars history.
type StarTransaction struct {
	ID     string // the telegram_payment_charge_id, for payments and their refunds
	Amount int
	Date   time.Time
	// Incoming payment from a user: UserID, Payload, SubscriptionPeriod set, Refund false.
	// Outgoing refund to a user (receiver is a user): Refund true, UserID set, Payload if given.
	// Anything else (withdrawals, ads, gifts, paid media): UserID 0.
	UserID             int64
	Payload            string
	SubscriptionPeriod time.Duration
	Refund             bool
}

// maxStarTransactions is getStarTransactions' largest page.
const maxStarTransactions = 100

// StarTransactions reads the bot's Stars history (getStarTransactions),
// oldest first: limit (1-100; other values mean 100) entries after
// skipping offset.
//
// It decodes the answer itself rather than through the client library,
// whose decoder fails the whole page on a partner type it does not know:
// Telegram adds those now and then, and one must not stop the recovery
// of missed payments.
func (b *Bot) StarTransactions(ctx context.Context, offset, limit int) ([]StarTransaction, error) {
	if limit <= 0 || limit > maxStarTransactions {
		limit = maxStarTransactions
	}
	form := url.Values{"offset": {strconv.Itoa(max(offset, 0))}, "limit": {strconv.Itoa(limit)}}
	var page struct {
		Transactions []wireStarTransaction `json:"transactions"`
	}
	err := b.do(ctx, 0, func(ctx context.Context) error {
		return b.rawCall(ctx, "getStarTransactions", form, &page)
	})
	if err != nil {
		return nil, b.apiErr("getStarTransactions", err)
	}
	out := make([]StarTransaction, 0, len(page.Transactions))
	for _, w := range page.Transactions {
		out = append(out, w.transaction())
	}
	return out, nil
}

// wireStarTransaction is StarTransaction as the Bot API sends it, with
// only the partner fields shopbot reads.
type wireStarTransaction struct {
	ID       string       `json:"id"`
	Amount   int          `json:"amount"`
	Date     int64        `json:"date"`
	Source   *wirePartner `json:"source"`
	Receiver *wirePartner `json:"receiver"`
}

type wirePartner struct {
	Type            string `json:"type"`
	TransactionType string `json:"transaction_type"`
	User            *struct {
		ID int64 `json:"id"`
	} `json:"user"`
	InvoicePayload     string `json:"invoice_payload"`
	SubscriptionPeriod int64  `json:"subscription_period"`
}

// invoiceUser is the user of an invoice payment (or of its refund), or 0
// for any other partner.
func (p *wirePartner) invoiceUser() int64 {
	// transaction_type came with Bot API 9.0; before it, a user partner's
	// transaction was an invoice payment unless it named paid media.
	if p == nil || p.Type != "user" || p.User == nil || p.TransactionType != "" && p.TransactionType != "invoice_payment" {
		return 0
	}
	return p.User.ID
}

func (w wireStarTransaction) transaction() StarTransaction {
	t := StarTransaction{ID: w.ID, Amount: w.Amount, Date: time.Unix(w.Date, 0).UTC()}
	switch {
	case w.Source.invoiceUser() != 0:
		t.UserID, t.Payload = w.Source.invoiceUser(), w.Source.InvoicePayload
		t.SubscriptionPeriod = time.Duration(w.Source.SubscriptionPeriod) * time.Second
	case w.Receiver.invoiceUser() != 0:
		t.UserID, t.Payload, t.Refund = w.Receiver.invoiceUser(), w.Receiver.InvoicePayload, true
	}
	return t
}

// maxAnswerBytes bounds a Bot API answer read by rawCall.
const maxAnswerBytes = 8 << 20

// rawCall makes one Bot API call with a form body and decodes its result
// into dest. Its errors look like the client library's (a 429 is a
// *bot.TooManyRequestsError), so do retries them the same way.
func (b *Bot) rawCall(ctx context.Context, method string, form url.Values, dest any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.apiURL+"/bot"+b.token+"/"+method, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer struct {
		OK          bool            `json:"ok"`
		Result      json.RawMessage `json:"result"`
		ErrorCode   int             `json:"error_code"`
		Description string          `json:"description"`
		Parameters  struct {
			RetryAfter int `json:"retry_after"`
		} `json:"parameters"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&answer); err != nil {
		return fmt.Errorf("unreadable answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if !answer.OK {
		switch answer.ErrorCode {
		case http.StatusTooManyRequests:
			return &bot.TooManyRequestsError{Message: fmt.Sprintf("%s, %s", bot.ErrorTooManyRequests, answer.Description), RetryAfter: answer.Parameters.RetryAfter}
		case http.StatusBadRequest:
			return fmt.Errorf("%w, %s", bot.ErrorBadRequest, answer.Description)
		case http.StatusUnauthorized:
			return fmt.Errorf("%w, %s", bot.ErrorUnauthorized, answer.Description)
		case http.StatusForbidden:
			return fmt.Errorf("%w, %s", bot.ErrorForbidden, answer.Description)
		}
		return fmt.Errorf("error %d: %s", answer.ErrorCode, answer.Description)
	}
	if err := json.Unmarshal(answer.Result, dest); err != nil {
		return fmt.Errorf("unreadable result: %w", err)
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
