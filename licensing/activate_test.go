package licensing

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/store"
)

func TestActivateSuccessUsesSlots(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})

	// Typed sloppily: lower case with spaces around.
	res := h.activate(alice, "  "+strings.ToLower(lic.Key)+" ")
	if res.SlotsUsed != 1 || res.MaxSlots != 2 {
		t.Errorf("slots = %d/%d, want 1/2", res.SlotsUsed, res.MaxSlots)
	}
	if res.Product.ID != "pro" || res.License.Key != lic.Key || res.Renewed {
		t.Errorf("result = %+v", res)
	}
	acts := h.activations(alice)
	if len(acts) != 1 || acts[0].Key != lic.Key || acts[0].SessionToken == "" || acts[0].Signature == "" || acts[0].Payload == "" {
		t.Fatalf("stored activations = %+v", acts)
	}
	if !acts[0].SessionExpiresAt.After(h.clock.Now()) {
		t.Errorf("session expires %s, not after now", acts[0].SessionExpiresAt)
	}
	if got, _ := h.rec.lastSync(alice); !slices.Equal(got, []string{"pro"}) {
		t.Errorf("SyncAccess(alice) = %v, want [pro]", got)
	}

	res = h.activate(bob, lic.Key)
	if res.SlotsUsed != 2 || res.MaxSlots != 2 {
		t.Errorf("second identity: slots = %d/%d, want 2/2", res.SlotsUsed, res.MaxSlots)
	}

	_, err := h.svc.Activate(h.ctx, carol, lic.Key)
	var full *SlotsFullError
	if !errors.As(err, &full) || full.Max != 2 || !errors.Is(err, ErrSlotsFull) {
		t.Fatalf("third identity: err = %v, want SlotsFullError{Max: 2}", err)
	}
	if len(h.activations(carol)) != 0 {
		t.Error("refused activation was stored")
	}

	// Activating again refreshes and takes no extra slot.
	res = h.activate(alice, lic.Key)
	if !res.Renewed || res.SlotsUsed != 2 {
		t.Errorf("re-activation: renewed=%v slots=%d, want true/2", res.Renewed, res.SlotsUsed)
	}
	if n := len(h.activations(alice)); n != 1 {
		t.Errorf("alice has %d activations after re-activating, want 1", n)
	}
}

func TestActivateRefusals(t *testing.T) {
	h := newHarness(t)
	calls := h.authCalls()

	if _, err := h.svc.Activate(h.ctx, alice, "not-a-key"); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("malformed: err = %v", err)
	}
	if _, err := h.svc.Activate(h.ctx, alice, "ABCD-EFGH-JKLM-NPQI"); !errors.Is(err, ErrMalformedKey) {
		t.Errorf("key with I: err = %v", err)
	}
	if _, err := h.svc.Activate(h.ctx, alice, "ABCD-EFGH-JKLM-NPQR"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown key: err = %v", err)
	}
	if got := h.authCalls(); got != calls {
		t.Errorf("AuthForge saw %d calls for refused input, want 0", got-calls)
	}

	revoked := h.issue("pro", alice, time.Time{})
	if _, err := h.svc.Revoke(h.ctx, "tg:1", revoked.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Activate(h.ctx, alice, revoked.Key); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked key: err = %v", err)
	}

	expiring := h.issue("pro", alice, h.clock.Now().Add(time.Hour))
	h.clock.Advance(2 * time.Hour)
	calls = h.authCalls()
	if _, err := h.svc.Activate(h.ctx, alice, expiring.Key); !errors.Is(err, ErrExpired) {
		t.Errorf("expired key: err = %v", err)
	}
	if got := h.authCalls(); got != calls {
		t.Errorf("expired key cost %d AuthForge calls, want 0", got-calls)
	}
}

func TestActivateRemoteRevokedAndExpired(t *testing.T) {
	h := newHarness(t)
	revoked := h.issue("pro", alice, time.Time{})
	h.remoteRevoke(revoked.Key)
	if _, err := h.svc.Activate(h.ctx, alice, revoked.Key); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked in AuthForge only: err = %v", err)
	}
	expired := h.issue("team", alice, time.Time{})
	h.remoteExpire(expired.Key)
	if _, err := h.svc.Activate(h.ctx, alice, expired.Key); !errors.Is(err, ErrExpired) {
		t.Errorf("expired in AuthForge only: err = %v", err)
	}
	if n := len(h.activations(alice)); n != 0 {
		t.Errorf("%d activations stored after refusals", n)
	}
}

func TestActivateUntrustedAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		breakFake func(h *harness)
	}{
		{"tampered signature", func(h *harness) { h.tamperSignatures() }},
		{"wrong nonce", func(h *harness) { h.wrongNonces() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			lic := h.issue("pro", alice, time.Time{})
			tc.breakFake(h)
			_, err := h.svc.Activate(h.ctx, alice, lic.Key)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if n := len(h.activations(alice)); n != 0 {
				t.Errorf("%d activations stored from an untrusted answer", n)
			}
			if _, ok := h.rec.lastSync(alice); ok {
				t.Error("access synced after an untrusted answer")
			}
		})
	}
}

func TestActivateNoCreditsAlertsOncePerHour(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.outOfCredits()
	for range 3 {
		if _, err := h.svc.Activate(h.ctx, alice, lic.Key); !errors.Is(err, ErrNoCredits) {
			t.Fatalf("err = %v, want ErrNoCredits", err)
		}
	}
	if n := h.rec.alertCount(); n != 1 {
		t.Errorf("%d admin alerts, want 1", n)
	}
	h.clock.Advance(61 * time.Minute)
	h.svc.Activate(h.ctx, alice, lic.Key)
	if n := h.rec.alertCount(); n != 2 {
		t.Errorf("%d admin alerts after an hour, want 2", n)
	}
}

func TestActivateRateLimit(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	for i := range 5 {
		// Well-formed guesses: each counts.
		if _, err := h.svc.Activate(h.ctx, alice, "ABCD-EFGH-JKLM-NPQ"+string(rune('2'+i))); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("guess %d: err = %v", i+1, err)
		}
		h.clock.Advance(time.Second)
	}
	calls := h.authCalls()
	_, err := h.svc.Activate(h.ctx, alice, lic.Key)
	var rl *RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, ErrTooManyAttempts) {
		t.Fatalf("6th attempt: err = %v, want RateLimitError", err)
	}
	if rl.RetryAfter <= 0 || rl.RetryAfter > 10*time.Minute {
		t.Errorf("RetryAfter = %s", rl.RetryAfter)
	}
	if got := h.authCalls(); got != calls {
		t.Errorf("rate-limited attempt reached AuthForge (%d calls)", got-calls)
	}
	// Someone else is not affected.
	h.activate(bob, lic.Key)

	h.clock.Advance(10 * time.Minute)
	res := h.activate(alice, lic.Key)
	if res.SlotsUsed != 2 {
		t.Errorf("slots used = %d, want 2", res.SlotsUsed)
	}
}

func TestIssueReconcilesByLabel(t *testing.T) {
	h := newHarness(t)
	req := IssueRequest{ProductID: "pro", Owner: alice, OrderID: "cs_test_1", Label: "shopbot:cs_test_1", Reconcile: true, Source: "order"}
	first, err := h.svc.Issue(h.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.db.GetLicense(h.ctx, first.Key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("license of an order was written by Issue (err = %v); the caller attaches it", err)
	}
	again, err := h.svc.Issue(h.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if again.Key != first.Key {
		t.Errorf("reconcile created a second license: %s then %s", first.Key, again.Key)
	}
	if again.MaxSlots != 2 || again.ProductID != "pro" || again.Owner != alice || again.OrderID != "cs_test_1" {
		t.Errorf("license = %+v", again)
	}
	if _, err := h.svc.Issue(h.ctx, IssueRequest{ProductID: "nope", Owner: alice}); !errors.Is(err, ErrUnknownProduct) {
		t.Errorf("unknown product: err = %v", err)
	}
}
