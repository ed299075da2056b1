package telegramtest

// OpenPrivateChat gives the bot a private chat with user, as when the
// user pressed Start long ago, without an update reaching the bot: tests
// that need many reachable buyers (a broadcast) set them up this way.
func (s *Server) OpenPrivateChat(user User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if user.FirstName == "" {
		user.FirstName = "User " + itoa(user.ID)
	}
	s.rememberUserLocked(&user)
	if _, ok := s.chats[user.ID]; !ok {
		s.chats[user.ID] = &chatState{chat: Chat{ID: user.ID, Type: "private", FirstName: user.FirstName}, members: map[int64]string{}}
	}
}
