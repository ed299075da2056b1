package commands

import "strings"

// RenderSpans renders text written in this package's conventions (see
// messages.go) for one platform: the plain parts through plain, the
// contents of each `...` span (without the backticks) through code. An
// unpaired backtick stays a literal backtick in the plain part around it;
// an empty span (two backticks in a row) renders as nothing.
func RenderSpans(text string, plain, code func(string) string) string {
	parts := strings.Split(text, "`")
	if len(parts)%2 == 0 {
		last := len(parts) - 1
		parts[last-1] += "`" + parts[last]
		parts = parts[:last]
	}
	var b strings.Builder
	for i, p := range parts {
		switch {
		case i%2 == 0:
			b.WriteString(plain(p))
		case p != "":
			b.WriteString(code(p))
		}
	}
	return b.String()
}
