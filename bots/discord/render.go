package discord

import (
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/notify"
)

// Discord's limits on what a message may hold.
const (
	maxContentRunes = 2000
	maxButtonsInRow = 5
	maxRows         = 5
	maxLabelRunes   = 80
	maxCustomID     = 100
)

// mdEscaper backslash-escapes the characters Discord markdown gives a
// meaning to. Discord drops the backslash before any punctuation, so an
// escape is never visible.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "|", `\|`,
	">", `\>`, "#", `\#`, "[", `\[`, "]", `\]`, "<", `\<`, "`", "\\`",
)

// escape makes outside text literal. Words that are links are kept as
// they are, so Discord still makes them clickable.
func escape(s string) string {
	var b strings.Builder
	start := -1
	flush := func(end int) {
		if start < 0 {
			return
		}
		w := s[start:end]
		if strings.HasPrefix(w, "https://") || strings.HasPrefix(w, "http://") {
			b.WriteString(w)
		} else {
			b.WriteString(mdEscaper.Replace(w))
		}
		start = -1
	}
	for i, r := range s {
		if r == ' ' || r == '\n' || r == '\t' {
			flush(i)
			b.WriteRune(r)
			continue
		}
		if start < 0 {
			start = i
		}
	}
	flush(len(s))
	return b.String()
}

// renderText turns a commands reply text into Discord markdown:
// everything escaped, `spans` kept as inline code. An unpaired backtick
// stays a literal backtick.
func renderText(s string) string {
	s = truncateRunes(s, maxContentRunes-100)
	s = commands.RenderSpans(s, escape, func(code string) string { return "`" + code + "`" })
	return truncateRunes(s, maxContentRunes)
}

// renderNotice renders a core notice: plain text, with the license key
// (if any) as inline code so it copies with one tap, appended if the
// text does not already show it, and how to activate it.
func (b *Bot) renderNotice(n notify.Notice) string {
	text := escape(truncateRunes(n.Text, maxContentRunes-300))
	if k := n.ActivateKey; k != "" && !strings.Contains(k, "`") {
		ek := escape(k)
		if strings.Contains(text, ek) {
			text = strings.ReplaceAll(text, ek, "`"+k+"`")
		} else {
			text += "\n\n`" + k + "`"
		}
		text += "\n" + escape(commands.Say(b.words, n.Lang, "notice.activate_in_server"))
	}
	return truncateRunes(text, maxContentRunes)
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// components renders reply buttons: URL buttons as link buttons, Data
// buttons as custom_id buttons. Start buttons open a Telegram private chat
// and mean nothing here; Discord replies are already private.
func components(rows [][]commands.Button) []discordgo.MessageComponent {
	var out []discordgo.MessageComponent
	var cur []discordgo.MessageComponent
	flush := func() {
		if len(cur) > 0 && len(out) < maxRows {
			out = append(out, discordgo.ActionsRow{Components: cur})
		}
		cur = nil
	}
	for _, row := range rows {
		for _, btn := range row {
			c, ok := button(btn)
			if !ok {
				continue
			}
			if len(cur) == maxButtonsInRow {
				flush()
			}
			cur = append(cur, c)
		}
		flush()
	}
	return out
}

func button(btn commands.Button) (discordgo.Button, bool) {
	label := btn.Label
	if label == "" {
		label = commands.LabelOpen
	}
	label = truncateRunes(label, maxLabelRunes)
	switch {
	case btn.URL != "":
		return discordgo.Button{Label: label, Style: discordgo.LinkButton, URL: btn.URL}, true
	case btn.Data != "" && len(btn.Data) <= maxCustomID:
		return discordgo.Button{Label: label, Style: discordgo.PrimaryButton, CustomID: btn.Data}, true
	}
	return discordgo.Button{}, false
}

// noticeRows are a notice's buttons: Renew (it starts /buy for the
// product, like the catalog's buttons), then its links.
func (b *Bot) noticeRows(n notify.Notice) []discordgo.MessageComponent {
	row := make([]commands.Button, 0, len(n.Links)+1)
	if n.Renew != "" {
		row = append(row, commands.Button{Label: commands.Say(b.words, n.Lang, "notice.renew_button"), Data: commands.BuyData(n.Renew)})
	}
	for _, l := range n.Links {
		row = append(row, commands.Button{Label: l.Label, URL: l.URL})
	}
	return components([][]commands.Button{row})
}

// noMentions keeps user-supplied text from pinging anyone.
func noMentions() *discordgo.MessageAllowedMentions {
	return &discordgo.MessageAllowedMentions{Parse: []discordgo.AllowedMentionType{}}
}

// message is an immediate ephemeral answer.
func message(r commands.Reply) *discordgo.InteractionResponse {
	text := r.Text
	if text == "" {
		text = commands.TextInternalError
	}
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{
			Content:         renderText(text),
			Components:      components(r.Buttons),
			Flags:           discordgo.MessageFlagsEphemeral,
			AllowedMentions: noMentions(),
		},
	}
}

// deferred is the first answer to anything slow: "thinking…", visible to
// the user only, so the reply that replaces it (which may show a key) is
// ephemeral too.
func deferred() *discordgo.InteractionResponse {
	return &discordgo.InteractionResponse{
		Type: discordgo.InteractionResponseDeferredChannelMessageWithSource,
		Data: &discordgo.InteractionResponseData{Flags: discordgo.MessageFlagsEphemeral},
	}
}

// edit is the deferred answer's replacement.
func edit(r commands.Reply) *discordgo.WebhookEdit {
	content := renderText(r.Text)
	comps := components(r.Buttons)
	if comps == nil {
		comps = []discordgo.MessageComponent{}
	}
	return &discordgo.WebhookEdit{Content: &content, Components: &comps, AllowedMentions: noMentions()}
}
