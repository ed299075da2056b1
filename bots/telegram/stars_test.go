package telegram_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
)

// payments is the in-test checkout behind telegram.Payments: it records
// every call, refuses payloads listed in refuse, and fails the next
// failPaid calls of Paid.
type payments struct {
	mu       sync.Mutex
	refuse   map[string]string
	failPaid int
	checks   []telegram.PreCheckout
	paid     []telegram.Payment
	refunded []telegram.Payment
	paidErrs int
	changed  chan struct{} // closed and replaced at every call
}

// calledLocked wakes waitFor; p.mu must be held.
func (p *payments) calledLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// waitFor waits until cond holds after some call, or fails the test.
func (p *payments) waitFor(t *testing.T, what string, cond func(checks []telegram.PreCheckout, paid, refunded []telegram.Payment) bool) {
	t.Helper()
	ctx := waitCtx(t)
	for {
		p.mu.Lock()
		if p.changed == nil {
			p.changed = make(chan struct{})
		}
		ok, changed := cond(p.checks, p.paid, p.refunded), p.changed
		p.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("payments: %s: never happened", what)
		}
	}
}

func (p *payments) PreCheckout(_ context.Context, q telegram.PreCheckout) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks = append(p.checks, q)
	p.calledLocked()
	return p.refuse[q.Payload]
}

func (p *payments) Paid(_ context.Context, pay telegram.Payment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.calledLocked()
	if p.failPaid > 0 {
		p.failPaid--
		p.paidErrs++
		return errors.New("store is down")
	}
	p.paid = append(p.paid, pay)
	return nil
}

func (p *payments) Refunded(_ context.Context, pay telegram.Payment) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refunded = append(p.refunded, pay)
	p.calledLocked()
	return nil
}

func (p *payments) snapshot() (checks []telegram.PreCheckout, paid, refunded []telegram.Payment, paidErrs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(checks, p.checks...), append(paid, p.paid...), append(refunded, p.refunded...), p.paidErrs
}

func withPayments(p *payments) func(*telegram.Options) {
	return func(o *telegram.Options) { o.Payments = p }
}

var germanBuyer = telegramtest.User{ID: 4242, FirstName: "Käufer", LanguageCode: "de"}

func link(t *testing.T, e *env, inv telegram.Invoice) string {
	t.Helper()
	l, err := e.bot.InvoiceLink(waitCtx(t), inv)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// polling waits until the adapter answers a command, so that stopping it
// at the end of a short test does not cut its start-up short.
func polling(t *testing.T, e *env) {
	t.Helper()
	e.say(t, buyer, buyer.ID, "/help")
}

var proInvoice = telegram.Invoice{Title: "Pro (monthly)", Description: "A Pro license", Payload: "order:o-1", Stars: 250}

func pay(t *testing.T, e *env, who telegramtest.User, link string) telegramtest.PayResult {
	t.Helper()
	r, err := e.tg.Pay(waitCtx(t), who, link)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitPaid waits until Paid has stored n payments.
func waitPaid(t *testing.T, p *payments, n int) []telegram.Payment {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("Paid storing %d payments", n), func(_ []telegram.PreCheckout, paid, _ []telegram.Payment) bool { return len(paid) >= n })
	_, paid, _, _ := p.snapshot()
	return paid
}

func TestInvoiceLink(t *testing.T) {
	e := start(t, telegram.ModePolling)
	polling(t, e)
	sub := proInvoice
	sub.SubscriptionPeriod = telegram.StarSubscriptionPeriod
	l := link(t, e, sub)
	inv, ok := e.tg.Invoice(l)
	if !ok || inv.Title != sub.Title || inv.Description != sub.Description || inv.Payload != sub.Payload ||
		inv.Amount != 250 || inv.Currency != "XTR" || inv.SubscriptionPeriod != 30*24*time.Hour {
		t.Errorf("invoice = %+v", inv)
	}
	c := e.tg.CallsTo("createInvoiceLink")
	if _, hasToken := c[0].Params["provider_token"]; hasToken {
		t.Errorf("provider_token sent for Stars: %+v", c[0].Params)
	}
	if l1 := link(t, e, proInvoice); l1 == l {
		t.Error("two invoices share a link")
	} else if inv, _ := e.tg.Invoice(l1); inv.SubscriptionPeriod != 0 {
		t.Errorf("one-time invoice = %+v", inv)
	}
	// A 429 is waited out and retried, like every other direct call.
	e.tg.FailNext("createInvoiceLink", 429, "", 3)
	link(t, e, proInvoice)
	if s := e.clock.Sleeps(); len(s) == 0 || s[len(s)-1] != 3*time.Second {
		t.Errorf("sleeps = %v, want a 3s wait", s)
	}
	// Texts too long for Telegram are clipped, not refused: a product
	// name is the seller's to choose.
	long := proInvoice
	long.Title, long.Description = strings.Repeat("ü", 40), ""
	if inv, _ := e.tg.Invoice(link(t, e, long)); inv.Title != strings.Repeat("ü", 31)+"…" || inv.Description != long.Title {
		t.Errorf("long title: invoice = %+v", inv)
	}
	long.Description = strings.Repeat("d", 300)
	if inv, _ := e.tg.Invoice(link(t, e, long)); inv.Description != strings.Repeat("d", 254)+"…" {
		t.Errorf("long description: invoice = %+v", inv)
	}
	bad := proInvoice
	bad.Payload = strings.Repeat("p", 129)
	_, err := e.bot.InvoiceLink(waitCtx(t), bad)
	if err == nil || !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "createInvoiceLink") || strings.Contains(err.Error(), e.tg.Token()) {
		t.Errorf("invalid invoice: %v", err)
	}
}

func TestPreCheckoutAcceptedOrRefused(t *testing.T) {
	p := &payments{refuse: map[string]string{"order:closed": "This order is closed."}}
	e := start(t, telegram.ModePolling, withPayments(p))
	open := link(t, e, proInvoice)
	closedInv := proInvoice
	closedInv.Payload = "order:closed"
	closed := link(t, e, closedInv)

	if r := pay(t, e, germanBuyer, open); !r.OK || r.ChargeID == "" {
		t.Fatalf("open order: %+v", r)
	}
	if r := pay(t, e, germanBuyer, closed); r.OK || r.ErrorMessage != "This order is closed." {
		t.Fatalf("closed order: %+v", r)
	}
	checks, _, _, _ := p.snapshot()
	answers := e.tg.PreCheckoutAnswers()
	if len(checks) != 2 || len(answers) != 2 {
		t.Fatalf("checks %+v, answers %+v", checks, answers)
	}
	want := telegram.PreCheckout{QueryID: answers[0].QueryID, UserID: germanBuyer.ID, LanguageCode: "de", Currency: "XTR", TotalAmount: 250, Payload: "order:o-1"}
	if checks[0] != want || checks[0].QueryID == "" {
		t.Errorf("PreCheckout got %+v, want %+v", checks[0], want)
	}
	if !answers[0].OK || answers[1].OK || answers[1].ErrorMessage != "This order is closed." || answers[1].Late {
		t.Errorf("answers = %+v", answers)
	}
}

func TestPreCheckoutRefusedWithoutPayments(t *testing.T) {
	e := start(t, telegram.ModePolling)
	if r := pay(t, e, germanBuyer, link(t, e, proInvoice)); r.OK || r.ErrorMessage != telegram.TextNoPayments {
		t.Fatalf("Pay = %+v, want the no-payments refusal", r)
	}
}

// stuckPayments never decides in time: PreCheckout waits until the test
// ends, or panics.
type stuckPayments struct {
	payments
	release chan struct{}
	panics  bool
}

func (p *stuckPayments) PreCheckout(ctx context.Context, q telegram.PreCheckout) string {
	if p.panics {
		panic("decision failed")
	}
	<-p.release
	return ""
}

// A decision that does not come within PreCheckoutTimeout, or panics, is
// answered with a refusal the buyer can retry, not left to Telegram's
// timeout.
func TestPreCheckoutTooSlowOrPanickingIsRefused(t *testing.T) {
	for _, panics := range []bool{false, true} {
		p := &stuckPayments{release: make(chan struct{}), panics: panics}
		t.Cleanup(func() { close(p.release) })
		e := start(t, telegram.ModePolling, func(o *telegram.Options) {
			o.Payments = p
			o.PreCheckoutTimeout = time.Millisecond
		})
		if r := pay(t, e, germanBuyer, link(t, e, proInvoice)); r.OK || r.ErrorMessage != telegram.TextPreCheckoutBusy {
			t.Errorf("panics %v: Pay = %+v, want the busy refusal", panics, r)
		}
	}
}

// A buyer over their command budget still gets their pre-checkout query
// answered: it is not a command and does not queue behind them.
func TestPreCheckoutAnsweredDuringAFlood(t *testing.T) {
	p := &payments{}
	e := start(t, telegram.ModePolling, withPayments(p), func(o *telegram.Options) {
		// The clock stands still, so no token refills during the test.
		o.Budget = budget.New(budget.Options{Burst: 3, InFlight: 100, Now: o.Now})
		o.Pacing = telegram.Pacing{Unlimited: true}
	})
	l := link(t, e, proInvoice)
	for range 10 {
		e.tg.SendText(germanBuyer, germanBuyer.ID, "/help")
	}
	// Polled: a dropped command changes nothing at the stand-in.
	for deadline := time.Now().Add(10 * time.Second); e.bot.Stats().Budget.Dropped() < 7; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("flood not cut at the budget: %d dropped, want 7", e.bot.Stats().Budget.Dropped())
		}
	}
	for range 5 {
		e.tg.SendText(germanBuyer, germanBuyer.ID, "/help")
	}
	if r := pay(t, e, germanBuyer, l); !r.OK {
		t.Fatalf("Pay during a flood = %+v", r)
	}
	waitPaid(t, p, 1)
}

func TestSuccessfulPaymentReachesPaid(t *testing.T) {
	p := &payments{}
	e := start(t, telegram.ModePolling, withPayments(p))
	sub := proInvoice
	sub.SubscriptionPeriod = telegram.StarSubscriptionPeriod
	r := pay(t, e, germanBuyer, link(t, e, sub))
	paid := waitPaid(t, p, 1)
	var sp *telegramtest.SuccessfulPayment
	for _, m := range e.tg.Messages(germanBuyer.ID) {
		if m.SuccessfulPayment != nil {
			sp = m.SuccessfulPayment
		}
	}
	now := e.clock.Now().UTC().Truncate(time.Second)
	want := telegram.Payment{
		UserID: germanBuyer.ID, LanguageCode: "de", Currency: "XTR", TotalAmount: 250, Payload: "order:o-1",
		ChargeID: r.ChargeID, ProviderChargeID: sp.ProviderPaymentChargeID,
		SubscriptionExpiration: now.Add(30 * 24 * time.Hour), IsRecurring: true, IsFirstRecurring: true, Date: now,
	}
	if len(paid) != 1 || paid[0] != want || want.ProviderChargeID == "" {
		t.Fatalf("Paid got %+v, want %+v", paid, want)
	}
	// A renewal is recurring but not the first, one period later.
	if _, err := e.tg.Renew(waitCtx(t), germanBuyer, r.ChargeID); err != nil {
		t.Fatal(err)
	}
	paid = waitPaid(t, p, 2)
	if !paid[1].IsRecurring || paid[1].IsFirstRecurring || paid[1].ChargeID == r.ChargeID || !paid[1].SubscriptionExpiration.Equal(now.Add(60*24*time.Hour)) {
		t.Errorf("renewal = %+v", paid[1])
	}
	// The payment is not taken for chatter or a command.
	if len(e.shop.Calls()) != 0 {
		t.Errorf("payment messages reached the commands: %v", e.shop.Calls())
	}
}

// A payment Paid could not store is answered 500, and Telegram's
// redelivery reaches Paid again.
func TestPaidErrorIsRedelivered(t *testing.T) {
	p := &payments{failPaid: 1}
	e := start(t, telegram.ModeWebhook, withPayments(p))
	r := pay(t, e, germanBuyer, link(t, e, proInvoice))
	paid := waitPaid(t, p, 1)
	if _, _, _, errs := p.snapshot(); errs != 1 || paid[0].ChargeID != r.ChargeID {
		t.Fatalf("paid %+v after %d errors; want the charge after one failure", paid, errs)
	}

	// The same at the wire: 500 while the store fails, then 200.
	p.mu.Lock()
	p.failPaid = 1
	p.mu.Unlock()
	upd := telegramtest.Update{UpdateID: 900001, Message: &telegramtest.Message{
		MessageID: 9001, From: &germanBuyer, Date: e.clock.Now().Unix(),
		Chat:              telegramtest.Chat{ID: germanBuyer.ID, Type: "private"},
		SuccessfulPayment: &telegramtest.SuccessfulPayment{Currency: "XTR", TotalAmount: 250, InvoicePayload: "order:o-2", TelegramPaymentChargeID: "stxn_wire"},
	}}
	if status, err := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, secret, upd); err != nil || status != 500 {
		t.Fatalf("failed store answered %d, %v; want 500", status, err)
	}
	if status, err := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, secret, upd); err != nil || status != 200 {
		t.Fatalf("redelivery answered %d, %v; want 200", status, err)
	}
	if status, _ := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, secret, upd); status != 200 {
		t.Fatalf("duplicate answered %d", status)
	}
	if _, paid, _, _ := p.snapshot(); len(paid) != 2 || paid[1].ChargeID != "stxn_wire" {
		t.Errorf("paid = %+v; want the redelivered payment once", paid)
	}
}

func TestRefundStarPaymentReachesRefunded(t *testing.T) {
	p := &payments{}
	e := start(t, telegram.ModePolling, withPayments(p))
	r := pay(t, e, germanBuyer, link(t, e, proInvoice))
	ctx := waitCtx(t)
	if err := e.bot.RefundStarPayment(ctx, buyer.ID, r.ChargeID); err == nil || !strings.Contains(err.Error(), "CHARGE_NOT_FOUND") {
		t.Errorf("refund to the wrong user: %v", err)
	}
	if err := e.bot.RefundStarPayment(ctx, germanBuyer.ID, r.ChargeID); err != nil {
		t.Fatal(err)
	}
	if !e.tg.Refunded(r.ChargeID) {
		t.Error("not refunded at Telegram")
	}
	if err := e.bot.RefundStarPayment(ctx, germanBuyer.ID, r.ChargeID); !errors.Is(err, telegram.ErrAlreadyRefunded) {
		t.Errorf("second refund: %v", err)
	}
	p.waitFor(t, "refunded_payment reaching Refunded", func(_ []telegram.PreCheckout, _, refunded []telegram.Payment) bool { return len(refunded) == 1 })
	_, _, refunded, _ := p.snapshot()
	if got := refunded[0]; got.ChargeID != r.ChargeID || got.UserID != germanBuyer.ID || got.Payload != "order:o-1" || got.TotalAmount != 250 || got.Currency != "XTR" {
		t.Errorf("Refunded got %+v", got)
	}
}

func TestEditStarSubscription(t *testing.T) {
	e := start(t, telegram.ModePolling, withPayments(&payments{}))
	polling(t, e)
	sub := proInvoice
	sub.SubscriptionPeriod = telegram.StarSubscriptionPeriod
	charge := e.tg.PayOffline(germanBuyer, link(t, e, sub))
	ctx := waitCtx(t)
	if err := e.bot.EditStarSubscription(ctx, germanBuyer.ID, "stxn_unknown", true); err == nil {
		t.Error("unknown charge canceled")
	}
	if err := e.bot.EditStarSubscription(ctx, germanBuyer.ID, charge, true); err != nil {
		t.Fatal(err)
	}
	if !e.tg.SubscriptionCanceled(charge) {
		t.Fatal("not canceled at Telegram")
	}
	if _, err := e.tg.Renew(ctx, germanBuyer, charge); !errors.Is(err, telegramtest.ErrSubscriptionCanceled) {
		t.Errorf("canceled subscription renewed: %v", err)
	}
	if err := e.bot.EditStarSubscription(ctx, germanBuyer.ID, charge, false); err != nil || e.tg.SubscriptionCanceled(charge) {
		t.Errorf("re-enable: %v", err)
	}
}

func TestStarTransactions(t *testing.T) {
	e := start(t, telegram.ModePolling, withPayments(&payments{}))
	polling(t, e)
	sub := proInvoice
	sub.SubscriptionPeriod = telegram.StarSubscriptionPeriod
	sub.Payload = "order:sub"
	one := e.tg.PayOffline(germanBuyer, link(t, e, proInvoice))
	e.tg.AddStarTransaction("fragment", 1000, false)
	two := e.tg.PayOffline(buyer, link(t, e, sub))
	// A partner type the client library cannot decode must not hide the
	// payments around it.
	e.tg.AddStarTransaction("some_future_partner", 5, true)
	ctx := waitCtx(t)
	if err := e.bot.RefundStarPayment(ctx, germanBuyer.ID, one); err != nil {
		t.Fatal(err)
	}
	got, err := e.bot.StarTransactions(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	date := e.clock.Now().UTC().Truncate(time.Second)
	want := []telegram.StarTransaction{
		{ID: one, Amount: 250, Date: date, UserID: germanBuyer.ID, Payload: "order:o-1"},
		{ID: got[1].ID, Amount: 1000, Date: date},
		{ID: two, Amount: 250, Date: date, UserID: buyer.ID, Payload: "order:sub", SubscriptionPeriod: 30 * 24 * time.Hour},
		{ID: got[3].ID, Amount: 5, Date: date},
		{ID: one, Amount: 250, Date: date, UserID: germanBuyer.ID, Payload: "order:o-1", Refund: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("transaction %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	page, err := e.bot.StarTransactions(ctx, 2, 2)
	if err != nil || len(page) != 2 || page[0].ID != two || page[1].Amount != 5 {
		t.Errorf("offset 2 limit 2 = %+v, %v", page, err)
	}
	if c := e.tg.CallsTo("getStarTransactions"); c[len(c)-1].Params["limit"] != "2" || c[0].Params["limit"] != "100" {
		t.Errorf("limits sent: %+v", c)
	}
}
