package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
)

// Telegram Stars in the demo: the Stars button of /buy is an invoice link
// the Telegram stand-in made. Real Telegram opens its payment sheet on it;
// the page opens a stand-in sheet whose Pay button calls the stand-in's
// Pay (POST /api/telegram/pay): a pre_checkout_query the shop answers,
// then a successful_payment, and the key arrives like a card purchase.
// The panel lists the Stars payments with what Telegram does on its own
// later: renew a Star subscription, refund a payment.

// TGInvoice is what a Stars button's payment sheet shows.
type TGInvoice struct {
	Link         string `json:"link"`
	Title        string `json:"title"`
	Description  string `json:"description"`
	Stars        int    `json:"stars"`
	Subscription bool   `json:"subscription,omitempty"`
}

// StarsPayment is one Stars payment for the panel.
type StarsPayment struct {
	ChargeID string    `json:"charge_id"`
	Buyer    string    `json:"buyer"` // tg:<id>
	Title    string    `json:"title"`
	Stars    int       `json:"stars"`
	Date     time.Time `json:"date"`
	// FirstCharge is the subscription's first payment ("" for a one-time
	// purchase); PeriodEnd is when the period paid ends.
	FirstCharge string     `json:"first_charge,omitempty"`
	PeriodEnd   *time.Time `json:"period_end,omitempty"`
	Refunded    bool       `json:"refunded,omitempty"`
	Canceled    bool       `json:"canceled,omitempty"`
	// Renewable: the latest period of a subscription nobody canceled.
	Renewable bool `json:"renewable,omitempty"`
}

// invoiceButton is the sheet's data when url is one of the stand-in's
// invoice links.
func (s *Server) invoiceButton(url string) *TGInvoice {
	if !strings.HasPrefix(url, "https://t.me/$") {
		return nil
	}
	inv, ok := s.opts.Telegram.Invoice(url)
	if !ok {
		return nil
	}
	return &TGInvoice{Link: url, Title: inv.Title, Description: inv.Description, Stars: inv.Amount, Subscription: inv.SubscriptionPeriod > 0}
}

// serviceText is the line Telegram shows for a payment service message,
// or "" for any other message.
func (s *Server) serviceText(m telegramtest.SentMessage) string {
	switch {
	case m.SuccessfulPayment != nil:
		p := m.SuccessfulPayment
		line := fmt.Sprintf("You paid %d ⭐ for %s", p.TotalAmount, s.invoiceTitle(p.InvoicePayload))
		switch {
		case p.IsRecurring && !p.IsFirstRecurring:
			line = fmt.Sprintf("Your subscription to %s renewed: %d ⭐", s.invoiceTitle(p.InvoicePayload), p.TotalAmount)
		case p.IsRecurring:
			line = fmt.Sprintf("You subscribed to %s for %d ⭐ a month", s.invoiceTitle(p.InvoicePayload), p.TotalAmount)
		}
		if p.SubscriptionExpirationDate != 0 {
			line += "; paid until " + formatTime(time.Unix(p.SubscriptionExpirationDate, 0))
		}
		return line
	case m.RefundedPayment != nil:
		return fmt.Sprintf("%d ⭐ refunded for %s", m.RefundedPayment.TotalAmount, s.invoiceTitle(m.RefundedPayment.InvoicePayload))
	}
	return ""
}

// invoiceTitle is the title of the invoice with payload, as Telegram's
// service message names it.
func (s *Server) invoiceTitle(payload string) string {
	for _, inv := range s.opts.Telegram.Invoices() {
		if inv.Payload == payload {
			return inv.Title
		}
	}
	return "an invoice"
}

// starsPayments lists the stand-in's Stars payments, newest first.
func (s *Server) starsPayments() []StarsPayment {
	charges := s.opts.Telegram.Charges()
	latest := map[string]string{} // subscription → its latest charge
	for _, c := range charges {
		if c.Subscription != "" {
			latest[c.Subscription] = c.ID
		}
	}
	out := make([]StarsPayment, 0, len(charges))
	for i := len(charges) - 1; i >= 0; i-- {
		c := charges[i]
		p := StarsPayment{ChargeID: c.ID, Buyer: fmt.Sprintf("tg:%d", c.User.ID), Title: c.Invoice.Title, Stars: c.Invoice.Amount,
			Date: c.Date, FirstCharge: c.Subscription, Refunded: c.Refunded, Canceled: c.Canceled,
			Renewable: c.Subscription != "" && latest[c.Subscription] == c.ID && !c.Canceled}
		if !c.Expiration.IsZero() {
			end := c.Expiration
			p.PeriodEnd = &end
		}
		out = append(out, p)
	}
	return out
}

// payTimeout bounds one stand-in payment: Telegram waits 10 s for the
// shop's pre-checkout answer.
const payTimeout = 15 * time.Second

// PayResult is POST /api/telegram/pay's answer.
type PayResult struct {
	OK           bool   `json:"ok"`
	ChargeID     string `json:"charge_id,omitempty"`
	ErrorMessage string `json:"error_message,omitempty"`
	Late         bool   `json:"late,omitempty"`
}

// handleTelegramPay is POST /api/telegram/pay {"as", "link"}: the persona
// pays the Stars invoice at link on the stand-in payment sheet.
func (s *Server) handleTelegramPay(w http.ResponseWriter, r *http.Request) {
	var in struct {
		asField
		Link string `json:"link"`
	}
	p, ok := s.readAs(w, r, &in, `need "as" (buyer or admin) and the invoice "link"`, func() bool { return in.Link != "" })
	if !ok {
		return
	}
	if _, known := s.opts.Telegram.Invoice(in.Link); !known {
		apiError(w, http.StatusNotFound, "No such invoice: ask the bot again with /buy.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), payTimeout)
	defer cancel()
	res, err := s.opts.Telegram.Pay(ctx, tgUser(p), in.Link)
	if err != nil {
		s.log.Warn("demo: Stars payment failed", "err", err)
		apiError(w, http.StatusBadGateway, "The payment did not go through: "+err.Error())
		return
	}
	s.log.Info("demo: Stars payment", "ok", res.OK, "late", res.Late)
	writeJSON(w, http.StatusOK, PayResult{OK: res.OK, ChargeID: res.ChargeID, ErrorMessage: res.ErrorMessage, Late: res.Late})
}

// Panel actions on a Stars payment: what Telegram does without the shop
// asking.
const (
	starsRenew  = "renew"
	starsRefund = "refund"
)

// handleStarsAction is POST /api/stars/{action} {"charge": id}: Telegram
// renews the Star subscription the charge belongs to, or refunds the
// charge on its own (a dispute the buyer won).
func (s *Server) handleStarsAction(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Charge string `json:"charge"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	var found *telegramtest.ChargeInfo
	for _, c := range s.opts.Telegram.Charges() {
		if c.ID == in.Charge {
			found = &c
		}
	}
	if found == nil {
		apiError(w, http.StatusNotFound, "No such Stars payment.")
		return
	}
	var err error
	switch r.PathValue("action") {
	case starsRenew:
		if found.Subscription == "" {
			apiError(w, http.StatusConflict, "Only a Star subscription renews; this was a one-time payment.")
			return
		}
		_, err = s.opts.Telegram.Renew(r.Context(), found.User, found.Subscription)
	case starsRefund:
		err = s.opts.Telegram.RefundFromTelegram(found.User, found.ID)
	default:
		apiError(w, http.StatusNotFound, "Unknown action.")
		return
	}
	if errors.Is(err, telegramtest.ErrSubscriptionCanceled) {
		apiError(w, http.StatusConflict, "The bot canceled this subscription (from /license): Telegram does not renew it.")
		return
	}
	if err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
