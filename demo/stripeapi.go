package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// listedEvent is one event the front lists on GET /v1/events.
type listedEvent struct {
	id      string
	typ     string
	created int64
	payload json.RawMessage
}

// RecordEvent keeps an event "Stripe" is about to send, so the shop's
// catch-up finds it on the Events API as it would on Stripe's, also when
// the webhook delivery fails.
func (f *StripeFront) RecordEvent(payload []byte) error {
	var head struct {
		ID      string `json:"id"`
		Type    string `json:"type"`
		Created int64  `json:"created"`
	}
	if err := json.Unmarshal(payload, &head); err != nil || head.ID == "" {
		return fmt.Errorf("demo: event to record has no id: %v", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, listedEvent{head.ID, head.Type, head.Created, json.RawMessage(payload)})
	return nil
}

// listEvents answers GET /v1/events like Stripe: newest first, filtered by
// created[gte] and types[], paged by limit and starting_after.
func (f *StripeFront) listEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeStripeError(w, http.StatusBadRequest, "Invalid limit: must be an integer between 1 and 100.")
			return
		}
		limit = n
	}
	var gte int64
	if v := q.Get("created[gte]"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeStripeError(w, http.StatusBadRequest, "Invalid integer: created[gte].")
			return
		}
		gte = n
	}
	var types []string
	for k, vs := range q {
		if k == "types[]" || strings.HasPrefix(k, "types[") {
			types = append(types, vs...)
		}
	}
	after := q.Get("starting_after")

	f.mu.Lock()
	all := slices.Clone(f.events)
	f.mu.Unlock()
	slices.Reverse(all)
	if after != "" {
		i := slices.IndexFunc(all, func(e listedEvent) bool { return e.id == after })
		if i < 0 {
			writeStripeError(w, http.StatusBadRequest, fmt.Sprintf("No such event: '%s'", after))
			return
		}
		all = all[i+1:]
	}
	page := []json.RawMessage{}
	more := false
	for _, e := range all {
		if e.created < gte || (len(types) > 0 && !slices.Contains(types, e.typ)) {
			continue
		}
		if len(page) == limit {
			more = true
			break
		}
		page = append(page, e.payload)
	}
	writeStripeJSON(w, map[string]any{"object": "list", "url": "/v1/events", "has_more": more, "data": page})
}

// createPortalSession answers POST /v1/billing_portal/sessions with a url
// on the demo's stand-in customer portal.
func (f *StripeFront) createPortalSession(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	form, perr := url.ParseQuery(string(body))
	customer := form.Get("customer")
	if err != nil || perr != nil || customer == "" {
		writeStripeError(w, http.StatusBadRequest, "Missing required param: customer.")
		return
	}
	f.mu.Lock()
	f.next++
	n := f.next
	f.mu.Unlock()
	writeStripeJSON(w, map[string]any{
		"id": fmt.Sprintf("bps_%s%04d", f.prefix, n), "object": "billing_portal.session",
		"customer": customer, "return_url": nullString(form.Get("return_url")), "livemode": false,
		"created": f.now().Unix(), "url": f.pageURL + "/billing/" + url.PathEscape(customer),
	})
}

// CustomerSessions are the sessions customer paid, newest first.
func (f *StripeFront) CustomerSessions(customer string) []Session {
	var out []Session
	for _, s := range f.Sessions() {
		if s.Customer == customer && s.Status == StatusPaid {
			out = append(out, s)
		}
	}
	return out
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func writeStripeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_demo")
	_ = json.NewEncoder(w).Encode(v)
}

// writeStripeError writes Stripe's error JSON with msg.
func writeStripeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_demo")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"type": "invalid_request_error", "message": msg}})
}
