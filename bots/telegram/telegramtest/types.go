package telegramtest

import (
	"time"
	"unicode/utf16"
)

// The fake speaks the Bot API's JSON through its own small wire types,
// written from the API documentation rather than borrowed from the client
// library, so the adapter is tested against the protocol and not against
// the library's idea of it.

// User is a Telegram user (or the bot itself).
type User struct {
	ID        int64  `json:"id"`
	IsBot     bool   `json:"is_bot"`
	FirstName string `json:"first_name"`
	Username  string `json:"username,omitempty"`
	// LanguageCode is the user's client language ("de"), "" for none.
	LanguageCode string `json:"language_code,omitempty"`
}

// Chat is a private chat (id = user id) or a group (negative id).
type Chat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	Username  string `json:"username,omitempty"`
	FirstName string `json:"first_name,omitempty"`
}

// Entity marks a formatted span; offsets and lengths count UTF-16 units.
type Entity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
	URL    string `json:"url,omitempty"`
}

// Button is an inline keyboard button.
type Button struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

// Keyboard is an inline keyboard (reply_markup).
type Keyboard struct {
	InlineKeyboard [][]Button `json:"inline_keyboard"`
}

// Message is a chat message as the API returns it.
type Message struct {
	MessageID   int       `json:"message_id"`
	From        *User     `json:"from,omitempty"`
	Chat        Chat      `json:"chat"`
	Date        int64     `json:"date"`
	EditDate    int64     `json:"edit_date,omitempty"`
	Text        string    `json:"text,omitempty"`
	Entities    []Entity  `json:"entities,omitempty"`
	ReplyMarkup *Keyboard `json:"reply_markup,omitempty"`
	// Service messages about members joining or leaving a group.
	NewChatMembers []User `json:"new_chat_members,omitempty"`
	LeftChatMember *User  `json:"left_chat_member,omitempty"`
	// Payments in Telegram Stars: see stars.go.
	Invoice           *InvoiceMessage    `json:"invoice,omitempty"`
	SuccessfulPayment *SuccessfulPayment `json:"successful_payment,omitempty"`
	RefundedPayment   *RefundedPayment   `json:"refunded_payment,omitempty"`
}

// CallbackQuery is a pressed inline button.
type CallbackQuery struct {
	ID           string   `json:"id"`
	From         User     `json:"from"`
	Message      *Message `json:"message,omitempty"`
	ChatInstance string   `json:"chat_instance"`
	Data         string   `json:"data,omitempty"`
}

// Update is one incoming event for the bot.
type Update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *Message       `json:"message,omitempty"`
	CallbackQuery *CallbackQuery `json:"callback_query,omitempty"`
	// ChatMember and ChatJoinRequest: see joins.go.
	ChatMember      *ChatMemberUpdated `json:"chat_member,omitempty"`
	ChatJoinRequest *ChatJoinRequest   `json:"chat_join_request,omitempty"`
	// PreCheckoutQuery: see stars.go.
	PreCheckoutQuery *PreCheckoutQuery `json:"pre_checkout_query,omitempty"`
}

// SentMessage is a message recorded by the fake: sent by the bot or by a
// simulated user, with what the fake knows beyond the API view.
type SentMessage struct {
	Message
	// Raw is the text exactly as the bot sent it (before parse_mode was
	// applied); empty for users' messages.
	Raw       string
	ParseMode string
	Deleted   bool
}

// FromBot reports whether the bot sent the message.
func (m SentMessage) FromBot() bool { return m.From != nil && m.From.IsBot }

// Buttons returns the keyboard's buttons row by row, flattened.
func (m SentMessage) Buttons() []Button {
	if m.ReplyMarkup == nil {
		return nil
	}
	var out []Button
	for _, row := range m.ReplyMarkup.InlineKeyboard {
		out = append(out, row...)
	}
	return out
}

// Code returns the text of each code or pre entity, in order: what a user
// sees as monospaced (license keys).
func (m SentMessage) Code() []string {
	units := utf16.Encode([]rune(m.Text))
	var out []string
	for _, e := range m.Entities {
		if e.Type != "code" && e.Type != "pre" {
			continue
		}
		if e.Offset < 0 || e.Offset+e.Length > len(units) {
			continue
		}
		out = append(out, string(utf16.Decode(units[e.Offset:e.Offset+e.Length])))
	}
	return out
}

// Call is one Bot API request the fake answered (getUpdates excluded: it
// would drown everything else).
type Call struct {
	Method string
	// Params are the request's fields as strings: plain values as sent,
	// objects and arrays as JSON text, whatever the body encoding.
	Params map[string]string
	// Status is the HTTP status (and error_code) of the answer.
	Status int
	At     time.Time
}

// Invite is a chat invite link made by the bot.
type Invite struct {
	Link        string
	ChatID      int64
	Name        string
	ExpireDate  time.Time // zero: never
	MemberLimit int       // 0: unlimited
	Uses        int
	Revoked     bool
}

// BotCommand is one entry of the bot's command menu.
type BotCommand struct {
	Command     string `json:"command"`
	Description string `json:"description"`
}

// Member statuses, as getChatMember reports them.
const (
	StatusCreator       = "creator"
	StatusAdministrator = "administrator"
	StatusMember        = "member"
	StatusRestricted    = "restricted"
	StatusLeft          = "left"
	StatusKicked        = "kicked"
)
