package licensing

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// The low-credit alert counts from the balance the seller stated: it goes
// out once when the estimate left reaches the mark, not again after a
// restart, and again only after a new balance is stated and spent down.
func TestLowCreditsAlertOnce(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.CreditsBalance, o.LowCredits = 5, 2 })
	spend := func(from, n int) {
		t.Helper()
		for i := range n {
			who := identity.TelegramUser(int64(7000 + from + i))
			h.activate(who, h.issue("team", who, time.Time{}).Key) // one validation each
		}
	}
	lowAlerts := func() int {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		n := 0
		for _, a := range h.rec.alerts {
			if strings.Contains(a, "running low") {
				n++
			}
		}
		return n
	}

	spend(0, 2)
	if left, ok := h.svc.CreditsLeft(); !ok || left != 3 || lowAlerts() != 0 {
		t.Fatalf("after 2 validations: left %v (%v), %d alerts; want 3 left, none", left, ok, lowAlerts())
	}
	spend(2, 1)
	if lowAlerts() != 1 {
		t.Fatalf("at 2 left: %d low-credit alerts, want 1", lowAlerts())
	}
	h.clock.Advance(2 * alertInterval) // no rate limit hides a repeat
	spend(3, 1)
	if lowAlerts() != 1 {
		t.Fatalf("at 1 left: %d low-credit alerts, want still 1", lowAlerts())
	}

	// A restart with the same stated balance keeps both the count and the
	// alert already made.
	restart := func(balance int64) *Service {
		t.Helper()
		svc, err := New(Options{Store: h.db, AuthForge: h.af, Products: testProducts, Notifier: h.rec,
			Clock: h.clock.Now, Logger: slog.New(slog.DiscardHandler), CreditsBalance: balance, LowCredits: 2})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	h.svc = restart(5)
	if left, _ := h.svc.CreditsLeft(); left != 1 {
		t.Fatalf("after restart: %v left, want 1", left)
	}
	spend(4, 1)
	if lowAlerts() != 1 {
		t.Fatalf("after restart: %d low-credit alerts, want still 1", lowAlerts())
	}

	// A top-up: the new balance counts from now and alerts again when low.
	h.svc = restart(4)
	if left, _ := h.svc.CreditsLeft(); left != 4 {
		t.Fatalf("after stating 4: %v left, want 4", left)
	}
	spend(5, 2)
	if lowAlerts() != 2 {
		t.Fatalf("new balance spent to 2: %d low-credit alerts, want 2", lowAlerts())
	}
}
