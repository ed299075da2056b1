package telegramtest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Payments in Telegram Stars, at the wire level: invoices
// (createInvoiceLink, sendInvoice), the pre-checkout query and its answer,
// successful_payment and refunded_payment messages, refunds, subscription
// edits and the star transaction list. The payment sheet itself is played
// by the control API in pay.go.

// Stars limits from the Bot API documentation.
const (
	currencyStars         = "XTR"
	maxTitleChars         = 32
	maxDescriptionChars   = 255
	maxPayloadBytes       = 128
	starSubscriptionSecs  = 2592000 // 30 days, the only period allowed
	maxSubscriptionStars  = 10000
	maxStarTransactions   = 100
	preCheckoutAnswerTime = 10 * time.Second
)

// PreCheckoutQuery is a pre_checkout_query update's payload.
type PreCheckoutQuery struct {
	ID             string `json:"id"`
	From           User   `json:"from"`
	Currency       string `json:"currency"`
	TotalAmount    int    `json:"total_amount"`
	InvoicePayload string `json:"invoice_payload"`
}

// InvoiceMessage is a message's invoice (sendInvoice).
type InvoiceMessage struct {
	Title          string `json:"title"`
	Description    string `json:"description"`
	StartParameter string `json:"start_parameter"`
	Currency       string `json:"currency"`
	TotalAmount    int    `json:"total_amount"`
}

// SuccessfulPayment is a message's successful_payment.
type SuccessfulPayment struct {
	Currency                   string `json:"currency"`
	TotalAmount                int    `json:"total_amount"`
	InvoicePayload             string `json:"invoice_payload"`
	SubscriptionExpirationDate int64  `json:"subscription_expiration_date,omitempty"`
	IsRecurring                bool   `json:"is_recurring,omitempty"`
	IsFirstRecurring           bool   `json:"is_first_recurring,omitempty"`
	TelegramPaymentChargeID    string `json:"telegram_payment_charge_id"`
	ProviderPaymentChargeID    string `json:"provider_payment_charge_id"`
}

// RefundedPayment is a message's refunded_payment.
type RefundedPayment struct {
	Currency                string `json:"currency"`
	TotalAmount             int    `json:"total_amount"`
	InvoicePayload          string `json:"invoice_payload"`
	TelegramPaymentChargeID string `json:"telegram_payment_charge_id"`
	ProviderPaymentChargeID string `json:"provider_payment_charge_id,omitempty"`
}

// InvoiceInfo is an invoice the bot made.
type InvoiceInfo struct {
	// Link is what Pay takes: the t.me link from createInvoiceLink, or
	// "message:<id>" for an invoice sent as a message (sendInvoice).
	Link      string
	MessageID int   // sendInvoice's message; 0 for a link
	ChatID    int64 // sendInvoice's chat; 0 for a link
	Title     string
	// Description and Payload as given; Amount is the one price.
	Description        string
	Payload            string
	Currency           string
	Amount             int
	SubscriptionPeriod time.Duration // 0: one-time
	Created            time.Time
}

// PreCheckoutAnswer is one answerPreCheckoutQuery the fake took.
type PreCheckoutAnswer struct {
	QueryID      string
	OK           bool
	ErrorMessage string
	// Late: given more than 10 s after the query; Telegram answers it
	// with an error and the payment is canceled.
	Late bool
}

// starState is the fake's Stars bookkeeping, under Server.mu.
type starState struct {
	invoices map[string]*InvoiceInfo
	order    []string // invoice links, oldest first
	queries  map[string]*pendingQuery
	answers  []PreCheckoutAnswer
	charges  map[string]*starCharge
	byAge    []string            // charge ids, oldest first
	subs     map[string]*starSub // by the subscription's first charge id
	txns     []starTxn
}

// pendingQuery is a pre-checkout query waiting for the bot's answer.
type pendingQuery struct {
	user     int64
	asked    time.Time
	answered bool
	expired  bool // Pay stopped waiting
	result   chan PreCheckoutAnswer
}

// starCharge is one payment: a one-time purchase or one period of a
// subscription.
type starCharge struct {
	id       string
	user     User
	invoice  InvoiceInfo
	sub      string // first charge id of its subscription; "" for one-time
	refunded bool
	paid     SuccessfulPayment
	msg      *Message // the successful_payment message; nil: not delivered
	at       time.Time
}

type starSub struct {
	user       int64
	canceled   bool
	expiration time.Time
	invoice    InvoiceInfo
}

// starTxn is a star transaction: incoming (source) or outgoing (receiver).
type starTxn struct {
	ID       string         `json:"id"`
	Amount   int            `json:"amount"`
	Date     int64          `json:"date"`
	Source   map[string]any `json:"source,omitempty"`
	Receiver map[string]any `json:"receiver,omitempty"`
}

func (s *Server) starsLocked() *starState {
	st := &s.stars
	if st.invoices == nil {
		st.invoices = map[string]*InvoiceInfo{}
		st.queries = map[string]*pendingQuery{}
		st.charges = map[string]*starCharge{}
		st.subs = map[string]*starSub{}
	}
	return st
}

// randomID is an unguessable id like Telegram's links and charge ids.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseInvoice validates an invoice's fields as Telegram does for
// createInvoiceLink and sendInvoice. Only Stars are modelled: any other
// currency needs a payment provider the fake does not have.
func parseInvoice(p map[string]string) (InvoiceInfo, error) {
	inv := InvoiceInfo{Title: p["title"], Description: p["description"], Payload: p["payload"], Currency: p["currency"]}
	switch n := utf8.RuneCountInString(inv.Title); {
	case n == 0:
		return inv, badRequest("INVOICE_TITLE_EMPTY")
	case n > maxTitleChars:
		return inv, badRequest("INVOICE_TITLE_TOO_LONG: title must be 1-32 characters")
	}
	switch n := utf8.RuneCountInString(inv.Description); {
	case n == 0:
		return inv, badRequest("INVOICE_DESCRIPTION_EMPTY")
	case n > maxDescriptionChars:
		return inv, badRequest("INVOICE_DESCRIPTION_TOO_LONG: description must be 1-255 characters")
	}
	if len(inv.Payload) == 0 || len(inv.Payload) > maxPayloadBytes {
		return inv, badRequest("INVOICE_PAYLOAD_INVALID: payload must be 1-128 bytes")
	}
	if inv.Currency != currencyStars {
		return inv, badRequest("PAYMENT_PROVIDER_INVALID")
	}
	if p["provider_token"] != "" {
		return inv, badRequest("provider_token must be empty for payments in Telegram Stars")
	}
	var prices []struct {
		Label  string `json:"label"`
		Amount *int   `json:"amount"`
	}
	if err := json.Unmarshal([]byte(p["prices"]), &prices); err != nil {
		return inv, badRequest("can't parse prices JSON object")
	}
	if len(prices) != 1 {
		return inv, badRequest("INVOICE_PRICES_INVALID: exactly one price is needed for payments in Telegram Stars")
	}
	if prices[0].Label == "" || prices[0].Amount == nil || *prices[0].Amount <= 0 {
		return inv, badRequest("CURRENCY_TOTAL_AMOUNT_INVALID")
	}
	inv.Amount = *prices[0].Amount
	return inv, nil
}

func (s *Server) createInvoiceLink(p map[string]string) (any, error) {
	inv, err := parseInvoice(p)
	if err != nil {
		return nil, err
	}
	if raw, ok := p["subscription_period"]; ok && raw != "" && raw != "0" {
		period, err := strconv.Atoi(raw)
		if err != nil || period != starSubscriptionSecs {
			return nil, badRequest("SUBSCRIPTION_PERIOD_INVALID: it must be 2592000 (30 days)")
		}
		if inv.Amount > maxSubscriptionStars {
			return nil, badRequest("SUBSCRIPTION_PRICE_INVALID: a subscription costs at most 10000 Stars")
		}
		inv.SubscriptionPeriod = time.Duration(period) * time.Second
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	inv.Link = "https://t.me/$" + randomID(12)
	inv.Created = s.now()
	st.invoices[inv.Link] = &inv
	st.order = append(st.order, inv.Link)
	return inv.Link, nil
}

// sendInvoice posts an invoice message; subscriptions exist only as
// invoice links, as in the Bot API.
func (s *Server) sendInvoice(p map[string]string) (any, error) {
	inv, err := parseInvoice(p)
	if err != nil {
		return nil, err
	}
	kb, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.postableChatLocked(p)
	if err != nil {
		return nil, err
	}
	bot := s.bot
	m := s.addMessageLocked(Message{From: &bot, Chat: c.chat, ReplyMarkup: kb, Invoice: &InvoiceMessage{
		Title: inv.Title, Description: inv.Description, StartParameter: p["start_parameter"], Currency: inv.Currency, TotalAmount: inv.Amount,
	}})
	st := s.starsLocked()
	inv.Link = "message:" + strconv.Itoa(m.MessageID)
	inv.MessageID, inv.ChatID, inv.Created = m.MessageID, c.chat.ID, s.now()
	st.invoices[inv.Link] = &inv
	st.order = append(st.order, inv.Link)
	return m.Message, nil
}

func (s *Server) answerPreCheckoutQuery(p map[string]string) (any, error) {
	ok, err := strconv.ParseBool(p["ok"])
	if err != nil {
		return nil, badRequest("parameter \"ok\" is required")
	}
	msg := p["error_message"]
	if !ok && msg == "" {
		return nil, badRequest("ERROR_MESSAGE_EMPTY: error_message is required when ok is false")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	id := p["pre_checkout_query_id"]
	q, found := st.queries[id]
	if !found || q.answered {
		return nil, badRequest("QUERY_ID_INVALID")
	}
	q.answered = true
	a := PreCheckoutAnswer{QueryID: id, OK: ok, ErrorMessage: msg, Late: q.expired || s.now().Sub(q.asked) > preCheckoutAnswerTime}
	st.answers = append(st.answers, a)
	q.result <- a
	if a.Late {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	return true, nil
}

// chargeLocked finds a charge of user by its id, as refundStarPayment
// and editUserStarSubscription do: someone else's charge is not found.
func (s *Server) chargeLocked(p map[string]string) (*starCharge, error) {
	user, _ := parseInt(p, "user_id")
	ch, ok := s.starsLocked().charges[p["telegram_payment_charge_id"]]
	if !ok || ch.user.ID != user {
		return nil, badRequest("CHARGE_NOT_FOUND")
	}
	return ch, nil
}

func (s *Server) refundStarPayment(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.chargeLocked(p)
	if err != nil {
		return nil, err
	}
	if ch.refunded {
		return nil, badRequest("CHARGE_ALREADY_REFUNDED")
	}
	s.refundLocked(ch)
	return true, nil
}

// refundLocked gives a charge back: the outgoing transaction and the
// refunded_payment message in the buyer's private chat.
func (s *Server) refundLocked(ch *starCharge) {
	ch.refunded = true
	st := s.starsLocked()
	st.txns = append(st.txns, starTxn{ID: ch.id, Amount: ch.invoice.Amount, Date: s.now().Unix(), Receiver: userPartner(ch.user, ch.invoice.Payload, 0)})
	s.paymentMessageLocked(ch.user, Message{RefundedPayment: &RefundedPayment{
		Currency: ch.invoice.Currency, TotalAmount: ch.invoice.Amount, InvoicePayload: ch.invoice.Payload,
		TelegramPaymentChargeID: ch.id, ProviderPaymentChargeID: providerChargeID(ch.id),
	}})
}

func (s *Server) editUserStarSubscription(p map[string]string) (any, error) {
	canceled, err := strconv.ParseBool(p["is_canceled"])
	if err != nil {
		return nil, badRequest("parameter \"is_canceled\" is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, err := s.chargeLocked(p)
	if err != nil {
		return nil, err
	}
	if ch.sub == "" {
		return nil, badRequest("SUBSCRIPTION_NOT_FOUND: the payment is not a subscription")
	}
	s.starsLocked().subs[ch.sub].canceled = canceled
	s.notifyLocked()
	return true, nil
}

func (s *Server) getStarTransactions(p map[string]string) (any, error) {
	offset := int64(0)
	if raw := p["offset"]; raw != "" {
		v, ok := parseInt(p, "offset")
		if !ok || v < 0 {
			return nil, badRequest("OFFSET_INVALID")
		}
		offset = v
	}
	limit := int64(maxStarTransactions)
	if raw := p["limit"]; raw != "" {
		v, ok := parseInt(p, "limit")
		if !ok || v < 1 || v > maxStarTransactions {
			return nil, badRequest("LIMIT_INVALID: limit must be 1-100")
		}
		limit = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	txns := s.starsLocked().txns
	start := min(offset, int64(len(txns)))
	end := min(start+limit, int64(len(txns)))
	return map[string]any{"transactions": append([]starTxn{}, txns[start:end]...)}, nil
}

// userPartner is a TransactionPartnerUser of an invoice payment.
func userPartner(u User, payload string, period time.Duration) map[string]any {
	m := map[string]any{"type": "user", "transaction_type": "invoice_payment", "user": u}
	if payload != "" {
		m["invoice_payload"] = payload
	}
	if period > 0 {
		m["subscription_period"] = int64(period / time.Second)
	}
	return m
}

// providerChargeID is the provider_payment_charge_id Telegram reports
// next to a Stars charge.
func providerChargeID(chargeID string) string { return "xtr_" + chargeID }

// paymentMessageLocked adds a payment service message from user in their
// private chat (opening it if needed) and queues its update.
func (s *Server) paymentMessageLocked(user User, m Message) *Message {
	s.rememberUserLocked(&user)
	c, ok := s.chats[user.ID]
	if !ok {
		c = &chatState{chat: Chat{ID: user.ID, Type: "private", FirstName: user.FirstName, Username: user.Username}, members: map[int64]string{}}
		s.chats[user.ID] = c
	}
	m.From, m.Chat = &user, c.chat
	sm := s.addMessageLocked(m)
	msg := sm.Message
	s.nextUpdate++
	s.queueLocked(Update{UpdateID: s.nextUpdate, Message: &msg})
	return &msg
}
