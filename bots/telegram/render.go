package telegram

import (
	"strings"
	"unicode/utf16"

	"github.com/go-telegram/bot/models"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/notify"
)

// Rendering uses parse_mode HTML: it needs only <, > and & escaped, where
// MarkdownV2 needs a dozen characters escaped differently inside code.

const (
	// maxTextUnits cuts a pathologically long text (say, /license of a
	// buyer with hundreds of keys) below Telegram's limit of 4096 UTF-16
	// units of visible text (markup does not count).
	maxTextUnits = 4000
	// maxCallbackData is Telegram's limit on callback_data, in bytes.
	maxCallbackData = 64
)

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return htmlEscaper.Replace(s) }

// renderText turns a commands reply text into HTML: everything escaped,
// `spans` as <code>. An unpaired backtick stays a literal backtick.
func renderText(s string) string {
	return commands.RenderSpans(truncate(s), escape, func(code string) string { return "<code>" + escape(code) + "</code>" })
}

// renderNotice renders a core notice: plain text, with the license key
// (if any) monospaced so it copies with one tap, appended if the text
// does not already show it.
func (b *Bot) renderNotice(n notify.Notice) string {
	key := n.ActivateKey
	out := escape(truncate(n.Text))
	if key == "" {
		return out
	}
	k := escape(key)
	if strings.Contains(out, k) {
		out = strings.ReplaceAll(out, k, "<code>"+k+"</code>")
	} else {
		out += "\n\n<code>" + k + "</code>"
	}
	return out + "\n" + escape(commands.Say(b.words, n.Lang, "notice.activate_in_chat"))
}

func truncate(s string) string {
	// UTF-8 never takes fewer bytes than UTF-16 units.
	if len(s) <= maxTextUnits {
		return s
	}
	units := 0
	for i, r := range s {
		n := utf16.RuneLen(r)
		if n < 0 {
			n = 1
		}
		if units+n > maxTextUnits {
			return s[:i] + "…"
		}
		units += n
	}
	return s
}

// inlineKeyboard is reply_markup with only the fields shopbot uses. The
// library's InlineKeyboardButton always serialises an empty copy_text
// object, which Telegram has been seen to reject (BUTTON_COPY_TEXT_INVALID).
type inlineKeyboard struct {
	InlineKeyboard [][]inlineButton `json:"inline_keyboard"`
}

type inlineButton struct {
	Text         string `json:"text"`
	URL          string `json:"url,omitempty"`
	CallbackData string `json:"callback_data,omitempty"`
}

// keyboard renders reply buttons; nil when there are none. Buttons that
// cannot be sent (callback data over 64 bytes) are dropped and logged
// rather than failing the whole message.
func (b *Bot) keyboard(rows [][]commands.Button) *inlineKeyboard {
	var kb inlineKeyboard
	for _, row := range rows {
		var out []inlineButton
		for _, btn := range row {
			ib := inlineButton{Text: btn.Label}
			switch {
			case btn.URL != "":
				ib.URL = btn.URL
			case btn.Start != "":
				ib.URL = b.DeepLink(btn.Start)
			case btn.Data != "" && len(btn.Data) <= maxCallbackData:
				ib.CallbackData = btn.Data
			default:
				b.log.Warn("telegram: dropped a button that cannot be sent", "label", btn.Label, "data_bytes", len(btn.Data))
				continue
			}
			if ib.Text == "" {
				ib.Text = commands.LabelOpen
			}
			out = append(out, ib)
		}
		if len(out) > 0 {
			kb.InlineKeyboard = append(kb.InlineKeyboard, out)
		}
	}
	if len(kb.InlineKeyboard) == 0 {
		return nil
	}
	return &kb
}

// noticeKeyboard is the keyboard of a notice: the Activate button, the
// Renew button, then one row per link.
func (b *Bot) noticeKeyboard(n notify.Notice) *inlineKeyboard {
	var kb inlineKeyboard
	if n.ActivateKey != "" {
		if data := commands.ActivateData(n.ActivateKey); len(data) <= maxCallbackData {
			kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{{Text: commands.Say(b.words, n.Lang, "notice.activate_button"), CallbackData: data}})
		}
	}
	if n.Renew != "" {
		if data := commands.BuyData(n.Renew); len(data) <= maxCallbackData {
			kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{{Text: commands.Say(b.words, n.Lang, "notice.renew_button"), CallbackData: data}})
		}
	}
	for _, l := range n.Links {
		if l.URL == "" {
			continue
		}
		label := l.Label
		if label == "" {
			label = commands.LabelOpen
		}
		kb.InlineKeyboard = append(kb.InlineKeyboard, []inlineButton{{Text: label, URL: l.URL}})
	}
	if len(kb.InlineKeyboard) == 0 {
		return nil
	}
	return &kb
}

// isPrivate reports whether a chat is a one-to-one chat with the user.
func isPrivate(c models.Chat) bool { return c.Type == models.ChatTypePrivate }

// menu converts the commands' menu to setMyCommands entries.
func menu(entries []commands.MenuEntry) []models.BotCommand {
	out := make([]models.BotCommand, len(entries))
	for i, e := range entries {
		out[i] = models.BotCommand{Command: e.Command, Description: e.Description}
	}
	return out
}

// scopeChat is the command-menu scope of one private chat (an admin's).
func scopeChat(id int64) models.BotCommandScope { return &models.BotCommandScopeChat{ChatID: id} }
