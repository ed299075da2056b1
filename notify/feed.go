package notify

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Poster posts a line into one feed channel (a Telegram chat, a Discord
// channel). Adapters pace it as Normal: behind deliveries, ahead of bulk.
type Poster interface {
	PostFeed(ctx context.Context, text string) error
	// FeedPlace names the channel in messages to the admins.
	FeedPlace() string
}

// AdminAlerter tells the admins in their private chats; Router
// satisfies it.
type AdminAlerter interface {
	AlertAdmins(ctx context.Context, text string) error
}

// FeedOptions configure NewFeed. Admins is required.
type FeedOptions struct {
	// Kinds the feed carries; empty means all.
	Kinds []Kind
	// Channels get every line; with none, lines go to the admins.
	Channels []Poster
	Admins   AdminAlerter
	// Queue bounds the lines waiting to go out (default 256); beyond it
	// lines are counted, not kept, and the count goes out with the next
	// message.
	Queue int
	// Lines bounds the lines one message carries (default 20).
	Lines int
	Log   *slog.Logger
}

// Feed is the admin feed: it keeps the kinds it was asked for and sends
// them to the feed channels or, without one, to the admins. Alert never
// waits for a chat: callers are on input paths (a webhook's worker, a
// member join), so lines go into a bounded queue that Run drains, several
// lines a message when they pile up. A burst beyond the queue is counted
// per kind and told as one line, so memory stays bounded.
type Feed struct {
	kinds    map[Kind]bool
	channels []Poster
	admins   AdminAlerter
	lines    int
	log      *slog.Logger
	q        chan Alert

	mu      sync.Mutex
	dropped map[Kind]int
}

var _ Alerter = (*Feed)(nil)

func NewFeed(o FeedOptions) *Feed {
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.Lines <= 0 {
		o.Lines = 20
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	f := &Feed{channels: o.Channels, admins: o.Admins, lines: o.Lines, log: o.Log,
		q: make(chan Alert, o.Queue), dropped: map[Kind]int{}}
	if len(o.Kinds) > 0 {
		f.kinds = map[Kind]bool{}
		for _, k := range o.Kinds {
			f.kinds[k] = true
		}
	}
	return f
}

// Wants reports whether the feed carries kind.
func (f *Feed) Wants(k Kind) bool { return f.kinds == nil || f.kinds[k] }

// Alert queues a for the feed; it never blocks and never fails.
func (f *Feed) Alert(_ context.Context, a Alert) error {
	if !f.Wants(a.Kind) {
		return nil
	}
	select {
	case f.q <- a:
	default:
		f.mu.Lock()
		f.dropped[a.Kind]++
		f.mu.Unlock()
	}
	return nil
}

// Run sends queued lines until ctx ends, then sends what is left (for at
// most five seconds).
func (f *Feed) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			for f.flush(last, nil) {
			}
			return
		case a := <-f.q:
			f.flush(ctx, &a)
		}
	}
}

// flush sends first and whatever else is queued (up to the line bound) as
// one message; it reports whether it sent anything.
func (f *Feed) flush(ctx context.Context, first *Alert) bool {
	var lines []string
	if first != nil {
		lines = append(lines, first.Text)
	}
more:
	for len(lines) < f.lines {
		select {
		case a := <-f.q:
			lines = append(lines, a.Text)
		default:
			break more
		}
	}
	if d := f.takeDropped(); d != "" {
		lines = append(lines, d)
	}
	if len(lines) == 0 {
		return false
	}
	f.send(ctx, strings.Join(lines, "\n"))
	return true
}

func (f *Feed) takeDropped() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dropped) == 0 {
		return ""
	}
	parts := make([]string, 0, len(f.dropped))
	total := 0
	for k, n := range f.dropped {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	slices.Sort(parts)
	clear(f.dropped)
	return fmt.Sprintf("…and %d more alerts not listed (%s).", total, strings.Join(parts, ", "))
}

// send posts text to every feed channel; a channel that refuses it (the
// bot was removed, lacks the right to post) is a missing permission, so
// the admins get the text and why in private instead.
func (f *Feed) send(ctx context.Context, text string) {
	if len(f.channels) == 0 {
		if err := f.admins.AlertAdmins(ctx, text); err != nil {
			f.log.Warn("admin feed: admins not told", "err", err)
		}
		return
	}
	for _, c := range f.channels {
		err := c.PostFeed(ctx, text)
		if err == nil {
			continue
		}
		f.log.Warn("admin feed: channel refused a line", "channel", c.FeedPlace(), "err", err)
		if ctx.Err() != nil {
			continue
		}
		msg := fmt.Sprintf("The admin feed channel %s refused a message (%v); check the bot's rights there.\n%s", c.FeedPlace(), err, text)
		if aerr := f.admins.AlertAdmins(ctx, msg); aerr != nil {
			f.log.Warn("admin feed: admins not told", "err", aerr)
		}
	}
}
