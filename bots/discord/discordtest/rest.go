package discordtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// apiError is a Discord JSON error.
type apiError struct {
	status  int
	code    int
	message string
}

var (
	errUnauthorized = apiError{401, 0, "401: Unauthorized"}
	errNotFound     = apiError{404, 0, "404: Not Found"}
	errUnknownGuild = apiError{404, 10004, "Unknown Guild"}
	errUnknownMem   = apiError{404, 10007, "Unknown Member"}
	errUnknownRole  = apiError{404, 10011, "Unknown Role"}
	errUnknownChan  = apiError{404, 10003, "Unknown Channel"}
	errUnknownHook  = apiError{404, 10015, "Unknown Webhook"}
	errUnknownInter = apiError{404, 10062, "Unknown interaction"}
	errAcked        = apiError{400, 40060, "Interaction has already been acknowledged."}
	errBadBody      = apiError{400, 50035, "Invalid Form Body"}
	errDMsClosed    = apiError{403, 50007, "Cannot send messages to this user"}
	errNoPerms      = apiError{403, 50013, "Missing Permissions"}
)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/gateway" || r.URL.Path == "/gateway/" {
		s.serveGateway(w, r)
		return
	}
	path, ok := apiPath(r.URL.Path)
	if !ok {
		writeError(w, errNotFound)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: r.Method, Path: path, Body: string(body), Auth: r.Header.Get("Authorization")})
	limited := s.rateLimits[path] > 0
	if limited {
		s.rateLimits[path]--
	}
	s.notifyLocked()
	s.mu.Unlock()
	if limited {
		s.writeRateLimit(w, path)
		return
	}
	seg := strings.Split(strings.Trim(path, "/"), "/")
	// Interaction callbacks and webhook edits authenticate by token.
	if seg[0] != "interactions" && seg[0] != "webhooks" && r.Header.Get("Authorization") != "Bot "+s.opts.BotToken {
		writeError(w, errUnauthorized)
		return
	}
	v, err := s.route(r.Method, seg, r.URL.Query(), body)
	switch {
	case err != nil:
		writeError(w, *err)
	case v == nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// route dispatches on method and path segments. A nil result is 204.
func (s *Server) route(method string, seg []string, q url.Values, body []byte) (any, *apiError) {
	n := len(seg)
	switch {
	case method == "GET" && n == 1 && seg[0] == "gateway":
		return map[string]string{"url": s.GatewayURL()}, nil
	case method == "GET" && n == 2 && seg[0] == "gateway" && seg[1] == "bot":
		return map[string]any{"url": s.GatewayURL(), "shards": 1,
			"session_start_limit": map[string]int{"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1}}, nil
	case method == "GET" && n == 2 && seg[0] == "users" && seg[1] == "@me":
		return map[string]any{"id": s.opts.BotUserID, "username": "shopbot", "bot": true, "discriminator": "0"}, nil
	case method == "POST" && n == 3 && seg[0] == "users" && seg[1] == "@me" && seg[2] == "channels":
		return s.createDM(body)
	case method == "POST" && n == 3 && seg[0] == "channels" && seg[2] == "messages":
		return s.sendMessage(seg[1], body)
	case n == 5 && seg[0] == "applications" && seg[2] == "guilds" && seg[4] == "commands":
		return s.guildCommands(method, seg[1], seg[3], body)
	case method == "POST" && n == 4 && seg[0] == "interactions" && seg[3] == "callback":
		return s.callback(seg[1], seg[2], body)
	case n == 5 && seg[0] == "webhooks" && seg[3] == "messages" && seg[4] == "@original":
		return s.original(method, seg[1], seg[2], body)
	case method == "POST" && n == 3 && seg[0] == "webhooks":
		return s.followup(seg[1], seg[2], body)
	case method == "GET" && n == 3 && seg[0] == "guilds" && seg[1] == s.opts.GuildID && seg[2] == "roles":
		return s.guildRoles(), nil
	case method == "GET" && n == 3 && seg[0] == "guilds" && seg[2] == "members":
		return s.listMembers(seg[1], q)
	case method == "GET" && n == 4 && seg[0] == "guilds" && seg[2] == "members":
		return s.guildMember(seg[1], seg[3])
	case (method == "PUT" || method == "DELETE") && n == 6 && seg[0] == "guilds" && seg[2] == "members" && seg[4] == "roles":
		return nil, s.memberRole(method, seg[1], seg[3], seg[5])
	case n >= 2 && seg[0] == "guilds" && seg[1] != s.opts.GuildID:
		return nil, &errUnknownGuild
	}
	return nil, &errNotFound
}

func (s *Server) createDM(body []byte) (any, *apiError) {
	var in struct {
		RecipientID string `json:"recipient_id"`
	}
	if json.Unmarshal(body, &in) != nil || in.RecipientID == "" {
		return nil, &errBadBody
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.dmChannel[in.RecipientID]
	if !ok {
		ch = s.newIDLocked()
		s.dmChannel[in.RecipientID] = ch
		s.channelUser[ch] = in.RecipientID
	}
	return map[string]any{"id": ch, "type": 1, "recipients": []any{map[string]string{"id": in.RecipientID}}}, nil
}

func (s *Server) sendMessage(channel string, body []byte) (any, *apiError) {
	var in messageBody
	if json.Unmarshal(body, &in) != nil {
		return nil, &errBadBody
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc, ok := s.text[channel]; ok {
		return s.postTextLocked(tc, channel, in)
	}
	user, ok := s.channelUser[channel]
	if !ok {
		return nil, &errUnknownChan
	}
	if s.closedDMs[user] {
		return nil, &errDMsClosed
	}
	m := Message{ID: s.newIDLocked(), ChannelID: channel, Content: in.Content, Buttons: in.buttons()}
	s.dms[user] = append(s.dms[user], m)
	s.notifyLocked()
	return messageJSON(m), nil
}

func (s *Server) guildRoles() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range sortedRoleIDs(s.roles) {
		r := s.roles[id]
		out = append(out, map[string]any{"id": r.ID, "name": r.Name, "position": r.Position,
			"permissions": strconv.FormatInt(r.Permissions, 10), "managed": r.Managed})
	}
	return out
}

func (s *Server) guildMember(guild, user string) (any, *apiError) {
	if guild != s.opts.GuildID {
		return nil, &errUnknownGuild
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.members[user]
	if m == nil {
		return nil, &errUnknownMem
	}
	return s.memberJSONLocked(m, ""), nil
}

// memberRole adds or removes a role, enforcing what Discord enforces: the
// role exists, the bot may manage roles, and the role is below the bot's
// highest role.
func (s *Server) memberRole(method, guild, user, role string) *apiError {
	if guild != s.opts.GuildID {
		return &errUnknownGuild
	}
	s.mu.Lock()
	m := s.members[user]
	var err *apiError
	switch r := s.roles[role]; {
	case m == nil:
		err = &errUnknownMem
	case r == nil:
		err = &errUnknownRole
	case s.denyRoles || r.Position >= s.botTopLocked():
		err = &errNoPerms
	}
	if err != nil {
		s.mu.Unlock()
		return err
	}
	changed := m.roles[role] != (method == "PUT")
	if method == "PUT" {
		m.roles[role] = true
	} else {
		delete(m.roles, role)
	}
	d := s.memberJSONLocked(m, s.opts.GuildID)
	s.notifyLocked()
	s.mu.Unlock()
	if changed {
		// Discord reports every role change on the gateway, the bot's own
		// included, independently of the REST answer; nobody connected
		// (HTTP mode) is fine.
		go func() { _ = s.Dispatch("GUILD_MEMBER_UPDATE", d) }()
	}
	return nil
}

func (s *Server) botTopLocked() int {
	top := 0
	if bot := s.members[s.opts.BotUserID]; bot != nil {
		for id := range bot.roles {
			if r := s.roles[id]; r != nil && r.Position > top {
				top = r.Position
			}
		}
	}
	return top
}

func (s *Server) writeRateLimit(w http.ResponseWriter, path string) {
	secs := s.opts.RetryAfter.Seconds()
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(math.Ceil(secs))))
	h.Set("X-RateLimit-Limit", "1")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
	h.Set("X-RateLimit-Bucket", "fake:"+path)
	h.Set("X-RateLimit-Scope", "user")
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"message": "You are being rate limited.", "retry_after": secs, "global": false,
	})
}

func (e apiError) asError() error { return fmt.Errorf("discordtest: %d %s", e.code, e.message) }

func writeError(w http.ResponseWriter, e apiError) {
	writeJSON(w, e.status, map[string]any{"message": e.message, "code": e.code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"fake: marshal failed","code":0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// apiPath strips /api/v<N> (or /api) from p.
func apiPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/api")
	if !ok {
		return "", false
	}
	if strings.HasPrefix(rest, "/v") {
		i := strings.IndexByte(rest[1:], '/')
		if i < 0 {
			return "", false
		}
		if _, err := strconv.Atoi(rest[2 : i+1]); err != nil {
			return "", false
		}
		rest = rest[i+1:]
	}
	if rest == "" || rest == "/" {
		return "", false
	}
	return rest, true
}

func memberJSON(m *member, guild string) map[string]any {
	out := map[string]any{
		"user":      map[string]any{"id": m.id, "username": m.username, "discriminator": "0"},
		"roles":     sortedKeys(m.roles),
		"joined_at": m.joined.UTC().Format(time.RFC3339),
		"deaf":      false,
		"mute":      false,
	}
	if guild != "" {
		out["guild_id"] = guild
	}
	return out
}

func sortedRoleIDs(roles map[string]*Role) []string {
	ids := make(map[string]bool, len(roles))
	for id := range roles {
		ids[id] = true
	}
	return sortedKeys(ids)
}

func itoa(n int64) string { return fmt.Sprint(n) }
