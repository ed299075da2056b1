package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Updates wait in one queue until the bot confirms them: getUpdates with
// an offset past their id, or a 2xx answer from the webhook. That is the
// real API's at-least-once contract, and it lets tests check that an
// adapter loses nothing across restarts.

const maxLongPoll = 50 * time.Second

// SendText simulates from writing text in chatID — their private chat
// with the bot when chatID == from.ID, else a group (negative id) — and
// queues the update. It returns the new message's id.
func (s *Server) SendText(from User, chatID int64, text string) int {
	u := s.TextUpdate(from, chatID, text)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queueLocked(u)
	return u.Message.MessageID
}

// TextUpdate records the message as SendText does but returns the update
// instead of queueing it, for DeliverWebhook.
func (s *Server) TextUpdate(from User, chatID int64, text string) Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	from.IsBot = false
	if from.FirstName == "" {
		from.FirstName = "User " + itoa(from.ID)
	}
	s.users[from.ID] = from
	var chat Chat
	if chatID == from.ID {
		c, ok := s.chats[chatID]
		if !ok {
			c = &chatState{members: map[int64]string{}}
			s.chats[chatID] = c
		}
		c.chat = Chat{ID: from.ID, Type: "private", FirstName: from.FirstName, Username: from.Username}
		chat = c.chat
	} else {
		c := s.groupStateLocked(chatID)
		if st := c.members[from.ID]; st == "" || st == StatusLeft {
			c.members[from.ID] = StatusMember
		}
		chat = c.chat
	}
	m := s.addMessageLocked(Message{From: &from, Chat: chat, Text: text, Entities: commandEntity(text)})
	msg := m.Message
	s.nextUpdate++
	return Update{UpdateID: s.nextUpdate, Message: &msg}
}

// commandEntity marks a leading /command like Telegram's clients do.
func commandEntity(text string) []Entity {
	if !strings.HasPrefix(text, "/") {
		return nil
	}
	end := strings.IndexAny(text, " \n\t")
	if end < 0 {
		end = len(text)
	}
	return []Entity{{Type: "bot_command", Offset: 0, Length: len(utf16.Encode([]rune(text[:end])))}}
}

// Press simulates from pressing the inline button with callback data on
// the bot's message messageID, and returns the callback query id. Like a
// real client, it can only press a button that is on the message.
func (s *Server) Press(from User, messageID int, data string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byID[messageID]
	if !ok || m.Deleted || !m.FromBot() {
		return "", fmt.Errorf("telegramtest: no bot message %d", messageID)
	}
	found := false
	for _, b := range m.Buttons() {
		found = found || (b.CallbackData != "" && b.CallbackData == data)
	}
	if !found {
		return "", fmt.Errorf("telegramtest: message %d has no button with data %q", messageID, data)
	}
	if from.FirstName == "" {
		from.FirstName = "User " + itoa(from.ID)
	}
	s.nextQuery++
	id := strconv.FormatInt(int64(s.nextQuery)+1000000000000000, 10)
	s.queries[id] = false
	msg := m.Message
	s.nextUpdate++
	s.queueLocked(Update{UpdateID: s.nextUpdate, CallbackQuery: &CallbackQuery{
		ID: id, From: from, Message: &msg, ChatInstance: "ci" + itoa(msg.Chat.ID), Data: data,
	}})
	return id, nil
}

// Answered reports whether the bot answered callback query id.
func (s *Server) Answered(queryID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[queryID]
}

// Pending is the number of updates the bot has not confirmed yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

func (s *Server) queueLocked(u Update) {
	s.pending = append(s.pending, u)
	s.notifyLocked()
}

// getUpdates long-polls: it answers at once when updates are pending,
// else waits up to timeout seconds, returning early when the client goes
// away.
func (s *Server) getUpdates(r *http.Request, p map[string]string) (any, error) {
	offset, _ := parseInt(p, "offset")
	limit, ok := parseInt(p, "limit")
	if !ok || limit < 1 || limit > 100 {
		limit = 100
	}
	timeout, _ := parseInt(p, "timeout")
	wait := min(time.Duration(max(timeout, 0))*time.Second, maxLongPoll)
	deadline := time.Now().Add(wait)
	s.mu.Lock()
	s.setAllowedLocked(p)
	s.mu.Unlock()
	for {
		s.mu.Lock()
		if s.webhook.url != "" {
			s.mu.Unlock()
			return nil, &apiError{code: 409, desc: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"}
		}
		if offset > 0 {
			for len(s.pending) > 0 && s.pending[0].UpdateID < offset {
				s.pending = s.pending[1:]
			}
		}
		if n := len(s.pending); n > 0 {
			out := append([]Update(nil), s.pending[:min(int64(n), limit)]...)
			s.mu.Unlock()
			return out, nil
		}
		changed := s.changed
		s.mu.Unlock()
		left := time.Until(deadline)
		if left <= 0 {
			return []Update{}, nil
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
			t.Stop()
		case <-t.C:
			return []Update{}, nil
		case <-r.Context().Done():
			t.Stop()
			return nil, r.Context().Err()
		case <-s.stop:
			t.Stop()
			return []Update{}, nil
		}
	}
}

// deliverLoop posts queued updates to the webhook in order, one at a
// time, retrying an update until the bot answers 2xx — what Telegram does.
func (s *Server) deliverLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		s.mu.Lock()
		hook := s.webhook
		var next *Update
		if hook.url != "" && len(s.pending) > 0 {
			u := s.pending[0]
			next = &u
		}
		changed := s.changed
		s.mu.Unlock()
		if next == nil {
			select {
			case <-changed:
				continue
			case <-s.stop:
				return
			}
		}
		status, err := s.DeliverWebhook(ctx, hook.url, hook.secret, *next)
		if err == nil && status/100 == 2 {
			s.mu.Lock()
			if len(s.pending) > 0 && s.pending[0].UpdateID == next.UpdateID {
				s.pending = s.pending[1:]
			}
			s.notifyLocked()
			s.mu.Unlock()
			continue
		}
		select {
		case <-time.After(s.retry):
		case <-s.stop:
			return
		}
	}
}

// DeliverWebhook posts update to url as Telegram does: JSON body, and the
// X-Telegram-Bot-Api-Secret-Token header when secret is not empty. It
// returns the HTTP status the bot answered.
func (s *Server) DeliverWebhook(ctx context.Context, url, secret string, update any) (int, error) {
	body, err := json.Marshal(update)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Changed returns a channel that is closed at the fake's next state
// change (a message, a call, a membership change): a live view such as
// the demo's page can long-poll on it.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until cond is true, re-checking after every change of
// the fake's state, or until ctx ends. cond may call the Server.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("telegramtest: condition not met: %w", ctx.Err())
		}
	}
}

// WaitMessage waits for the first bot message in chatID with an id above
// after that satisfies match (nil matches any) and is not deleted.
func (s *Server) WaitMessage(ctx context.Context, chatID int64, after int, match func(SentMessage) bool) (SentMessage, error) {
	var found SentMessage
	err := s.WaitFor(ctx, func() bool {
		for _, m := range s.BotMessages(chatID) {
			if m.MessageID > after && (match == nil || match(m)) {
				found = m
				return true
			}
		}
		return false
	})
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return SentMessage{}, fmt.Errorf("telegramtest: no matching bot message in chat %d: %w", chatID, err)
	}
	return found, err
}
