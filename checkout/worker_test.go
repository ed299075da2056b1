package checkout_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

func TestFulfillHappyPath(t *testing.T) {
	h := newHarness(t)
	if err := h.db.PutOpenSession(h.ctx, store.OpenSession{Identity: alice, ProductID: "pro", SessionID: "cs_1", URL: "https://pay/cs_1", ExpiresAt: h.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()

	lic := h.wantOneLicense(alice)
	if lic.ProductID != "pro" || lic.OrderID != "cs_1" || lic.Label != "shopbot:cs_1" || lic.MaxSlots != 2 {
		t.Fatalf("license %+v", lic)
	}
	if want := h.clock.Now().Add(30 * 24 * time.Hour); !lic.ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want %s", lic.ExpiresAt, want)
	}
	o := h.order("cs_1")
	if o.Status != store.OrderFulfilled || o.LicenseKey != lic.Key || !o.Delivered || o.PaymentIntentID != "pi_cs_1" || o.CreateAttempts != 1 {
		t.Fatalf("order %+v", o)
	}
	notes := h.rec.keyNotices()
	if len(notes) != 1 || notes[0].To != alice || notes[0].N.ActivateKey != lic.Key ||
		!strings.Contains(notes[0].N.Text, "Thank you for your purchase of Pro!") || !strings.Contains(notes[0].N.Text, lic.Key) {
		t.Fatalf("notices %+v", notes)
	}
	if ev := h.event("evt_1"); ev.State != store.EventDone || ev.Attempts != 1 {
		t.Fatalf("event %+v", ev)
	}
	if _, err := h.db.GetOpenSession(h.ctx, alice, "pro"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("open session kept after payment: %v", err)
	}
}

func TestFulfillOncePerSession(t *testing.T) {
	h := newHarness(t)
	h.deliver(paid("evt_1", "cs_1"), paid("evt_1", "cs_1"))
	h.drain()
	// Another event about the same session, and the first again later.
	h.deliver(stripetest.AsyncPaymentSucceeded(stripetest.EventParams{ID: "evt_2", SessionID: "cs_1", Product: "pro", Identity: "tg:1001"}))
	h.drain()
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	h.wantOneLicense(alice)
	if n := len(h.rec.keyNotices()); n != 1 {
		t.Fatalf("%d key notices, want 1", n)
	}
	if h.event("evt_2").State != store.EventDone {
		t.Fatalf("second event %+v", h.event("evt_2"))
	}
}

func TestFulfillUnpaidWaitsForAsync(t *testing.T) {
	h := newHarness(t)
	h.deliver(stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_1", SessionID: "cs_1", Product: "life", Identity: "tg:1001", PaymentStatus: "unpaid"}))
	h.drain()
	if ev := h.event("evt_1"); ev.State != store.EventIgnored || h.created() != 0 {
		t.Fatalf("unpaid completion: %+v, %d licenses", ev, h.created())
	}
	h.deliver(stripetest.AsyncPaymentSucceeded(stripetest.EventParams{ID: "evt_2", SessionID: "cs_1", Product: "life", Identity: "tg:1001"}))
	h.drain()
	if lic := h.wantOneLicense(alice); !lic.ExpiresAt.IsZero() {
		t.Fatalf("lifetime product got expiry %s", lic.ExpiresAt)
	}
}

func TestFulfillRetriesAuthForge5xx(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext("POST /v1/licenses", 2, 500, "")
	h.deliver(paid("evt_1", "cs_1"))

	if n, _ := h.worker.ProcessDue(h.ctx); n != 1 {
		t.Fatalf("first pass handled %d", n)
	}
	ev := h.event("evt_1")
	if ev.State != store.EventPending || ev.Attempts != 1 || ev.LastError == "" || !ev.NextAttemptAt.After(h.clock.Now()) {
		t.Fatalf("after a 500: %+v", ev)
	}
	// Not due yet: nothing happens.
	if n, _ := h.worker.ProcessDue(h.ctx); n != 0 {
		t.Fatalf("handled %d before the backoff passed", n)
	}
	h.drain()
	h.wantOneLicense(alice)
	if ev := h.event("evt_1"); ev.State != store.EventDone || ev.Attempts != 3 {
		t.Fatalf("event %+v", ev)
	}
	if got := h.fake.Calls("POST /v1/licenses"); got != 3 {
		t.Errorf("%d create calls, want 3 (two failed)", got)
	}
}

func TestFulfillReconcilesCreateThatFailedAfterWriting(t *testing.T) {
	h := newHarness(t)
	h.fake.DropAfterCreateNext()
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	lic := h.wantOneLicense(alice)
	if o := h.order("cs_1"); o.CreateAttempts != 2 || o.LicenseKey != lic.Key {
		t.Fatalf("order %+v", o)
	}
	if got := h.fake.Calls("POST /v1/licenses"); got != 1 {
		t.Errorf("%d create calls, want 1: the retry must find the license by label", got)
	}
}

func TestFulfillAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext("POST /v1/licenses", 1, 503, "")
	h.deliver(paid("evt_1", "cs_1"))
	if _, err := h.worker.ProcessDue(h.ctx); err != nil {
		t.Fatal(err)
	}
	before := h.event("evt_1")
	h.restart()
	after := h.event("evt_1")
	if after.Attempts != 1 || !after.NextAttemptAt.Equal(before.NextAttemptAt) || after.LastError == "" {
		t.Fatalf("retry schedule lost across restart: %+v", after)
	}
	h.drain()
	h.wantOneLicense(alice)
	if n := len(h.rec.keyNotices()); n != 1 {
		t.Fatalf("%d key notices", n)
	}
}

func TestRunStopsAndResumes(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := contextWithCancel(h)
	done := make(chan error, 1)
	go func() { done <- h.worker.Run(ctx) }()
	h.deliver(paid("evt_1", "cs_1")) // the webhook wakes Run
	waitFor(t, func() bool { return h.event("evt_1").State == store.EventDone })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// An event stored while no worker runs is fulfilled by the next one.
	h.deliver(paid("evt_2", "cs_2"))
	h.restart()
	ctx, cancel = contextWithCancel(h)
	defer cancel()
	go func() { done <- h.worker.Run(ctx) }()
	waitFor(t, func() bool { return h.event("evt_2").State == store.EventDone })
	if n := len(h.licenses(alice)); n != 2 {
		t.Fatalf("%d licenses, want 2", n)
	}
}

func TestPermanentFailuresAlert(t *testing.T) {
	cases := []struct {
		name string
		p    stripetest.EventParams
		want string
	}{
		{"unknown product", stripetest.EventParams{Product: "gone", Identity: "tg:1001"}, `unknown product "gone"`},
		{"missing identity", stripetest.EventParams{Product: "pro"}, "no buyer identity"},
		{"bad identity", stripetest.EventParams{Product: "pro", Identity: "irc:bob"}, "buyer identity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			c.p.ID, c.p.SessionID = "evt_bad", "cs_bad"
			h.deliver(stripetest.CheckoutCompleted(c.p))
			h.drain()
			ev := h.event("evt_bad")
			if ev.State != store.EventFailed || ev.Attempts != 1 || !strings.Contains(ev.LastError, c.want) {
				t.Fatalf("event %+v", ev)
			}
			alerts := h.rec.alertList()
			if len(alerts) != 1 || !strings.Contains(alerts[0], "evt_bad") || !strings.Contains(alerts[0], c.want) {
				t.Fatalf("alerts %q", alerts)
			}
			failed, err := h.worker.Failed(h.ctx, 10)
			if err != nil || len(failed) != 1 || failed[0].ID != "evt_bad" {
				t.Fatalf("Failed = %v, %v", failed, err)
			}
			if h.created() != 0 {
				t.Fatalf("license created for a bad event")
			}
		})
	}
}

func TestMaxAttemptsFailsAndAlerts(t *testing.T) {
	h := newHarness(t, func(o *checkout.WorkerOptions) { o.MaxAttempts = 3 })
	h.fake.FailNext("POST /v1/licenses", 10, 500, "")
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	if ev := h.event("evt_1"); ev.State != store.EventFailed || ev.Attempts != 3 {
		t.Fatalf("event %+v", ev)
	}
	if a := h.rec.alertList(); len(a) != 1 || !strings.Contains(a[0], "3 attempts") {
		t.Fatalf("alerts %q", a)
	}
}

// TestDeliveryFailureKeepsLicense: a key that cannot be sent (the buyer
// blocked the bot) stays on the order, retrievable with /license; a
// duplicate event neither sends it again nor creates another license, and
// an admin's /replay sends it once more without creating one.
func TestDeliveryFailureKeepsLicense(t *testing.T) {
	h := newHarness(t)
	h.rec.failSends(1, notify.ErrUndeliverable)
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	lic := h.wantOneLicense(alice)
	o := h.order("cs_1")
	if o.Delivered || o.DeliveryError == "" || o.LicenseKey != lic.Key || o.Status != store.OrderFulfilled {
		t.Fatalf("order %+v", o)
	}
	if ev := h.event("evt_1"); ev.State != store.EventDone {
		t.Fatalf("event %+v", ev)
	}
	if lic.Owner != alice || lic.Status != store.LicenseActive {
		t.Fatalf("undelivered license is not the buyer's to retrieve: %+v", lic)
	}
	// A duplicate does not retry the send nor make a license.
	h.deliver(stripetest.AsyncPaymentSucceeded(stripetest.EventParams{ID: "evt_2", SessionID: "cs_1", Product: "pro", Identity: "tg:1001"}))
	h.drain()
	if got := h.wantOneLicense(alice); got.Key != lic.Key {
		t.Fatalf("license %s after a duplicate, want %s", got.Key, lic.Key)
	}
	if n := len(h.rec.allNotices()); n != 0 {
		t.Fatalf("%d notices after a duplicate: %+v", n, h.rec.allNotices())
	}
	// The admin's replay of the done event sends the key once more (the
	// buyer may have unblocked the bot), and makes nothing.
	if err := h.worker.Replay(h.ctx, "evt_1"); err != nil {
		t.Fatalf("replay of the undelivered order's event: %v", err)
	}
	if got := h.wantOneLicense(alice); got.Key != lic.Key {
		t.Fatalf("license %s after the replay, want %s", got.Key, lic.Key)
	}
	if n := len(h.rec.allNotices()); n != 1 {
		t.Fatalf("%d notices after the replay, want the key once: %+v", n, h.rec.allNotices())
	}
	if got := h.fake.Calls("POST /v1/licenses"); got != 1 {
		t.Fatalf("%d create calls, want 1", got)
	}
	// Delivered now, the event is done for good.
	if err := h.worker.Replay(h.ctx, "evt_1"); !errors.Is(err, checkout.ErrNotReplayable) {
		t.Fatalf("replay once delivered: %v", err)
	}
}

// TestReplayResendsKeyAfterFailedDelivery: when sending the key keeps
// failing until the event gives up, the admin's /replay sends the key
// again, and it is still the one license.
func TestReplayResendsKeyAfterFailedDelivery(t *testing.T) {
	h := newHarness(t, func(o *checkout.WorkerOptions) { o.MaxAttempts, o.DeliveryAttempts = 2, 4 })
	h.rec.failSends(2, errors.New("telegram: 502 bad gateway"))
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	if ev := h.event("evt_1"); ev.State != store.EventFailed {
		t.Fatalf("event %+v, want failed after two failed sends", ev)
	}
	lic := h.wantOneLicense(alice)
	if n := len(h.rec.keyNotices()); n != 0 {
		t.Fatalf("%d key notices before the replay", n)
	}
	if err := h.worker.Replay(h.ctx, "evt_1"); err != nil {
		t.Fatalf("replay: %v", err)
	}
	notes := h.rec.keyNotices()
	if len(notes) != 1 || notes[0].To != alice || notes[0].N.ActivateKey != lic.Key || !strings.Contains(notes[0].N.Text, lic.Key) {
		t.Fatalf("key notices after the replay %+v, want the key %s sent to %s", notes, lic.Key, alice)
	}
	if got := h.wantOneLicense(alice); got.Key != lic.Key {
		t.Fatalf("license %s after the replay, want %s", got.Key, lic.Key)
	}
	if got := h.fake.Calls("POST /v1/licenses"); got != 1 {
		t.Fatalf("%d create calls, want 1", got)
	}
	if o := h.order("cs_1"); !o.Delivered || o.DeliveryError != "" {
		t.Fatalf("order %+v", o)
	}
}

func TestTransientDeliveryFailureRetriesSendOnly(t *testing.T) {
	h := newHarness(t)
	h.rec.failSends(2, errors.New("telegram: 502 bad gateway"))
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	h.wantOneLicense(alice)
	if n := len(h.rec.keyNotices()); n != 1 {
		t.Fatalf("%d key notices, want 1 after two failed sends", n)
	}
	if o := h.order("cs_1"); !o.Delivered || o.CreateAttempts != 1 {
		t.Fatalf("order %+v", o)
	}
	if got := h.fake.Calls("POST /v1/licenses"); got != 1 {
		t.Fatalf("%d creates", got)
	}
}

func TestReplayAfterConfigFix(t *testing.T) {
	h := newHarness(t)
	h.products = []config.Product{testProducts[1]} // "pro" missing from the config
	h.restart()
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	if h.event("evt_1").State != store.EventFailed {
		t.Fatalf("event %+v", h.event("evt_1"))
	}
	if err := h.worker.Replay(h.ctx, "evt_1"); !errors.Is(err, checkout.ErrReplayFailed) {
		t.Fatalf("replay before the fix: %v", err)
	}
	h.products = testProducts
	h.restart()
	if err := h.worker.Replay(h.ctx, "evt_1"); err != nil {
		t.Fatalf("replay: %v", err)
	}
	h.wantOneLicense(alice)
	if ev := h.event("evt_1"); ev.State != store.EventDone {
		t.Fatalf("event %+v", ev)
	}
	if err := h.worker.Replay(h.ctx, "evt_nope"); !errors.Is(err, checkout.ErrUnknownEvent) {
		t.Fatalf("replay unknown: %v", err)
	}
}

func TestSameOrderEventsWaitInOrder(t *testing.T) {
	h := newHarness(t)
	h.fake.FailNext("POST /v1/licenses", 1, 500, "")
	h.deliver(paid("evt_1", "cs_1"))
	h.deliver(stripetest.AsyncPaymentSucceeded(stripetest.EventParams{ID: "evt_2", SessionID: "cs_1", Product: "pro", Identity: "tg:1001"}))
	h.deliver(paid("evt_3", "cs_other"))
	if _, err := h.worker.ProcessDue(h.ctx); err != nil {
		t.Fatal(err)
	}
	// evt_1 failed and waits; evt_2 (same session) waits behind it;
	// evt_3 (another order) went through.
	if h.event("evt_2").Attempts != 0 || h.event("evt_3").State != store.EventDone {
		t.Fatalf("evt_2 %+v, evt_3 %+v", h.event("evt_2"), h.event("evt_3"))
	}
	h.drain()
	if n := len(h.licenses(alice)); n != 2 || h.created() != 2 {
		t.Fatalf("%d licenses, %d created; want 2", n, h.created())
	}
}

// Many events waiting out their backoff (an AuthForge outage after a sale
// burst) must not hide a newer event that is due.
func TestDueEventNotHiddenBehindBackoff(t *testing.T) {
	h := newHarness(t)
	for i := range 1100 {
		id := fmt.Sprintf("evt_wait_%d", i)
		h.deliver(paid(id, fmt.Sprintf("cs_wait_%d", i)))
		ev := h.event(id)
		ev.Attempts, ev.NextAttemptAt = 3, h.clock.Now().Add(time.Hour)
		if err := h.db.UpdateEvent(h.ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	h.deliver(paid("evt_new", "cs_new"))
	n, err := h.worker.ProcessDue(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || h.event("evt_new").State != store.EventDone {
		t.Fatalf("handled %d; new event %s", n, h.event("evt_new").State)
	}
}
