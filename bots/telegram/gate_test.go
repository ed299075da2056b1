package telegram_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// entitlements is the test's answer to "what is who entitled to".
type entitlements struct {
	mu sync.Mutex
	m  map[identity.Identity][]string
}

func (e *entitlements) set(who identity.Identity, products ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.m[who] = products
}

func (e *entitlements) Entitled(_ context.Context, who identity.Identity) ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.m[who], nil
}

// TestSweepMembersBoundedAndResumes: the periodic sweep re-checks at most
// its limit of remembered members per call, continues where it stopped,
// removes and forgets those no longer entitled, and reports each removal.
func TestSweepMembersBoundedAndResumes(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "shop.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ents := &entitlements{m: map[identity.Identity][]string{}}
	var mu sync.Mutex
	var removals []notify.Removal
	e := start(t, telegram.ModePolling, func(o *telegram.Options) {
		o.Entitled, o.Members = ents.Entitled, db
		o.OnRemoval = func(_ context.Context, r notify.Removal) {
			mu.Lock()
			defer mu.Unlock()
			removals = append(removals, r)
		}
	})
	e.tg.AddChat(membersChat, "Members")
	place := fmt.Sprintf("telegram:%d", membersChat)
	// Members seen earlier; only 11 is still entitled. Key order:
	// tg:11 < tg:12 < tg:13 < tg:14 < tg:15.
	for id := int64(11); id <= 15; id++ {
		e.tg.SetMember(membersChat, id, telegramtest.StatusMember)
		if err := db.RememberMember(ctx, place, identity.TelegramUser(id)); err != nil {
			t.Fatal(err)
		}
	}
	ents.set(identity.TelegramUser(11), "pro-monthly")

	for i, want := range []int{1, 2, 1} { // checks 11,12 | 13,14 | 15
		n, err := e.bot.SweepMembers(ctx, 2)
		if err != nil || n != want {
			t.Fatalf("sweep %d removed %d (%v), want %d", i+1, n, err, want)
		}
	}
	if got := e.tg.Members(membersChat); len(got) != 1 || got[0] != 11 {
		t.Fatalf("members after the sweeps = %v, want [11]", got)
	}
	if left, _ := db.Members(ctx, place, "", 0); len(left) != 1 || left[0] != identity.TelegramUser(11) {
		t.Fatalf("remembered after the sweeps = %v, want only tg:11", left)
	}
	mu.Lock()
	if len(removals) != 4 || removals[0].Who != identity.TelegramUser(12) || removals[0].Place != fmt.Sprintf("Telegram chat %d", membersChat) {
		t.Errorf("removals = %+v", removals)
	}
	mu.Unlock()

	// The cursor wrapped: the next bounded sweep starts over, and finds
	// 11 once their license is gone; so does a full sweep (/sync).
	ents.set(identity.TelegramUser(11))
	if n, err := e.bot.SweepMembers(ctx, 2); err != nil || n != 1 {
		t.Fatalf("sweep after the wrap removed %d (%v), want 1", n, err)
	}
	if e.tg.Status(membersChat, 11) != telegramtest.StatusLeft {
		t.Fatalf("tg:11 status %s", e.tg.Status(membersChat, 11))
	}
	if n, err := e.bot.SweepMembers(ctx, 0); err != nil || n != 0 {
		t.Fatalf("full sweep of an empty list removed %d (%v)", n, err)
	}
}
