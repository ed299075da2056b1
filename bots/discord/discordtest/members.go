package discordtest

import (
	"net/url"
	"sort"
	"strconv"
)

// listMembers is GET /guilds/{id}/members: members in id order after the
// "after" id, "limit" of them (1-1000, default 1), as Discord pages them.
func (s *Server) listMembers(guild string, q url.Values) (any, *apiError) {
	if guild != s.opts.GuildID {
		return nil, &errUnknownGuild
	}
	limit := 1
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, &errBadBody
		}
		limit = n
	}
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, &errBadBody
		}
		after = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type idm struct {
		id uint64
		m  *member
	}
	var all []idm
	for id, m := range s.members {
		n, _ := strconv.ParseUint(id, 10, 64)
		if n > after {
			all = append(all, idm{n, m})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	out := []any{}
	for _, e := range all[:min(limit, len(all))] {
		out = append(out, s.memberJSONLocked(e.m, ""))
	}
	return out, nil
}

// memberJSONLocked marks the bot's own member as a bot.
func (s *Server) memberJSONLocked(m *member, guild string) map[string]any {
	out := memberJSON(m, guild)
	if m.id == s.opts.BotUserID {
		out["user"].(map[string]any)["bot"] = true
	}
	return out
}

// GiveRole has a moderator give userID a role by hand (not through the
// bot) and dispatches GUILD_MEMBER_UPDATE, as Discord does. The dispatch
// error is ErrNoGateway when no bot is connected (HTTP-interaction mode):
// the role is given all the same.
func (s *Server) GiveRole(userID, role string) error {
	s.mu.Lock()
	m := s.members[userID]
	if m == nil {
		s.mu.Unlock()
		return errUnknownMem.asError()
	}
	m.roles[role] = true
	d := s.memberJSONLocked(m, s.opts.GuildID)
	s.notifyLocked()
	s.mu.Unlock()
	return s.Dispatch("GUILD_MEMBER_UPDATE", d)
}

// MemberCount is how many members the guild has, the bot included.
func (s *Server) MemberCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.members)
}
