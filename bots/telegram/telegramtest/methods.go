package telegramtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
)

// Limits and shapes from the Bot API documentation.
const (
	maxTextUnits     = 4096
	maxCallbackBytes = 64
)

var (
	commandShape = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	secretShape  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
)

// chatLocked finds the chat a bot call addresses, applying the rules the
// real API enforces for sending: unknown chats are "chat not found", a
// user who blocked the bot answers 403.
func (s *Server) chatLocked(p map[string]string) (*chatState, error) {
	id, ok := parseInt(p, "chat_id")
	if !ok {
		return nil, badRequest("chat not found")
	}
	c, ok := s.chats[id]
	if !ok {
		return nil, badRequest("chat not found")
	}
	if c.chat.Type == "private" && s.blocked[id] {
		return nil, &apiError{code: 403, desc: "Forbidden: bot was blocked by the user"}
	}
	return c, nil
}

// formatText applies parse_mode the way Telegram does: the stored text is
// the plain result, formatting becomes entities, bad markup is a 400.
func formatText(text, mode string) (string, []Entity, error) {
	var plain string
	var ents []Entity
	switch strings.ToLower(mode) {
	case "":
		plain = text
	case "html":
		var err error
		plain, ents, err = parseHTML(text)
		if err != nil {
			return "", nil, badRequest("can't parse entities: " + err.Error())
		}
	default:
		return "", nil, badRequest("unsupported parse_mode")
	}
	if strings.TrimSpace(plain) == "" {
		return "", nil, badRequest("message text is empty")
	}
	if len(utf16.Encode([]rune(plain))) > maxTextUnits {
		return "", nil, badRequest("message is too long")
	}
	return plain, ents, nil
}

// parseKeyboard reads reply_markup; only inline keyboards are modelled.
func parseKeyboard(raw string) (*Keyboard, error) {
	if raw == "" {
		return nil, nil
	}
	var kb Keyboard
	if err := json.Unmarshal([]byte(raw), &kb); err != nil {
		return nil, badRequest("can't parse reply keyboard markup JSON object")
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			switch {
			case b.Text == "":
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			case b.URL == "" && b.CallbackData == "":
				return nil, badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
			case b.URL != "" && !validURL(b.URL):
				return nil, badRequest("BUTTON_URL_INVALID")
			case len(b.CallbackData) > maxCallbackBytes:
				return nil, badRequest("BUTTON_DATA_INVALID")
			}
		}
	}
	return &kb, nil
}

// parseContent reads the text (in its parse mode) and the inline keyboard
// of a sendMessage or editMessageText call.
func parseContent(p map[string]string) (string, []Entity, *Keyboard, error) {
	text, ents, err := formatText(p["text"], p["parse_mode"])
	if err != nil {
		return "", nil, nil, err
	}
	kb, err := parseKeyboard(p["reply_markup"])
	if err != nil {
		return "", nil, nil, err
	}
	return text, ents, kb, nil
}

// postableChatLocked is the chat a bot message goes to; outside private
// chats the bot must be a member, as at Telegram.
func (s *Server) postableChatLocked(p map[string]string) (*chatState, error) {
	c, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	if c.chat.Type != "private" && c.members[s.bot.ID] != StatusAdministrator && c.members[s.bot.ID] != StatusMember {
		return nil, &apiError{code: 403, desc: "Forbidden: bot is not a member of the supergroup chat"}
	}
	return c, nil
}

func (s *Server) sendMessage(p map[string]string) (any, error) {
	text, ents, kb, err := parseContent(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.postableChatLocked(p)
	if err != nil {
		return nil, err
	}
	bot := s.bot
	m := s.addMessageLocked(Message{From: &bot, Chat: c.chat, Text: text, Entities: ents, ReplyMarkup: kb})
	m.Raw, m.ParseMode = p["text"], p["parse_mode"]
	return m.Message, nil
}

func (s *Server) editMessageText(p map[string]string) (any, error) {
	text, ents, kb, err := parseContent(p)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.chatLocked(p)
	if err != nil {
		return nil, err
	}
	id, _ := parseInt(p, "message_id")
	m, ok := s.byID[int(id)]
	if !ok || m.Deleted || m.Chat.ID != c.chat.ID {
		return nil, badRequest("message to edit not found")
	}
	if !m.FromBot() {
		return nil, badRequest("message can't be edited")
	}
	old, _ := json.Marshal(m.ReplyMarkup)
	now, _ := json.Marshal(kb)
	if m.Text == text && string(old) == string(now) {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.Text, m.Entities, m.ReplyMarkup = text, ents, kb
	m.Raw, m.ParseMode = p["text"], p["parse_mode"]
	m.EditDate = s.now().Unix()
	s.notifyLocked()
	return m.Message, nil
}

func (s *Server) deleteMessage(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, _ := parseInt(p, "message_id")
	chatID, _ := parseInt(p, "chat_id")
	c, ok := s.chats[chatID]
	m, found := s.byID[int(id)]
	if !ok || !found || m.Deleted || m.Chat.ID != chatID {
		return nil, badRequest("message to delete not found")
	}
	// Bots may delete their own messages and anything in a private chat;
	// other people's messages in a group need the admin right.
	if !m.FromBot() && c.chat.Type != "private" && c.members[s.bot.ID] != StatusAdministrator {
		return nil, badRequest("message can't be deleted")
	}
	m.Deleted = true
	s.notifyLocked()
	return true, nil
}

func (s *Server) answerCallbackQuery(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	answered, ok := s.queries[p["callback_query_id"]]
	if !ok || answered {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	s.queries[p["callback_query_id"]] = true
	return true, nil
}

// scopeKey names a BotCommandScope for MyCommands.
func scopeKey(raw string) (string, error) {
	if raw == "" {
		return "default", nil
	}
	var sc struct {
		Type   string          `json:"type"`
		ChatID json.RawMessage `json:"chat_id"`
		UserID int64           `json:"user_id"`
	}
	if err := json.Unmarshal([]byte(raw), &sc); err != nil || sc.Type == "" {
		return "", badRequest("can't parse BotCommandScope JSON object")
	}
	switch sc.Type {
	case "default", "all_private_chats", "all_group_chats", "all_chat_administrators":
		return sc.Type, nil
	case "chat", "chat_administrators":
		return sc.Type + ":" + strings.Trim(string(sc.ChatID), `"`), nil
	case "chat_member":
		return fmt.Sprintf("chat_member:%s:%d", strings.Trim(string(sc.ChatID), `"`), sc.UserID), nil
	}
	return "", badRequest("wrong BotCommandScope type specified")
}

func (s *Server) setMyCommands(p map[string]string) (any, error) {
	var cmds []BotCommand
	if err := json.Unmarshal([]byte(p["commands"]), &cmds); err != nil {
		return nil, badRequest("can't parse commands JSON object")
	}
	if len(cmds) > 100 {
		return nil, badRequest("too many commands specified")
	}
	for _, c := range cmds {
		if !commandShape.MatchString(c.Command) || c.Description == "" || len([]rune(c.Description)) > 256 {
			return nil, badRequest("BOT_COMMAND_INVALID")
		}
	}
	key, err := scopeKey(p["scope"])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if chat, ok := strings.CutPrefix(key, "chat:"); ok {
		// A chat scope must name a chat the bot knows, e.g. an admin who
		// has opened the bot.
		id, _ := strconv.ParseInt(chat, 10, 64)
		if _, known := s.chats[id]; !known {
			return nil, badRequest("chat not found")
		}
	}
	s.commands[key] = cmds
	return true, nil
}

func (s *Server) getMyCommands(p map[string]string) (any, error) {
	key, err := scopeKey(p["scope"])
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand{}, s.commands[key]...), nil
}

// setWebhook accepts http:// as well as https:// because the fake and the
// bot both run on loopback; the real API insists on HTTPS.
func (s *Server) setWebhook(p map[string]string) (any, error) {
	u := p["url"]
	if u != "" && !validURL(u) {
		return nil, badRequest("bad webhook: Failed to resolve host: Name or service not known")
	}
	if sec := p["secret_token"]; sec != "" && !secretShape.MatchString(sec) {
		return nil, badRequest("secret token contains unallowed characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = webhookState{url: u, secret: p["secret_token"]}
	s.setAllowedLocked(p)
	if p["drop_pending_updates"] == "true" {
		s.pending = nil
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) deleteWebhook(p map[string]string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhook = webhookState{}
	if p["drop_pending_updates"] == "true" {
		s.pending = nil
	}
	s.notifyLocked()
	return true, nil
}

func (s *Server) getWebhookInfo() (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]any{"url": s.webhook.url, "has_custom_certificate": false, "pending_update_count": len(s.pending)}, nil
}

// addMessageLocked stores a new message with the next id and date.
func (s *Server) addMessageLocked(m Message) *SentMessage {
	s.nextMsg++
	m.MessageID = s.nextMsg
	m.Date = s.now().Unix()
	sm := &SentMessage{Message: m}
	s.messages = append(s.messages, sm)
	s.byID[m.MessageID] = sm
	s.notifyLocked()
	return sm
}

// Messages returns every message in chatID, the users' and the bot's, in
// order, including deleted ones (marked Deleted).
func (s *Server) Messages(chatID int64) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentMessage
	for _, m := range s.messages {
		if m.Chat.ID == chatID {
			out = append(out, *m)
		}
	}
	return out
}

// BotMessages returns the bot's messages in chatID that are not deleted.
func (s *Server) BotMessages(chatID int64) []SentMessage {
	var out []SentMessage
	for _, m := range s.Messages(chatID) {
		if m.FromBot() && !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

// Message returns one message by id.
func (s *Server) Message(id int) (SentMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byID[id]
	if !ok {
		return SentMessage{}, false
	}
	return *m, true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
