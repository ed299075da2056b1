package telegramtest

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/internal/fakeclock"
)

var payer = User{ID: 77, FirstName: "Payer", LanguageCode: "de"}

// invoiceParams is a valid Stars invoice; tweak changes fields (an empty
// value removes one).
func invoiceParams(tweak map[string]string) map[string]string {
	p := map[string]string{
		"title": "Pro (monthly)", "description": "A license for Pro", "payload": "order:o-1",
		"currency": "XTR", "prices": `[{"label":"Pro","amount":250}]`,
	}
	for k, v := range tweak {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	return p
}

func makeLink(t *testing.T, s *Server, tweak map[string]string) string {
	t.Helper()
	status, a := post(t, s, s.Token(), "createInvoiceLink", "multipart", invoiceParams(tweak))
	if status != 200 || !a.OK {
		t.Fatalf("createInvoiceLink: %d %+v", status, a)
	}
	var link string
	if err := json.Unmarshal(a.Result, &link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestCreateInvoiceLinkValidatesLikeTelegram(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	tests := []struct {
		name  string
		tweak map[string]string
		desc  string // "" = accepted
	}{
		{"one-time", nil, ""},
		{"subscription", map[string]string{"subscription_period": "2592000", "prices": `[{"label":"Pro","amount":10000}]`}, ""},
		{"not stars", map[string]string{"currency": "USD"}, "PAYMENT_PROVIDER_INVALID"},
		{"provider token", map[string]string{"provider_token": "284685063:TEST:x"}, "provider_token must be empty"},
		{"two prices", map[string]string{"prices": `[{"label":"a","amount":1},{"label":"b","amount":2}]`}, "INVOICE_PRICES_INVALID"},
		{"no prices", map[string]string{"prices": `[]`}, "INVOICE_PRICES_INVALID"},
		{"bad prices", map[string]string{"prices": `{`}, "can't parse prices"},
		{"zero price", map[string]string{"prices": `[{"label":"a","amount":0}]`}, "CURRENCY_TOTAL_AMOUNT_INVALID"},
		{"no title", map[string]string{"title": ""}, "INVOICE_TITLE_EMPTY"},
		{"long title", map[string]string{"title": strings.Repeat("ü", 33)}, "INVOICE_TITLE_TOO_LONG"},
		{"32-char title", map[string]string{"title": strings.Repeat("ü", 32)}, ""},
		{"no description", map[string]string{"description": ""}, "INVOICE_DESCRIPTION_EMPTY"},
		{"long description", map[string]string{"description": strings.Repeat("d", 256)}, "INVOICE_DESCRIPTION_TOO_LONG"},
		{"no payload", map[string]string{"payload": ""}, "INVOICE_PAYLOAD_INVALID"},
		{"long payload", map[string]string{"payload": strings.Repeat("p", 129)}, "INVOICE_PAYLOAD_INVALID"},
		{"128-byte payload", map[string]string{"payload": strings.Repeat("p", 128)}, ""},
		{"wrong period", map[string]string{"subscription_period": "86400"}, "SUBSCRIPTION_PERIOD_INVALID"},
		{"dear subscription", map[string]string{"subscription_period": "2592000", "prices": `[{"label":"Pro","amount":10001}]`}, "SUBSCRIPTION_PRICE_INVALID"},
	}
	for _, tt := range tests {
		status, a := post(t, s, s.Token(), "createInvoiceLink", "json", invoiceParams(tt.tweak))
		if tt.desc == "" {
			var link string
			json.Unmarshal(a.Result, &link)
			if status != 200 || !strings.HasPrefix(link, "https://t.me/$") {
				t.Errorf("%s: %d %+v", tt.name, status, a)
			}
			continue
		}
		if status != 400 || a.ErrorCode != 400 || !strings.HasPrefix(a.Description, "Bad Request: ") || !strings.Contains(a.Description, tt.desc) {
			t.Errorf("%s: %d %+v, want 400 %q", tt.name, status, a, tt.desc)
		}
	}
	invs := s.Invoices()
	if len(invs) != 4 {
		t.Fatalf("invoices = %+v, want the 4 accepted", invs)
	}
	sub, ok := s.Invoice(invs[1].Link)
	if !ok || sub.SubscriptionPeriod != 30*24*time.Hour || sub.Amount != 10000 || sub.Currency != "XTR" || sub.Payload != "order:o-1" || sub.Title != "Pro (monthly)" {
		t.Errorf("subscription invoice = %+v", sub)
	}
	if invs[0].SubscriptionPeriod != 0 || invs[0].Amount != 250 || invs[0].Link == invs[1].Link {
		t.Errorf("one-time invoice = %+v", invs[0])
	}
}

// bot plays the bot's side over HTTP: it reads updates with getUpdates.
type bot struct {
	t      *testing.T
	s      *Server
	offset int64
}

// next returns the next update, confirming the ones before it.
func (b *bot) next() Update {
	b.t.Helper()
	status, a := post(b.t, b.s, b.s.Token(), "getUpdates", "json", map[string]string{
		"offset": strconv.FormatInt(b.offset, 10), "timeout": "5", "limit": "1",
		"allowed_updates": `["message","pre_checkout_query"]`,
	})
	var ups []Update
	json.Unmarshal(a.Result, &ups)
	if status != 200 || len(ups) != 1 {
		b.t.Fatalf("getUpdates: %d %+v", status, a)
	}
	b.offset = ups[0].UpdateID + 1
	return ups[0]
}

// confirm confirms every update read so far.
func (b *bot) confirm() {
	b.t.Helper()
	if status, a := post(b.t, b.s, b.s.Token(), "getUpdates", "json", map[string]string{"offset": strconv.FormatInt(b.offset, 10), "timeout": "0"}); status != 200 {
		b.t.Fatalf("getUpdates: %d %+v", status, a)
	}
}

// answer answers a pre-checkout query and returns the HTTP answer.
func (b *bot) answer(id string, ok bool, msg string) (int, answer) {
	b.t.Helper()
	return post(b.t, b.s, b.s.Token(), "answerPreCheckoutQuery", "multipart", map[string]string{
		"pre_checkout_query_id": id, "ok": strconv.FormatBool(ok), "error_message": msg,
	})
}

type payOutcome struct {
	res PayResult
	err error
}

func payAsync(s *Server, link string) chan payOutcome {
	done := make(chan payOutcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := s.Pay(ctx, payer, link)
		done <- payOutcome{r, err}
	}()
	return done
}

func transactions(t *testing.T, s *Server, params map[string]string) []map[string]any {
	t.Helper()
	status, a := post(t, s, s.Token(), "getStarTransactions", "form", params)
	var page struct {
		Transactions []map[string]any `json:"transactions"`
	}
	if err := json.Unmarshal(a.Result, &page); status != 200 || err != nil {
		t.Fatalf("getStarTransactions: %d %+v %v", status, a, err)
	}
	return page.Transactions
}

func TestPayAcceptedMakesAPaymentAndATransaction(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now})
	defer s.Close()
	link := makeLink(t, s, map[string]string{"subscription_period": "2592000"})
	b := &bot{t: t, s: s}
	done := payAsync(s, link)
	q := b.next().PreCheckoutQuery
	if q == nil || q.From.ID != payer.ID || q.Currency != "XTR" || q.TotalAmount != 250 || q.InvoicePayload != "order:o-1" || q.ID == "" {
		t.Fatalf("pre_checkout_query = %+v", q)
	}
	if status, a := b.answer(q.ID, true, ""); status != 200 || string(a.Result) != "true" {
		t.Fatalf("answer: %d %+v", status, a)
	}
	out := <-done
	if out.err != nil || !out.res.OK || out.res.ChargeID == "" {
		t.Fatalf("Pay = %+v, %v", out.res, out.err)
	}
	m := b.next().Message
	if m == nil || m.SuccessfulPayment == nil || m.From.ID != payer.ID || m.Chat.ID != payer.ID || m.Chat.Type != "private" {
		t.Fatalf("payment message = %+v", m)
	}
	sp := *m.SuccessfulPayment
	want := SuccessfulPayment{Currency: "XTR", TotalAmount: 250, InvoicePayload: "order:o-1",
		SubscriptionExpirationDate: clock.Now().Add(30 * 24 * time.Hour).Unix(), IsRecurring: true, IsFirstRecurring: true,
		TelegramPaymentChargeID: out.res.ChargeID, ProviderPaymentChargeID: sp.ProviderPaymentChargeID}
	if sp != want || sp.ProviderPaymentChargeID == "" {
		t.Errorf("successful_payment = %+v, want %+v", sp, want)
	}
	if a := s.PreCheckoutAnswers(); len(a) != 1 || a[0] != (PreCheckoutAnswer{QueryID: q.ID, OK: true}) {
		t.Errorf("answers = %+v", a)
	}
	txns := transactions(t, s, nil)
	if len(txns) != 1 {
		t.Fatalf("transactions = %+v", txns)
	}
	src, _ := txns[0]["source"].(map[string]any)
	user, _ := src["user"].(map[string]any)
	if txns[0]["id"] != out.res.ChargeID || txns[0]["amount"] != 250.0 || txns[0]["date"] != float64(clock.Now().Unix()) ||
		src["type"] != "user" || src["transaction_type"] != "invoice_payment" || user["id"] != 77.0 ||
		src["invoice_payload"] != "order:o-1" || src["subscription_period"] != 2592000.0 || txns[0]["receiver"] != nil {
		t.Errorf("transaction = %+v", txns[0])
	}
	// The query is answered once.
	if status, a := b.answer(q.ID, true, ""); status != 400 || !strings.Contains(a.Description, "QUERY_ID_INVALID") {
		t.Errorf("second answer: %d %+v", status, a)
	}
}

func TestPayRefusedOrLateMakesNoPayment(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now})
	defer s.Close()
	link := makeLink(t, s, nil)
	b := &bot{t: t, s: s}

	done := payAsync(s, link)
	q := b.next().PreCheckoutQuery
	if status, a := b.answer(q.ID, false, ""); status != 400 || !strings.Contains(a.Description, "ERROR_MESSAGE_EMPTY") {
		t.Errorf("refusal without a message: %d %+v", status, a)
	}
	if status, _ := b.answer("999", true, ""); status != 400 {
		t.Errorf("unknown query answered %d", status)
	}
	if status, _ := b.answer(q.ID, false, "Sold out"); status != 200 {
		t.Fatalf("refusal: %d", status)
	}
	if out := <-done; out.err != nil || out.res != (PayResult{ErrorMessage: "Sold out"}) {
		t.Errorf("refused Pay = %+v, %v", out.res, out.err)
	}

	done = payAsync(s, link)
	q = b.next().PreCheckoutQuery
	clock.Advance(10*time.Second + time.Millisecond)
	if status, a := b.answer(q.ID, true, ""); status != 400 || !strings.Contains(a.Description, "query is too old") {
		t.Errorf("late answer: %d %+v", status, a)
	}
	if out := <-done; out.err != nil || out.res != (PayResult{Late: true}) {
		t.Errorf("late Pay = %+v, %v", out.res, out.err)
	}
	if a := s.PreCheckoutAnswers(); len(a) != 2 || a[0].OK || a[0].ErrorMessage != "Sold out" || !a[1].Late {
		t.Errorf("answers = %+v", a)
	}
	b.confirm()
	if txns := transactions(t, s, nil); len(txns) != 0 || s.Pending() != 0 {
		t.Errorf("refused payments left transactions %+v or updates %d", txns, s.Pending())
	}
	if _, err := s.Pay(context.Background(), payer, "https://t.me/$nope"); err == nil {
		t.Error("Pay on an unknown link succeeded")
	}
}

func TestRefundStarPayment(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	link := makeLink(t, s, nil)
	charge := s.PayOffline(payer, link)
	if charge == "" || s.Pending() != 0 {
		t.Fatalf("PayOffline = %q, %d updates (want none)", charge, s.Pending())
	}
	refund := func(user, charge string) (int, answer) {
		return post(t, s, s.Token(), "refundStarPayment", "json", map[string]string{"user_id": user, "telegram_payment_charge_id": charge})
	}
	if status, a := refund("78", charge); status != 400 || a.Description != "Bad Request: CHARGE_NOT_FOUND" {
		t.Errorf("someone else's charge: %d %+v", status, a)
	}
	if status, a := refund("77", "stxn_unknown"); status != 400 || a.Description != "Bad Request: CHARGE_NOT_FOUND" {
		t.Errorf("unknown charge: %d %+v", status, a)
	}
	if s.Refunded(charge) {
		t.Fatal("refunded before any refund")
	}
	if status, a := refund("77", charge); status != 200 || string(a.Result) != "true" {
		t.Fatalf("refund: %d %+v", status, a)
	}
	if !s.Refunded(charge) {
		t.Error("Refunded = false after the refund")
	}
	if status, a := refund("77", charge); status != 400 || a.Description != "Bad Request: CHARGE_ALREADY_REFUNDED" {
		t.Errorf("second refund: %d %+v", status, a)
	}
	b := &bot{t: t, s: s}
	m := b.next().Message
	if m == nil || m.RefundedPayment == nil || *m.RefundedPayment != (RefundedPayment{Currency: "XTR", TotalAmount: 250, InvoicePayload: "order:o-1",
		TelegramPaymentChargeID: charge, ProviderPaymentChargeID: m.RefundedPayment.ProviderPaymentChargeID}) || m.From.ID != 77 {
		t.Fatalf("refund message = %+v", m)
	}
	txns := transactions(t, s, nil)
	if len(txns) != 2 || txns[1]["id"] != charge || txns[1]["source"] != nil {
		t.Fatalf("transactions = %+v", txns)
	}
	rcv, _ := txns[1]["receiver"].(map[string]any)
	if rcv["type"] != "user" || rcv["invoice_payload"] != "order:o-1" || rcv["user"].(map[string]any)["id"] != 77.0 {
		t.Errorf("refund transaction = %+v", txns[1])
	}
	if err := s.RefundFromTelegram(payer, charge); err == nil {
		t.Error("Telegram refunded a refunded charge")
	}
}

func TestRefundFromTelegram(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	charge := s.PayOffline(payer, makeLink(t, s, nil))
	if err := s.RefundFromTelegram(User{ID: 5}, charge); err == nil {
		t.Error("refunded someone else's charge")
	}
	if err := s.RefundFromTelegram(payer, charge); err != nil {
		t.Fatal(err)
	}
	b := &bot{t: t, s: s}
	if m := b.next().Message; m.RefundedPayment == nil || m.RefundedPayment.TelegramPaymentChargeID != charge || !s.Refunded(charge) {
		t.Errorf("refund message = %+v", m)
	}
	if txns := transactions(t, s, nil); len(txns) != 2 || txns[1]["receiver"] == nil {
		t.Errorf("transactions = %+v", txns)
	}
}

func TestSubscriptionRenewAndCancel(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(Options{Now: clock.Now})
	defer s.Close()
	start := clock.Now()
	first := s.PayOffline(payer, makeLink(t, s, map[string]string{"subscription_period": "2592000"}))
	b := &bot{t: t, s: s}
	ctx := context.Background()
	clock.Advance(30 * 24 * time.Hour)
	second, err := s.Renew(ctx, payer, first)
	if err != nil {
		t.Fatal(err)
	}
	m := b.next().Message
	sp := m.SuccessfulPayment
	if sp == nil || !sp.IsRecurring || sp.IsFirstRecurring || sp.TelegramPaymentChargeID != second || second == first ||
		sp.SubscriptionExpirationDate != start.Add(60*24*time.Hour).Unix() || sp.InvoicePayload != "order:o-1" {
		t.Fatalf("renewal = %+v", sp)
	}
	if _, err := s.Renew(ctx, User{ID: 5}, first); err == nil {
		t.Error("renewed someone else's subscription")
	}
	edit := func(charge, canceled string) (int, answer) {
		return post(t, s, s.Token(), "editUserStarSubscription", "multipart", map[string]string{
			"user_id": "77", "telegram_payment_charge_id": charge, "is_canceled": canceled,
		})
	}
	if status, a := edit("stxn_unknown", "true"); status != 400 || a.Description != "Bad Request: CHARGE_NOT_FOUND" {
		t.Errorf("unknown charge: %d %+v", status, a)
	}
	oneTime := s.PayOffline(payer, makeLink(t, s, nil))
	if status, _ := edit(oneTime, "true"); status != 400 {
		t.Errorf("canceling a one-time payment answered %d", status)
	}
	if s.SubscriptionCanceled(first) {
		t.Fatal("canceled before any edit")
	}
	if status, a := edit(second, "true"); status != 200 || string(a.Result) != "true" {
		t.Fatalf("cancel: %d %+v", status, a)
	}
	if !s.SubscriptionCanceled(first) || !s.SubscriptionCanceled(second) {
		t.Error("SubscriptionCanceled = false after the cancel")
	}
	if _, err := s.Renew(ctx, payer, first); !errors.Is(err, ErrSubscriptionCanceled) {
		t.Errorf("Renew of a canceled subscription: %v", err)
	}
	if status, _ := edit(first, "false"); status != 200 || s.SubscriptionCanceled(first) {
		t.Fatalf("re-enable: %d", status)
	}
	third, err := s.Renew(ctx, payer, first)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.next().Message; m.SuccessfulPayment.TelegramPaymentChargeID != third || m.SuccessfulPayment.SubscriptionExpirationDate != start.Add(90*24*time.Hour).Unix() {
		t.Errorf("third period = %+v", m.SuccessfulPayment)
	}
	charges := s.Charges()
	if len(charges) != 4 || charges[0].ID != first || charges[1].ID != second || charges[2].ID != oneTime || charges[3].ID != third {
		t.Fatalf("charges = %+v", charges)
	}
	if c := charges[1]; c.Subscription != first || !c.Expiration.Equal(start.Add(60*24*time.Hour)) || c.User.ID != payer.ID ||
		c.Invoice.Amount != 250 || c.Canceled || c.Refunded || !c.Delivered || !c.Date.Equal(start.Add(30*24*time.Hour)) {
		t.Errorf("second period = %+v", c)
	}
	if c := charges[0]; c.Delivered || !c.Expiration.Equal(start.Add(30*24*time.Hour)) {
		t.Errorf("offline first period = %+v", c)
	}
	if c := charges[2]; c.Subscription != "" || !c.Expiration.IsZero() {
		t.Errorf("one-time charge = %+v", c)
	}
}

func TestGetStarTransactionsPages(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	link := makeLink(t, s, nil)
	var ids []any
	for range 5 {
		ids = append(ids, s.PayOffline(payer, link))
	}
	s.AddStarTransaction("fragment", 100, false)
	if got := transactions(t, s, map[string]string{"offset": "1", "limit": "3"}); len(got) != 3 || got[0]["id"] != ids[1] || got[2]["id"] != ids[3] {
		t.Errorf("offset 1 limit 3 = %+v", got)
	}
	all := transactions(t, s, map[string]string{})
	if len(all) != 6 || all[5]["receiver"].(map[string]any)["type"] != "fragment" {
		t.Errorf("all = %+v", all)
	}
	if got := transactions(t, s, map[string]string{"offset": "6"}); len(got) != 0 {
		t.Errorf("past the end = %+v", got)
	}
	for _, bad := range []map[string]string{{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}} {
		if status, _ := post(t, s, s.Token(), "getStarTransactions", "json", bad); status != 400 {
			t.Errorf("%v answered %d", bad, status)
		}
	}
}

func TestSendInvoiceIsPayable(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.OpenPrivateChat(payer)
	p := invoiceParams(map[string]string{"chat_id": "77"})
	if status, a := post(t, s, s.Token(), "sendInvoice", "json", invoiceParams(map[string]string{"chat_id": "77", "prices": "[]"})); status != 400 {
		t.Errorf("sendInvoice without a price: %d %+v", status, a)
	}
	status, a := post(t, s, s.Token(), "sendInvoice", "json", p)
	var m Message
	json.Unmarshal(a.Result, &m)
	if status != 200 || m.Invoice == nil || *m.Invoice != (InvoiceMessage{Title: "Pro (monthly)", Description: "A license for Pro", Currency: "XTR", TotalAmount: 250}) {
		t.Fatalf("sendInvoice: %d %+v", status, a)
	}
	invs := s.Invoices()
	if len(invs) != 1 || invs[0].MessageID != m.MessageID || invs[0].ChatID != 77 {
		t.Fatalf("invoices = %+v", invs)
	}
	b := &bot{t: t, s: s}
	done := payAsync(s, invs[0].Link)
	q := b.next().PreCheckoutQuery
	b.answer(q.ID, true, "")
	if out := <-done; !out.res.OK {
		t.Errorf("Pay = %+v, %v", out.res, out.err)
	}
}

func TestResendPayment(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	link := makeLink(t, s, nil)
	offline := s.PayOffline(payer, link)
	b := &bot{t: t, s: s}
	if err := s.ResendPayment(offline); err != nil {
		t.Fatal(err)
	}
	first := b.next()
	if first.Message == nil || first.Message.SuccessfulPayment == nil || first.Message.SuccessfulPayment.TelegramPaymentChargeID != offline ||
		first.Message.SuccessfulPayment.TotalAmount != 250 || first.Message.From.ID != payer.ID {
		t.Fatalf("late delivery = %+v", first.Message)
	}
	if err := s.ResendPayment(offline); err != nil {
		t.Fatal(err)
	}
	again := b.next()
	if again.UpdateID == first.UpdateID || again.Message.MessageID != first.Message.MessageID || *again.Message.SuccessfulPayment != *first.Message.SuccessfulPayment {
		t.Errorf("resent = %+v (update %d), first = %+v (update %d)", again.Message, again.UpdateID, first.Message, first.UpdateID)
	}
	if err := s.ResendPayment("stxn_unknown"); err == nil {
		t.Error("resent an unknown charge")
	}
	if txns := transactions(t, s, nil); len(txns) != 1 {
		t.Errorf("a resend made transactions: %+v", txns)
	}
}
