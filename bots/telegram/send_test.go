package telegram

import (
	"testing"
	"time"
)

// A busy chat waits for its own spacing; it must not push every other
// chat's replies back with it.
func TestPacerKeepsChatsIndependent(t *testing.T) {
	p := newPacer()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var last time.Duration
	for range 20 {
		last = p.reserve(-100, now)
	}
	if want := 19 * groupInterval; last < want {
		t.Fatalf("20th group message waits %v, want at least %v", last, want)
	}
	if wait := p.reserve(42, now.Add(10*time.Millisecond)); wait > time.Second {
		t.Fatalf("a private chat waits %v behind a busy group", wait)
	}
	// The private chat's own second message keeps its 1/s spacing.
	if wait := p.reserve(42, now.Add(10*time.Millisecond)); wait < privateInterval-50*time.Millisecond {
		t.Fatalf("second private message waits only %v", wait)
	}
}
