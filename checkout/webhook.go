package checkout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/shopbot/shopbot/store"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// DefaultMaxBodyBytes is the webhook body limit when none is configured
// (server.max_body_bytes).
const DefaultMaxBodyBytes = 1 << 20

// Event sources recorded on stored events.
const (
	SourceWebhook = "webhook"
	SourceCatchUp = "catchup"
)

// WebhookOptions configure NewWebhook. Secret and Store are required.
type WebhookOptions struct {
	// Secret is the endpoint's signing secret (whsec_...).
	Secret string
	Store  *store.DB
	// MaxBodyBytes limits the body (default DefaultMaxBodyBytes); larger
	// bodies get 413.
	MaxBodyBytes int64
	// Wake is called after a new event was stored (Worker.Wake).
	Wake   func()
	Logger *slog.Logger
	// Clock defaults to time.Now. The signature tolerance is checked by
	// stripe-go against the real time.
	Clock func() time.Time
}

// Webhook is the http.Handler for POST /webhooks/stripe. It verifies the
// signature, stores the event durably (fsync) and answers 200 before any
// slow work; the Worker does the rest.
type Webhook struct {
	secret  string
	store   *store.DB
	maxBody int64
	wake    func()
	log     *slog.Logger
	now     func() time.Time
}

var _ http.Handler = (*Webhook)(nil)

// NewWebhook checks opts and builds the handler.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	if opts.Secret == "" {
		return nil, errors.New("checkout: webhook signing secret is empty (stripe.webhook_secret)")
	}
	if opts.Store == nil {
		return nil, errors.New("checkout: WebhookOptions.Store is required")
	}
	h := &Webhook{secret: opts.Secret, store: opts.Store, maxBody: opts.MaxBodyBytes, wake: opts.Wake, log: opts.Logger, now: opts.Clock}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.wake == nil {
		h.wake = func() {}
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h, nil
}

func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.log.Warn("stripe webhook body too large", "limit", h.maxBody)
			plain(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		plain(w, http.StatusBadRequest, "unreadable body")
		return
	}
	if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), h.secret); err != nil {
		h.log.Warn("stripe webhook signature rejected", "err", err, "remote", r.RemoteAddr)
		plain(w, http.StatusBadRequest, "invalid signature")
		return
	}
	// Only the envelope is decoded here (stripe.Event would decode the
	// whole object into maps, the costliest step of an acknowledgement);
	// the worker decodes what it needs of the object later.
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		h.log.Warn("stripe webhook body malformed", "err", err)
		plain(w, http.StatusBadRequest, "malformed event")
		return
	}
	rec, err := env.record(body, SourceWebhook, h.now())
	if err != nil {
		h.log.Warn("stripe webhook event malformed", "err", err)
		plain(w, http.StatusBadRequest, "malformed event")
		return
	}
	inserted, err := h.store.PutEvent(r.Context(), rec)
	if err != nil {
		h.log.Error("stripe event not stored; Stripe will retry", "event", rec.ID, "type", rec.Type, "err", err)
		plain(w, http.StatusInternalServerError, "not stored")
		return
	}
	switch {
	case !inserted:
		h.log.Info("stripe event seen before", "event", rec.ID, "type", rec.Type)
		plain(w, http.StatusOK, "duplicate")
		return
	case rec.State == store.EventIgnored:
		h.log.Info("stripe event ignored", "event", rec.ID, "type", rec.Type, "api_version", rec.APIVersion)
	default:
		h.log.Info("stripe event stored", "event", rec.ID, "type", rec.Type, "order_key", rec.OrderKey)
	}
	plain(w, http.StatusOK, "ok")
	if rec.State == store.EventPending {
		h.wake()
	}
}

// envelope is what the acknowledgement needs of an event: the fields of
// stripe.Event that go into its record, and its object undecoded.
type envelope struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	APIVersion string `json:"api_version"`
	Created    int64  `json:"created"`
	Data       *struct {
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

func envelopeOf(ev stripe.Event) envelope {
	env := envelope{ID: ev.ID, Type: string(ev.Type), APIVersion: ev.APIVersion, Created: ev.Created}
	if ev.Data != nil {
		env.Data = &struct {
			Object json.RawMessage `json:"object"`
		}{ev.Data.Raw}
	}
	return env
}

// record turns a verified event into its store record: pending when
// shopbot handles the type, ignored (kept for the record and for dedupe)
// otherwise. An undecodable object of a handled type is stored pending with
// no order key, so the worker fails it visibly instead of Stripe retrying
// it for days.
func (ev envelope) record(body []byte, source string, now time.Time) (store.Event, error) {
	if ev.ID == "" || ev.Type == "" || ev.Data == nil || len(ev.Data.Object) == 0 {
		return store.Event{}, errors.New("event without id, type or data")
	}
	rec := store.Event{
		ID:         ev.ID,
		Type:       ev.Type,
		APIVersion: ev.APIVersion,
		Created:    time.Unix(ev.Created, 0).UTC(),
		Payload:    body,
		State:      store.EventPending,
		Source:     source,
	}
	key, handled, err := orderKey(rec.Type, ev.Data.Object)
	switch {
	case !handled:
		rec.State = store.EventIgnored
		rec.LastError = "event type not used by shopbot"
		rec.DoneAt = now
	case err != nil:
		rec.LastError = fmt.Sprintf("order key: %v", err)
	default:
		rec.OrderKey = key
		rec.Urgent = urgentType(rec.Type)
	}
	return rec, nil
}

// urgentType: events that can turn a payment into a license. The worker
// takes them before other due events, so a buyer never waits behind a
// backlog of refunds, renewals or notices about other orders.
func urgentType(t string) bool {
	switch t {
	case EventCheckoutCompleted, EventAsyncPaymentSucceeded, EventSubscriptionCreated, EventInvoicePaid:
		return true
	}
	return false
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}
