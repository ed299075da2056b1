// Package notify is how the core reaches buyers and admins without importing
// a bot: the core builds platform-neutral notices, each bot adapter renders
// them, and Router picks the adapter from the identity's platform.
package notify

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/words"
)

// TimeLayout is how every message to a person writes a point in time, in
// UTC: "4 Dec 2026 16:12 UTC". One layout, so a buyer never compares two
// spellings of the same date.
const TimeLayout = "2 Jan 2006 15:04 UTC"

// ErrNoRoute is returned when no adapter serves an identity's platform.
var ErrNoRoute = errors.New("no chat adapter for platform")

// ErrUndeliverable means the platform refused the message for good (bot
// blocked, DMs closed); retrying will not help.
var ErrUndeliverable = errors.New("buyer cannot be messaged")

// Link is a URL button.
type Link struct {
	Label string
	URL   string
}

// Priority orders outgoing messages when a platform's rate limit makes
// them wait. The zero value is Urgent: what the core sends a buyer is
// about their money or access unless it says otherwise.
type Priority int

const (
	// Urgent: key deliveries, revocation notices, admin alerts.
	Urgent Priority = iota
	// Normal: replies to commands, informational notices.
	Normal
	// Bulk: reminders and broadcasts; they go last.
	Bulk
)

// Notice is one message to one buyer. Text is plain, user-facing text.
type Notice struct {
	Text string
	// Priority is how soon it must go out; the zero value is Urgent.
	Priority Priority
	// ActivateKey, when set, is a license key the adapter offers to activate
	// with one tap (Telegram button) or explains how to activate (Discord).
	ActivateKey string
	// Renew, when set, is a product id the adapter offers to buy again
	// with one tap (a button that starts /buy for it).
	Renew string
	Links []Link
	// Message, when its Key is set, names the catalog message Text was
	// rendered from in English; the Router renders it again in the
	// recipient's language (see Speaker). Text stays the fallback.
	Message Message
	// Lang is the recipient's remembered language, set by the Router
	// (with a Speaker) for the texts adapters add (how to activate,
	// button labels); "" is English.
	Lang string
}

// Message is a catalog message key and its placeholder values, given as
// name, value pairs ("product", "Pro").
type Message struct {
	Key  string
	Args []any
}

// Speaker knows each recipient's remembered language and renders catalog
// messages in it; ok is false when it cannot (then the English Text is
// sent).
type Speaker interface {
	Language(ctx context.Context, to identity.Identity) string
	Render(lang string, m Message) (text string, ok bool)
}

// Removal is access an adapter took from someone who held it without a
// license (added to a members-only chat by hand, a role given by hand).
type Removal struct {
	Who identity.Identity
	// Place names the chat or role, e.g. "Telegram chat -1001234".
	Place string
	// Reason says what found it: a join, a member update, /sync.
	Reason string
}

// Sender is what each bot adapter implements.
type Sender interface {
	Notify(ctx context.Context, to identity.Identity, n Notice) error
	AlertAdmins(ctx context.Context, text string) error
	// SyncAccess makes the platform's access for who (roles, group
	// membership) match exactly the products they are entitled to now.
	// It is idempotent; products the adapter has no access for are ignored.
	SyncAccess(ctx context.Context, who identity.Identity, products []string) error
}

// Router dispatches to the adapter for each platform. Adapters register after
// construction, which breaks the cycle core → notifier → bot → core.
type Router struct {
	mu       sync.RWMutex
	adapters map[identity.Platform]Sender
	feed     Alerter
	speaker  Speaker
}

var _ Sender = (*Router)(nil)

func NewRouter() *Router { return &Router{adapters: map[identity.Platform]Sender{}} }

// Register makes s the adapter for platform p.
func (r *Router) Register(p identity.Platform, s Sender) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adapters[p] = s
}

func (r *Router) get(p identity.Platform) (Sender, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.adapters[p]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrNoRoute, p)
	}
	return s, nil
}

// SetSpeaker makes the Router render keyed notices in each recipient's
// language before dispatch.
func (r *Router) SetSpeaker(s Speaker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.speaker = s
}

func (r *Router) Notify(ctx context.Context, to identity.Identity, n Notice) error {
	s, err := r.get(to.Platform)
	if err != nil {
		return err
	}
	r.mu.RLock()
	sp := r.speaker
	r.mu.RUnlock()
	if sp != nil {
		n.Lang = sp.Language(ctx, to)
		if n.Message.Key != "" {
			if text, ok := sp.Render(n.Lang, n.Message); ok {
				n.Text = text
			}
		}
	}
	return s.Notify(ctx, to, n)
}

func (r *Router) SyncAccess(ctx context.Context, who identity.Identity, products []string) error {
	s, err := r.get(who.Platform)
	if err != nil {
		return err
	}
	return s.SyncAccess(ctx, who, products)
}

// AlertAdmins tells the admins of every platform; it fails only if all fail.
func (r *Router) AlertAdmins(ctx context.Context, text string) error {
	r.mu.RLock()
	all := make([]Sender, 0, len(r.adapters))
	for _, s := range r.adapters {
		all = append(all, s)
	}
	r.mu.RUnlock()
	var errs []error
	for _, s := range all {
		if err := s.AlertAdmins(ctx, text); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == len(all) && len(all) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// SetFeed makes Alert go through the admin feed (kind filter, channels,
// pacing); without one, Alert tells the admins in private at once.
func (r *Router) SetFeed(f Alerter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.feed = f
}

// Alert tells the admins a, through the admin feed when there is one.
func (r *Router) Alert(ctx context.Context, a Alert) error {
	r.mu.RLock()
	f := r.feed
	r.mu.RUnlock()
	if f != nil {
		return f.Alert(ctx, a)
	}
	return r.AlertAdmins(ctx, a.Text)
}

// Say is a notice of catalog message key whose English text is text
// (with {name} placeholders) filled from args, name, value pairs. The
// Router renders it in the recipient's language when it can.
func Say(key, text string, args ...any) Notice {
	return Notice{Text: words.Fill(text, args...), Message: Message{Key: key, Args: args}}
}
