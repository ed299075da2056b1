package checkout

// Money flows. Every way money moves through Stripe, and what shopbot does
// about it. The webhook (webhook.go) and catch-up (catchup.go) only store
// signed events; this worker acts on them, one at a time, in arrival order
// per order key, retrying with persisted exponential backoff. Every action
// is idempotent, so a duplicate or replayed event changes nothing.
//
//  1. One-time purchase (product mode "payment"). The buyer pays on a
//     Checkout session opened by Sessions.Link with metadata
//     shopbot_product / shopbot_identity.
//     checkout.session.completed with payment_status "paid" (or
//     "no_payment_required": a 100% coupon), or
//     checkout.session.async_payment_succeeded (bank debits) →
//     order <session id>: CreateAttempts is incremented and saved BEFORE
//     AuthForge is asked, so a crash after the license was created makes
//     the retry reconcile by the label "shopbot:<session id>" instead of
//     creating a second license; then store.AttachLicense saves license and
//     order together. The key is sent to the buyer's chat; a failed send is
//     recorded on the order and never creates another license (the buyer
//     still gets it with /license).
//     completed with payment_status "unpaid" → nothing yet (ignored): the
//     async event decides.
//     checkout.session.async_payment_failed → the buyer is told the payment
//     did not go through; no license.
//     checkout.session.expired → the buyer's open session is forgotten so
//     the next /buy opens a new one.
//  2. Subscription (product mode "subscription"), order <subscription id>,
//     label "shopbot:<subscription id>". Whichever of
//     checkout.session.completed or customer.subscription.created /
//     updated (status active or trialing) / invoice.paid comes first
//     creates the single license, ending at current_period_end plus
//     stripe.subscription_grace. A later period end (invoice.paid,
//     customer.subscription.updated) extends it; an earlier one never
//     shortens it. customer.subscription.deleted, or status canceled /
//     unpaid / incomplete_expired, revokes the license and ends the order
//     for good: nothing that arrives after it re-opens it, and a license
//     created for an ended order is revoked at once.
//     invoice.payment_failed → the buyer is warned in chat (Stripe retries
//     the card; access stays until the license ends).
//  3. Refund: charge.refunded with the whole amount refunded, for an order
//     found by payment intent → the license is revoked when
//     stripe.revoke_on_refund, the order marked revoked; the buyer and the
//     admins are told. A partial refund only tells the admins.
//  4. Dispute: charge.dispute.created → revoked the same way when
//     stripe.revoke_on_dispute; the admins are told either way.
//
// An event that can never succeed (unknown product, missing or invalid
// identity metadata, undecodable object) is failed at once and the admins
// are alerted with its id; so is one that still fails after MaxAttempts.
// Admins list failed events (Failed) and replay one (Replay).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Worker defaults.
const (
	DefaultBackoffBase      = 2 * time.Second
	DefaultBackoffMax       = 10 * time.Minute
	DefaultMaxAttempts      = 12
	DefaultDeliveryAttempts = 4
	DefaultEventTimeout     = 2 * time.Minute
	// pollInterval bounds how long Run sleeps without a wake-up.
	pollInterval = 30 * time.Second
)

// Errors of Replay.
var (
	ErrUnknownEvent  = errors.New("checkout: no stored event with that id")
	ErrNotReplayable = errors.New("checkout: event was processed successfully; nothing to replay")
	ErrReplayFailed  = errors.New("checkout: replayed event did not succeed")
)

// Licenser is what the worker needs of licensing; *licensing.Service
// satisfies it.
type Licenser interface {
	Issue(ctx context.Context, req licensing.IssueRequest) (store.License, error)
	Revoke(ctx context.Context, actor, key string) (store.License, error)
	ExtendTo(ctx context.Context, actor, key string, until time.Time) (store.License, error)
}

var _ Licenser = (*licensing.Service)(nil)

// Notifier reaches buyers and admins; notify.Router satisfies it.
type Notifier interface {
	Notify(ctx context.Context, to identity.Identity, n notify.Notice) error
	// Alert tells the admins (the admin feed); it must not wait for a chat.
	Alert(ctx context.Context, a notify.Alert) error
}

var _ Notifier = (*notify.Router)(nil)

// WorkerOptions configure NewWorker. Store, Licensing and Notifier are
// required.
type WorkerOptions struct {
	Store     *store.DB
	Licensing Licenser
	Notifier  Notifier
	Products  []config.Product
	// Clock defaults to time.Now; it decides when retries are due.
	Clock func() time.Time
	// BackoffBase (2s) doubles per failed attempt up to BackoffMax (10m),
	// with jitter; MaxAttempts (12) failed attempts fail the event.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	MaxAttempts int
	// DeliveryAttempts (4) bounds the event attempts during which a key
	// whose chat message failed for a transient reason is sent again.
	DeliveryAttempts int
	// EventTimeout (2m) bounds the handling of one event.
	EventTimeout time.Duration
	// SubscriptionGrace is added to current_period_end.
	SubscriptionGrace time.Duration
	// RevokeOnRefund and RevokeOnDispute: stripe.revoke_on_refund and
	// stripe.revoke_on_dispute.
	RevokeOnRefund  bool
	RevokeOnDispute bool
	Logger          *slog.Logger
	// Evidence, when set, sends dispute evidence to Stripe (evidence.go).
	Evidence *Evidence
	// StarsRefund, when set, gives a Stars payment back (refundStarPayment):
	// the worker refunds a payment for a product no longer in the config,
	// and a second payment of an order.
	// It returns an error wrapping ErrAlreadyRefunded for a charge refunded
	// before.
	StarsRefund func(ctx context.Context, userID int64, chargeID string) error
	// StarsCancel, when set, cancels the Star subscription a charge
	// belongs to (editUserStarSubscription): the worker cancels a second
	// subscription a buyer started for one order. Canceling a canceled
	// subscription must succeed.
	StarsCancel func(ctx context.Context, userID int64, chargeID string) error
}

// Worker turns stored Stripe events into licenses. Run it once per store.
type Worker struct {
	store      *store.DB
	lic        Licenser
	notifier   Notifier
	products   map[string]config.Product
	now        func() time.Time
	base, max  time.Duration
	maxAtt     int
	deliverAtt int
	timeout    time.Duration
	grace      time.Duration
	onRefund   bool
	onDispute  bool
	log        *slog.Logger
	evidence   *Evidence
	// starsRefund is WorkerOptions.StarsRefund.
	starsRefund func(ctx context.Context, userID int64, chargeID string) error
	starsCancel func(ctx context.Context, userID int64, chargeID string) error

	wake chan struct{}

	passMu sync.Mutex // one pass (or replay) at a time
	nextMu sync.Mutex
	next   time.Time // earliest retry left by the last pass
}

// NewWorker checks opts and builds a Worker.
func NewWorker(opts WorkerOptions) (*Worker, error) {
	switch {
	case opts.Store == nil:
		return nil, errors.New("checkout: WorkerOptions.Store is required")
	case opts.Licensing == nil:
		return nil, errors.New("checkout: WorkerOptions.Licensing is required")
	case opts.Notifier == nil:
		return nil, errors.New("checkout: WorkerOptions.Notifier is required")
	case opts.BackoffBase < 0 || opts.BackoffMax < 0 || opts.MaxAttempts < 0 || opts.SubscriptionGrace < 0:
		return nil, errors.New("checkout: negative backoff, attempts or grace")
	}
	products, err := productMap(opts.Products)
	if err != nil {
		return nil, err
	}
	w := &Worker{
		store: opts.Store, lic: opts.Licensing, notifier: opts.Notifier, products: products,
		now: opts.Clock, base: opts.BackoffBase, max: opts.BackoffMax, maxAtt: opts.MaxAttempts,
		deliverAtt: opts.DeliveryAttempts, timeout: opts.EventTimeout, grace: opts.SubscriptionGrace,
		onRefund: opts.RevokeOnRefund, onDispute: opts.RevokeOnDispute, log: opts.Logger,
		wake: make(chan struct{}, 1), evidence: opts.Evidence, starsRefund: opts.StarsRefund,
		starsCancel: opts.StarsCancel,
	}
	if w.evidence != nil && w.evidence.Stripe == nil {
		return nil, errors.New("checkout: WorkerOptions.Evidence needs a Stripe client")
	}
	if w.now == nil {
		w.now = time.Now
	}
	w.base = orDefault(w.base, DefaultBackoffBase)
	w.max = orDefault(w.max, DefaultBackoffMax)
	w.maxAtt = orDefault(w.maxAtt, DefaultMaxAttempts)
	w.deliverAtt = orDefault(w.deliverAtt, DefaultDeliveryAttempts)
	w.timeout = orDefault(w.timeout, DefaultEventTimeout)
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	return w, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Wake makes Run look at the store now (called by the webhook after it
// stored an event). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes due events until ctx is cancelled; the event in hand is
// finished first (its handling is bounded by EventTimeout, not by ctx).
// Retries wait in the store, so a restart picks them up.
func (w *Worker) Run(ctx context.Context) error {
	w.log.Info("fulfillment worker started")
	for {
		// A pass reads payments as soon as they are stored, without
		// waiting for a burst of other events still being copied from
		// the store's journal; their arrival wakes the next pass.
		applied := w.store.EventsApplied()
		if _, err := w.processDue(ctx, w.store.DueEventsFirst); err != nil && ctx.Err() == nil {
			w.log.Error("fulfillment pass failed", "err", err)
		}
		if ctx.Err() != nil {
			w.log.Info("fulfillment worker stopped")
			return nil
		}
		t := time.NewTimer(w.sleepFor())
		select {
		case <-ctx.Done():
			t.Stop()
			w.log.Info("fulfillment worker stopped")
			return nil
		case <-w.wake:
			t.Stop()
		case <-applied:
			t.Stop()
		case <-t.C:
		}
	}
}

func (w *Worker) sleepFor() time.Duration {
	w.nextMu.Lock()
	next := w.next
	w.nextMu.Unlock()
	if next.IsZero() {
		return pollInterval
	}
	return min(max(next.Sub(w.now()), 10*time.Millisecond), pollInterval)
}

// workBatch is how many due events the worker reads at a time, and so
// the most outcomes one commit carries. After each batch it reads again
// from the head of the due index, so an urgent event (a payment) that
// arrives during a long backlog waits for at most one batch.
const workBatch = 256

// ProcessDue handles the due events, urgent ones first, then oldest due
// first, skipping an event while an earlier event of its order key is
// pending. It reads them from the store's due-time index, so a backlog of
// events not yet due costs nothing. The outcomes of a batch are committed
// together (one transaction, shared with the webhooks' writes), so an
// event that needs no outside call costs no commit of its own; an
// event's own writes (an order saved before AuthForge is asked) are still
// durable before the outside call they protect. An event is done only
// once its outcome is committed: a crash before that handles it again,
// which every handler tolerates (label reconciliation, idempotent
// updates). It returns how many events it handled; errors are only those
// of the store (a failing event is rescheduled, not returned).
func (w *Worker) ProcessDue(ctx context.Context) (int, error) {
	return w.processDue(ctx, w.store.DueEvents)
}

// dueReader is store.DueEvents or store.DueEventsFirst.
type dueReader func(ctx context.Context, now time.Time, limit int, skip func(seq uint64) bool) ([]store.Event, time.Time, error)

func (w *Worker) processDue(ctx context.Context, readDue dueReader) (int, error) {
	w.passMu.Lock()
	defer w.passMu.Unlock()
	// handled: events done in this pass (a rescheduled one is no longer
	// due anyway); blocked: events behind an earlier pending one of their
	// order, looked at again once something else was handled.
	handled, blocked := map[uint64]bool{}, map[uint64]bool{}
	skip := func(seq uint64) bool { return handled[seq] || blocked[seq] }
	n, nAtUnblock := 0, 0
	for ctx.Err() == nil {
		due, next, err := readDue(ctx, w.now(), workBatch, skip)
		if err != nil {
			return n, fmt.Errorf("checkout: read due events: %w", err)
		}
		if len(due) == 0 && len(blocked) > 0 && n > nAtUnblock {
			clear(blocked)
			nAtUnblock = n
			continue
		}
		if len(due) == 0 {
			w.nextMu.Lock()
			w.next = next
			w.nextMu.Unlock()
			return n, nil
		}
		b := outcomes{w: w, lazy: true}
		for _, ev := range due {
			if ctx.Err() != nil {
				break
			}
			if b.touches(ev.OrderKey) {
				b.commit(ctx)
			}
			earlier, err := w.store.EarlierPending(ctx, ev.OrderKey, ev.Seq)
			if err != nil {
				b.commit(ctx)
				return n, fmt.Errorf("checkout: read pending events: %w", err)
			}
			if earlier {
				blocked[ev.Seq] = true
				continue
			}
			handled[ev.Seq] = true
			b.add(w.outcome(ctx, ev, false))
			n++
		}
		b.commit(ctx)
	}
	return n, nil
}

// outcomes collects a batch's results until they are committed together.
type outcomes struct {
	w *Worker
	// lazy outcomes join the next commit of a webhook or another write
	// (store.UpdateEventsLazily) instead of costing one of their own.
	lazy   bool
	eager  bool
	evs    []store.Event
	alerts []string
	keys   map[string]bool
}

func (b *outcomes) add(o outcome) {
	if o.ev.Urgent {
		// A payment's batch is committed at once: the worker waits for
		// the commit before its next batch, and the next buyer must not
		// wait for company.
		b.eager = true
	}
	b.evs = append(b.evs, o.ev)
	if o.alert != "" {
		b.alerts = append(b.alerts, o.alert)
	}
	if b.keys == nil {
		b.keys = map[string]bool{}
	}
	b.keys[o.ev.OrderKey] = true
}

// touches reports whether an uncommitted outcome is about orderKey: the
// next event of that order must see it committed first.
func (b *outcomes) touches(orderKey string) bool { return orderKey != "" && b.keys[orderKey] }

// commit saves the outcomes, then sends the alerts they call for.
func (b *outcomes) commit(ctx context.Context) {
	if len(b.evs) == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	save := b.w.store.UpdateEvents
	if b.lazy && !b.eager && len(b.evs) < workBatch {
		// A full batch is worth a commit of its own; waiting for
		// company would only slow a backlog down.
		save = b.w.store.UpdateEventsLazily
	}
	if err := save(sctx, b.evs); err != nil {
		// The events stay as they were and are handled again; that is
		// safe.
		b.w.log.Error("event outcomes not saved", "events", len(b.evs), "err", err)
	}
	for _, a := range b.alerts {
		if err := b.w.notifier.Alert(sctx, notify.Alert{Kind: notify.KindFulfillment, Text: a}); err != nil {
			b.w.log.Error("admin alert failed", "err", err)
		}
	}
	b.evs, b.alerts, b.eager = b.evs[:0], b.alerts[:0], false
	clear(b.keys)
}

// Failed lists up to n failed events, newest first.
func (w *Worker) Failed(ctx context.Context, n int) ([]store.Event, error) {
	evs, err := w.store.ListEvents(ctx, store.EventFailed, n)
	if err != nil {
		return nil, fmt.Errorf("checkout: list failed events: %w", err)
	}
	return evs, nil
}

// Replay handles a failed or ignored event again now, with fresh attempts
// (after the admin fixed the config, or to resend a key whose delivery
// failed). A pending event is made due at once. It returns nil when the
// event then succeeded, or was queued behind an earlier pending event of
// the same order (it runs right after that one); otherwise an error
// matching ErrReplayFailed with the reason (the event is then rescheduled
// or failed as usual).
func (w *Worker) Replay(ctx context.Context, eventID string) error {
	w.passMu.Lock()
	defer w.passMu.Unlock()
	ev, err := w.store.GetEvent(ctx, eventID)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrUnknownEvent, eventID)
	}
	if err != nil {
		return fmt.Errorf("checkout: replay %s: %w", eventID, err)
	}
	if ev.State == store.EventDone && !w.undelivered(ctx, ev) {
		return fmt.Errorf("%w: %s", ErrNotReplayable, eventID)
	}
	ev.State, ev.Attempts, ev.NextAttemptAt, ev.LastError, ev.DoneAt = store.EventPending, 0, time.Time{}, "", time.Time{}
	if err := w.store.UpdateEvent(ctx, ev); err != nil {
		return fmt.Errorf("checkout: replay %s: %w", eventID, err)
	}
	w.log.Info("stripe event replayed", "event", ev.ID, "type", ev.Type)
	if earlier, err := w.earlierPending(ctx, ev); err != nil || earlier {
		w.Wake()
		return err
	}
	got := w.process(ctx, ev, true)
	switch got.State {
	case store.EventDone, store.EventIgnored:
		return nil
	case store.EventPending:
		return fmt.Errorf("%w: %s will be retried at %s: %s", ErrReplayFailed, ev.ID, got.NextAttemptAt.Format(time.RFC3339), got.LastError)
	default:
		return fmt.Errorf("%w: %s: %s", ErrReplayFailed, ev.ID, got.LastError)
	}
}

// undelivered reports whether ev's order has a license whose key could
// not be sent (the buyer had blocked the bot, say): a done event is
// replayed then, and the replay sends the key again.
func (w *Worker) undelivered(ctx context.Context, ev store.Event) bool {
	if ev.OrderKey == "" {
		return false
	}
	o, err := w.store.GetOrder(ctx, ev.OrderKey)
	return err == nil && o.LicenseKey != "" && !o.Delivered && o.DeliveryError != ""
}

// earlierPending reports whether an older pending event has ev's order key.
func (w *Worker) earlierPending(ctx context.Context, ev store.Event) (bool, error) {
	earlier, err := w.store.EarlierPending(ctx, ev.OrderKey, ev.Seq)
	if err != nil {
		return false, fmt.Errorf("checkout: read pending events: %w", err)
	}
	return earlier, nil
}

// process handles one event and commits its outcome; it returns the event
// as saved.
func (w *Worker) process(ctx context.Context, ev store.Event, replay bool) store.Event {
	o := w.outcome(ctx, ev, replay)
	b := outcomes{w: w}
	b.add(o)
	b.commit(ctx)
	return o.ev
}

// outcome is an event as it is to be saved after an attempt, and the
// admin alert to send once it is.
type outcome struct {
	ev    store.Event
	alert string
}

// outcome handles one event and returns its outcome, not yet saved.
func (w *Worker) outcome(ctx context.Context, ev store.Event, replay bool) outcome {
	attempt := ev.Attempts + 1
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.timeout)
	hctx = context.WithValue(hctx, eventCreatedKey{}, ev.Created)
	err := w.handle(hctx, ev, attempt, replay)
	cancel()

	now := w.now()
	ev.Attempts = attempt
	var ign *ignoredError
	var perm *permanentError
	alert := ""
	switch {
	case err == nil:
		ev.State, ev.DoneAt, ev.LastError, ev.NextAttemptAt = store.EventDone, now, "", time.Time{}
		w.log.Info("payment event done", "event", ev.ID, "type", ev.Type, "attempt", attempt)
	case errors.As(err, &ign):
		ev.State, ev.DoneAt, ev.LastError, ev.NextAttemptAt = store.EventIgnored, now, ign.reason, time.Time{}
		w.log.Info("payment event ignored", "event", ev.ID, "type", ev.Type, "reason", ign.reason)
	case errors.As(err, &perm):
		ev.State, ev.LastError, ev.NextAttemptAt = store.EventFailed, err.Error(), time.Time{}
		alert = fmt.Sprintf("%s event %s (%s) cannot be fulfilled: %v. Fix the cause, then /replay %s.", railName(ev), ev.ID, ev.Type, err, ev.ID)
		w.log.Error("payment event failed", "event", ev.ID, "type", ev.Type, "err", err)
	case attempt >= w.maxAtt:
		ev.State, ev.LastError, ev.NextAttemptAt = store.EventFailed, err.Error(), time.Time{}
		alert = fmt.Sprintf("%s event %s (%s) still fails after %d attempts: %v. /replay %s once the cause is fixed.", railName(ev), ev.ID, ev.Type, attempt, err, ev.ID)
		w.log.Error("payment event failed after retries", "event", ev.ID, "type", ev.Type, "attempts", attempt, "err", err)
	default:
		ev.State, ev.LastError = store.EventPending, err.Error()
		ev.NextAttemptAt = now.Add(w.backoff(attempt))
		w.log.Warn("payment event will be retried", "event", ev.ID, "type", ev.Type, "attempt", attempt, "retry_at", ev.NextAttemptAt, "err", err)
	}
	ev.Payload = nil // stored once on arrival; not rewritten
	return outcome{ev: ev, alert: alert}
}

// railName names the rail of an event in admin alerts.
func railName(ev store.Event) string {
	switch ev.Type {
	case EventStarsPaid, EventStarsRefunded:
		return "Telegram Stars"
	}
	return "Stripe"
}

// backoff is the wait after the attempt-th failure: BackoffBase doubled per
// attempt, capped at BackoffMax, with "equal jitter" (half fixed, half
// random) so retries of many events spread out.
func (w *Worker) backoff(attempt int) time.Duration {
	d := w.base
	for i := 1; i < attempt && d < w.max; i++ {
		d *= 2
	}
	d = min(d, w.max)
	half := d / 2
	return half + rand.N(half+1)
}
