package checkout

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// CatchUpWindow is how far back Stripe's Events API reaches.
const CatchUpWindow = 30 * 24 * time.Hour

// CatchUp reads the Stripe Events API for events of the handled types
// created since `since` (clamped to Stripe's 30 days) and stores those not
// seen yet, oldest first, exactly as the webhook would (Source "catchup");
// duplicates of webhook deliveries are dropped by the store. It returns how
// many new events it stored and wakes the worker when there are any. Call
// it on start and periodically; it is safe to overlap with webhooks.
func (h *Webhook) CatchUp(ctx context.Context, api *client.API, since time.Time) (int, error) {
	if api == nil {
		return 0, fmt.Errorf("checkout: catch-up needs a Stripe client")
	}
	now := h.now()
	if oldest := now.Add(-CatchUpWindow); since.Before(oldest) {
		since = oldest
	}
	params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	for _, t := range EventTypes() {
		params.Types = append(params.Types, stripe.String(t))
	}
	params.Limit = stripe.Int64(100)
	params.Context = ctx
	var events []*stripe.Event
	it := api.Events.List(params)
	for it.Next() {
		events = append(events, it.Event())
	}
	if err := it.Err(); err != nil {
		return 0, stripeError("list events", err)
	}
	slices.Reverse(events) // the API lists newest first
	stored := 0
	for _, ev := range events {
		payload, err := json.Marshal(ev)
		if err != nil {
			return stored, fmt.Errorf("checkout: catch-up: encode event %s: %w", ev.ID, err)
		}
		rec, err := envelopeOf(*ev).record(payload, SourceCatchUp, now)
		if err != nil {
			h.log.Warn("catch-up event malformed", "event", ev.ID, "err", err)
			continue
		}
		inserted, err := h.store.PutEvent(ctx, rec)
		if err != nil {
			return stored, fmt.Errorf("checkout: catch-up: store event %s: %w", ev.ID, err)
		}
		if inserted {
			stored++
			h.log.Info("missed stripe event recovered", "event", rec.ID, "type", rec.Type)
		}
	}
	if stored > 0 {
		h.wake()
	}
	h.log.Info("stripe catch-up done", "since", since, "listed", len(events), "new", stored)
	return stored, nil
}
