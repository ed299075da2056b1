package checkout_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/config"
)

// promoProducts: "deal" shows Checkout's code field, "trial" is a
// subscription with a 14-day trial, "sub" has neither.
func promoSessions(t *testing.T, h *harness, m *stripetest.Mock) *checkout.Sessions {
	t.Helper()
	products := []config.Product{
		{ID: "deal", Name: "Deal", PriceID: "price_deal", Mode: config.ModePayment, MaxHWIDSlots: 1, AllowPromotionCodes: true},
		{ID: "trial", Name: "Trial", PriceID: "price_trial", Mode: config.ModeSubscription, MaxHWIDSlots: 1, TrialDays: 14},
		{ID: "sub", Name: "Sub", PriceID: "price_sub", Mode: config.ModeSubscription, MaxHWIDSlots: 1},
	}
	s, err := checkout.NewSessions(checkout.SessionsOptions{
		Stripe: m.Client("sk_test_123"), Store: h.db, Products: products,
		SuccessURL: "https://shop.example.com/ok", CancelURL: "https://shop.example.com/cancel",
		Clock: h.clock.Now, Logger: quiet(),
	})
	if err != nil {
		t.Fatalf("NewSessions: %v", err)
	}
	return s
}

func TestLinkSendsCodeFieldAndTrial(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := promoSessions(t, h, m)
	for _, id := range []string{"deal", "trial", "sub"} {
		if _, err := s.Link(h.ctx, alice, id, ""); err != nil {
			t.Fatalf("Link %s: %v", id, err)
		}
	}
	reqs := m.Requests("/v1/checkout/sessions")
	if len(reqs) != 3 {
		t.Fatalf("%d session requests, want 3", len(reqs))
	}
	deal, trial, sub := reqs[0].Form, reqs[1].Form, reqs[2].Form
	if got := deal.Get("allow_promotion_codes"); got != "true" {
		t.Errorf("deal: allow_promotion_codes = %q, want true", got)
	}
	if got := trial.Get("subscription_data[trial_period_days]"); got != "14" {
		t.Errorf("trial: subscription_data[trial_period_days] = %q, want 14", got)
	}
	for name, f := range map[string]map[string][]string{"trial": trial, "sub": sub} {
		if _, ok := f["allow_promotion_codes"]; ok {
			t.Errorf("%s: allow_promotion_codes sent for a product that does not allow codes", name)
		}
	}
	if _, ok := sub["subscription_data[trial_period_days]"]; ok {
		t.Error("sub: a trial was sent for a product without trial_days")
	}
	if _, ok := deal["discounts[0][promotion_code]"]; ok {
		t.Error("deal: a discount was sent without a code")
	}
}

func TestLinkAppliesPromotionCode(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	m.SetPromotionCodes(stripetest.PromotionCode{ID: "promo_spring", Code: "SPRING", Active: true})
	s := promoSessions(t, h, m)

	if _, err := s.Link(h.ctx, alice, "deal", "spring"); err != nil {
		t.Fatalf("Link with code: %v", err)
	}
	lookups := m.Requests("/v1/promotion_codes")
	if len(lookups) != 1 || lookups[0].Form.Get("code") != "spring" || lookups[0].Form.Get("active") != "true" {
		t.Fatalf("promotion code lookups %+v, want one with code=spring&active=true", lookups)
	}
	reqs := m.Requests("/v1/checkout/sessions")
	if len(reqs) != 1 {
		t.Fatalf("%d session requests, want 1", len(reqs))
	}
	f := reqs[0].Form
	if got := f.Get("discounts[0][promotion_code]"); got != "promo_spring" {
		t.Errorf("discounts[0][promotion_code] = %q, want promo_spring", got)
	}
	if _, ok := f["allow_promotion_codes"]; ok {
		t.Error("allow_promotion_codes sent together with a discount; Stripe refuses both")
	}

	// The discounted session is not handed to a plain /buy, and an open
	// plain session is not handed to /buy CODE.
	if _, err := s.Link(h.ctx, alice, "deal", ""); err != nil {
		t.Fatal(err)
	}
	reqs = m.Requests("/v1/checkout/sessions")
	if len(reqs) != 2 {
		t.Fatalf("plain /buy after /buy CODE: %d session requests, want 2 (a new plain session)", len(reqs))
	}
	if _, ok := reqs[1].Form["discounts[0][promotion_code]"]; ok {
		t.Error("plain /buy sent a discount")
	}
	if _, err := s.Link(h.ctx, alice, "deal", "SPRING"); err != nil {
		t.Fatal(err)
	}
	reqs = m.Requests("/v1/checkout/sessions")
	if len(reqs) != 3 || reqs[2].Form.Get("discounts[0][promotion_code]") != "promo_spring" {
		t.Fatalf("/buy CODE with a plain session open: %d session requests, want a third one with the discount", len(reqs))
	}
}

func TestLinkRefusesBadPromotionCodes(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	now := h.clock.Now()
	m.SetPromotionCodes(
		stripetest.PromotionCode{ID: "promo_old", Code: "OLD", Active: true, ExpiresAt: now.Add(-time.Minute)},
		stripetest.PromotionCode{ID: "promo_off", Code: "OFF", Active: false},
		stripetest.PromotionCode{ID: "promo_gone", Code: "GONE", Active: true, MaxRedemptions: 5, TimesRedeemed: 5},
	)
	s := promoSessions(t, h, m)
	for _, code := range []string{"NOPE", "OLD", "OFF", "GONE", "x y", "<b>"} {
		_, err := s.Link(h.ctx, alice, "deal", code)
		if !errors.Is(err, checkout.ErrPromotionCode) {
			t.Errorf("code %q: err = %v, want ErrPromotionCode", code, err)
		}
	}
	if n := len(m.Requests("/v1/checkout/sessions")); n != 0 {
		t.Fatalf("%d sessions created for refused codes, want 0", n)
	}
	if n := len(m.Requests("/v1/promotion_codes")); n != 4 {
		t.Errorf("%d lookups, want 4: malformed codes are refused without asking Stripe", n)
	}

	// Stripe failing is not the buyer's code's fault.
	m.FailNext("/v1/promotion_codes", 1, http.StatusInternalServerError)
	_, err := s.Link(h.ctx, alice, "deal", "OLD")
	if errors.Is(err, checkout.ErrPromotionCode) || !errors.Is(err, checkout.ErrStripe) {
		t.Fatalf("lookup failure: err = %v, want ErrStripe and not ErrPromotionCode", err)
	}
}

// TestLinkDiscountRefusedByStripe: a code that exists but that Stripe will
// not apply to this product (restricted to other products, first orders)
// is the buyer's code problem, not a payment outage.
func TestLinkDiscountRefusedByStripe(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/promotion_codes":
			_, _ = io.WriteString(w, `{"object":"list","has_more":false,"url":"/v1/promotion_codes","data":[`+
				`{"id":"promo_x","object":"promotion_code","active":true,"code":"ONLYOTHER","coupon":{"id":"co_x","object":"coupon","valid":true}}]}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"type":"invalid_request_error","param":"discounts[0][promotion_code]",`+
				`"message":"This promotion code cannot be applied to the items in this session."}}`)
		}
	}))
	t.Cleanup(srv.Close)
	s, err := checkout.NewSessions(checkout.SessionsOptions{
		Stripe: stripetest.NewClient(srv.URL, "sk_test_123"), Store: h.db, Products: h.products,
		SuccessURL: "https://shop.example.com/ok", CancelURL: "https://shop.example.com/cancel",
		Clock: h.clock.Now, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Link(h.ctx, alice, "pro", "ONLYOTHER")
	if !errors.Is(err, checkout.ErrPromotionCode) || errors.Is(err, checkout.ErrStripe) {
		t.Fatalf("err = %v, want ErrPromotionCode (not ErrStripe)", err)
	}
}
