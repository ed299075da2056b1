package checkout_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
	"github.com/stripe/stripe-go/v76"
)

func newSessions(t *testing.T, h *harness, m *stripetest.Mock) *checkout.Sessions {
	t.Helper()
	s, err := checkout.NewSessions(checkout.SessionsOptions{
		Stripe: m.Client("sk_test_123"), Store: h.db, Products: h.products,
		SuccessURL: "https://shop.example.com/ok", CancelURL: "https://shop.example.com/cancel",
		Clock: h.clock.Now, Logger: quiet(),
	})
	if err != nil {
		t.Fatalf("NewSessions: %v", err)
	}
	return s
}

func TestLinkSendsSessionParameters(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := newSessions(t, h, m)

	url, err := s.Link(h.ctx, alice, "pro", "")
	if err != nil {
		t.Fatalf("Link: %v", err)
	}
	if url == "" {
		t.Fatal("empty URL")
	}
	reqs := m.Requests("/v1/checkout/sessions")
	if len(reqs) != 1 {
		t.Fatalf("%d session requests, want 1", len(reqs))
	}
	f := reqs[0].Form
	want := map[string]string{
		"mode":                       "payment",
		"client_reference_id":        "tg:1001",
		"line_items[0][price]":       "price_pro",
		"line_items[0][quantity]":    "1",
		"metadata[shopbot_product]":  "pro",
		"metadata[shopbot_identity]": "tg:1001",
		"success_url":                "https://shop.example.com/ok",
		"cancel_url":                 "https://shop.example.com/cancel",
		"expires_at":                 strconv.FormatInt(h.clock.Now().Add(32*time.Minute).Unix(), 10),
		"payment_intent_data[metadata][shopbot_identity]": "tg:1001",
	}
	for k, v := range want {
		if got := f.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer sk_test_123" {
		t.Errorf("Authorization = %q", got)
	}
	open, err := h.db.GetOpenSession(h.ctx, alice, "pro")
	if err != nil || open.URL != url {
		t.Fatalf("open session %+v, %v; want URL %q", open, err, url)
	}
}

func TestLinkSubscriptionMetadata(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	if _, err := newSessions(t, h, m).Link(h.ctx, bob, "sub", ""); err != nil {
		t.Fatalf("Link: %v", err)
	}
	f := m.Requests("/v1/checkout/sessions")[0].Form
	for k, v := range map[string]string{
		"mode": "subscription",
		"subscription_data[metadata][shopbot_product]":  "sub",
		"subscription_data[metadata][shopbot_identity]": "discord:123456789012345678",
		"metadata[shopbot_identity]":                    "discord:123456789012345678",
	} {
		if got := f.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestLinkReusesOpenSession(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := newSessions(t, h, m)
	first, err := s.Link(h.ctx, alice, "pro", "")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(10 * time.Minute)
	second, err := s.Link(h.ctx, alice, "pro", "")
	if err != nil || second != first {
		t.Fatalf("second Link = %q, %v; want the same %q", second, err, first)
	}
	if n := len(m.Requests("/v1/checkout/sessions")); n != 1 {
		t.Fatalf("%d Stripe calls, want 1", n)
	}
	// Another product, and the same one after the session expired, open new sessions.
	if _, err := s.Link(h.ctx, alice, "life", ""); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(25 * time.Minute)
	if _, err := s.Link(h.ctx, alice, "pro", ""); err != nil {
		t.Fatal(err)
	}
	if n := len(m.Requests("/v1/checkout/sessions")); n != 3 {
		t.Fatalf("%d Stripe calls, want 3", n)
	}
}

func TestLinkErrors(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := newSessions(t, h, m)

	if _, err := s.Link(h.ctx, alice, "nope", ""); !errors.Is(err, checkout.ErrUnknownProduct) {
		t.Errorf("unknown product: %v", err)
	}
	m.FailNext("/v1/checkout/sessions", 1, http.StatusTooManyRequests)
	_, err := s.Link(h.ctx, alice, "pro", "")
	var se *stripe.Error
	if !errors.Is(err, checkout.ErrRateLimited) || !errors.As(err, &se) || se.HTTPStatusCode != 429 {
		t.Errorf("429: %v", err)
	}
	m.FailNext("/v1/checkout/sessions", 1, http.StatusInternalServerError)
	_, err = s.Link(h.ctx, alice, "pro", "")
	if !errors.Is(err, checkout.ErrStripe) || !errors.As(err, &se) || se.Type != stripe.ErrorTypeAPI {
		t.Errorf("500: %v", err)
	}
	if _, err := h.db.GetOpenSession(h.ctx, alice, "pro"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed Link stored an open session: %v", err)
	}
	if _, err := s.Link(h.ctx, alice, "pro", ""); err != nil {
		t.Errorf("after faults: %v", err)
	}
}

func TestLinkHonoursDeadline(t *testing.T) {
	h := newHarness(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // the server notices a hang-up only after the body
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	s, err := checkout.NewSessions(checkout.SessionsOptions{
		Stripe: stripetest.NewClient(hang.URL, "sk_test_123"), Store: h.db, Products: h.products,
		SuccessURL: "https://s.example/ok", CancelURL: "https://s.example/no", Clock: h.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(h.ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = s.Link(ctx, alice, "pro", "")
	if !errors.Is(err, checkout.ErrStripe) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Link = %v, want ErrStripe with the deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Link took %s", d)
	}
}
