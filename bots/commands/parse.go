package commands

import (
	"regexp"
	"strings"
	"unicode"
)

// Parsed is a slash command split into its parts.
type Parsed struct {
	// Command is the lower-case name without the slash.
	Command string
	// Mention is the bot name after '@' ("/buy@shop_bot"), empty when the
	// command names no bot. Adapters ignore commands for other bots.
	Mention string
	Args    []string
	// Rest is the text after the command, trimmed, with its line breaks.
	Rest string
}

// Limits on hostile input: Telegram messages are at most 4096 characters,
// and no command takes more than a couple of arguments.
const (
	maxCommandText = 4096
	maxArgs        = 16
)

// botName is a Telegram username: 5-32 characters in practice; the parser
// accepts 1-64 so it never rejects a valid mention by being too strict.
var botName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// ParseCommand reads "/name[@bot] arg arg ..." from a chat message. It
// reports false for anything that is not a well-formed command, so plain
// chatter and malformed input never reach Handle as commands.
func ParseCommand(text string) (Parsed, bool) {
	if len(text) > maxCommandText {
		text = text[:maxCommandText]
	}
	text = strings.ToValidUTF8(text, "\uFFFD")
	if !strings.HasPrefix(text, "/") {
		return Parsed{}, false
	}
	head, rest := text[1:], ""
	if i := strings.IndexFunc(head, unicode.IsSpace); i >= 0 {
		head, rest = head[:i], head[i:]
	}
	name, mention, hasMention := strings.Cut(head, "@")
	name = strings.ToLower(name)
	if !commandName.MatchString(name) {
		return Parsed{}, false
	}
	if hasMention && !botName.MatchString(mention) {
		return Parsed{}, false
	}
	args := strings.Fields(rest)
	if len(args) > maxArgs {
		args = args[:maxArgs]
	}
	if len(args) == 0 {
		args = nil
	}
	return Parsed{Command: name, Mention: mention, Args: args, Rest: strings.TrimSpace(rest)}, true
}
