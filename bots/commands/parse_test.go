package commands

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want Parsed
		ok   bool
	}{
		{"/buy", Parsed{Command: "buy"}, true},
		{"/BUY pro-monthly", Parsed{Command: "buy", Args: []string{"pro-monthly"}, Rest: "pro-monthly"}, true},
		{"/activate@Shop_Bot  ABCD-EFGH\n", Parsed{Command: "activate", Mention: "Shop_Bot", Args: []string{"ABCD-EFGH"}, Rest: "ABCD-EFGH"}, true},
		{"/start buy_pro", Parsed{Command: "start", Args: []string{"buy_pro"}, Rest: "buy_pro"}, true},
		{"/revoke\ttg:1", Parsed{Command: "revoke", Args: []string{"tg:1"}, Rest: "tg:1"}, true},
		{"/broadcast pro Line one\nline two  ", Parsed{Command: "broadcast", Args: []string{"pro", "Line", "one", "line", "two"}, Rest: "pro Line one\nline two"}, true},
		{"hello", Parsed{}, false},
		{"/", Parsed{}, false},
		{"/ buy", Parsed{}, false},
		{"/buy@", Parsed{}, false},
		{"/buy@bad-name", Parsed{}, false},
		{"/bu-y", Parsed{}, false},
		{"/" + strings.Repeat("a", 33), Parsed{}, false},
		{" /buy", Parsed{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseCommand(tt.in)
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	long := "/x" + strings.Repeat(" a", 100)
	if p, _ := ParseCommand(long); len(p.Args) != maxArgs {
		t.Errorf("args not capped: %d", len(p.Args))
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/buy", "/activate@bot KEY", "/start buy_x", "/\xff", "/a@b c\u00a0d", "hello", "/revoke tg:1 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParseCommand(s)
		if !ok {
			if !reflect.DeepEqual(p, Parsed{}) {
				t.Fatalf("rejected input returned %+v", p)
			}
			return
		}
		if !commandName.MatchString(p.Command) {
			t.Fatalf("command %q has a bad shape", p.Command)
		}
		if p.Mention != "" && !botName.MatchString(p.Mention) {
			t.Fatalf("mention %q has a bad shape", p.Mention)
		}
		if len(p.Args) > maxArgs {
			t.Fatalf("%d args", len(p.Args))
		}
		for _, a := range p.Args {
			if a == "" || !utf8.ValidString(a) || strings.IndexFunc(a, unicode.IsSpace) >= 0 {
				t.Fatalf("bad arg %q", a)
			}
		}
		if _, ok := ParseTarget(strings.Join(p.Args, "")); ok && len(p.Args) == 0 {
			t.Fatal("empty target accepted")
		}
	})
}

func TestParseTarget(t *testing.T) {
	if tg, ok := ParseTarget(" tg:12 "); !ok || tg.Who.String() != "tg:12" {
		t.Errorf("identity target = %+v %v", tg, ok)
	}
	if tg, ok := ParseTarget("abcd-1234"); !ok || tg.Key != "ABCD-1234" || tg.String() != "…" {
		t.Errorf("key target = %+v %v", tg, ok)
	}
	for _, bad := range []string{"", "tg:", "x:1", "AB CD", "ключ", "<b>"} {
		if _, ok := ParseTarget(bad); ok {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
	if got := maskKey("ABCD-EFGH-IJKL-MNOP"); got != "ABCD-…-MNOP" {
		t.Errorf("maskKey = %q", got)
	}
}

func TestParseExtension(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "72h": 72 * time.Hour, "90m": 90 * time.Minute,
		"1h30m": 90 * time.Minute, " 7D ": 7 * 24 * time.Hour, "36500d": 36500 * 24 * time.Hour,
	} {
		if got, ok := ParseExtension(in); !ok || got != want {
			t.Errorf("ParseExtension(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "d", "w", "0d", "-1d", "1.5d", "1y", "36501d", "9223372036854775807w", "1e9h", "-5m", "soon"} {
		if got, ok := ParseExtension(in); ok {
			t.Errorf("ParseExtension(%q) = %v, accepted", in, got)
		}
	}
}

func FuzzParseExtension(f *testing.F) {
	for _, s := range []string{"30d", "2w", "72h", "-1d", "99999999999w"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := ParseExtension(s); ok && (d <= 0 || d > maxExtension) {
			t.Fatalf("ParseExtension(%q) = %v", s, d)
		}
	})
}
