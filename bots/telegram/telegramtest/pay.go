package telegramtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The control API of Stars payments: it plays Telegram's payment sheet
// (Pay), the monthly debit of a Star subscription (Renew), payments the
// bot never hears of (PayOffline) or hears of twice (ResendPayment),
// refunds Telegram makes on its own (RefundFromTelegram), and reads what
// the bot did.

// PayResult is how the payment sheet ended.
type PayResult struct {
	OK           bool
	ErrorMessage string // the bot's refusal, shown to the buyer
	ChargeID     string // telegram_payment_charge_id when OK
	// Late: the bot answered after Telegram's 10 s, or not at all while
	// Pay waited; the payment was canceled.
	Late bool
}

// Pay plays the payment sheet for from on the invoice at link: a
// pre_checkout_query update, then it waits (until ctx ends) for the bot's
// answerPreCheckoutQuery. Accepted in time, the payment is made: a star
// transaction and a successful_payment message from the user in their
// private chat (for a subscription with is_recurring, is_first_recurring
// and the expiration date now + period). An answer later than 10 s by
// the fake's clock, or none within 10 s of real time, is a refusal, as
// at Telegram. The error is for an unknown link or an ended ctx.
func (s *Server) Pay(ctx context.Context, from User, link string) (PayResult, error) {
	s.mu.Lock()
	st := s.starsLocked()
	inv, ok := st.invoices[link]
	if !ok {
		s.mu.Unlock()
		return PayResult{}, fmt.Errorf("telegramtest: no invoice %q", link)
	}
	from.IsBot = false
	s.rememberUserLocked(&from)
	s.nextQuery++
	id := strconv.FormatInt(int64(s.nextQuery)+2000000000000000, 10)
	q := &pendingQuery{user: from.ID, asked: s.now(), result: make(chan PreCheckoutAnswer, 1)}
	st.queries[id] = q
	if s.wantsLocked("pre_checkout_query") {
		s.nextUpdate++
		s.queueLocked(Update{UpdateID: s.nextUpdate, PreCheckoutQuery: &PreCheckoutQuery{
			ID: id, From: from, Currency: inv.Currency, TotalAmount: inv.Amount, InvoicePayload: inv.Payload,
		}})
	}
	s.mu.Unlock()

	timer := time.NewTimer(preCheckoutAnswerTime)
	defer timer.Stop()
	var a PreCheckoutAnswer
	select {
	case a = <-q.result:
	case <-timer.C:
		s.expireQuery(q)
		return PayResult{Late: true}, nil
	case <-ctx.Done():
		s.expireQuery(q)
		return PayResult{}, ctx.Err()
	}
	switch {
	case a.Late:
		return PayResult{Late: true}, nil
	case !a.OK:
		return PayResult{ErrorMessage: a.ErrorMessage}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return PayResult{OK: true, ChargeID: s.newChargeLocked(from, *inv, true)}, nil
}

// expireQuery marks a query Pay stopped waiting for: a later answer is
// too old.
func (s *Server) expireQuery(q *pendingQuery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q.expired = true
}

// newChargeLocked makes a new payment of inv by user: the charge, its star
// transaction and, when notify, the successful_payment message.
func (s *Server) newChargeLocked(user User, inv InvoiceInfo, notify bool) string {
	st := s.starsLocked()
	ch := &starCharge{id: "stxn_" + randomID(24), user: user, invoice: inv, at: s.now()}
	st.charges[ch.id] = ch
	st.byAge = append(st.byAge, ch.id)
	sp := &SuccessfulPayment{
		Currency: inv.Currency, TotalAmount: inv.Amount, InvoicePayload: inv.Payload,
		TelegramPaymentChargeID: ch.id, ProviderPaymentChargeID: providerChargeID(ch.id),
	}
	if inv.SubscriptionPeriod > 0 {
		ch.sub = ch.id
		exp := s.now().Add(inv.SubscriptionPeriod)
		st.subs[ch.id] = &starSub{user: user.ID, expiration: exp, invoice: inv}
		sp.IsRecurring, sp.IsFirstRecurring, sp.SubscriptionExpirationDate = true, true, exp.Unix()
	}
	st.txns = append(st.txns, starTxn{ID: ch.id, Amount: inv.Amount, Date: s.now().Unix(), Source: userPartner(user, inv.Payload, inv.SubscriptionPeriod)})
	ch.paid = *sp
	if notify {
		ch.msg = s.paymentMessageLocked(user, Message{SuccessfulPayment: sp})
	} else {
		s.notifyLocked()
	}
	return ch.id
}

// Renew debits the next period of the Star subscription that began with
// firstChargeID, as Telegram does every 30 days: a new charge, its
// transaction, and a successful_payment with is_recurring (not first)
// and the expiration moved one period on from the previous one. A
// subscription the bot canceled (editUserStarSubscription) is not
// renewed: that is an error.
func (s *Server) Renew(ctx context.Context, from User, firstChargeID string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	sub, ok := st.subs[firstChargeID]
	switch {
	case !ok || sub.user != from.ID:
		return "", fmt.Errorf("telegramtest: user %d has no subscription %q", from.ID, firstChargeID)
	case sub.canceled:
		return "", ErrSubscriptionCanceled
	}
	s.rememberUserLocked(&from)
	sub.expiration = sub.expiration.Add(sub.invoice.SubscriptionPeriod)
	ch := &starCharge{id: "stxn_" + randomID(24), user: from, invoice: sub.invoice, sub: firstChargeID, at: s.now()}
	st.charges[ch.id] = ch
	st.byAge = append(st.byAge, ch.id)
	st.txns = append(st.txns, starTxn{ID: ch.id, Amount: sub.invoice.Amount, Date: s.now().Unix(), Source: userPartner(from, sub.invoice.Payload, sub.invoice.SubscriptionPeriod)})
	ch.paid = SuccessfulPayment{
		Currency: sub.invoice.Currency, TotalAmount: sub.invoice.Amount, InvoicePayload: sub.invoice.Payload,
		SubscriptionExpirationDate: sub.expiration.Unix(), IsRecurring: true,
		TelegramPaymentChargeID: ch.id, ProviderPaymentChargeID: providerChargeID(ch.id),
	}
	paid := ch.paid
	ch.msg = s.paymentMessageLocked(from, Message{SuccessfulPayment: &paid})
	return ch.id, nil
}

// ResendPayment delivers a charge's successful_payment again, in a new
// update, as when the bot restarted before confirming the first one: the
// adapter's own memory of update ids does not hide it, so the shop's
// idempotency is what keeps it from counting twice. For a PayOffline
// charge it is the first delivery (the bot came back in time after all).
func (s *Server) ResendPayment(chargeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.starsLocked().charges[chargeID]
	if !ok {
		return fmt.Errorf("telegramtest: no charge %q", chargeID)
	}
	if ch.msg == nil {
		paid := ch.paid
		ch.msg = s.paymentMessageLocked(ch.user, Message{SuccessfulPayment: &paid})
		return nil
	}
	msg := *ch.msg
	s.nextUpdate++
	s.queueLocked(Update{UpdateID: s.nextUpdate, Message: &msg})
	return nil
}

// ErrSubscriptionCanceled is Renew's error for a subscription the bot
// canceled.
var ErrSubscriptionCanceled = errors.New("telegramtest: the subscription was canceled by the bot")

// PayOffline makes from pay the invoice at link with no update reaching
// the bot, as for a payment made while the bot was down past Telegram's
// update retention: it is only in getStarTransactions. It returns the
// charge id, or "" for an unknown link.
func (s *Server) PayOffline(from User, link string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.starsLocked().invoices[link]
	if !ok {
		return ""
	}
	from.IsBot = false
	s.rememberUserLocked(&from)
	return s.newChargeLocked(from, *inv, false)
}

// RefundFromTelegram refunds a charge of from on Telegram's own
// initiative (a dispute): the outgoing transaction and a refunded_payment
// message. A charge not found or refunded before is an error.
func (s *Server) RefundFromTelegram(from User, chargeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.starsLocked().charges[chargeID]
	switch {
	case !ok || ch.user.ID != from.ID:
		return fmt.Errorf("telegramtest: user %d has no charge %q", from.ID, chargeID)
	case ch.refunded:
		return fmt.Errorf("telegramtest: charge %q was refunded before", chargeID)
	}
	s.refundLocked(ch)
	return nil
}

// Refunded reports whether a charge was refunded.
func (s *Server) Refunded(chargeID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.starsLocked().charges[chargeID]
	return ok && ch.refunded
}

// SubscriptionCanceled reports whether the bot canceled the subscription
// a charge (its first or any renewal) belongs to.
func (s *Server) SubscriptionCanceled(chargeID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	ch, ok := st.charges[chargeID]
	if !ok || ch.sub == "" {
		return false
	}
	return st.subs[ch.sub].canceled
}

// Invoice returns the invoice at link.
func (s *Server) Invoice(link string) (InvoiceInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.starsLocked().invoices[link]
	if !ok {
		return InvoiceInfo{}, false
	}
	return *inv, true
}

// Invoices returns every invoice the bot made, oldest first.
func (s *Server) Invoices() []InvoiceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	out := make([]InvoiceInfo, 0, len(st.order))
	for _, l := range st.order {
		out = append(out, *st.invoices[l])
	}
	return out
}

// PreCheckoutAnswers returns the bot's answers to pre-checkout queries in
// order.
func (s *Server) PreCheckoutAnswers() []PreCheckoutAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]PreCheckoutAnswer(nil), s.starsLocked().answers...)
}

// AddStarTransaction adds a transaction with a partner other than a user
// (partnerType "fragment", "telegram_ads", "other", or one the client
// library does not know): incoming from it, or outgoing to it (a
// withdrawal). The bot must skip such entries.
func (s *Server) AddStarTransaction(partnerType string, amount int, incoming bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	t := starTxn{ID: "tx_" + randomID(12), Amount: amount, Date: s.now().Unix()}
	partner := map[string]any{"type": partnerType}
	if partnerType == "fragment" {
		partner["withdrawal_state"] = map[string]any{"type": "succeeded", "date": t.Date, "url": "https://fragment.com/tx/" + t.ID}
	}
	if incoming {
		t.Source = partner
	} else {
		t.Receiver = partner
	}
	st.txns = append(st.txns, t)
	s.notifyLocked()
}

// ChargeInfo is one Stars payment the fake took.
type ChargeInfo struct {
	ID      string
	User    User
	Invoice InvoiceInfo
	Date    time.Time
	// Subscription is the first charge id of the Star subscription the
	// charge pays a period of; "" for a one-time payment. Expiration is
	// when the period it paid ends.
	Subscription string
	Expiration   time.Time
	Refunded     bool
	// Canceled: the bot canceled the subscription (it is not renewed).
	Canceled bool
	// Delivered: a successful_payment update was sent (not PayOffline).
	Delivered bool
}

// Charges returns every Stars payment, oldest first.
func (s *Server) Charges() []ChargeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.starsLocked()
	out := make([]ChargeInfo, 0, len(st.byAge))
	for _, id := range st.byAge {
		ch := st.charges[id]
		c := ChargeInfo{ID: ch.id, User: ch.user, Invoice: ch.invoice, Date: ch.at, Subscription: ch.sub,
			Refunded: ch.refunded, Delivered: ch.msg != nil}
		if ch.paid.SubscriptionExpirationDate != 0 {
			c.Expiration = time.Unix(ch.paid.SubscriptionExpirationDate, 0).UTC()
		}
		if ch.sub != "" {
			c.Canceled = st.subs[ch.sub].canceled
		}
		out = append(out, c)
	}
	return out
}
