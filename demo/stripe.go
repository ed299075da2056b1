package demo

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopbot/shopbot/checkout/stripetest"
)

// Payment states of a stand-in Checkout session.
const (
	StatusOpen     = "open"     // created, not paid
	StatusPending  = "pending"  // async payment started, bank not yet answered
	StatusPaid     = "paid"     // paid (one-time) or subscription started
	StatusDeclined = "declined" // last card attempt declined; the session stays open
	StatusFailed   = "failed"   // async payment failed
)

// Session is one Checkout session the shop opened through the front, and
// what the visitor did with it since.
type Session struct {
	ID         string    `json:"id"`
	Mode       string    `json:"mode"`
	PriceID    string    `json:"price_id"`
	Product    string    `json:"product"`
	Identity   string    `json:"identity"`
	SuccessURL string    `json:"success_url"`
	CancelURL  string    `json:"cancel_url"`
	Created    time.Time `json:"created"`
	ExpiresAt  time.Time `json:"expires_at"`
	Status     string    `json:"status"`
	// Ids of the Stripe objects the payment made.
	Customer      string `json:"customer"`
	PaymentIntent string `json:"payment_intent,omitempty"`
	Subscription  string `json:"subscription,omitempty"`
	Invoice       string `json:"invoice,omitempty"`
	// PeriodEnd is the subscription's current period end.
	PeriodEnd time.Time `json:"period_end,omitzero"`
	Renewals  int       `json:"renewals,omitempty"`
	Refunded  bool      `json:"refunded,omitempty"`
	Disputed  bool      `json:"disputed,omitempty"`
	Canceled  bool      `json:"canceled,omitempty"`
}

// StripeFront is the stand-in Stripe API: the three endpoints the shop
// calls (Checkout sessions, with a url on the demo's checkout page; the
// Events API that start-up catch-up reads; Billing Portal sessions, with a
// url on the demo's stand-in portal). Any other call is answered with
// Stripe's 404. It is safe for concurrent use.
//
// It is not a proxy to stripe-mock: stripe-mock prints every request to the
// process's standard output with no way to turn that off, and the demo's
// terminal must show only shopbot's own lines.
type StripeFront struct {
	// URL is the API base URL to configure as stripe.api_url.
	URL string

	srv     *httptest.Server
	pageURL string
	now     func() time.Time
	// prefix keeps ids unique across runs on one --store.
	prefix string

	mu       sync.Mutex
	next     int
	sessions map[string]*Session
	order    []string
	changed  chan struct{}
	// events are the events "Stripe" sent, oldest first, for GET /v1/events.
	events []listedEvent
}

// NewStripeFront starts the front on loopback; pageURL is the demo page's
// base URL, where /pay/{id} and /billing/{customer} are served. now may be
// nil.
func NewStripeFront(pageURL string, now func() time.Time) (*StripeFront, error) {
	if _, err := url.Parse(pageURL); err != nil {
		return nil, fmt.Errorf("demo: page URL: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	f := &StripeFront{
		pageURL:  strings.TrimRight(pageURL, "/"),
		now:      now,
		sessions: map[string]*Session{},
		changed:  make(chan struct{}),
		prefix:   randomID(),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	return f, nil
}

// Close stops the front.
func (f *StripeFront) Close() { f.srv.Close() }

func (f *StripeFront) serve(w http.ResponseWriter, r *http.Request) {
	// Stripe answers 401 before anything else to a request without a
	// secret (or restricted) key.
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "Bearer sk_") && !strings.HasPrefix(auth, "Bearer rk_") {
		stripetest.WriteError(w, http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions":
		f.createSession(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/events":
		f.listEvents(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/billing_portal/sessions":
		f.createPortalSession(w, r)
	default:
		writeStripeError(w, http.StatusNotFound, fmt.Sprintf("Unrecognized request URL (%s: %s). The demo's stand-in for Stripe serves only POST /v1/checkout/sessions, GET /v1/events and POST /v1/billing_portal/sessions.", r.Method, r.URL.Path))
	}
}

// createSession answers like Stripe's POST /v1/checkout/sessions: form
// body in, checkout.session JSON out.
func (f *StripeFront) createSession(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		stripetest.WriteError(w, http.StatusBadRequest)
		return
	}
	form, err := url.ParseQuery(string(body))
	mode := form.Get("mode")
	if err != nil || (mode != "payment" && mode != "subscription") || form.Get("line_items[0][price]") == "" {
		stripetest.WriteError(w, http.StatusBadRequest)
		return
	}
	now := f.now()
	expires := now.Add(24 * time.Hour)
	if v, err := strconv.ParseInt(form.Get("expires_at"), 10, 64); err == nil {
		expires = time.Unix(v, 0)
	}
	identity := form.Get("metadata[shopbot_identity]")
	if identity == "" {
		identity = form.Get("client_reference_id")
	}
	f.mu.Lock()
	f.next++
	n := f.next
	s := &Session{
		ID: fmt.Sprintf("cs_test_%s%04d", f.prefix, n), Mode: mode, PriceID: form.Get("line_items[0][price]"),
		Product: form.Get("metadata[shopbot_product]"), Identity: identity,
		SuccessURL: form.Get("success_url"), CancelURL: form.Get("cancel_url"),
		Created: now, ExpiresAt: expires, Status: StatusOpen, Customer: fmt.Sprintf("cus_%s%04d", f.prefix, n),
	}
	f.sessions[s.ID] = s
	f.order = append(f.order, s.ID)
	f.notifyLocked()
	f.mu.Unlock()

	obj := stripetest.CheckoutSession(stripetest.EventParams{
		ID: "evt_unused", SessionID: s.ID, Product: s.Product, Identity: s.Identity,
		Mode: mode, CustomerID: s.Customer, PaymentStatus: "unpaid", Created: now,
	}, "open")
	obj["url"] = f.pageURL + "/pay/" + s.ID
	obj["expires_at"] = expires.Unix()
	obj["created"] = now.Unix()
	obj["success_url"], obj["cancel_url"] = s.SuccessURL, s.CancelURL
	obj["customer"] = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

// Session returns a copy of session id.
func (f *StripeFront) Session(id string) (Session, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return Session{}, false
	}
	return *s, true
}

// Sessions lists every session, newest first.
func (f *StripeFront) Sessions() []Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Session, 0, len(f.order))
	for _, id := range slices.Backward(f.order) {
		out = append(out, *f.sessions[id])
	}
	return out
}

// Update changes session id under the lock; fn's error aborts.
func (f *StripeFront) Update(id string, fn func(*Session) error) (Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sessions[id]
	if !ok {
		return Session{}, fmt.Errorf("no checkout session %q", id)
	}
	c := *s
	if err := fn(&c); err != nil {
		return Session{}, err
	}
	*s = c
	f.notifyLocked()
	return c, nil
}

// Changed is closed at the next change of a session.
func (f *StripeFront) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *StripeFront) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// randomID is 8 random lowercase letters and digits.
func randomID() string {
	return strings.ToLower(rand.Text()[:8])
}
