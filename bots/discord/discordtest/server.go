// Package discordtest is an in-process fake of the Discord REST API and
// gateway for shopbot's tests and for `shopbot demo`. It serves the paths
// discordgo calls under /api/v<N>/ (users/@me, guild slash commands, the
// interaction callback and webhook edits, DM channels and messages, guild
// members, member roles and guild roles, gateway) with Discord's JSON
// error codes, and a gateway websocket (hello, identify → READY,
// heartbeat ACK, dispatches).
//
// A control API plays the users (SlashCommand, ComponentClick,
// DispatchInteraction, PostInteraction, MemberJoin), inspects what the bot
// did (Responses, WaitReply, DMs, Roles, Calls, Commands) and injects
// failures (CloseDMs → 50007, DenyRoles → 50013, RateLimitNext → 429). It
// deliberately does not import "testing" so the demo binary can use it.
// All methods are safe for concurrent use.
package discordtest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Options configures the fake. Zero values get working defaults.
type Options struct {
	ApplicationID string // default "100000000000000001"
	BotToken      string // default "fake-bot-token"; requests must send "Bot <token>"
	BotUserID     string // default "100000000000000002"
	GuildID       string // default "200000000000000001"
	// PrivateKey signs HTTP interactions; PublicKey is what the bot
	// verifies with. Default: a fixed test key pair.
	PublicKey  ed25519.PublicKey
	PrivateKey ed25519.PrivateKey
	// RetryAfter is the retry_after of injected 429s; default 100ms.
	RetryAfter time.Duration
	Now        func() time.Time
}

// Role is one guild role.
type Role struct {
	ID          string
	Name        string
	Position    int
	Permissions int64
	Managed     bool
}

// Permission bits the fake knows about.
const (
	PermAdministrator int64 = 1 << 3
	PermManageRoles   int64 = 1 << 28
)

// BotRoleID is the id of the role the fake gives the bot: position 10,
// Manage Roles. Product roles below 10 can be managed by the bot.
const BotRoleID = "300000000000000001"

// Call is one request the fake received.
type Call struct {
	Method string
	// Path is without the /api/v<N> prefix, e.g. "/users/@me/channels".
	Path string
	Body string
	Auth string
}

// Button is a message button as sent by the bot.
type Button struct {
	Label    string
	Style    int
	URL      string
	CustomID string
}

// Message is a message the bot sent to a DM channel.
type Message struct {
	ID        string
	ChannelID string
	Content   string
	Buttons   []Button
}

// Choice is one autocomplete suggestion or command option choice.
type Choice struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// Response is one answer of the bot to an interaction.
type Response struct {
	InteractionID string
	// Kind is "callback" (POST …/callback or the HTTP answer), "edit"
	// (PATCH @original), "delete" (DELETE @original) or "followup".
	Kind string
	// Type is the callback type (1 pong, 4 message, 5 deferred, 8
	// autocomplete); 0 for edits and follow-ups.
	Type    int
	Content string
	Flags   int
	Buttons []Button
	Choices []Choice
}

// Server is the fake Discord.
type Server struct {
	opts Options
	http *httptest.Server
	up   websocket.Upgrader

	mu          sync.Mutex
	changed     chan struct{}
	next        int64
	roles       map[string]*Role
	members     map[string]*member
	dmChannel   map[string]string // user → channel
	channelUser map[string]string // channel → user
	dms         map[string][]Message
	closedDMs   map[string]bool
	text        map[string]*textChannel // guild text channels (textchannels.go)
	denyRoles   bool
	rateLimits  map[string]int
	calls       []Call
	commands    []Command
	inters      map[string]*interaction // by id
	byToken     map[string]*interaction
	responses   []Response
	conns       map[*wsConn]bool
	seq         int64
	intents     int64
	closed      bool
}

type member struct {
	id, username string
	roles        map[string]bool
	joined       time.Time
}

type interaction struct {
	id, token string
	acked     bool
}

// New starts the fake on a loopback port.
func New(opts Options) *Server {
	if opts.ApplicationID == "" {
		opts.ApplicationID = "100000000000000001"
	}
	if opts.BotToken == "" {
		opts.BotToken = "fake-bot-token"
	}
	if opts.BotUserID == "" {
		opts.BotUserID = "100000000000000002"
	}
	if opts.GuildID == "" {
		opts.GuildID = "200000000000000001"
	}
	if opts.PrivateKey == nil {
		seed := sha256.Sum256([]byte("shopbot discordtest key"))
		opts.PrivateKey = ed25519.NewKeyFromSeed(seed[:])
	}
	if opts.PublicKey == nil {
		opts.PublicKey = opts.PrivateKey.Public().(ed25519.PublicKey)
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 100 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:        opts,
		up:          websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		changed:     make(chan struct{}),
		next:        400000000000000000,
		roles:       map[string]*Role{},
		members:     map[string]*member{},
		dmChannel:   map[string]string{},
		channelUser: map[string]string{},
		dms:         map[string][]Message{},
		closedDMs:   map[string]bool{},
		text:        map[string]*textChannel{},
		rateLimits:  map[string]int{},
		inters:      map[string]*interaction{},
		byToken:     map[string]*interaction{},
		conns:       map[*wsConn]bool{},
	}
	s.roles[opts.GuildID] = &Role{ID: opts.GuildID, Name: "@everyone"}
	s.roles[BotRoleID] = &Role{ID: BotRoleID, Name: "shopbot", Position: 10, Permissions: PermManageRoles, Managed: true}
	s.members[opts.BotUserID] = &member{id: opts.BotUserID, username: "shopbot", roles: map[string]bool{BotRoleID: true}, joined: opts.Now()}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the REST root to configure as the bot's API URL.
func (s *Server) URL() string { return s.http.URL }

// GatewayURL is the websocket URL GET /gateway returns.
func (s *Server) GatewayURL() string {
	return "ws" + strings.TrimPrefix(s.http.URL, "http") + "/gateway"
}

func (s *Server) ApplicationID() string          { return s.opts.ApplicationID }
func (s *Server) BotToken() string               { return s.opts.BotToken }
func (s *Server) BotUserID() string              { return s.opts.BotUserID }
func (s *Server) GuildID() string                { return s.opts.GuildID }
func (s *Server) PublicKey() ed25519.PublicKey   { return s.opts.PublicKey }
func (s *Server) PrivateKey() ed25519.PrivateKey { return s.opts.PrivateKey }

// Close ends gateway connections and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.conn.Close()
	}
	s.http.Close()
}

// SetRole adds or replaces a guild role.
func (s *Server) SetRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[r.ID] = &r
	s.notifyLocked()
}

// AddMember puts a user in the guild with roles, without a gateway event.
func (s *Server) AddMember(userID string, roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &member{id: userID, username: "user" + userID, roles: map[string]bool{}, joined: s.opts.Now()}
	for _, r := range roles {
		m.roles[r] = true
	}
	s.members[userID] = m
	s.notifyLocked()
}

// MemberLeave removes a user from the guild; like Discord, their roles go.
func (s *Server) MemberLeave(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members, userID)
	s.notifyLocked()
}

// IsMember reports whether userID is in the guild.
func (s *Server) IsMember(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.members[userID] != nil
}

// Roles lists the member's roles, sorted; nil for non-members.
func (s *Server) Roles(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[userID]
	if m == nil {
		return nil
	}
	return sortedKeys(m.roles)
}

// DMs lists the messages the bot sent the user by DM.
func (s *Server) DMs(userID string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.dms[userID]...)
}

// CloseDMs makes messages to the user fail with 50007.
func (s *Server) CloseDMs(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closedDMs[userID] = true
}

// DenyRoles makes every role change fail with 50013, as when the bot
// lacks Manage Roles; AllowRoles undoes it.
func (s *Server) DenyRoles() { s.setDeny(true) }

// AllowRoles undoes DenyRoles.
func (s *Server) AllowRoles() { s.setDeny(false) }

func (s *Server) setDeny(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denyRoles = v
}

// RateLimitNext answers the next n requests to path (without /api/v<N>,
// e.g. "/users/@me/channels") with 429 and retry_after Options.RetryAfter.
func (s *Server) RateLimitNext(path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimits[path] += n
}

// Calls lists the requests to path, or all requests when path is "".
func (s *Server) Calls(path string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if path == "" || c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

// Responses lists every answer the bot gave to any interaction.
func (s *Server) Responses() []Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Response(nil), s.responses...)
}

// WaitFor blocks until cond (called without the fake's lock) is true or
// ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) newIDLocked() string {
	s.next++
	return itoa(s.next)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
