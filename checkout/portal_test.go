package checkout_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/checkout"
	"github.com/stripe/stripe-go/v76"
)

const portalPath = "/v1/billing_portal/sessions"

func TestPortalLinkSendsCustomerAndReturnURL(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := newSessions(t, h, m)

	url, err := s.PortalLink(h.ctx, "cus_123", "https://t.me/shop_bot?start=license")
	if err != nil {
		t.Fatalf("PortalLink: %v", err)
	}
	if !strings.HasPrefix(url, "https://") {
		t.Errorf("URL = %q", url)
	}
	reqs := m.Requests(portalPath)
	if len(reqs) != 1 {
		t.Fatalf("%d portal requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost {
		t.Errorf("method = %s", r.Method)
	}
	if got := r.Form.Get("customer"); got != "cus_123" {
		t.Errorf("customer = %q", got)
	}
	if got := r.Form.Get("return_url"); got != "https://t.me/shop_bot?start=license" {
		t.Errorf("return_url = %q", got)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer sk_test_123" {
		t.Errorf("Authorization = %q", got)
	}

	// Without a return URL the portal configuration's default applies.
	if _, err := s.PortalLink(h.ctx, "cus_123", ""); err != nil {
		t.Fatalf("PortalLink without return URL: %v", err)
	}
	if f := m.Requests(portalPath)[1].Form; f.Has("return_url") {
		t.Errorf("return_url sent although empty: %v", f)
	}
}

func TestPortalLinkErrors(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	s := newSessions(t, h, m)

	if _, err := s.PortalLink(h.ctx, " ", ""); !errors.Is(err, checkout.ErrNoCustomer) {
		t.Errorf("no customer: %v", err)
	}
	if n := len(m.Requests(portalPath)); n != 0 {
		t.Errorf("%d Stripe calls without a customer", n)
	}

	m.FailNext(portalPath, 1, http.StatusTooManyRequests)
	_, err := s.PortalLink(h.ctx, "cus_123", "")
	var se *stripe.Error
	if !errors.Is(err, checkout.ErrRateLimited) || !errors.As(err, &se) || se.HTTPStatusCode != http.StatusTooManyRequests {
		t.Errorf("429: %v", err)
	}
	m.FailNext(portalPath, 1, http.StatusInternalServerError)
	if _, err := s.PortalLink(h.ctx, "cus_123", ""); !errors.Is(err, checkout.ErrStripe) || errors.Is(err, checkout.ErrRateLimited) {
		t.Errorf("500: %v", err)
	}
	m.FailNext(portalPath, 1, http.StatusBadRequest)
	if _, err := s.PortalLink(h.ctx, "cus_gone", ""); !errors.Is(err, checkout.ErrStripe) {
		t.Errorf("400: %v", err)
	}
	if _, err := s.PortalLink(h.ctx, "cus_123", ""); err != nil {
		t.Errorf("after faults: %v", err)
	}
}
