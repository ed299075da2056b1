package checkout_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/store"
)

const termsURL = "https://shop.example/terms"

// evidenceHarness is a shop whose worker sends dispute evidence to the
// shared stripe-mock; alice bought "pro", accepted the terms, activated
// the key and used a gated command 7 times.
func evidenceHarness(t *testing.T) (*harness, *stripetest.Mock, store.License) {
	t.Helper()
	m := sharedMock(t)
	h := newHarness(t, func(o *checkout.WorkerOptions) {
		o.Evidence = &checkout.Evidence{Stripe: m.Client("sk_test_123"), TermsURL: termsURL, TermsVersion: "2"}
	})
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	lic := h.wantOneLicense(alice)
	if err := h.db.AcceptTerms(h.ctx, store.TermsAcceptance{Identity: alice, Version: "2", URL: termsURL, AcceptedAt: h.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	if _, err := h.svc.Activate(h.ctx, alice, lic.Key); err != nil {
		t.Fatalf("activate: %v", err)
	}
	last := h.clock.Now().Add(3 * time.Hour)
	if err := h.db.AddAccessUses(h.ctx, []store.AccessCount{{Identity: alice, Key: lic.Key, Uses: 7, LastUse: last}}); err != nil {
		t.Fatal(err)
	}
	return h, m, lic
}

func TestDisputeEvidenceSentToStripe(t *testing.T) {
	h, m, lic := evidenceHarness(t)
	h.deliver(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_d", PaymentIntentID: "pi_cs_1"}))
	h.drain()

	reqs := m.Requests("/v1/disputes/dp_evt_d")
	if len(reqs) != 1 || reqs[0].Method != http.MethodPost {
		t.Fatalf("want one POST /v1/disputes/dp_evt_d, got %+v", reqs)
	}
	f := reqs[0].Form
	want := map[string][]string{
		"evidence[product_description]": {`"Pro" (product pro)`, "tg:1001"},
		"evidence[service_date]":        {"2025-06-01"},
		"evidence[access_activity_log]": {
			"Activated by chat account tg:1001 on 2025-06-01 12:01:00 UTC.",
			"Chat account tg:1001 used the members' commands 7 times; last use 2025-06-01 15:01:00 UTC.",
			"issued for order cs_1 on 2025-06-01 12:00:00 UTC",
		},
		"evidence[refund_policy_disclosure]": {termsURL, "Chat account tg:1001 accepted version 2 of the terms", "2025-06-01 12:00:00 UTC"},
	}
	for field, parts := range want {
		for _, p := range parts {
			if !strings.Contains(f.Get(field), p) {
				t.Errorf("%s = %q, want it to contain %q", field, f.Get(field), p)
			}
		}
	}
	if f.Get("evidence[service_date]") != "2025-06-01" {
		t.Errorf("service_date %q", f.Get("evidence[service_date]"))
	}
	// Stripe submits when submit is omitted: staged unless asked.
	if f.Get("submit") != "false" {
		t.Errorf("submit = %q, want false", f.Get("submit"))
	}
	for k, vs := range f {
		for _, v := range vs {
			if strings.Contains(v, lic.Key) {
				t.Errorf("%s carries the whole license key", k)
			}
		}
	}
	// The dispute still revokes, as before.
	if l := h.wantOneLicense(alice); l.Status != store.LicenseRevoked {
		t.Fatalf("license %+v not revoked", l)
	}
	var told bool
	for _, a := range h.rec.alertList() {
		if strings.Contains(a, "Dispute dp_evt_d: evidence staged") && strings.Contains(a, "access_activity_log: ") {
			told = true
		}
	}
	if !told {
		t.Fatalf("admins not told what was sent: %q", h.rec.alertList())
	}
}

func TestDisputeEvidenceRetriedAfterStripeError(t *testing.T) {
	h, m, _ := evidenceHarness(t)
	m.FailNext("/v1/disputes/dp_evt_d", 1, http.StatusInternalServerError)
	h.deliver(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_d", PaymentIntentID: "pi_cs_1"}))
	h.drain()
	reqs := m.Requests("/v1/disputes/dp_evt_d")
	if len(reqs) != 2 {
		t.Fatalf("want the failed update retried once, got %d requests", len(reqs))
	}
	// The retry came after the revocation dropped the activation: the
	// evidence gathered before it is what was sent.
	if got := reqs[1].Form.Get("evidence[access_activity_log]"); !strings.Contains(got, "Activated by chat account tg:1001") {
		t.Fatalf("retry sent %q", got)
	}
	if ev := h.event("evt_d"); ev.State != store.EventDone {
		t.Fatalf("event %+v", ev)
	}
}

func TestDisputeEvidenceFinalSubmits(t *testing.T) {
	m := sharedMock(t)
	h := newHarness(t, func(o *checkout.WorkerOptions) {
		o.Evidence = &checkout.Evidence{Stripe: m.Client("sk_test_123"), Final: true}
	})
	h.deliver(paid("evt_1", "cs_1"))
	h.drain()
	h.deliver(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_d", PaymentIntentID: "pi_cs_1"}))
	h.drain()
	reqs := m.Requests("/v1/disputes/dp_evt_d")
	if len(reqs) != 1 || reqs[0].Form.Get("submit") != "true" {
		t.Fatalf("requests %+v", reqs)
	}
	if _, ok := reqs[0].Form["evidence[refund_policy_disclosure]"]; ok {
		t.Fatal("terms evidence sent without terms configured")
	}
	if !strings.Contains(reqs[0].Form.Get("evidence[access_activity_log]"), "No use of the members' commands was recorded.") {
		t.Fatalf("log %q", reqs[0].Form.Get("evidence[access_activity_log]"))
	}
}

// Stripe refusing the evidence (a 400: the dispute closed, evidence
// already submitted) is not retried: the event fails at once with the
// reason, after the dispute itself was handled.
func TestDisputeEvidenceRefusedFailsAtOnce(t *testing.T) {
	h, m, _ := evidenceHarness(t)
	m.FailNext("/v1/disputes/dp_evt_d", 1, http.StatusBadRequest)
	h.deliver(stripetest.DisputeCreated(stripetest.EventParams{ID: "evt_d", PaymentIntentID: "pi_cs_1"}))
	h.drain()
	if reqs := m.Requests("/v1/disputes/dp_evt_d"); len(reqs) != 1 {
		t.Fatalf("a refused update was sent %d times, want once", len(reqs))
	}
	ev := h.event("evt_d")
	if ev.State != store.EventFailed || !strings.Contains(ev.LastError, "Stripe refused the evidence for dispute dp_evt_d (HTTP 400") {
		t.Fatalf("event %s: %q; want failed with the refusal", ev.State, ev.LastError)
	}
}
