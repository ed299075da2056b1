// Package broadcast sends the admins' announcements to current license
// holders: a durable job in the store, walked a page of holders at a
// time, paced as notify.Bulk, resumed after a restart where it stopped.
//
// Guarantee: the job's cursor and counts are saved after every send, in
// one transaction. A shutdown never repeats anyone (a message the outbox
// had not handed to the platform is withdrawn and sent after the
// restart; one already handed over is waited for and saved). Only a
// crash between a send and its save (power loss, SIGKILL) can send that
// one holder the announcement twice.
package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Texts sent by this package (the lead folds them into the catalog).
const (
	TextAnnouncement = "%s\n\n(Shop announcement. Send /mute to stop these.)"
	TextProgress     = "Broadcast #%d: %d sent, %d blocked the bot, %d failed so far."
	TextFinished     = "Broadcast #%d finished: %d sent, %d blocked the bot, %d failed, %d skipped (muted)."
)

// Errors of Confirm.
var (
	ErrNotDraft = errors.New("broadcast: already confirmed")
	ErrNotYours = errors.New("broadcast: confirmed by another admin")
)

// Notifier reaches buyers and admins; notify.Router satisfies it.
type Notifier interface {
	Notify(ctx context.Context, to identity.Identity, n notify.Notice) error
}

// Options configure New. Store and Notifier are required.
type Options struct {
	Store    *store.DB
	Notifier Notifier
	// Page is how many identities one store read examines (default 200).
	Page int
	// ProgressEvery tells the admin after this many more recipients were
	// handled (default 100), and at least every ProgressInterval.
	ProgressEvery    int
	ProgressInterval time.Duration // default 1 minute
	Clock            func() time.Time
	Logger           *slog.Logger
}

// Service drafts, confirms and runs broadcasts.
type Service struct {
	db       *store.DB
	notifier Notifier
	page     int
	every    int
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger
	wake     chan struct{}
}

func New(o Options) (*Service, error) {
	if o.Store == nil || o.Notifier == nil {
		return nil, errors.New("broadcast: Store and Notifier are required")
	}
	s := &Service{db: o.Store, notifier: o.Notifier, page: o.Page, every: o.ProgressEvery,
		interval: o.ProgressInterval, now: o.Clock, log: o.Logger, wake: make(chan struct{}, 1)}
	if s.page <= 0 {
		s.page = 200
	}
	if s.every <= 0 {
		s.every = 100
	}
	if s.interval <= 0 {
		s.interval = time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Reach counts the holders of product ("" for all) a broadcast would
// reach now: muted ones are left out. It pages through the index, so
// memory stays flat however many holders there are.
func (s *Service) Reach(ctx context.Context, product string) (int, error) {
	n, cursor := 0, ""
	for {
		hs, next, err := s.db.Holders(ctx, product, cursor, store.MaxHoldersPage)
		if err != nil {
			return 0, err
		}
		for _, h := range hs {
			if !h.Muted {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		cursor = next
	}
}

// Draft stores an unconfirmed broadcast and says how many it reaches.
func (s *Service) Draft(ctx context.Context, admin identity.Identity, product, text string) (uint64, int, error) {
	n, err := s.Reach(ctx, product)
	if err != nil {
		return 0, 0, err
	}
	b, err := s.db.PutBroadcast(ctx, store.Broadcast{Product: product, Text: text, Admin: admin, CreatedAt: s.now()})
	if err != nil {
		return 0, 0, err
	}
	return b.ID, n, nil
}

// Confirm starts a drafted broadcast; pressing the button twice starts
// it once.
func (s *Service) Confirm(ctx context.Context, admin identity.Identity, id uint64) error {
	_, err := s.db.UpdateBroadcast(ctx, id, func(b *store.Broadcast) error {
		if b.Admin != admin {
			return ErrNotYours
		}
		if b.State != store.BroadcastDraft {
			return ErrNotDraft
		}
		b.State = store.BroadcastRunning
		return nil
	})
	if err != nil {
		return err
	}
	s.log.Info("broadcast confirmed", "broadcast", id, "admin", admin.String())
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// SetMuted mutes or unmutes shop announcements for who.
func (s *Service) SetMuted(ctx context.Context, who identity.Identity, muted bool) error {
	return s.db.SetMuted(ctx, who, muted)
}

// Run sends running broadcasts, one after another, until ctx ends;
// unfinished ones are picked up again at the next start.
func (s *Service) Run(ctx context.Context) {
	for {
		jobs, err := s.db.RunningBroadcasts(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Error("broadcasts not read", "err", err)
		}
		for _, b := range jobs {
			if err := s.run(ctx, b); err != nil && ctx.Err() == nil {
				s.log.Error("broadcast stopped", "broadcast", b.ID, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-time.After(time.Minute): // a failed read is tried again
		}
	}
}

// run sends b from its cursor to the end.
func (s *Service) run(ctx context.Context, b store.Broadcast) error {
	s.log.Info("broadcast running", "broadcast", b.ID, "product", b.Product, "from", b.Cursor)
	lastReport := s.now()
	save := func(done bool) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		cur := b
		_, err := s.db.UpdateBroadcast(sctx, b.ID, func(x *store.Broadcast) error {
			x.Cursor, x.Sent, x.Blocked, x.Failed, x.Muted, x.Reported = cur.Cursor, cur.Sent, cur.Blocked, cur.Failed, cur.Muted, cur.Reported
			if done {
				x.State, x.FinishedAt = store.BroadcastDone, s.now()
			}
			return nil
		})
		return err
	}
	for {
		hs, next, err := s.db.Holders(ctx, b.Product, b.Cursor, s.page)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.Muted {
				b.Muted++
				b.Cursor = h.Who.String()
				continue
			}
			n := notify.Say("broadcast.announcement", textAnnouncement, "text", b.Text)
			n.Priority = notify.Bulk
			err := s.notifier.Notify(ctx, h.Who, n)
			switch {
			case err == nil:
				b.Sent++
			case ctx.Err() != nil:
				// Withdrawn by the shutdown: sent after the restart.
				return ctx.Err()
			case errors.Is(err, notify.ErrUndeliverable):
				b.Blocked++
			default:
				b.Failed++
				s.log.Warn("broadcast not delivered", "broadcast", b.ID, "identity", h.Who.String(), "err", err)
			}
			b.Cursor = h.Who.String()
			if err := save(false); err != nil {
				return fmt.Errorf("save broadcast %d: %w", b.ID, err)
			}
			if handled := b.Sent + b.Blocked + b.Failed; handled-b.Reported >= s.every || s.now().Sub(lastReport) >= s.interval {
				b.Reported, lastReport = handled, s.now()
				s.tell(ctx, b, fmt.Sprintf(TextProgress, b.ID, b.Sent, b.Blocked, b.Failed))
			}
		}
		if next == "" {
			break
		}
		b.Cursor = next
	}
	if err := save(true); err != nil {
		return fmt.Errorf("finish broadcast %d: %w", b.ID, err)
	}
	s.log.Info("broadcast finished", "broadcast", b.ID, "sent", b.Sent, "blocked", b.Blocked, "failed", b.Failed, "muted", b.Muted)
	s.tell(context.WithoutCancel(ctx), b, fmt.Sprintf(TextFinished, b.ID, b.Sent, b.Blocked, b.Failed, b.Muted))
	return nil
}

// tell sends the admin who started b a progress line (Normal: ahead of
// the announcements themselves).
func (s *Service) tell(ctx context.Context, b store.Broadcast, text string) {
	if err := s.notifier.Notify(ctx, b.Admin, notify.Notice{Text: text, Priority: notify.Normal}); err != nil {
		s.log.Warn("broadcast progress not told", "broadcast", b.ID, "err", err)
	}
}
