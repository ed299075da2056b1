// Package stripetest runs Stripe's API for tests and the demo without a
// network: stripe-mock in-process (an httptest server over its embedded
// OpenAPI spec and fixtures), plus signed webhook events in the JSON shape
// of API version 2023-10-16. It does not import testing, so `shopbot demo`
// can use it too.
package stripetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-mock/embedded"
	"github.com/stripe/stripe-mock/server"
)

// Request is one API request stripe-mock received.
type Request struct {
	Method string
	Path   string
	// Form is the decoded form body of POSTs and the query of GETs.
	Form   url.Values
	Header http.Header
}

type fault struct {
	path   string
	n      int
	status int
}

// Mock is stripe-mock serving on loopback. It records every request and
// can answer with Stripe errors on demand. Because stripe-mock is
// stateless, GET /v1/events is served from the events given to SetEvents.
type Mock struct {
	// URL is the API base URL (http://127.0.0.1:port).
	URL string

	srv  *httptest.Server
	stub http.Handler

	mu       sync.Mutex
	requests []Request
	faults   []*fault
	events   []json.RawMessage // newest first
	hasList  bool
	// lists are other list endpoints served from objects (lists.go).
	lists map[string][]json.RawMessage
	// promos, when not nil, answer GET /v1/promotion_codes (promotion.go).
	promos []PromotionCode
}

// NewMock starts stripe-mock. It panics if the embedded spec cannot be
// loaded, which only a broken module download can cause.
func NewMock() *Mock {
	spec, err := server.LoadSpec(embedded.OpenAPISpec, "")
	if err != nil {
		panic(fmt.Sprintf("stripetest: load stripe-mock spec: %v", err))
	}
	fixtures, err := server.LoadFixtures(embedded.OpenAPIFixtures, "")
	if err != nil {
		panic(fmt.Sprintf("stripetest: load stripe-mock fixtures: %v", err))
	}
	stub, err := server.NewStubServer(fixtures, spec, false, false)
	if err != nil {
		panic(fmt.Sprintf("stripetest: start stripe-mock: %v", err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", stub.HandleRequest)
	m := &Mock{stub: &server.DoubleSlashFixHandler{Mux: mux}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	m.URL = m.srv.URL
	return m
}

// Close stops the server.
func (m *Mock) Close() { m.srv.Close() }

// Client is a stripe-go client with key whose backend is this mock, with
// stripe-go's own retries and logging off.
func (m *Mock) Client(key string) *client.API { return NewClient(m.URL, key) }

// NewClient is a stripe-go client for any base URL (a Mock, or a test
// server), without retries or logging.
func NewClient(baseURL, key string) *client.API {
	cfg := &stripe.BackendConfig{
		URL:               stripe.String(baseURL),
		HTTPClient:        &http.Client{},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	}
	return client.New(key, stripe.NewBackendsWithConfig(cfg))
}

// Reset forgets recorded requests, pending faults and listed events, so
// one Mock (whose start-up parses a large spec) can serve many tests.
func (m *Mock) Reset() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests, m.faults, m.events, m.hasList, m.lists, m.promos = nil, nil, nil, false, nil, nil
}

// Requests returns the recorded requests whose path is path ("" for all).
func (m *Mock) Requests(path string) []Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Request
	for _, r := range m.requests {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// FailNext makes the next n requests to path answer status with Stripe's
// error body for it (429: rate_limit; 5xx: api_error; other:
// invalid_request_error).
func (m *Mock) FailNext(path string, n, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = append(m.faults, &fault{path: path, n: n, status: status})
}

// SetEvents makes GET /v1/events list these events (payloads as built by
// the builders of this package), newest first, with limit and
// starting_after paging like Stripe's.
func (m *Mock) SetEvents(events ...[]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hasList = true
	m.events = m.events[:0]
	for i := len(events) - 1; i >= 0; i-- {
		m.events = append(m.events, json.RawMessage(events[i]))
	}
}

func (m *Mock) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	form, _ := url.ParseQuery(string(body))
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	m.mu.Lock()
	m.requests = append(m.requests, Request{Method: r.Method, Path: r.URL.Path, Form: form, Header: r.Header.Clone()})
	var hit *fault
	for _, f := range m.faults {
		if f.n > 0 && f.path == r.URL.Path {
			f.n--
			hit = f
			break
		}
	}
	listEvents := m.hasList && r.Method == http.MethodGet && r.URL.Path == "/v1/events"
	objects, listObjects := m.lists[r.URL.Path]
	listObjects = listObjects && r.Method == http.MethodGet
	listPromos := m.promos != nil && r.Method == http.MethodGet && r.URL.Path == "/v1/promotion_codes"
	m.mu.Unlock()
	switch {
	case hit != nil:
		WriteError(w, hit.status)
	case listEvents:
		m.listEvents(w, form)
	case listObjects:
		writePage(w, r.URL.Path, objects, form)
	case listPromos:
		m.listPromotionCodes(w, form)
	default:
		m.stub.ServeHTTP(w, r)
	}
}

func (m *Mock) listEvents(w http.ResponseWriter, q url.Values) {
	m.mu.Lock()
	all := append([]json.RawMessage(nil), m.events...)
	m.mu.Unlock()
	limit := 10
	if _, err := fmt.Sscan(q.Get("limit"), &limit); err != nil || limit <= 0 || limit > 100 {
		limit = 10
	}
	var gte int64
	_, _ = fmt.Sscan(q.Get("created[gte]"), &gte)
	start := 0
	if after := q.Get("starting_after"); after != "" {
		for i, raw := range all {
			if eventID(raw) == after {
				start = i + 1
			}
		}
	}
	var page []json.RawMessage
	more := false
	for _, raw := range all[start:] {
		if eventCreated(raw) < gte {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, raw)
	}
	if page == nil {
		page = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": page})
}

func eventID(raw json.RawMessage) string {
	var e struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.ID
}

func eventCreated(raw json.RawMessage) int64 {
	var e struct {
		Created int64 `json:"created"`
	}
	_ = json.Unmarshal(raw, &e)
	return e.Created
}

// WriteError writes Stripe's error JSON for status, as the real API does.
func WriteError(w http.ResponseWriter, status int) {
	typ, code, msg := "invalid_request_error", "", "Invalid request."
	switch {
	case status == http.StatusTooManyRequests:
		typ, code, msg = "invalid_request_error", "rate_limit", "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."
	case status >= 500:
		typ, msg = "api_error", "Sorry, something went wrong. We've already been notified of the problem."
	case status == http.StatusUnauthorized:
		msg = "Invalid API Key provided: sk_test_****"
	}
	e := map[string]any{"type": typ, "message": msg, "request_log_url": "https://dashboard.stripe.com/test/logs/req_mock"}
	if code != "" {
		e["code"] = code
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_mock"+strings.Repeat("0", 6))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
