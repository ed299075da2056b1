package checkout_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// tgAPI is checkout.StarsAPI spoken over HTTP to the Telegram fake, as the
// Telegram adapter speaks it: CHARGE_ALREADY_REFUNDED is
// ErrAlreadyRefunded, any other refusal an error.
type tgAPI struct{ tg *telegramtest.Server }

func (a tgAPI) call(ctx context.Context, method string, params url.Values, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.tg.URL()+"/bot"+a.tg.Token()+"/"+method, strings.NewReader(params.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		OK          bool            `json:"ok"`
		Description string          `json:"description"`
		Result      json.RawMessage `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: HTTP %d: %w", method, resp.StatusCode, err)
	}
	switch {
	case !body.OK && strings.Contains(body.Description, "CHARGE_ALREADY_REFUNDED"):
		return fmt.Errorf("%w: %s", checkout.ErrAlreadyRefunded, body.Description)
	case !body.OK || resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%s: HTTP %d: %s", method, resp.StatusCode, body.Description)
	case out != nil:
		return json.Unmarshal(body.Result, out)
	}
	return nil
}

func (a tgAPI) InvoiceLink(ctx context.Context, inv checkout.StarsInvoice) (string, error) {
	prices, _ := json.Marshal([]map[string]any{{"label": inv.Title, "amount": inv.Stars}})
	desc := inv.Description
	if desc == "" {
		desc = inv.Title
	}
	v := url.Values{"title": {inv.Title}, "description": {desc}, "payload": {inv.Payload}, "currency": {"XTR"}, "prices": {string(prices)}}
	if inv.SubscriptionPeriod > 0 {
		v.Set("subscription_period", strconv.Itoa(int(inv.SubscriptionPeriod/time.Second)))
	}
	var link string
	err := a.call(ctx, "createInvoiceLink", v, &link)
	return link, err
}

func (a tgAPI) RefundStarPayment(ctx context.Context, userID int64, chargeID string) error {
	return a.call(ctx, "refundStarPayment", url.Values{"user_id": {strconv.FormatInt(userID, 10)}, "telegram_payment_charge_id": {chargeID}}, nil)
}

func (a tgAPI) EditStarSubscription(ctx context.Context, userID int64, chargeID string, canceled bool) error {
	return a.call(ctx, "editUserStarSubscription", url.Values{"user_id": {strconv.FormatInt(userID, 10)},
		"telegram_payment_charge_id": {chargeID}, "is_canceled": {strconv.FormatBool(canceled)}}, nil)
}

func (a tgAPI) StarTransactions(ctx context.Context, offset, limit int) ([]checkout.StarTransaction, error) {
	type partner struct {
		Type               string             `json:"type"`
		User               struct{ ID int64 } `json:"user"`
		InvoicePayload     string             `json:"invoice_payload"`
		SubscriptionPeriod int64              `json:"subscription_period"`
	}
	var res struct {
		Transactions []struct {
			ID       string   `json:"id"`
			Amount   int      `json:"amount"`
			Date     int64    `json:"date"`
			Source   *partner `json:"source"`
			Receiver *partner `json:"receiver"`
		} `json:"transactions"`
	}
	if err := a.call(ctx, "getStarTransactions", url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(limit)}}, &res); err != nil {
		return nil, err
	}
	out := make([]checkout.StarTransaction, 0, len(res.Transactions))
	for _, t := range res.Transactions {
		tx := checkout.StarTransaction{ID: t.ID, Amount: t.Amount, Date: time.Unix(t.Date, 0).UTC()}
		p := t.Source
		if p == nil {
			p, tx.Refund = t.Receiver, true
		}
		if p != nil && p.Type == "user" {
			tx.UserID, tx.Payload = p.User.ID, p.InvoicePayload
			tx.SubscriptionPeriod = time.Duration(p.SubscriptionPeriod) * time.Second
		}
		out = append(out, tx)
	}
	return out, nil
}

var starsProducts = []config.Product{
	{ID: "pro", Name: "Pro", PriceID: "price_pro", Mode: config.ModePayment, StarsPrice: 250, MaxHWIDSlots: 2},
	{ID: "club", Name: "Club", PriceID: "price_club", Mode: config.ModeSubscription, StarsPrice: 100, MaxHWIDSlots: 2},
}

// starsHarness is the worker harness with the Stars rail on the Telegram
// fake; refundHook, when set, runs after each refund Telegram answered.
type starsHarness struct {
	*harness
	tg         *telegramtest.Server
	stars      *checkout.Stars
	buyer      telegramtest.User
	refundHook func(chargeID string, err error) error
}

func newStarsHarness(t *testing.T) *starsHarness {
	t.Helper()
	s := &starsHarness{buyer: telegramtest.User{ID: 1001, FirstName: "Alice"}}
	s.harness = newHarness(t, func(o *checkout.WorkerOptions) {
		o.StarsRefund = func(ctx context.Context, userID int64, chargeID string) error {
			err := s.stars.RefundCharge(ctx, userID, chargeID)
			if s.refundHook != nil {
				return s.refundHook(chargeID, err)
			}
			return err
		}
		o.StarsCancel = func(ctx context.Context, userID int64, chargeID string) error {
			return s.stars.CancelCharge(ctx, userID, chargeID)
		}
	})
	s.tg = telegramtest.New(telegramtest.Options{Now: s.clock.Now})
	t.Cleanup(s.tg.Close)
	s.products = starsProducts
	s.reopen()
	return s
}

// reopen restarts the harness and builds the rail on the new store.
func (s *starsHarness) reopen() {
	s.t.Helper()
	s.restart()
	cfg := &config.Config{Products: s.products}
	cfg.Telegram.Token, cfg.Telegram.Payments = s.tg.Token(), config.PaymentsStars
	var err error
	s.stars, err = checkout.NewStars(checkout.StarsOptions{Store: s.db, API: tgAPI{s.tg}, Config: cfg, Clock: s.clock.Now, Logger: quiet()})
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *starsHarness) link(product string) string {
	s.t.Helper()
	link, err := s.stars.InvoiceLink(s.ctx, alice, product)
	if err != nil {
		s.t.Fatal(err)
	}
	return link
}

// charge is what the fake knows of one of its charges.
func (s *starsHarness) charge(id string) telegramtest.ChargeInfo {
	s.t.Helper()
	for _, c := range s.tg.Charges() {
		if c.ID == id {
			return c
		}
	}
	s.t.Fatalf("no charge %s", id)
	return telegramtest.ChargeInfo{}
}

// paid stores charge id's successful_payment as the adapter passes it on.
func (s *starsHarness) paid(id string) {
	s.t.Helper()
	c := s.charge(id)
	p := checkout.StarsPayment{UserID: c.User.ID, Currency: "XTR", TotalAmount: c.Invoice.Amount, Payload: c.Invoice.Payload,
		ChargeID: c.ID, Date: c.Date, SubscriptionExpiration: c.Expiration,
		IsRecurring: c.Subscription != "", IsFirstRecurring: c.Subscription == c.ID}
	if err := s.stars.Paid(s.ctx, p); err != nil {
		s.t.Fatal(err)
	}
}

// refunded stores charge id's refunded_payment.
func (s *starsHarness) refunded(id string) {
	s.t.Helper()
	c := s.charge(id)
	if !c.Refunded {
		s.t.Fatalf("charge %s was not refunded at Telegram", id)
	}
	p := checkout.StarsPayment{UserID: c.User.ID, Currency: "XTR", TotalAmount: c.Invoice.Amount, Payload: c.Invoice.Payload, ChargeID: c.ID, Date: s.clock.Now()}
	if err := s.stars.Refunded(s.ctx, p); err != nil {
		s.t.Fatal(err)
	}
}

func (s *starsHarness) starsRevenue() store.Revenue {
	s.t.Helper()
	st, err := s.db.Stats(s.ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range st.Revenue {
		if r.Rail == store.RailStars {
			return r
		}
	}
	return store.Revenue{}
}

// wantFirstSubscriptionKept checks the order is as the first payment made
// it: one license to the first period's end plus grace, the second
// subscription canceled and refunded, the first untouched, the ledger
// counting one sale.
func (s *starsHarness) wantFirstSubscriptionKept(orderID, first, second string) store.Order {
	s.t.Helper()
	o := s.order(orderID)
	exp := s.charge(first).Expiration
	if o.ChargeID != first || o.LastChargeID != first || !o.PeriodEnd.Equal(exp) || o.Status != store.OrderFulfilled || !o.IsDuplicateCharge(second) {
		s.t.Fatalf("order %+v, want it paid by %s alone, period end %s, %s recorded as a second payment", o, first, exp, second)
	}
	l := s.wantOneLicense(alice)
	if l.Status != store.LicenseActive || !l.ExpiresAt.Equal(exp.Add(72*time.Hour)) {
		s.t.Fatalf("license %+v, want active until %s", l, exp.Add(72*time.Hour))
	}
	switch {
	case !s.tg.Refunded(second) || !s.tg.SubscriptionCanceled(second):
		s.t.Fatalf("second subscription: refunded %v, canceled %v; want both", s.tg.Refunded(second), s.tg.SubscriptionCanceled(second))
	case s.tg.Refunded(first) || s.tg.SubscriptionCanceled(first):
		s.t.Fatalf("first subscription: refunded %v, canceled %v; want neither", s.tg.Refunded(first), s.tg.SubscriptionCanceled(first))
	}
	if r := s.starsRevenue(); r.Amount != 100 || r.Payments != 1 || r.Refunded != 0 {
		s.t.Fatalf("ledger %+v, want one sale of 100 Stars", r)
	}
	if ev := s.event("tgpay:" + second); ev.State != store.EventIgnored {
		s.t.Fatalf("second payment's event %+v, want ignored", ev)
	}
	alerts := s.rec.alertsOf(notify.KindRefund)
	if len(alerts) == 0 || !strings.Contains(alerts[len(alerts)-1], "second Star subscription") || !strings.Contains(alerts[len(alerts)-1], second) {
		s.t.Fatalf("refund alerts %q, want the second subscription named", alerts)
	}
	return o
}

func orderOf(t *testing.T, c telegramtest.ChargeInfo) string {
	t.Helper()
	parts := strings.Split(c.Invoice.Payload, "|")
	if len(parts) != 4 {
		t.Fatalf("payload %q", c.Invoice.Payload)
	}
	return "stars_" + parts[3]
}

// TestStarsSecondSubscriptionRefundedAndCanceled: two taps on Pay for a
// Star subscription start two subscriptions at Telegram. The second's
// first payment is refunded and that subscription canceled; the order,
// license and ledger are the first's; the refund Telegram then reports
// revokes nothing; the first subscription's renewal still extends.
func TestStarsSecondSubscriptionRefundedAndCanceled(t *testing.T) {
	s := newStarsHarness(t)
	link := s.link("club")
	first := s.tg.PayOffline(s.buyer, link)
	s.clock.Advance(3 * time.Second)
	second := s.tg.PayOffline(s.buyer, link)
	s.paid(first)
	s.paid(second)
	s.drain()
	orderID := orderOf(t, s.charge(first))
	s.wantFirstSubscriptionKept(orderID, first, second)

	s.refunded(second)
	s.drain()
	s.wantFirstSubscriptionKept(orderID, first, second)

	s.clock.Advance(30 * 24 * time.Hour)
	renewal, err := s.tg.Renew(s.ctx, s.buyer, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.tg.Renew(s.ctx, s.buyer, second); !errors.Is(err, telegramtest.ErrSubscriptionCanceled) {
		t.Fatalf("renewing the second subscription: %v, want it canceled", err)
	}
	s.paid(renewal)
	s.drain()
	exp := s.charge(renewal).Expiration
	if l := s.wantOneLicense(alice); !l.ExpiresAt.Equal(exp.Add(72 * time.Hour)) {
		t.Fatalf("license after the renewal ends %s, want %s", l.ExpiresAt, exp.Add(72*time.Hour))
	}
	if r := s.starsRevenue(); r.Amount != 200 || r.Payments != 2 {
		t.Fatalf("ledger after the renewal %+v, want 200 Stars from 2 payments", r)
	}
}

// TestStarsSecondSubscriptionRetriedSafely: Telegram refunds the second
// subscription but the answer is lost; the retry cancels the canceled
// subscription again, hears "already refunded", and settles. Then the
// event is handled once more (a crash before its outcome was committed):
// nothing changes.
func TestStarsSecondSubscriptionRetriedSafely(t *testing.T) {
	s := newStarsHarness(t)
	var lost atomic.Bool
	s.refundHook = func(_ string, err error) error {
		if err == nil && !lost.Swap(true) {
			return errors.New("connection reset after Telegram refunded")
		}
		return err
	}
	link := s.link("club")
	first := s.tg.PayOffline(s.buyer, link)
	second := s.tg.PayOffline(s.buyer, link)
	s.paid(first)
	s.paid(second)
	s.drain()
	orderID := orderOf(t, s.charge(first))
	s.wantFirstSubscriptionKept(orderID, first, second)
	refunds, cancels := s.tg.CallsTo("refundStarPayment"), s.tg.CallsTo("editUserStarSubscription")
	if len(refunds) != 2 || refunds[1].Status != http.StatusBadRequest || len(cancels) != 2 || cancels[1].Status != http.StatusOK {
		t.Fatalf("refund calls %+v, cancel calls %+v: want the retry to refund and cancel again", refunds, cancels)
	}

	ev := s.event("tgpay:" + second)
	ev.State, ev.DoneAt, ev.LastError = store.EventPending, time.Time{}, ""
	if err := s.db.UpdateEvent(s.ctx, ev); err != nil {
		t.Fatal(err)
	}
	s.reopen()
	s.drain()
	s.wantFirstSubscriptionKept(orderID, first, second)
	if n := len(s.tg.CallsTo("refundStarPayment")); n != 3 {
		t.Fatalf("%d refund calls, want the handling again to call once more", n)
	}
}

// TestStarsSecondSubscriptionFromHistory: both payments reach the shop
// only through getStarTransactions, which does not say which payment is
// a subscription's first. The one made inside the first's paid period is
// the second subscription; the first's renewal, charged when the period
// ended, extends.
func TestStarsSecondSubscriptionFromHistory(t *testing.T) {
	s := newStarsHarness(t)
	link := s.link("club")
	first := s.tg.PayOffline(s.buyer, link)
	s.clock.Advance(time.Minute)
	second := s.tg.PayOffline(s.buyer, link)
	if n, err := s.stars.CatchUp(s.ctx); err != nil || n != 2 {
		t.Fatalf("catch-up stored %d, %v; want both payments", n, err)
	}
	s.drain()
	orderID := orderOf(t, s.charge(first))
	s.wantFirstSubscriptionKept(orderID, first, second)

	s.clock.Set(s.charge(first).Expiration)
	renewal, err := s.tg.Renew(s.ctx, s.buyer, first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.stars.CatchUp(s.ctx); err != nil {
		t.Fatal(err)
	}
	s.drain()
	o := s.order(orderID)
	if o.LastChargeID != renewal || !o.PeriodEnd.After(s.charge(first).Expiration) {
		t.Fatalf("order after the renewal from the history %+v, want it renewed by %s", o, renewal)
	}
	if r := s.starsRevenue(); r.Amount != 200 || r.Payments != 2 {
		t.Fatalf("ledger after the renewal %+v, want 200 Stars from 2 payments", r)
	}
}
