package discordtest

// textChannel is a guild text channel the bot may post in (POST
// /channels/{id}/messages), such as the admin feed's.
type textChannel struct {
	msgs   []Message
	denied bool // the bot lacks Send Messages: 50013
}

// AddTextChannel makes a guild text channel with id the bot can post in.
func (s *Server) AddTextChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text[id] == nil {
		s.text[id] = &textChannel{}
	}
}

// DenyPosting makes posts in the text channel fail with 50013 (Missing
// Permissions), as when the bot may not send messages there.
func (s *Server) DenyPosting(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc := s.text[id]; tc != nil {
		tc.denied = true
	}
}

// ChannelMessages lists the messages the bot posted in the text channel.
func (s *Server) ChannelMessages(id string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tc := s.text[id]; tc != nil {
		return append([]Message(nil), tc.msgs...)
	}
	return nil
}

func (s *Server) postTextLocked(tc *textChannel, channel string, in messageBody) (any, *apiError) {
	if tc.denied {
		return nil, &errNoPerms
	}
	m := Message{ID: s.newIDLocked(), ChannelID: channel, Content: in.Content, Buttons: in.buttons()}
	tc.msgs = append(tc.msgs, m)
	s.notifyLocked()
	return messageJSON(m), nil
}
