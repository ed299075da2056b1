package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

const testSecret = "whsec_demo_unit"

// received is a webhook event the stand-in shop accepted.
type received struct {
	Type string
	Obj  map[string]any
}

// env is the demo page against the fakes, with a stand-in shop whose
// webhook checks signatures and stores events as the real one does.
type env struct {
	t     *testing.T
	page  *httptest.Server
	front *StripeFront
	tg    *telegramtest.Server
	dc    *discordtest.Server
	db    *store.DB

	mu     sync.Mutex
	events []received
}

// newEnv builds the env; tweaks change the page's Options before New.
func newEnv(t *testing.T, tweaks ...func(*Options)) *env {
	t.Helper()
	e := &env{t: t, tg: telegramtest.New(telegramtest.Options{}), dc: discordtest.New(discordtest.Options{})}
	t.Cleanup(e.tg.Close)
	t.Cleanup(e.dc.Close)
	af := authforgetest.New(authforgetest.Options{})
	t.Cleanup(af.Close)
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "s.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	shop := httptest.NewServer(http.HandlerFunc(e.webhook))
	t.Cleanup(shop.Close)

	var handler http.Handler
	e.page = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(e.page.Close)
	e.front, err = NewStripeFront(e.page.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.front.Close)
	opts := Options{
		Stripe: e.front, Telegram: e.tg, Discord: e.dc, AuthForge: af, Store: db,
		WebhookSecret: testSecret, ShopURL: func() string { return shop.URL },
		Buyer:    Persona{Name: "Bea", TelegramID: 5001, DiscordID: "420000000000000001"},
		Admin:    Persona{Name: "Ada", TelegramID: 9001, DiscordID: "900000000000000001"},
		Products: []config.Product{{ID: "pro", Name: "Pro Plan"}},
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	handler = srv
	return e
}

func (e *env) webhook(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), testSecret); err != nil {
		e.t.Errorf("event with a bad signature: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Object map[string]any `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		e.t.Errorf("event is not JSON: %v", err)
	}
	if _, err := e.db.PutEvent(r.Context(), store.Event{ID: ev.ID, Type: ev.Type, Payload: body, State: store.EventPending}); err != nil {
		e.t.Errorf("store event: %v", err)
	}
	e.mu.Lock()
	e.events = append(e.events, received{ev.Type, ev.Data.Object})
	e.mu.Unlock()
}

func (e *env) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.events...)
}

// session opens a Checkout session through the front, as the shop does.
func (e *env) session(mode string) *stripe.CheckoutSession {
	e.t.Helper()
	sc := stripetest.NewClient(e.front.URL, "sk_test_unit")
	s, err := sc.CheckoutSessions.New(&stripe.CheckoutSessionParams{
		Mode: stripe.String(mode), ClientReferenceID: stripe.String("tg:5001"),
		LineItems:  []*stripe.CheckoutSessionLineItemParams{{Price: stripe.String("price_pro"), Quantity: stripe.Int64(1)}},
		Metadata:   map[string]string{"shopbot_product": "pro", "shopbot_identity": "tg:5001"},
		ExpiresAt:  stripe.Int64(time.Now().Add(30 * time.Minute).Unix()),
		SuccessURL: stripe.String(e.page.URL + "/checkout/success"), CancelURL: stripe.String(e.page.URL + "/checkout/cancel"),
	})
	if err != nil {
		e.t.Fatalf("create checkout session: %v", err)
	}
	return s
}

// do sends a request to the page and returns status and body.
func (e *env) do(method, path, contentType, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.page.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) payAction(id, action string) int {
	code, _ := e.do("POST", "/pay/"+id, "application/x-www-form-urlencoded", url.Values{"action": {action}}.Encode())
	return code
}

func (e *env) state(since string) State {
	e.t.Helper()
	code, body := e.do("GET", "/api/state?since="+since, "", "")
	var st State
	if code != 200 || json.Unmarshal([]byte(body), &st) != nil {
		e.t.Fatalf("GET /api/state: %d %s", code, body)
	}
	return st
}

func TestStripeFrontSessions(t *testing.T) {
	e := newEnv(t)
	s := e.session("payment")
	if want := e.page.URL + "/pay/" + s.ID; s.URL != want {
		t.Fatalf("session url = %q, want %q", s.URL, want)
	}
	got, ok := e.front.Session(s.ID)
	if !ok || got.Product != "pro" || got.Identity != "tg:5001" || got.Mode != "payment" || got.PriceID != "price_pro" || got.Status != StatusOpen {
		t.Fatalf("recorded session = %+v", got)
	}
	// Nothing else of Stripe's is served: a clear 404, not a fixture.
	_, err := stripetest.NewClient(e.front.URL, "sk_test_unit").Prices.Get("price_pro", nil)
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode != http.StatusNotFound || !strings.Contains(se.Msg, "stand-in for Stripe serves only") {
		t.Fatalf("price retrieve: %v, want Stripe's 404", err)
	}
	// Stripe answers 401 to a request without a secret key.
	if _, err = stripetest.NewClient(e.front.URL, "pk_test_unit").CheckoutSessions.New(&stripe.CheckoutSessionParams{Mode: stripe.String("payment")}); !errors.As(err, &se) || se.HTTPStatusCode != http.StatusUnauthorized {
		t.Fatalf("session with a publishable key: %v, want 401", err)
	}
}

// TestStripeFrontEventsFeedCatchUp checks that the shop's start-up
// catch-up, reading the front's Events API, finds the events the demo
// sent: the list is Stripe's shape, newest first, filtered and paged.
func TestStripeFrontEventsFeedCatchUp(t *testing.T) {
	e := newEnv(t)
	sc := stripetest.NewClient(e.front.URL, "sk_test_unit")
	// Nothing sent yet: an empty list, not an error.
	it := sc.Events.List(&stripe.EventListParams{})
	if it.Next() || it.Err() != nil {
		t.Fatalf("empty list: next event %v, err %v", it.Event(), it.Err())
	}
	sub := e.session("subscription")
	if code := e.payAction(sub.ID, actPay); code != http.StatusSeeOther {
		t.Fatalf("pay: %d", code)
	}
	sent := e.received()
	if len(sent) != 3 {
		t.Fatalf("a paid subscription sent %d events, want 3", len(sent))
	}

	// Paged two at a time, newest first, all three come back.
	params := &stripe.EventListParams{}
	params.Limit = stripe.Int64(2)
	var types []string
	for it := sc.Events.List(params); it.Next(); {
		types = append(types, string(it.Event().Type))
	}
	if want := []string{sent[2].Type, sent[1].Type, sent[0].Type}; strings.Join(types, ",") != strings.Join(want, ",") {
		t.Fatalf("listed %v, want newest first %v", types, want)
	}
	params = &stripe.EventListParams{Types: []*string{stripe.String("invoice.paid")}}
	it = sc.Events.List(params)
	if !it.Next() || it.Event().Type != "invoice.paid" || it.Next() {
		t.Fatalf("types filter: %v %v", it.Event(), it.Err())
	}

	// The shop's own catch-up, on an empty store, recovers every one.
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "shop.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hook, err := checkout.NewWebhook(checkout.WebhookOptions{Secret: testSecret, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	n, err := hook.CatchUp(context.Background(), sc, time.Now().Add(-time.Hour))
	if err != nil || n != 3 {
		t.Fatalf("catch-up stored %d events, err %v; want the 3 sent", n, err)
	}
}

// TestStripeFrontBillingPortal checks the Manage subscription link: a
// portal session whose url is the demo's stand-in portal for the customer.
func TestStripeFrontBillingPortal(t *testing.T) {
	e := newEnv(t)
	sub := e.session("subscription")
	if code := e.payAction(sub.ID, actPay); code != http.StatusSeeOther {
		t.Fatalf("pay: %d", code)
	}
	paid, _ := e.front.Session(sub.ID)
	ps, err := stripetest.NewClient(e.front.URL, "sk_test_unit").BillingPortalSessions.New(&stripe.BillingPortalSessionParams{
		Customer: stripe.String(paid.Customer), ReturnURL: stripe.String(e.page.URL)})
	if err != nil {
		t.Fatalf("portal session: %v", err)
	}
	if want := e.page.URL + "/billing/" + paid.Customer; ps.URL != want {
		t.Fatalf("portal url = %q, want %q", ps.URL, want)
	}
	code, body := e.do("GET", "/billing/"+paid.Customer, "", "")
	if code != 200 || !strings.Contains(body, "Pro Plan · active, renews on "+formatTime(paid.PeriodEnd)) {
		t.Fatalf("portal page: %d\n%s", code, body)
	}
	if code, _ := e.do("GET", "/billing/cus_nobody", "", ""); code != http.StatusNotFound {
		t.Fatalf("portal of an unknown customer: %d, want 404", code)
	}
}

func TestCheckoutPagePaysWithSignedEvents(t *testing.T) {
	e := newEnv(t)
	s := e.session("payment")
	if code, body := e.do("GET", "/pay/"+s.ID, "", ""); code != 200 || !strings.Contains(body, "Pro Plan") {
		t.Fatalf("GET pay page: %d", code)
	}
	if code := e.payAction(s.ID, actDecline); code != http.StatusSeeOther || len(e.received()) != 0 {
		t.Fatalf("declined card: %d, events %v", code, e.received())
	}
	if code := e.payAction(s.ID, actPay); code != http.StatusSeeOther {
		t.Fatalf("pay: %d", code)
	}
	ev := e.received()
	if len(ev) != 1 || ev[0].Type != "checkout.session.completed" || ev[0].Obj["payment_status"] != "paid" ||
		ev[0].Obj["id"] != s.ID || ev[0].Obj["payment_intent"] == nil {
		t.Fatalf("events after paying = %+v", ev)
	}
	if md, _ := ev[0].Obj["metadata"].(map[string]any); md["shopbot_identity"] != "tg:5001" || md["shopbot_product"] != "pro" {
		t.Errorf("metadata = %v", md)
	}
	if code := e.payAction(s.ID, actPay); code != http.StatusConflict {
		t.Errorf("paying twice: %d, want 409", code)
	}
	if code, _ := e.do("GET", "/pay/cs_test_unknown", "", ""); code != http.StatusNotFound {
		t.Errorf("unknown session: %d", code)
	}

	// Async: completed unpaid, then the bank's answer.
	a := e.session("payment")
	if e.payAction(a.ID, actAsync) != http.StatusSeeOther || e.payAction(a.ID, actPay) != http.StatusConflict ||
		e.payAction(a.ID, actAsyncFail) != http.StatusSeeOther {
		t.Fatal("async flow refused")
	}
	ev = e.received()[1:]
	if len(ev) != 2 || ev[0].Obj["payment_status"] != "unpaid" || ev[1].Type != "checkout.session.async_payment_failed" {
		t.Fatalf("async events = %+v", ev)
	}
}

func TestPanelActionsSubscription(t *testing.T) {
	e := newEnv(t)
	s := e.session("subscription")
	if code := e.do2("/api/stripe/renew", s.ID); code != http.StatusConflict {
		t.Errorf("renew before paying: %d", code)
	}
	e.payAction(s.ID, actPay)
	var types []string
	for _, ev := range e.received() {
		types = append(types, ev.Type)
	}
	if strings.Join(types, ",") != "checkout.session.completed,customer.subscription.created,invoice.paid" {
		t.Fatalf("subscription start events = %v", types)
	}
	first := e.received()[1].Obj["current_period_end"].(float64)
	if code := e.do2("/api/stripe/renew", s.ID); code != 200 {
		t.Fatalf("renew: %d", code)
	}
	ev := e.received()
	last := ev[len(ev)-1]
	if last.Type != "customer.subscription.updated" || last.Obj["current_period_end"].(float64) <= first {
		t.Fatalf("renewal did not move the period end: %+v", last)
	}
	for _, a := range []string{"refund", "dispute", "cancel"} {
		if code := e.do2("/api/stripe/"+a, s.ID); code != 200 {
			t.Fatalf("%s: %d", a, code)
		}
		if code := e.do2("/api/stripe/"+a, s.ID); code != http.StatusConflict {
			t.Errorf("%s twice: %d", a, code)
		}
	}
	ev = e.received()
	if ev[len(ev)-3].Type != "charge.refunded" || ev[len(ev)-3].Obj["payment_intent"] == nil ||
		ev[len(ev)-2].Type != "charge.dispute.created" || ev[len(ev)-1].Type != "customer.subscription.deleted" {
		t.Fatalf("after-sale events = %+v", ev[len(ev)-3:])
	}
	st := e.state("")
	if len(st.Payments) != 1 || !st.Payments[0].Refunded || !st.Payments[0].Canceled || len(st.Events) != len(ev) {
		t.Fatalf("state payments %+v, %d events", st.Payments, len(st.Events))
	}
}

func (e *env) do2(path, session string) int {
	code, _ := e.do("POST", path, "application/json", `{"session":"`+session+`"}`)
	return code
}

func TestStateLongPollAndTelegram(t *testing.T) {
	e := newEnv(t)
	st := e.state("")
	if st.Buyer.TelegramID != 5001 || len(st.Telegram["buyer"]) != 0 || st.Ready {
		t.Fatalf("initial state = %+v", st)
	}
	done := make(chan State, 1)
	go func() { done <- e.state(st.Version) }()
	time.Sleep(100 * time.Millisecond)
	body, _ := json.Marshal(map[string]string{"as": "buyer", "text": "/buy"})
	if code, resp := e.do("POST", "/api/telegram/send", "application/json", string(body)); code != 200 {
		t.Fatalf("send: %d %s", code, resp)
	}
	select {
	case next := <-done:
		if msgs := next.Telegram["buyer"]; len(msgs) != 1 || msgs[0].Text != "/buy" || msgs[0].FromBot || next.Version == st.Version {
			t.Fatalf("state after send = %+v", next.Telegram)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return on a new message")
	}
	if code, _ := e.do("POST", "/api/telegram/press", "application/json", `{"as":"buyer","message_id":1,"data":"buy:pro"}`); code != http.StatusConflict {
		t.Errorf("pressing a button that is not there: %d", code)
	}
	if code, _ := e.do("POST", "/api/telegram/send", "application/json", `{"as":"mallory","text":"hi"}`); code != http.StatusBadRequest {
		t.Errorf("unknown persona: %d", code)
	}
	if code, _ := e.do("POST", "/api/discord/send", "application/json", `{"as":"buyer","text":"/buy"}`); code != http.StatusServiceUnavailable {
		t.Errorf("Discord without a bot: %d", code)
	}
	if code, body := e.do("GET", "/", "", ""); code != 200 || !bytes.Contains([]byte(body), []byte(`id="tg-messages"`)) {
		t.Errorf("GET /: %d", code)
	}
}

func TestParseSlash(t *testing.T) {
	cmds := []discordtest.Command{
		{Name: "activate", Options: []discordtest.CommandOption{{Type: discordtest.OptionString, Name: "key", Required: true}}},
		{Name: "revoke", Options: []discordtest.CommandOption{{Type: discordtest.OptionString, Name: "key"}, {Type: discordtest.OptionUser, Name: "user"}}},
		{Name: "premium"},
	}
	tests := []struct {
		in, name, opts, err string
	}{
		{in: "/activate ABCD-EFGH", name: "activate", opts: "key=ABCD-EFGH"},
		{in: "/activate key:ABCD", name: "activate", opts: "key=ABCD"},
		{in: "/activate", err: "needs key:"},
		{in: "/revoke discord:420000000000000001", name: "revoke", opts: "user=420000000000000001"},
		{in: "/revoke <@420000000000000001>", name: "revoke", opts: "user=420000000000000001"},
		{in: "/revoke ABCD-EFGH", name: "revoke", opts: "key=ABCD-EFGH"},
		{in: "/revoke user:42", name: "revoke", opts: "user=42"},
		{in: "/premium now", err: "no more options"},
		{in: "/nope", err: "no /nope command"},
		{in: "hello", err: "slash command"},
	}
	for _, tc := range tests {
		name, opts, err := parseSlash(tc.in, cmds)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		var got []string
		for _, o := range opts {
			got = append(got, o.Name+"="+o.Value.(string))
		}
		if err != nil || name != tc.name || strings.Join(got, ",") != tc.opts {
			t.Errorf("%q = %q %v %v, want %q %q", tc.in, name, got, err, tc.name, tc.opts)
		}
	}
}

// TestFavicon: browsers ask for /favicon.ico; the page links the SVG.
func TestFavicon(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/favicon.ico", "/favicon.svg"} {
		resp, err := http.Get(e.page.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(b, []byte("<svg")) {
			t.Errorf("GET %s: %d %s %.20q", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	}
	if _, body := e.do("GET", "/", "", ""); !strings.Contains(body, `<link rel="icon" href="/favicon.svg"`) {
		t.Error("the page does not link its icon")
	}
}
