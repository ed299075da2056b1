package broadcast

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// chats stands in for the chat adapters: it records every message and
// refuses some recipients.
type chats struct {
	mu      sync.Mutex
	got     map[identity.Identity][]string
	refuse  map[identity.Identity]error
	stopAt  int // cancel after this many announcements (0: never)
	cancel  context.CancelFunc
	handled int
}

func (c *chats) Notify(ctx context.Context, to identity.Identity, n notify.Notice) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.refuse[to]; err != nil {
		return err
	}
	if n.Priority == notify.Bulk {
		if c.handled++; c.stopAt > 0 && c.handled == c.stopAt {
			c.cancel()
		}
	}
	c.got[to] = append(c.got[to], n.Text)
	return nil
}

func TestRunCountsResumesAndReports(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Path: filepath.Join(t.TempDir(), "s.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	const holders = 250
	for i := range holders {
		l := store.License{Key: fmt.Sprintf("BCST-%04d-AAAA-AAAA", i), ProductID: "pro", Owner: identity.TelegramUser(int64(1000 + i)), Status: store.LicenseActive, MaxSlots: 1}
		if err := db.PutLicense(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	u := identity.TelegramUser
	if err := db.SetMuted(ctx, u(1001), true); err != nil {
		t.Fatal(err)
	}
	admin := u(1)
	c := &chats{got: map[identity.Identity][]string{}, refuse: map[identity.Identity]error{
		u(1002): fmt.Errorf("403: %w", notify.ErrUndeliverable),
		u(1003): errors.New("500 from the platform"),
	}}
	clock := fakeclock.New(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	s, err := New(Options{Store: db, Notifier: c, Page: 7, ProgressEvery: 100, Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	id, reach, err := s.Draft(ctx, admin, "pro", "hello")
	if err != nil || reach != holders-1 {
		t.Fatalf("draft: reach %d, %v; want %d (one muted)", reach, err, holders-1)
	}
	if err := s.Confirm(ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(ctx, admin, id); !errors.Is(err, ErrNotDraft) {
		t.Fatalf("second confirm: %v, want ErrNotDraft", err)
	}

	// The first run stops after 58 announcements, as at a shutdown.
	runCtx, cancel := context.WithCancel(ctx)
	c.stopAt, c.cancel = 58, cancel // mid-page: the next send sees the shutdown
	jobs, _ := db.RunningBroadcasts(ctx)
	if err := s.run(runCtx, jobs[0]); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	c.stopAt = 0
	jobs, _ = db.RunningBroadcasts(ctx)
	if len(jobs) != 1 {
		t.Fatalf("after the interruption %d running jobs, want 1", len(jobs))
	}
	if err := s.run(ctx, jobs[0]); err != nil {
		t.Fatal(err)
	}

	for i := range holders {
		who, want := u(int64(1000+i)), 1
		if i >= 1 && i <= 3 {
			want = 0 // muted, blocked, failed
		}
		if n := len(c.got[who]); n != want {
			t.Fatalf("%s got %d announcements, want %d", who, n, want)
		}
	}
	// 247 sent + 1 blocked + 1 failed = 249 handled: progress at 100 and 200.
	progress := c.got[admin]
	want := []string{
		"Broadcast #1: 98 sent, 1 blocked the bot, 1 failed so far.",
		"Broadcast #1: 198 sent, 1 blocked the bot, 1 failed so far.",
		"Broadcast #1 finished: 247 sent, 1 blocked the bot, 1 failed, 1 skipped (muted).",
	}
	if strings.Join(progress, "\n") != strings.Join(want, "\n") {
		t.Fatalf("admin was told:\n%s\nwant:\n%s", strings.Join(progress, "\n"), strings.Join(want, "\n"))
	}
	b, _ := db.GetBroadcast(ctx, id)
	if b.State != store.BroadcastDone || b.Sent != 247 || b.FinishedAt.IsZero() {
		t.Fatalf("stored job %+v", b)
	}
}
