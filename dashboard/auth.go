package dashboard

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// Limits of the sign-in state, all in memory: a restart signs everyone
// out, which is the safe direction.
const (
	linkTTL      = 5 * time.Minute
	idleTTL      = 30 * time.Minute
	absoluteTTL  = 12 * time.Hour
	maxLinks     = 64
	maxSessions  = 64
	maxHandles   = 256
	tokenBytes   = 32
	handleBytes  = 12
	flashMaxSize = 2048
)

// digest is how tokens are kept: a memory dump or a timing probe of the
// maps reveals no usable token.
type digest [sha256.Size]byte

func hash(token string) digest { return sha256.Sum256([]byte(token)) }

func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails on supported platforms (Go 1.24+).
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

type link struct {
	who     identity.Identity
	expires time.Time
}

// session is one signed-in browser. Its fields are guarded by auth.mu.
type session struct {
	who      identity.Identity
	csrf     string
	created  time.Time
	lastSeen time.Time
	// handles stand for license keys in pages and forms, so a key is in
	// the HTML only when revealed on purpose.
	handles map[string]string
	order   []string
	// flash is a one-time message shown by the next page.
	flash string
}

// view is what a handler may read of a session.
type view struct {
	id   digest
	who  identity.Identity
	csrf string
}

// auth holds the one-time links and the sessions. Both are bounded: when
// full, expired entries go first, then the oldest.
type auth struct {
	now      func() time.Time
	mu       sync.Mutex
	links    map[digest]link
	sessions map[digest]*session
}

func newAuth(now func() time.Time) *auth {
	return &auth{now: now, links: map[digest]link{}, sessions: map[digest]*session{}}
}

// newLink returns a fresh one-time sign-in token for who.
func (a *auth) newLink(who identity.Identity) string {
	token := randomToken(tokenBytes)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.links) >= maxLinks {
		var oldest digest
		var oldestAt time.Time
		for d, l := range a.links {
			if !now.Before(l.expires) {
				delete(a.links, d)
				continue
			}
			if oldestAt.IsZero() || l.expires.Before(oldestAt) {
				oldest, oldestAt = d, l.expires
			}
		}
		if len(a.links) >= maxLinks {
			delete(a.links, oldest)
		}
	}
	a.links[hash(token)] = link{who: who, expires: now.Add(linkTTL)}
	return token
}

// redeem spends a one-time token and starts a session; it returns the
// session cookie's value. A token works once, and only before it expires.
func (a *auth) redeem(token string) (cookie string, who identity.Identity, ok bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	d := hash(token)
	l, found := a.links[d]
	delete(a.links, d)
	if !found || !now.Before(l.expires) {
		return "", identity.Identity{}, false
	}
	if len(a.sessions) >= maxSessions {
		a.evictLocked(now)
	}
	cookie = randomToken(tokenBytes)
	a.sessions[hash(cookie)] = &session{
		who: l.who, csrf: randomToken(tokenBytes), created: now, lastSeen: now,
		handles: map[string]string{},
	}
	return cookie, l.who, true
}

// evictLocked drops expired sessions, and the least recently used one when
// none had expired.
func (a *auth) evictLocked(now time.Time) {
	var lru digest
	var lruAt time.Time
	for d, s := range a.sessions {
		if expired(s, now) {
			delete(a.sessions, d)
			continue
		}
		if lruAt.IsZero() || s.lastSeen.Before(lruAt) {
			lru, lruAt = d, s.lastSeen
		}
	}
	if len(a.sessions) >= maxSessions {
		delete(a.sessions, lru)
	}
}

func expired(s *session, now time.Time) bool {
	return !now.Before(s.lastSeen.Add(idleTTL)) || !now.Before(s.created.Add(absoluteTTL))
}

// lookup finds the live session of a cookie and marks it used; an expired
// one is ended.
func (a *auth) lookup(cookie string) (view, bool) {
	now := a.now()
	d := hash(cookie)
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[d]
	if !ok {
		return view{}, false
	}
	if expired(s, now) {
		delete(a.sessions, d)
		return view{}, false
	}
	s.lastSeen = now
	return view{id: d, who: s.who, csrf: s.csrf}, true
}

// checkCSRF compares a form's token with the session's in constant time.
func (v view) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(v.csrf)) == 1
}

// end ends one session.
func (a *auth) end(id digest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.sessions, id)
}

// endAll ends every session and unused link of who and says how many
// sessions there were.
func (a *auth) endAll(who identity.Identity) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for d, s := range a.sessions {
		if s.who == who {
			delete(a.sessions, d)
			n++
		}
	}
	for d, l := range a.links {
		if l.who == who {
			delete(a.links, d)
		}
	}
	return n
}

// handle returns the session's stand-in for key, making one if needed.
func (a *auth) handle(id digest, key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return ""
	}
	for h, k := range s.handles {
		if k == key {
			return h
		}
	}
	if len(s.order) >= maxHandles {
		delete(s.handles, s.order[0])
		s.order = s.order[1:]
	}
	h := randomToken(handleBytes)
	s.handles[h] = key
	s.order = append(s.order, h)
	return h
}

// key reads back the key a handle stands for in this session.
func (a *auth) key(id digest, handle string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return "", false
	}
	k, ok := s.handles[handle]
	return k, ok
}

// setFlash leaves a message for the session's next page.
func (a *auth) setFlash(id digest, msg string) {
	if len(msg) > flashMaxSize {
		msg = msg[:flashMaxSize]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.sessions[id]; ok {
		s.flash = msg
	}
}

// takeFlash returns and clears the session's message.
func (a *auth) takeFlash(id digest) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[id]
	if !ok {
		return ""
	}
	msg := s.flash
	s.flash = ""
	return msg
}
