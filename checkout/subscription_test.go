package checkout_test

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

func subParams(id string, periodEnd time.Time) stripetest.EventParams {
	return stripetest.EventParams{ID: id, SubscriptionID: "sub_1", SessionID: "cs_sub", Mode: "subscription",
		Product: "sub", Identity: "tg:1001", CustomerID: "cus_1", InvoiceID: "in_" + id, PriceID: "price_sub",
		PaymentIntentID: "pi_" + id, PeriodEnd: periodEnd}
}

func TestSubscriptionLifecycle(t *testing.T) {
	h := newHarness(t)
	end1 := h.clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	end2 := end1.Add(30 * 24 * time.Hour)
	grace := 72 * time.Hour

	h.deliver(stripetest.CheckoutCompleted(subParams("evt_c", end1)))
	h.drain()
	if h.created() != 0 {
		t.Fatal("license before the period end is known")
	}
	first := subParams("evt_i1", end1)
	first.BillingReason = "subscription_create"
	h.deliver(stripetest.SubscriptionCreated(subParams("evt_s", end1)), stripetest.InvoicePaid(first))
	h.drain()
	lic := h.wantOneLicense(alice)
	if !lic.ExpiresAt.Equal(end1.Add(grace)) || lic.Label != "shopbot:sub_1" {
		t.Fatalf("license %+v", lic)
	}
	if n := len(h.rec.keyNotices()); n != 1 {
		t.Fatalf("%d key notices", n)
	}
	// Renewal.
	h.deliver(stripetest.InvoicePaid(subParams("evt_i2", end2)))
	h.drain()
	if lic := h.wantOneLicense(alice); !lic.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("renewed to %s, want %s", lic.ExpiresAt, end2.Add(grace))
	}
	if remote, _ := h.fake.License(lic.Key); remote.ExpiresAt == nil || !remote.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("AuthForge expiry %v", remote.ExpiresAt)
	}
	if o := h.order("sub_1"); !o.PeriodEnd.Equal(end2) {
		t.Fatalf("order period end %s after renewal, want %s", o.PeriodEnd, end2)
	}
	// The ledger has the first invoice as the sale, the next as a renewal,
	// and the Checkout session's same money not again; a redelivered
	// invoice event counts once.
	h.deliver(stripetest.InvoicePaid(subParams("evt_i2", end2)))
	h.drain()
	st, err := h.db.Stats(h.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Revenue) != 1 || st.Revenue[0] != (store.Revenue{Rail: store.RailStripe, Currency: "usd", Amount: 4000, Payments: 2}) {
		t.Fatalf("revenue %+v, want one sale and one renewal of 20.00 USD", st.Revenue)
	}
	days, err := h.db.SalesByDay(h.ctx, h.clock.Now(), h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 1 || days[0].Sales != 1 || days[0].Renewals != 1 || days[0].ProductID != "sub" || st.ActiveSubscriptions != 1 {
		t.Fatalf("ledger %+v, active subscriptions %d", days, st.ActiveSubscriptions)
	}
	// Payment trouble warns the buyer.
	h.deliver(stripetest.InvoicePaymentFailed(subParams("evt_f", end2)))
	h.drain()
	warned := false
	for _, n := range h.rec.allNotices() {
		if strings.Contains(n.N.Text, "payment for your Pro monthly subscription failed") && len(n.N.Links) == 1 {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no payment warning in %+v", h.rec.allNotices())
	}
	// End: revoked, and nothing later re-opens it.
	h.deliver(stripetest.SubscriptionDeleted(subParams("evt_d", end2)))
	h.deliver(stripetest.InvoicePaid(subParams("evt_i3", end2.Add(30*24*time.Hour))))
	h.drain()
	lic = h.wantOneLicense(alice)
	if lic.Status != store.LicenseRevoked {
		t.Fatalf("license %+v", lic)
	}
	if o := h.order("sub_1"); !o.Ended || o.Status != store.OrderEnded {
		t.Fatalf("order %+v", o)
	}
	if st, _ := h.db.Stats(h.ctx); st.ActiveSubscriptions != 0 {
		t.Fatalf("%d active subscriptions after the end", st.ActiveSubscriptions)
	}
}

// TestSubscriptionOrderIndependence applies every ordering of a
// subscription's events, each delivered twice, and checks the outcome.
func TestSubscriptionOrderIndependence(t *testing.T) {
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	end1, end2 := base.Add(30*24*time.Hour), base.Add(60*24*time.Hour)
	type ev struct {
		name string
		body []byte
	}
	live := []ev{
		{"checkout", stripetest.CheckoutCompleted(subParams("evt_c", end1))},
		{"created", stripetest.SubscriptionCreated(subParams("evt_s", end1))},
		{"updated", stripetest.SubscriptionUpdated(subParams("evt_u", end2))},
		{"paid", stripetest.InvoicePaid(subParams("evt_i", end2))},
	}
	deleted := ev{"deleted", stripetest.SubscriptionDeleted(subParams("evt_d", end2))}
	for _, withDelete := range []bool{false, true} {
		set := live
		if withDelete {
			set = append(append([]ev(nil), live...), deleted)
		}
		for _, perm := range permutations(len(set)) {
			var names []string
			for _, i := range perm {
				names = append(names, set[i].name)
			}
			t.Run(strings.Join(names, ","), func(t *testing.T) {
				h := newHarness(t)
				for _, i := range perm {
					h.deliver(set[i].body)
					h.drain()
					h.deliver(set[i].body) // duplicate
				}
				h.drain()
				ls := h.licenses(alice)
				if len(ls) > 1 || h.created() > 1 {
					t.Fatalf("%d licenses, %d created", len(ls), h.created())
				}
				o := h.order("sub_1")
				if withDelete {
					if !o.Ended || (len(ls) == 1 && ls[0].Status != store.LicenseRevoked) {
						t.Fatalf("after delete: order %+v, licenses %+v", o, ls)
					}
					return
				}
				if len(ls) != 1 || ls[0].Status != store.LicenseActive || !ls[0].ExpiresAt.Equal(end2.Add(72*time.Hour)) {
					t.Fatalf("licenses %+v", ls)
				}
				if !o.PeriodEnd.Equal(end2) {
					t.Fatalf("order period end %s, want the latest %s", o.PeriodEnd, end2)
				}
				if n := len(h.rec.keyNotices()); n != 1 {
					t.Fatalf("%d key notices", n)
				}
			})
		}
	}
}

// TestSubscriptionPeriodEndNeverMovesBack: an event about an older period
// arriving after a newer one changes neither the order's period end nor
// the license's end, also when that older event is the one that creates
// the license.
func TestSubscriptionPeriodEndNeverMovesBack(t *testing.T) {
	h := newHarness(t)
	grace := 72 * time.Hour
	end1 := h.clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	end2 := end1.Add(30 * 24 * time.Hour)

	// The newer period is known first, from an update that does not let
	// the license start (the subscription is not paid yet).
	incomplete := subParams("evt_u2", end2)
	incomplete.Status = "incomplete"
	h.deliver(stripetest.SubscriptionUpdated(incomplete))
	h.drain()
	if h.created() != 0 {
		t.Fatalf("%d license(s) for an incomplete subscription", h.created())
	}
	if o := h.order("sub_1"); !o.PeriodEnd.Equal(end2) {
		t.Fatalf("order period end %s, want %s", o.PeriodEnd, end2)
	}

	// The paid invoice of the older period starts the license: it ends
	// with the newer period, not the one this event names.
	h.deliver(stripetest.InvoicePaid(subParams("evt_i1", end1)))
	h.drain()
	lic := h.wantOneLicense(alice)
	if !lic.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("license first created by an older-period event ends %s, want %s", lic.ExpiresAt, end2.Add(grace))
	}
	if o := h.order("sub_1"); !o.PeriodEnd.Equal(end2) {
		t.Fatalf("order period end %s after an older-period event, want %s", o.PeriodEnd, end2)
	}

	// More late events of the older period move nothing back.
	h.deliver(stripetest.SubscriptionCreated(subParams("evt_s1", end1)), stripetest.SubscriptionUpdated(subParams("evt_u1", end1)))
	h.drain()
	if o := h.order("sub_1"); !o.PeriodEnd.Equal(end2) {
		t.Fatalf("order period end %s after late events, want %s", o.PeriodEnd, end2)
	}
	if lic := h.wantOneLicense(alice); !lic.ExpiresAt.Equal(end2.Add(grace)) || lic.Status != store.LicenseActive {
		t.Fatalf("license after late events %+v", lic)
	}
	if remote, _ := h.fake.License(lic.Key); remote.ExpiresAt == nil || !remote.ExpiresAt.Equal(end2.Add(grace)) {
		t.Fatalf("AuthForge expiry %v, want %s", remote.ExpiresAt, end2.Add(grace))
	}
}

func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int(nil), p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

func TestRefundsAndDisputes(t *testing.T) {
	for _, c := range []struct {
		name   string
		on     bool
		event  func(stripetest.EventParams) []byte
		amount int64
		revoke bool
	}{
		{"refund on", true, stripetest.ChargeRefunded, 0, true},
		{"refund off", false, stripetest.ChargeRefunded, 0, false},
		{"partial refund", true, stripetest.ChargeRefunded, 500, false},
		{"dispute on", true, stripetest.DisputeCreated, 0, true},
		{"dispute off", false, stripetest.DisputeCreated, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(o *checkout.WorkerOptions) { o.RevokeOnRefund, o.RevokeOnDispute = c.on, c.on })
			h.deliver(paid("evt_1", "cs_1"))
			h.drain()
			h.deliver(c.event(stripetest.EventParams{ID: "evt_r", PaymentIntentID: "pi_cs_1", AmountRefunded: c.amount}))
			h.drain()
			lic := h.wantOneLicense(alice)
			if got := lic.Status == store.LicenseRevoked; got != c.revoke {
				t.Fatalf("revoked=%v, want %v", got, c.revoke)
			}
			if got := h.order("cs_1").Status == store.OrderRevoked; got != c.revoke {
				t.Fatalf("order %+v", h.order("cs_1"))
			}
			kind := notify.KindRefund
			if strings.Contains(c.name, "dispute") {
				kind = notify.KindDispute
			}
			if len(h.rec.alertsOf(kind)) != 1 || len(h.rec.alertsOf(notify.KindSale)) != 1 || len(h.rec.alertList()) != 2 {
				t.Fatalf("alerts %q", h.rec.alertList())
			}
			if ev := h.event("evt_r"); ev.State != store.EventDone {
				t.Fatalf("event %+v", ev)
			}
			want := store.Revenue{Rail: store.RailStripe, Currency: "usd", Amount: 2000, Payments: 1}
			if strings.Contains(c.name, "refund") {
				want.Refunded = cmp.Or(c.amount, 2000)
			}
			if st, _ := h.db.Stats(h.ctx); len(st.Revenue) != 1 || st.Revenue[0] != want {
				t.Fatalf("revenue %+v, want %+v", st.Revenue, want)
			}
		})
	}
}

func TestRefundBeforeFulfillmentIssuesNothing(t *testing.T) {
	h := newHarness(t)
	h.deliver(paid("evt_1", "cs_1"))
	if _, err := h.db.UpsertOrder(h.ctx, "cs_1", func(o *store.Order, _ bool) error {
		o.PaymentIntentID, o.Identity, o.ProductID = "pi_cs_1", alice, "pro"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.deliver(stripetest.ChargeRefunded(stripetest.EventParams{ID: "evt_r", PaymentIntentID: "pi_cs_1"}))
	// The refund is processed first (evt_1 is held back by a failure).
	h.fake.FailNext("POST /v1/licenses", 1, 500, "")
	h.drain()
	if h.order("cs_1").Status != store.OrderRevoked {
		t.Fatalf("order %+v", h.order("cs_1"))
	}
	for _, l := range h.licenses(alice) {
		if l.Status != store.LicenseRevoked {
			t.Fatalf("active license after refund: %+v", l)
		}
	}
}

func TestAsyncFailedAndExpired(t *testing.T) {
	h := newHarness(t)
	if err := h.db.PutOpenSession(h.ctx, store.OpenSession{Identity: alice, ProductID: "pro", SessionID: "cs_1", URL: "u", ExpiresAt: h.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h.deliver(stripetest.CheckoutExpired(stripetest.EventParams{ID: "evt_x", SessionID: "cs_1", Product: "pro", Identity: "tg:1001"}))
	h.deliver(stripetest.AsyncPaymentFailed(stripetest.EventParams{ID: "evt_f", SessionID: "cs_2", Product: "pro", Identity: "tg:1001"}))
	h.drain()
	if _, err := h.db.GetOpenSession(h.ctx, alice, "pro"); err == nil {
		t.Fatal("expired session still open")
	}
	notes := h.rec.allNotices()
	if len(notes) != 1 || !strings.Contains(notes[0].N.Text, "did not go through") || h.created() != 0 {
		t.Fatalf("notices %+v, %d licenses", notes, h.created())
	}
}

func TestCatchUpStoresMissedEventsOnce(t *testing.T) {
	h := newHarness(t)
	m := sharedMock(t)
	var evs [][]byte
	for i := range 5 {
		evs = append(evs, stripetest.CheckoutCompleted(stripetest.EventParams{
			ID: fmt.Sprintf("evt_m%d", i), SessionID: fmt.Sprintf("cs_m%d", i), Product: "pro", Identity: "tg:1001",
			Created: time.Now().Add(time.Duration(i-10) * time.Minute),
		}))
	}
	m.SetEvents(evs...)
	h.deliver(evs[2]) // one arrived by webhook before the outage
	n, err := h.hook.CatchUp(h.ctx, m.Client("sk_test_123"), time.Now().Add(-time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("CatchUp = %d, %v; want 4 new", n, err)
	}
	if n, err := h.hook.CatchUp(h.ctx, m.Client("sk_test_123"), time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("second CatchUp = %d, %v", n, err)
	}
	if ev := h.event("evt_m0"); ev.Source != checkout.SourceCatchUp || ev.OrderKey != "cs_m0" {
		t.Fatalf("event %+v", ev)
	}
	h.drain()
	if n := len(h.licenses(alice)); n != 5 || h.created() != 5 {
		t.Fatalf("%d licenses, %d created; want 5", n, h.created())
	}
	if got := m.Requests("/v1/events"); len(got) == 0 || len(got[0].Form["types[]"]) == 0 && got[0].Form.Get("types[0]") == "" {
		t.Errorf("events listed without a types filter: %+v", got)
	}
}

// A refund whose checkout event comes later (Stripe redelivering it after
// an outage, or an admin's /replay) is remembered: the late checkout
// issues no license and the admins are told.
func TestRefundBeforeCheckoutEventIssuesNothing(t *testing.T) {
	h := newHarness(t)
	p := stripetest.EventParams{ID: "evt_r", SessionID: "cs_late", Product: "pro", Identity: "tg:1001", PaymentIntentID: "pi_late", CustomerID: "cus_1"}
	h.deliver(stripetest.ChargeRefunded(p))
	h.drain()
	if ev := h.event("evt_r"); ev.State != store.EventIgnored {
		t.Fatalf("refund without order: %s %q", ev.State, ev.LastError)
	}
	alerts := len(h.rec.alertList())
	p.ID = "evt_c"
	h.deliver(stripetest.CheckoutCompleted(p))
	h.drain()
	if h.created() != 0 {
		t.Fatalf("a refunded payment got %d license(s)", h.created())
	}
	if o := h.order("cs_late"); o.Status != store.OrderRevoked || o.LicenseKey != "" {
		t.Fatalf("order %+v", o)
	}
	if len(h.rec.alertList()) != alerts+1 {
		t.Fatalf("admins not told: %v", h.rec.alertList())
	}
}

// A cancellation whose AuthForge revoke fails is retried until AuthForge
// confirms, although the license is revoked locally at the first attempt.
func TestUnconfirmedRevokeRetriedRemotely(t *testing.T) {
	h := newHarness(t)
	end := h.clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	h.deliver(stripetest.CheckoutCompleted(subParams("evt_c", end)), stripetest.SubscriptionCreated(subParams("evt_s", end)), stripetest.InvoicePaid(subParams("evt_i1", end)))
	h.drain()
	lic := h.wantOneLicense(alice)
	h.fake.FailNext("PUT /v1/licenses/", 2, http.StatusInternalServerError, "server_error")
	h.deliver(stripetest.SubscriptionDeleted(subParams("evt_d", end)))
	h.drain()
	if remote, _ := h.fake.License(lic.Key); remote.Status != "revoked" {
		t.Fatalf("AuthForge status %q after the cancellation was retried", remote.Status)
	}
	if ev := h.event("evt_d"); ev.State != store.EventDone {
		t.Fatalf("cancellation event %s %q", ev.State, ev.LastError)
	}
}
