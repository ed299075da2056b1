package main

import (
	"fmt"
	"strings"
	"testing"
)

// A raid's removals make one bounded alert, not one message each.
func TestRemovalFeedIsBounded(t *testing.T) {
	f := newRemovalFeed()
	if f.take() != "" {
		t.Fatal("an empty feed has an alert")
	}
	for i := range 1000 {
		f.add(fmt.Sprintf("Removed tg:%d from Telegram chat -100: no license.", i))
	}
	text := f.take()
	if got := strings.Count(text, "Removed tg:"); got != removalFeedLines {
		t.Fatalf("alert lists %d removals, want %d", got, removalFeedLines)
	}
	if !strings.Contains(text, "and 990 more removals") {
		t.Fatalf("alert does not count the rest:\n%s", text)
	}
	if f.take() != "" {
		t.Fatal("take did not empty the feed")
	}
	select {
	case <-f.wake:
	default:
		t.Fatal("adding did not wake the sender")
	}
}
