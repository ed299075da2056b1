package licensing

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/notify"
)

// Reminders come at 3 days and at 1 day before the end, once each, as
// bulk messages with a Renew button; a lifetime license gets none; an
// extended license is reminded again for its new end.
func TestRemindBeforeExpiry(t *testing.T) {
	h := newHarness(t)
	start := h.clock.Now()
	lic := h.issue("pro", alice, start.Add(10*24*time.Hour))
	h.issue("team", bob, time.Time{}) // lifetime: never reminded
	remind := func(want int) {
		t.Helper()
		n, err := h.svc.Remind(h.ctx)
		if err != nil || n != want {
			t.Fatalf("Remind at +%s = %d, %v; want %d", h.clock.Now().Sub(start), n, err, want)
		}
	}
	remind(0)
	h.clock.Advance(7*24*time.Hour + time.Hour) // 71 hours left
	remind(1)
	remind(0)
	ns := h.rec.noticesTo(alice)
	if len(ns) != 1 {
		t.Fatalf("notices to alice = %d, want 1", len(ns))
	}
	n := ns[0]
	if n.Priority != notify.Bulk || n.Renew != "pro" || !strings.Contains(n.Text, "runs out on") || !strings.Contains(n.Text, "(in 3 days)") {
		t.Fatalf("reminder = %+v; want a bulk notice with a Renew button and the time left", n)
	}
	if strings.Contains(n.Text, lic.Key) {
		t.Fatalf("reminder shows the whole key: %q", n.Text)
	}
	h.clock.Advance(2 * 24 * time.Hour) // 23 hours left
	remind(1)
	remind(0)
	if got := len(h.rec.noticesTo(alice)); got != 2 {
		t.Fatalf("notices after the 1-day reminder = %d, want 2", got)
	}
	if got := len(h.rec.noticesTo(bob)); got != 0 {
		t.Fatalf("a lifetime license was reminded %d times", got)
	}

	// A new service on the same store (a restart) sends nothing again.
	again, err := New(Options{Store: h.db, AuthForge: h.af, Products: testProducts, SessionTTL: 24 * time.Hour,
		Notifier: h.rec, Clock: h.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := again.Remind(h.ctx); err != nil || n != 0 {
		t.Fatalf("after a restart Remind = %d, %v; want 0", n, err)
	}

	// Extended by 30 days: its new end has its own reminders.
	if _, err := h.svc.Extend(h.ctx, "tg:1", lic.Key, 30*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	remind(0)
	h.clock.Advance(28 * 24 * time.Hour)
	remind(1)
}

// A license first seen inside its last day gets the 1-day reminder only:
// the 3-day one is past.
func TestRemindLateStartSendsOnlyTheNearest(t *testing.T) {
	h := newHarness(t)
	h.issue("pro", alice, h.clock.Now().Add(20*time.Hour))
	if n, err := h.svc.Remind(h.ctx); err != nil || n != 1 {
		t.Fatalf("Remind = %d, %v; want 1", n, err)
	}
	if n, err := h.svc.Remind(h.ctx); err != nil || n != 0 {
		t.Fatalf("second Remind = %d, %v; want 0 (the 3-day one is past, not pending)", n, err)
	}
}
