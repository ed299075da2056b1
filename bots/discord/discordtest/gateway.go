package discordtest

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// heartbeatInterval is what the fake's HELLO asks for, in milliseconds.
const heartbeatInterval = 45000

// ErrNoGateway is returned by dispatches while no bot is connected and
// identified.
var ErrNoGateway = errors.New("discordtest: no identified gateway connection")

type wsConn struct {
	conn       *websocket.Conn
	mu         sync.Mutex
	identified bool // guarded by Server.mu
}

func (c *wsConn) write(v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.conn.WriteJSON(v)
}

type frame struct {
	Op int             `json:"op"`
	D  json.RawMessage `json:"d"`
}

// serveGateway speaks the gateway protocol: HELLO, IDENTIFY → READY,
// RESUME → RESUMED, heartbeats ACKed, dispatches from the control API.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	conn, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsConn{conn: conn}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns[c] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.notifyLocked()
		s.mu.Unlock()
		conn.Close()
	}()
	if c.write(map[string]any{"op": 10, "d": map[string]int{"heartbeat_interval": heartbeatInterval}}) != nil {
		return
	}
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(msg, &f) != nil {
			s.closeWith(c, 4002, "Error while decoding payload.")
			return
		}
		switch f.Op {
		case 1:
			if c.write(map[string]any{"op": 11}) != nil {
				return
			}
		case 2:
			if !s.identify(c, f.D) {
				return
			}
		case 6:
			s.mu.Lock()
			s.seq++
			seq := s.seq
			s.mu.Unlock()
			if c.write(map[string]any{"op": 0, "t": "RESUMED", "s": seq, "d": map[string]any{}}) != nil {
				return
			}
			s.markIdentified(c)
		}
	}
}

func (s *Server) identify(c *wsConn, d json.RawMessage) bool {
	var id struct {
		Token   string `json:"token"`
		Intents int64  `json:"intents"`
	}
	if json.Unmarshal(d, &id) != nil || id.Token != "Bot "+s.opts.BotToken {
		s.closeWith(c, 4004, "Authentication failed.")
		return false
	}
	s.mu.Lock()
	s.intents = id.Intents
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	ready := map[string]any{
		"v":                  10,
		"user":               map[string]any{"id": s.opts.BotUserID, "username": "shopbot", "bot": true, "discriminator": "0"},
		"session_id":         "fake-session",
		"resume_gateway_url": s.GatewayURL(),
		"guilds":             []any{map[string]any{"id": s.opts.GuildID, "unavailable": true}},
		"application":        map[string]any{"id": s.opts.ApplicationID, "flags": 0},
	}
	if c.write(map[string]any{"op": 0, "t": "READY", "s": seq, "d": ready}) != nil {
		return false
	}
	s.markIdentified(c)
	return true
}

func (s *Server) markIdentified(c *wsConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.identified = true
	s.notifyLocked()
}

func (s *Server) closeWith(c *wsConn, code int, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
}

// Connected reports whether a bot is connected and identified.
func (s *Server) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.identified {
			return true
		}
	}
	return false
}

// Intents is the intents bitfield of the last IDENTIFY.
func (s *Server) Intents() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intents
}

// Dispatch sends event t with data d to every identified connection.
func (s *Server) Dispatch(t string, d any) error {
	s.mu.Lock()
	var conns []*wsConn
	for c := range s.conns {
		if c.identified {
			conns = append(conns, c)
		}
	}
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	if len(conns) == 0 {
		return ErrNoGateway
	}
	var errs []error
	for _, c := range conns {
		errs = append(errs, c.write(map[string]any{"op": 0, "t": t, "s": seq, "d": d}))
	}
	return errors.Join(errs...)
}

// DispatchInteraction delivers in over the gateway (INTERACTION_CREATE).
func (s *Server) DispatchInteraction(in Interaction) error {
	return s.Dispatch("INTERACTION_CREATE", json.RawMessage(in.Body))
}

// MemberJoin adds userID to the guild with no roles, as a (re)joining
// member has, and dispatches GUILD_MEMBER_ADD.
func (s *Server) MemberJoin(userID string) error {
	s.mu.Lock()
	m := &member{id: userID, username: "user" + userID, roles: map[string]bool{}, joined: s.opts.Now()}
	s.members[userID] = m
	d := memberJSON(m, s.opts.GuildID)
	s.notifyLocked()
	s.mu.Unlock()
	return s.Dispatch("GUILD_MEMBER_ADD", d)
}
