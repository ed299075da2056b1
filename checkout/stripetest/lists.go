package stripetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// stripe-mock is stateless: its list endpoints answer with one fixture
// that carries no shopbot metadata. SetCheckoutSessions and
// SetSubscriptions make GET /v1/checkout/sessions and GET /v1/subscriptions
// list the given objects instead (built with CheckoutSession and
// Subscription), newest first, paged with limit and starting_after like
// Stripe. Filters (status, customer, created) are not applied.

// SetCheckoutSessions serves these sessions, given oldest first.
func (m *Mock) SetCheckoutSessions(sessions ...map[string]any) {
	m.setList("/v1/checkout/sessions", sessions)
}

// SetSubscriptions serves these subscriptions, given oldest first.
func (m *Mock) SetSubscriptions(subs ...map[string]any) {
	m.setList("/v1/subscriptions", subs)
}

func (m *Mock) setList(path string, objects []map[string]any) {
	raws := make([]json.RawMessage, 0, len(objects))
	for i := len(objects) - 1; i >= 0; i-- {
		b, err := json.Marshal(objects[i])
		if err != nil {
			panic(fmt.Sprintf("stripetest: marshal %s object: %v", path, err))
		}
		raws = append(raws, b)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lists == nil {
		m.lists = map[string][]json.RawMessage{}
	}
	m.lists[path] = raws
}

// writePage answers one page of a Stripe list.
func writePage(w http.ResponseWriter, path string, all []json.RawMessage, q url.Values) {
	limit := 10
	if _, err := fmt.Sscan(q.Get("limit"), &limit); err != nil || limit <= 0 || limit > 100 {
		limit = 10
	}
	start := 0
	if after := q.Get("starting_after"); after != "" {
		for i, raw := range all {
			if eventID(raw) == after {
				start = i + 1
			}
		}
	}
	page := all[start:min(start+limit, len(all))]
	more := start+limit < len(all)
	if page == nil {
		page = []json.RawMessage{}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": path, "has_more": more, "data": page})
}
