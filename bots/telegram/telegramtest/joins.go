package telegramtest

import (
	"encoding/json"
	"fmt"
	"slices"
)

// How members come and go, as Telegram reports it: a chat_member update
// (only to bots that list "chat_member" in allowed_updates, and only when
// the bot is an administrator) and, for joins and leaves, a service
// message (new_chat_members / left_chat_member) in the group.

// ChatMemberUpdated is a chat_member update's payload.
type ChatMemberUpdated struct {
	Chat           Chat           `json:"chat"`
	From           User           `json:"from"`
	Date           int64          `json:"date"`
	OldChatMember  map[string]any `json:"old_chat_member"`
	NewChatMember  map[string]any `json:"new_chat_member"`
	InviteLink     map[string]any `json:"invite_link,omitempty"`
	ViaJoinRequest bool           `json:"via_join_request,omitempty"`
}

// ChatJoinRequest is a chat_join_request update's payload.
type ChatJoinRequest struct {
	Chat       Chat  `json:"chat"`
	From       User  `json:"from"`
	UserChatID int64 `json:"user_chat_id"`
	Date       int64 `json:"date"`
}

// Join request states reported by JoinRequest.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDeclined = "declined"
)

// memberJSONLocked is a ChatMember object for uid with status.
func (s *Server) memberJSONLocked(uid int64, status string) map[string]any {
	m := map[string]any{"status": status, "user": s.userLocked(uid)}
	switch status {
	case StatusKicked:
		m["until_date"] = 0
	case StatusRestricted:
		m["is_member"] = true
		m["until_date"] = 0
	case StatusAdministrator:
		m["can_be_edited"] = false
		m["can_delete_messages"] = true
		m["can_restrict_members"] = true
		m["can_invite_users"] = true
	case StatusCreator:
		m["is_anonymous"] = false
	}
	return m
}

// wantsLocked applies allowed_updates as Telegram does: the last list the
// bot gave (getUpdates or setWebhook) holds; before any, every kind but
// chat_member and reactions is sent.
func (s *Server) wantsLocked(kind string) bool {
	if s.allowed == nil {
		return kind != "chat_member" && kind != "message_reaction" && kind != "message_reaction_count"
	}
	return slices.Contains(s.allowed, kind)
}

// setAllowedLocked records an allowed_updates parameter when present.
func (s *Server) setAllowedLocked(p map[string]string) {
	raw, ok := p["allowed_updates"]
	if !ok || raw == "" {
		return
	}
	var kinds []string
	if json.Unmarshal([]byte(raw), &kinds) != nil {
		return
	}
	s.allowed = kinds
}

// changeLocked sets uid's status in c and tells the bot: a chat_member
// update (by from, when the bot may see it) and, for a join or a leave, the
// service message. via carries the invite link used, if any.
func (s *Server) changeLocked(c *chatState, from User, uid int64, status string, via *Invite, viaRequest bool) {
	old := c.members[uid]
	if old == "" {
		old = StatusLeft
	}
	c.members[uid] = status
	if old == status {
		s.notifyLocked()
		return
	}
	if s.wantsLocked("chat_member") && c.members[s.bot.ID] == StatusAdministrator && uid != s.bot.ID {
		upd := &ChatMemberUpdated{
			Chat: c.chat, From: from, Date: s.now().Unix(),
			OldChatMember: s.memberJSONLocked(uid, old), NewChatMember: s.memberJSONLocked(uid, status),
			ViaJoinRequest: viaRequest,
		}
		if via != nil {
			upd.InviteLink = map[string]any{"invite_link": via.Link, "creator": s.bot, "creates_join_request": false, "is_primary": false, "is_revoked": via.Revoked}
		}
		s.nextUpdate++
		s.queueLocked(Update{UpdateID: s.nextUpdate, ChatMember: upd})
	}
	joined, left := isIn(status) && !isIn(old), !isIn(status) && isIn(old)
	if !joined && !left || !s.wantsLocked("message") {
		return
	}
	user := s.userLocked(uid)
	msg := Message{From: &from, Chat: c.chat}
	if joined {
		msg.NewChatMembers = []User{user}
	} else {
		msg.LeftChatMember = &user
	}
	m := s.addMessageLocked(msg)
	sm := m.Message
	s.nextUpdate++
	s.queueLocked(Update{UpdateID: s.nextUpdate, Message: &sm})
}

func isIn(status string) bool {
	switch status {
	case StatusCreator, StatusAdministrator, StatusMember, StatusRestricted:
		return true
	}
	return false
}

// AddMember simulates by (an owner or admin of chatID) adding user to the
// group directly, bypassing any invite link. by must be an administrator
// or the creator, as in Telegram.
func (s *Server) AddMember(chatID int64, by User, user User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok || c.chat.Type == "private" {
		return fmt.Errorf("telegramtest: no group %d", chatID)
	}
	if st := c.members[by.ID]; st != StatusCreator && st != StatusAdministrator {
		return fmt.Errorf("telegramtest: %d cannot add members to %d (status %q)", by.ID, chatID, st)
	}
	s.rememberUserLocked(&by)
	s.rememberUserLocked(&user)
	switch c.members[user.ID] {
	case StatusKicked:
		return ErrBanned
	case StatusMember, StatusAdministrator, StatusCreator, StatusRestricted:
		return nil
	}
	s.changeLocked(c, by, user.ID, StatusMember, nil, false)
	return nil
}

// Promote makes user an administrator of chatID, as the owner does.
func (s *Server) Promote(chatID int64, owner User, userID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok || c.members[owner.ID] != StatusCreator {
		return fmt.Errorf("telegramtest: %d is not the owner of %d", owner.ID, chatID)
	}
	s.changeLocked(c, owner, userID, StatusAdministrator, nil, false)
	return nil
}

func (s *Server) rememberUserLocked(u *User) {
	if u.FirstName == "" {
		u.FirstName = "User " + itoa(u.ID)
	}
	if _, ok := s.users[u.ID]; !ok {
		s.users[u.ID] = *u
	}
}

// RequestJoin simulates user asking to join chatID through a link that
// creates join requests: a chat_join_request update, and (as Telegram
// allows for a while) the bot may then message the user.
func (s *Server) RequestJoin(user User, chatID int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.chats[chatID]
	if !ok || c.chat.Type == "private" {
		return fmt.Errorf("telegramtest: no group %d", chatID)
	}
	if c.members[user.ID] == StatusKicked {
		return ErrBanned
	}
	s.rememberUserLocked(&user)
	if _, ok := s.chats[user.ID]; !ok {
		s.chats[user.ID] = &chatState{chat: Chat{ID: user.ID, Type: "private", FirstName: user.FirstName}, members: map[int64]string{}}
	}
	if c.requests == nil {
		c.requests = map[int64]string{}
	}
	c.requests[user.ID] = RequestPending
	if s.wantsLocked("chat_join_request") {
		s.nextUpdate++
		s.queueLocked(Update{UpdateID: s.nextUpdate, ChatJoinRequest: &ChatJoinRequest{
			Chat: c.chat, From: s.users[user.ID], UserChatID: user.ID, Date: s.now().Unix(),
		}})
	}
	s.notifyLocked()
	return nil
}

// JoinRequest is the state of userID's join request to chatID ("" when
// none was made).
func (s *Server) JoinRequest(chatID, userID int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.chats[chatID]; ok {
		return c.requests[userID]
	}
	return ""
}

// decideJoinLocked checks an approve/decline call: the bot needs the
// invite right and the request must be pending.
func (s *Server) decideJoinLocked(p map[string]string) (*chatState, int64, error) {
	c, err := s.groupLocked(p)
	if err != nil {
		return nil, 0, err
	}
	if c.members[s.bot.ID] != StatusAdministrator {
		return nil, 0, badRequest("not enough rights to manage join requests")
	}
	uid, ok := parseInt(p, "user_id")
	if !ok || uid <= 0 {
		return nil, 0, badRequest("invalid user_id specified")
	}
	if c.requests[uid] != RequestPending {
		return nil, 0, badRequest("HIDE_REQUESTER_MISSING")
	}
	return c, uid, nil
}

func (s *Server) approveChatJoinRequest(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, uid, err := s.decideJoinLocked(p)
	if err != nil {
		return nil, err
	}
	c.requests[uid] = RequestApproved
	s.changeLocked(c, s.bot, uid, StatusMember, nil, true)
	return true, nil
}

func (s *Server) declineChatJoinRequest(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, uid, err := s.decideJoinLocked(p)
	if err != nil {
		return nil, err
	}
	c.requests[uid] = RequestDeclined
	s.notifyLocked()
	return true, nil
}
