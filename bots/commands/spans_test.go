package commands

import "testing"

func TestRenderSpans(t *testing.T) {
	plain := func(s string) string { return "[" + s + "]" }
	code := func(s string) string { return "<" + s + ">" }
	for _, tc := range []struct{ in, want string }{
		{"", "[]"},
		{"hello", "[hello]"},
		{"key `AB-CD` ok", "[key ]<AB-CD>[ ok]"},
		{"`a``b`", "[]<a>[]<b>[]"},
		{"empty `` span", "[empty ][ span]"},
		{"one ` left", "[one ` left]"},
		{"`a` and ` b", "[]<a>[ and ` b]"},
	} {
		if got := RenderSpans(tc.in, plain, code); got != tc.want {
			t.Errorf("RenderSpans(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
