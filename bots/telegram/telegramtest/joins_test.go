package telegramtest

import (
	"encoding/json"
	"testing"
)

// wireUpdate decodes updates as a client sees them on the wire.
type wireUpdate struct {
	UpdateID   int64 `json:"update_id"`
	ChatMember *struct {
		Chat          Chat `json:"chat"`
		From          User `json:"from"`
		OldChatMember struct {
			Status string `json:"status"`
			User   User   `json:"user"`
		} `json:"old_chat_member"`
		NewChatMember struct {
			Status string `json:"status"`
			User   User   `json:"user"`
		} `json:"new_chat_member"`
		InviteLink *struct {
			InviteLink string `json:"invite_link"`
		} `json:"invite_link"`
		ViaJoinRequest bool `json:"via_join_request"`
	} `json:"chat_member"`
	ChatJoinRequest *struct {
		Chat       Chat  `json:"chat"`
		From       User  `json:"from"`
		UserChatID int64 `json:"user_chat_id"`
	} `json:"chat_join_request"`
	Message *struct {
		Chat           Chat   `json:"chat"`
		From           *User  `json:"from"`
		NewChatMembers []User `json:"new_chat_members"`
		LeftChatMember *User  `json:"left_chat_member"`
	} `json:"message"`
}

// drain reads and confirms every pending update, asking for kinds.
func drain(t *testing.T, s *Server, kinds string) []wireUpdate {
	t.Helper()
	_, a := post(t, s, s.Token(), "getUpdates", "json", map[string]string{"allowed_updates": kinds})
	var ups []wireUpdate
	if err := json.Unmarshal(a.Result, &ups); err != nil {
		t.Fatalf("getUpdates: %v: %s", err, a.Result)
	}
	if len(ups) > 0 {
		post(t, s, s.Token(), "getUpdates", "json", map[string]string{"offset": itoa(ups[len(ups)-1].UpdateID + 1)})
	}
	return ups
}

func TestJoinsAtTheWire(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	const chat = -100
	owner, ann, bob := User{ID: 1, FirstName: "Olga"}, User{ID: 5, FirstName: "Ann"}, User{ID: 6, FirstName: "Bob"}
	s.AddChat(chat, "Members")
	s.SetMember(chat, owner.ID, StatusCreator)
	all := `["message","chat_member","chat_join_request"]`
	drain(t, s, all)

	// Added by the owner: a chat_member update from the owner, and the
	// new_chat_members service message.
	if err := s.AddMember(chat, owner, ann); err != nil {
		t.Fatal(err)
	}
	ups := drain(t, s, all)
	if len(ups) != 2 || ups[0].ChatMember == nil || ups[1].Message == nil {
		t.Fatalf("owner add: %d updates %+v", len(ups), ups)
	}
	cm := ups[0].ChatMember
	if cm.From.ID != owner.ID || cm.OldChatMember.Status != StatusLeft || cm.NewChatMember.Status != StatusMember || cm.NewChatMember.User.ID != ann.ID || cm.Chat.ID != chat {
		t.Errorf("chat_member = %+v", cm)
	}
	if m := ups[1].Message; len(m.NewChatMembers) != 1 || m.NewChatMembers[0].ID != ann.ID || m.From.ID != owner.ID {
		t.Errorf("service message = %+v", m)
	}
	if err := s.AddMember(chat, ann, bob); err == nil {
		t.Error("a plain member added someone")
	}

	// Through a link: the update names the link.
	_, a := post(t, s, s.Token(), "createChatInviteLink", "json", map[string]string{"chat_id": itoa(chat), "member_limit": "1"})
	var inv struct {
		InviteLink string `json:"invite_link"`
	}
	json.Unmarshal(a.Result, &inv)
	if err := s.UseInvite(bob.ID, inv.InviteLink); err != nil {
		t.Fatal(err)
	}
	ups = drain(t, s, all)
	if len(ups) != 2 || ups[0].ChatMember == nil || ups[0].ChatMember.InviteLink == nil || ups[0].ChatMember.InviteLink.InviteLink != inv.InviteLink || ups[0].ChatMember.From.ID != bob.ID {
		t.Fatalf("link join: %+v", ups)
	}

	// Leaving, and being removed by the bot (ban then unban).
	s.Leave(bob.ID, chat)
	ups = drain(t, s, all)
	if len(ups) != 2 || ups[0].ChatMember.NewChatMember.Status != StatusLeft || ups[1].Message.LeftChatMember == nil || ups[1].Message.LeftChatMember.ID != bob.ID {
		t.Fatalf("leave: %+v", ups)
	}
	post(t, s, s.Token(), "banChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": itoa(ann.ID)})
	post(t, s, s.Token(), "unbanChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": itoa(ann.ID), "only_if_banned": "true"})
	ups = drain(t, s, all)
	if len(ups) != 3 || ups[0].ChatMember.NewChatMember.Status != StatusKicked || ups[0].ChatMember.From.ID != s.BotUser().ID ||
		ups[1].Message.LeftChatMember == nil || ups[2].ChatMember.NewChatMember.Status != StatusLeft {
		t.Fatalf("ban+unban: %+v", ups)
	}

	// Join requests: approved becomes a member, declined does not, and a
	// second decision is refused.
	carl, dora := User{ID: 7}, User{ID: 8}
	for _, u := range []User{carl, dora} {
		if err := s.RequestJoin(u, chat); err != nil {
			t.Fatal(err)
		}
	}
	ups = drain(t, s, all)
	if len(ups) != 2 || ups[0].ChatJoinRequest == nil || ups[0].ChatJoinRequest.From.ID != carl.ID || ups[0].ChatJoinRequest.UserChatID != carl.ID {
		t.Fatalf("join requests: %+v", ups)
	}
	if st, a := post(t, s, s.Token(), "approveChatJoinRequest", "json", map[string]string{"chat_id": itoa(chat), "user_id": itoa(carl.ID)}); st != 200 {
		t.Fatalf("approve: %d %+v", st, a)
	}
	if st, a := post(t, s, s.Token(), "declineChatJoinRequest", "json", map[string]string{"chat_id": itoa(chat), "user_id": itoa(dora.ID)}); st != 200 {
		t.Fatalf("decline: %d %+v", st, a)
	}
	if s.Status(chat, carl.ID) != StatusMember || s.JoinRequest(chat, carl.ID) != RequestApproved {
		t.Errorf("approved: status %s, request %s", s.Status(chat, carl.ID), s.JoinRequest(chat, carl.ID))
	}
	if s.Status(chat, dora.ID) != StatusLeft || s.JoinRequest(chat, dora.ID) != RequestDeclined {
		t.Errorf("declined: status %s, request %s", s.Status(chat, dora.ID), s.JoinRequest(chat, dora.ID))
	}
	if st, _ := post(t, s, s.Token(), "approveChatJoinRequest", "json", map[string]string{"chat_id": itoa(chat), "user_id": itoa(dora.ID)}); st != 400 {
		t.Errorf("second decision: %d, want 400", st)
	}
	ups = drain(t, s, all)
	if len(ups) != 2 || ups[0].ChatMember == nil || !ups[0].ChatMember.ViaJoinRequest || ups[0].ChatMember.NewChatMember.User.ID != carl.ID {
		t.Fatalf("after approval: %+v", ups)
	}

	// Without chat_member in allowed_updates, only the service message
	// comes, as with the real API.
	drain(t, s, `["message"]`)
	s.Leave(carl.ID, chat)
	ups = drain(t, s, `["message"]`)
	if len(ups) != 1 || ups[0].Message == nil || ups[0].Message.LeftChatMember == nil {
		t.Fatalf("without chat_member: %+v", ups)
	}
}
