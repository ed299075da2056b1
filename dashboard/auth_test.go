package dashboard

import (
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
)

// Links are bounded: past maxLinks the one closest to expiry goes, and
// the newest still works.
func TestLinksBounded(t *testing.T) {
	clock := fakeclock.New(t0)
	a := newAuth(clock.Now)
	first := a.newLink(admin)
	for range maxLinks {
		clock.Advance(time.Second)
		a.newLink(admin)
	}
	if len(a.links) != maxLinks {
		t.Fatalf("%d links kept, want %d", len(a.links), maxLinks)
	}
	if _, _, ok := a.redeem(first); ok {
		t.Error("the oldest link survived the bound")
	}
	last := a.newLink(admin)
	if _, _, ok := a.redeem(last); !ok {
		t.Error("the newest link does not work")
	}
}

// Sessions are bounded: past maxSessions the least recently used goes.
func TestSessionsBounded(t *testing.T) {
	clock := fakeclock.New(t0)
	a := newAuth(clock.Now)
	var cookies []string
	for range maxSessions + 1 {
		c, _, ok := a.redeem(a.newLink(admin))
		if !ok {
			t.Fatal("fresh link refused")
		}
		cookies = append(cookies, c)
		clock.Advance(time.Second)
		// The first session stays in use, so the second is the least
		// recently used when the bound is reached.
		if _, ok := a.lookup(cookies[0]); !ok {
			t.Fatal("first session lost")
		}
	}
	if len(a.sessions) != maxSessions {
		t.Fatalf("%d sessions kept, want %d", len(a.sessions), maxSessions)
	}
	if _, ok := a.lookup(cookies[1]); ok {
		t.Error("the least recently used session survived the bound")
	}
	for _, i := range []int{0, 2, maxSessions} {
		if _, ok := a.lookup(cookies[i]); !ok {
			t.Errorf("session %d ended", i)
		}
	}
}

// A handle stands for one key in one session only, and a session's
// handles are bounded.
func TestHandles(t *testing.T) {
	clock := fakeclock.New(t0)
	a := newAuth(clock.Now)
	c1, _, _ := a.redeem(a.newLink(admin))
	c2, _, _ := a.redeem(a.newLink(identity.TelegramUser(9002)))
	s1, _ := a.lookup(c1)
	s2, _ := a.lookup(c2)
	h := a.handle(s1.id, "AAAA-BBBB-CCCC-DDDD")
	if again := a.handle(s1.id, "AAAA-BBBB-CCCC-DDDD"); again != h {
		t.Errorf("same key, new handle: %q, %q", h, again)
	}
	if k, ok := a.key(s1.id, h); !ok || k != "AAAA-BBBB-CCCC-DDDD" {
		t.Errorf("key(handle) = %q, %v", k, ok)
	}
	if _, ok := a.key(s2.id, h); ok {
		t.Error("another session read the handle")
	}
	for i := range maxHandles {
		a.handle(s1.id, "KEY-"+string(rune('A'+i%26))+string(rune('A'+i/26)))
	}
	if _, ok := a.key(s1.id, h); ok {
		t.Error("handles are not bounded: the oldest survived")
	}
}
