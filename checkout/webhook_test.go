package checkout_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

func paid(id, session string) []byte {
	return stripetest.CheckoutCompleted(stripetest.EventParams{
		ID: id, SessionID: session, Product: "pro", Identity: "tg:1001", PaymentIntentID: "pi_" + session,
	})
}

func TestWebhookRejects(t *testing.T) {
	h := newHarness(t)
	good := paid("evt_1", "cs_1")
	cases := []struct {
		name   string
		method string
		body   string
		sig    string
		want   int
	}{
		{"GET", http.MethodGet, "", "", http.StatusMethodNotAllowed},
		{"no signature", http.MethodPost, string(good), "", http.StatusBadRequest},
		{"wrong secret", http.MethodPost, string(good), stripetest.SignEvent("whsec_other", good, time.Now()), http.StatusBadRequest},
		{"tampered body", http.MethodPost, strings.Replace(string(good), "tg:1001", "tg:6666", 1), stripetest.SignEvent(secret, good, time.Now()), http.StatusBadRequest},
		{"stale timestamp", http.MethodPost, string(good), stripetest.SignEvent(secret, good, time.Now().Add(-6*time.Minute)), http.StatusBadRequest},
		{"garbage header", http.MethodPost, string(good), "t=abc,v1=zz", http.StatusBadRequest},
		{"malformed JSON", http.MethodPost, `{"id":`, stripetest.SignEvent(secret, []byte(`{"id":`), time.Now()), http.StatusBadRequest},
		{"no data", http.MethodPost, `{"id":"evt_x","type":"checkout.session.completed"}`,
			stripetest.SignEvent(secret, []byte(`{"id":"evt_x","type":"checkout.session.completed"}`), time.Now()), http.StatusBadRequest},
		{"oversized", http.MethodPost, strings.Repeat("x", 65<<10), "t=1,v1=00", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/webhooks/stripe", strings.NewReader(c.body))
			if c.sig != "" {
				req.Header.Set("Stripe-Signature", c.sig)
			}
			rr := httptest.NewRecorder()
			h.hook.ServeHTTP(rr, req)
			if rr.Code != c.want {
				t.Fatalf("status %d %q, want %d", rr.Code, rr.Body.String(), c.want)
			}
			if ct := rr.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	counts, err := h.db.CountEvents(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range counts {
		if n != 0 {
			t.Errorf("%d %s events stored by rejected requests", n, state)
		}
	}
}

func TestWebhookStoresOnceAndWakes(t *testing.T) {
	h := newHarness(t)
	woke := 0
	var err error
	h.hook, err = newHookWithWake(h, func() { woke++ })
	if err != nil {
		t.Fatal(err)
	}
	ev := paid("evt_1", "cs_1")
	for i, want := range []string{"ok", "duplicate"} {
		rr := h.post(ev)
		if rr.Code != http.StatusOK || strings.TrimSpace(rr.Body.String()) != want {
			t.Fatalf("delivery %d: %d %q, want 200 %q", i, rr.Code, rr.Body.String(), want)
		}
	}
	if woke != 1 {
		t.Errorf("Wake called %d times, want 1", woke)
	}
	got := h.event("evt_1")
	if got.State != store.EventPending || got.OrderKey != "cs_1" || got.Type != "checkout.session.completed" ||
		got.APIVersion != stripetest.APIVersion || got.Source != "webhook" || string(got.Payload) != string(ev) {
		t.Fatalf("stored event %+v", got)
	}
	pending, _ := h.db.PendingEvents(h.ctx, 0)
	if len(pending) != 1 {
		t.Fatalf("%d pending events, want 1", len(pending))
	}
}

func TestWebhookAcceptsOtherAPIVersion(t *testing.T) {
	h := newHarness(t)
	ev := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_v", SessionID: "cs_v", Product: "pro", Identity: "tg:1001", APIVersion: "2025-03-31.basil"})
	if rr := h.post(ev); rr.Code != http.StatusOK {
		t.Fatalf("status %d %q", rr.Code, rr.Body.String())
	}
	if got := h.event("evt_v"); got.APIVersion != "2025-03-31.basil" || got.State != store.EventPending {
		t.Fatalf("stored %+v", got)
	}
}

func TestWebhookAcksUnknownType(t *testing.T) {
	h := newHarness(t)
	ev := stripetest.Event("customer.created", stripetest.EventParams{ID: "evt_c"}, map[string]any{"id": "cus_1", "object": "customer"})
	if rr := h.post(ev); rr.Code != http.StatusOK {
		t.Fatalf("status %d", rr.Code)
	}
	if got := h.event("evt_c"); got.State != store.EventIgnored {
		t.Fatalf("state %s, want ignored", got.State)
	}
	if n, _ := h.worker.ProcessDue(h.ctx); n != 0 {
		t.Fatalf("worker handled %d events", n)
	}
}

func TestWebhookStoreFailureIs500(t *testing.T) {
	h := newHarness(t)
	h.db.Close()
	if rr := h.post(paid("evt_1", "cs_1")); rr.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", rr.Code)
	}
	h.open() // for the cleanup's Close
}
