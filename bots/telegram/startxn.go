package telegram

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-telegram/bot"
)

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
