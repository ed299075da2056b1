package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
	"github.com/shopbot/shopbot/words"
)

// maxRememberedLanguages bounds the in-memory language cache; beyond it
// the oldest entries are dropped and read back from the store on demand.
const maxRememberedLanguages = 50_000

// languages remembers the last chat language of each identity, so notices
// the core sends later (a delivery after payment, a reminder, a
// revocation) are rendered in it. Commands report every language they see
// (Heard); only a change is written to the store, so a command costs no
// write. The Router asks it to render keyed notices (Speak).
type languages struct {
	db      *store.DB
	catalog *words.Catalog
	log     *slog.Logger
	max     int

	mu    sync.Mutex
	known map[identity.Identity]string
	order []identity.Identity // insertion order, for eviction
}

func newLanguages(db *store.DB, c *words.Catalog, log *slog.Logger) *languages {
	return &languages{db: db, catalog: c, log: log, max: maxRememberedLanguages, known: map[identity.Identity]string{}}
}

// Heard records that who writes in lang ("" = the platform said nothing,
// which changes nothing).
func (l *languages) Heard(ctx context.Context, who identity.Identity, lang string) {
	if lang == "" || len(lang) > 35 {
		return
	}
	prev, cached := l.cached(who)
	if !cached {
		var err error
		if prev, err = l.db.Language(ctx, who); err != nil {
			l.log.WarnContext(ctx, "language not read", "identity", who.String(), "err", err)
		}
	}
	l.remember(who, lang)
	if prev == lang {
		return
	}
	if err := l.db.SetLanguage(ctx, who, lang); err != nil {
		l.log.WarnContext(ctx, "language not stored", "identity", who.String(), "err", err)
	}
}

// Of is who's last seen language, "" when unknown.
func (l *languages) Of(ctx context.Context, who identity.Identity) string {
	if lang, ok := l.cached(who); ok {
		return lang
	}
	lang, err := l.db.Language(ctx, who)
	if err != nil {
		l.log.WarnContext(ctx, "language not read", "identity", who.String(), "err", err)
		return ""
	}
	l.remember(who, lang)
	return lang
}

// Language is who's remembered language (notify.Speaker).
func (l *languages) Language(ctx context.Context, who identity.Identity) string {
	return l.Of(ctx, who)
}

// Render renders m in lang (notify.Speaker).
func (l *languages) Render(lang string, m notify.Message) (string, bool) {
	if _, ok := l.catalog.Builtin(m.Key); !ok {
		return "", false
	}
	return l.catalog.Render(lang, m.Key, m.Args...), true
}

func (l *languages) cached(who identity.Identity) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lang, ok := l.known[who]
	return lang, ok
}

func (l *languages) remember(who identity.Identity, lang string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.known[who]; !ok {
		if len(l.order) >= l.max {
			delete(l.known, l.order[0])
			l.order = l.order[1:]
		}
		l.order = append(l.order, who)
	}
	l.known[who] = lang
}
