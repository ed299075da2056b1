package licensing

import (
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

func TestLimiterSlidingWindow(t *testing.T) {
	l := newLimiter(3, time.Minute)
	who := identity.TelegramUser(1)
	other := identity.TelegramUser(2)
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, ok := l.allow(who, t0.Add(time.Duration(i)*10*time.Second)); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	wait, ok := l.allow(who, t0.Add(30*time.Second))
	if ok {
		t.Fatal("4th attempt in the window allowed")
	}
	if wait != 30*time.Second {
		t.Errorf("retry after %s, want 30s (until the first attempt leaves the window)", wait)
	}
	if _, ok := l.allow(other, t0.Add(30*time.Second)); !ok {
		t.Error("another identity was limited")
	}
	if _, ok := l.allow(who, t0.Add(time.Minute+time.Second)); !ok {
		t.Error("attempt refused after the oldest one left the window")
	}
	if _, ok := l.allow(who, t0.Add(time.Minute+2*time.Second)); ok {
		t.Error("window did not slide: 3 attempts are still inside it")
	}
}

func TestLimiterPrunesIdleIdentities(t *testing.T) {
	l := newLimiter(1, time.Minute)
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := range pruneAbove + 10 {
		l.allow(identity.TelegramUser(int64(i+1)), t0)
	}
	l.allow(identity.TelegramUser(999999), t0.Add(2*time.Minute))
	if n := len(l.attempts); n != 1 {
		t.Errorf("%d identities remembered after the window passed, want 1", n)
	}
}
