package telegramtest

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// groupLocked finds a group the bot manages members in. Private chats
// are refused like the real API refuses them.
func (s *Server) groupLocked(p map[string]string) (*chatState, error) {
	id, ok := parseInt(p, "chat_id")
	c, found := s.chats[id]
	if !ok || !found {
		return nil, badRequest("chat not found")
	}
	if c.chat.Type == "private" {
		return nil, badRequest("method is available for supergroup and channel chats only")
	}
	return c, nil
}

func (s *Server) userLocked(id int64) User {
	if u, ok := s.users[id]; ok {
		return u
	}
	if id == s.bot.ID {
		return s.bot
	}
	return User{ID: id, FirstName: "User " + itoa(id)}
}

func (s *Server) getChatMember(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := parseInt(p, "chat_id")
	c, found := s.chats[id]
	if !ok || !found {
		return nil, badRequest("chat not found")
	}
	uid, ok := parseInt(p, "user_id")
	if !ok || uid <= 0 {
		return nil, badRequest("invalid user_id specified")
	}
	status := c.members[uid]
	if status == "" {
		status = StatusLeft
	}
	return s.memberJSONLocked(uid, status), nil
}

func (s *Server) createChatInviteLink(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.groupLocked(p)
	if err != nil {
		return nil, err
	}
	if c.members[s.bot.ID] != StatusAdministrator {
		return nil, badRequest("not enough rights to manage chat invite links")
	}
	limit, _ := parseInt(p, "member_limit")
	if limit < 0 || limit > 99999 {
		return nil, badRequest("member limit must be between 1 and 99999")
	}
	inv := &Invite{ChatID: c.chat.ID, Name: p["name"], MemberLimit: int(limit)}
	if exp, ok := parseInt(p, "expire_date"); ok && exp > 0 {
		inv.ExpireDate = time.Unix(exp, 0)
	}
	s.nextInvite++
	inv.Link = fmt.Sprintf("https://t.me/+fakeinvite%06d", s.nextInvite)
	s.invites[inv.Link] = inv
	s.notifyLocked()
	res := map[string]any{
		"invite_link": inv.Link, "creator": s.bot, "creates_join_request": false,
		"is_primary": false, "is_revoked": false,
	}
	if inv.Name != "" {
		res["name"] = inv.Name
	}
	if !inv.ExpireDate.IsZero() {
		res["expire_date"] = inv.ExpireDate.Unix()
	}
	if inv.MemberLimit > 0 {
		res["member_limit"] = inv.MemberLimit
	}
	return res, nil
}

// restrictableLocked applies the checks banChatMember and unbanChatMember
// share.
func (s *Server) restrictableLocked(p map[string]string) (*chatState, int64, error) {
	c, err := s.groupLocked(p)
	if err != nil {
		return nil, 0, err
	}
	if c.members[s.bot.ID] != StatusAdministrator {
		return nil, 0, badRequest("not enough rights to restrict/unrestrict chat member")
	}
	uid, ok := parseInt(p, "user_id")
	if !ok || uid <= 0 {
		return nil, 0, badRequest("invalid user_id specified")
	}
	switch c.members[uid] {
	case StatusCreator, StatusAdministrator:
		return nil, 0, badRequest("user is an administrator of the chat")
	}
	return c, uid, nil
}

func (s *Server) banChatMember(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, uid, err := s.restrictableLocked(p)
	if err != nil {
		return nil, err
	}
	s.changeLocked(c, s.bot, uid, StatusKicked, nil, false)
	return true, nil
}

// unbanChatMember follows the documented rule: without only_if_banned it
// also removes a current member.
func (s *Server) unbanChatMember(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, uid, err := s.restrictableLocked(p)
	if err != nil {
		return nil, err
	}
	switch st := c.members[uid]; {
	case st == StatusKicked:
		s.changeLocked(c, s.bot, uid, StatusLeft, nil, false)
	case p["only_if_banned"] == "true":
	case st == StatusMember || st == StatusRestricted:
		s.changeLocked(c, s.bot, uid, StatusLeft, nil, false)
	}
	s.notifyLocked()
	return true, nil
}

// AddChat creates a supergroup (id should be negative) with the bot as an
// administrator, as a seller sets up a members-only chat.
func (s *Server) AddChat(id int64, title string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.groupStateLocked(id)
	c.chat.Title = title
	c.members[s.bot.ID] = StatusAdministrator
	s.notifyLocked()
}

// groupStateLocked returns the group, creating it with the bot as a plain
// member.
func (s *Server) groupStateLocked(id int64) *chatState {
	c, ok := s.chats[id]
	if !ok {
		c = &chatState{
			chat:    Chat{ID: id, Type: "supergroup", Title: "Group " + itoa(-id)},
			members: map[int64]string{s.bot.ID: StatusMember},
		}
		s.chats[id] = c
	}
	return c
}

// SetMember sets userID's status in chatID (one of the Status constants),
// creating the group if needed. Use it for the chat's owner and admins,
// or to take the bot's admin rights away.
func (s *Server) SetMember(chatID, userID int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groupStateLocked(chatID).members[userID] = status
	s.notifyLocked()
}

// ErrBanned is returned by Join and UseInvite for a banned user.
var ErrBanned = errors.New("telegramtest: user is banned in this chat")

// Join makes userID a member of chatID directly (a public group).
func (s *Server) Join(userID, chatID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok || c.chat.Type == "private" {
		return fmt.Errorf("telegramtest: no group %d", chatID)
	}
	return s.joinLocked(c, userID, nil)
}

// joinLocked makes userID join by themselves, through via when not nil.
func (s *Server) joinLocked(c *chatState, userID int64, via *Invite) error {
	switch c.members[userID] {
	case StatusKicked:
		return ErrBanned
	case StatusMember, StatusAdministrator, StatusCreator, StatusRestricted:
		return nil
	}
	s.changeLocked(c, s.userLocked(userID), userID, StatusMember, via, false)
	return nil
}

// UseInvite joins userID through an invite link the bot made, enforcing
// its expiry and member limit as Telegram does.
func (s *Server) UseInvite(userID int64, link string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invites[link]
	switch {
	case !ok || inv.Revoked:
		return fmt.Errorf("telegramtest: invite link %q is invalid", link)
	case !inv.ExpireDate.IsZero() && !s.now().Before(inv.ExpireDate):
		return fmt.Errorf("telegramtest: invite link %q expired", link)
	case inv.MemberLimit > 0 && inv.Uses >= inv.MemberLimit:
		return fmt.Errorf("telegramtest: invite link %q is used up", link)
	}
	c := s.chats[inv.ChatID]
	if st := c.members[userID]; st == StatusMember || st == StatusAdministrator || st == StatusCreator {
		return nil
	}
	if err := s.joinLocked(c, userID, inv); err != nil {
		return err
	}
	inv.Uses++
	return nil
}

// Leave makes userID leave chatID.
func (s *Server) Leave(userID, chatID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.chats[chatID]; ok && c.members[userID] != StatusKicked {
		s.changeLocked(c, s.userLocked(userID), userID, StatusLeft, nil, false)
	}
}

// Status is userID's member status in chatID ("left" when unknown).
func (s *Server) Status(chatID, userID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.chats[chatID]; ok && c.members[userID] != "" {
		return c.members[userID]
	}
	return StatusLeft
}

// Members lists the users in chatID (the bot excluded), sorted.
func (s *Server) Members(chatID int64) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	if c, ok := s.chats[chatID]; ok {
		for id, st := range c.members {
			if id == s.bot.ID {
				continue
			}
			switch st {
			case StatusCreator, StatusAdministrator, StatusMember, StatusRestricted:
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Invites lists the invite links the bot made for chatID, oldest first.
func (s *Server) Invites(chatID int64) []Invite {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Invite
	for _, inv := range s.invites {
		if inv.ChatID == chatID {
			out = append(out, *inv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Link < out[j].Link })
	return out
}
