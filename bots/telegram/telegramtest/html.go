package telegramtest

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Telegram's HTML parse mode accepts a small tag set and only the entities
// &lt; &gt; &amp; &quot; and numeric ones; anything else is a 400. The fake
// is as strict, so an adapter that forgets to escape fails its tests.

var hrefAttr = regexp.MustCompile(`(?i)href\s*=\s*"([^"]*)"`)

// entityType maps a tag to the entity it makes; ok is false for tags the
// API rejects. span is only valid as <span class="tg-spoiler">.
func entityType(name, attrs string) (typ string, ok bool) {
	switch name {
	case "b", "strong":
		return "bold", true
	case "i", "em":
		return "italic", true
	case "u", "ins":
		return "underline", true
	case "s", "strike", "del":
		return "strikethrough", true
	case "tg-spoiler":
		return "spoiler", true
	case "span":
		return "spoiler", strings.Contains(attrs, `class="tg-spoiler"`)
	case "code":
		return "code", true
	case "pre":
		return "pre", true
	case "a":
		return "text_link", true
	case "blockquote":
		return "blockquote", true
	case "tg-emoji":
		return "custom_emoji", true
	}
	return "", false
}

type openTag struct {
	name, typ, url string
	start          int
}

// parseHTML returns the plain text and its entities (UTF-16 offsets).
func parseHTML(s string) (string, []Entity, error) {
	var out strings.Builder
	var stack []openTag
	var ents []Entity
	units := 0
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			j := strings.IndexByte(s[i:], '>')
			if j < 0 {
				return "", nil, fmt.Errorf("Unclosed start tag at byte offset %d", i)
			}
			tag := s[i+1 : i+j]
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				name = strings.ToLower(strings.TrimSpace(name))
				if len(stack) == 0 || stack[len(stack)-1].name != name {
					return "", nil, fmt.Errorf("Unmatched end tag at byte offset %d, expected \"</%s>\", found \"</%s>\"", i, top(stack), name)
				}
				o := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if units > o.start && o.typ != "" {
					ents = append(ents, Entity{Type: o.typ, Offset: o.start, Length: units - o.start, URL: o.url})
				}
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				typ, ok := entityType(name, attrs)
				if !ok {
					return "", nil, fmt.Errorf("Unsupported start tag \"%s\" at byte offset %d", name, i)
				}
				o := openTag{name: name, typ: typ, start: units}
				if name == "a" {
					m := hrefAttr.FindStringSubmatch(attrs)
					if m == nil {
						o.typ = ""
					} else {
						o.url = m[1]
					}
				}
				stack = append(stack, o)
			}
			i += j + 1
		case '&':
			r, n, ok := decodeEntity(s[i:])
			if !ok {
				return "", nil, fmt.Errorf("Character entity expected at byte offset %d", i)
			}
			out.WriteRune(r)
			units += len(utf16.Encode([]rune{r}))
			i += n
		case '>':
			return "", nil, fmt.Errorf("Unexpected end of name token at byte offset %d", i)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				return "", nil, fmt.Errorf("strings must be encoded in UTF-8")
			}
			out.WriteRune(r)
			units += len(utf16.Encode([]rune{r}))
			i += n
		}
	}
	if len(stack) > 0 {
		return "", nil, fmt.Errorf("Can't find end tag corresponding to start tag \"%s\"", top(stack))
	}
	sort.SliceStable(ents, func(a, b int) bool {
		if ents[a].Offset != ents[b].Offset {
			return ents[a].Offset < ents[b].Offset
		}
		return ents[a].Length > ents[b].Length
	})
	return out.String(), ents, nil
}

func top(stack []openTag) string {
	if len(stack) == 0 {
		return ""
	}
	return stack[len(stack)-1].name
}

// decodeEntity reads one character reference at the start of s.
func decodeEntity(s string) (rune, int, bool) {
	end := strings.IndexByte(s, ';')
	if end < 2 || end > 10 {
		return 0, 0, false
	}
	name := s[1:end]
	switch name {
	case "lt":
		return '<', end + 1, true
	case "gt":
		return '>', end + 1, true
	case "amp":
		return '&', end + 1, true
	case "quot":
		return '"', end + 1, true
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if hex, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = hex, 16
		}
		v, err := strconv.ParseInt(num, base, 32)
		if err == nil && v > 0 && utf8.ValidRune(rune(v)) {
			return rune(v), end + 1, true
		}
	}
	return 0, 0, false
}
