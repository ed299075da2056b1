// Package words is shopbot's replaceable message catalog. Every message a
// buyer can read has a stable key, an English text built in by the package
// that sends it, and named placeholders ({product}, {until}) instead of
// positional fmt verbs, so a translator can reorder them. A messages file
// (TOML: one table per language, key = "text") replaces any of them; the
// reader's language picks the table.
//
// The package holds no shopbot types, so the chat layer, the adapters and
// the core can all use it without importing each other.
package words

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Message is one built-in message: its key and its English text.
type Message struct {
	Key  string
	Text string
}

// English is the language of the built-in texts.
const English = "en"

// placeholder is the shape of a named placeholder.
var placeholder = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// keyShape keeps keys usable as bare TOML keys.
var keyShape = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// Catalog renders messages by key in a language. It is read-only after
// construction and safe for concurrent use.
type Catalog struct {
	builtin map[string]string
	order   []string
	// langs maps a lower-case language tag ("de", "pt-br") to its
	// replacements; "en" may replace English texts too.
	langs map[string]map[string]string
	def   string
}

// New builds a catalog of the built-in messages of every table given.
// A duplicate or malformed key is a programming error and reported.
func New(tables ...[]Message) (*Catalog, error) {
	c := &Catalog{builtin: map[string]string{}, langs: map[string]map[string]string{}, def: English}
	for _, t := range tables {
		for _, m := range t {
			if !keyShape.MatchString(m.Key) {
				return nil, fmt.Errorf("words: malformed message key %q", m.Key)
			}
			if _, dup := c.builtin[m.Key]; dup {
				return nil, fmt.Errorf("words: message key %q defined twice", m.Key)
			}
			c.builtin[m.Key] = m.Text
			c.order = append(c.order, m.Key)
		}
	}
	return c, nil
}

// Keys lists the built-in keys in table order.
func (c *Catalog) Keys() []string { return append([]string(nil), c.order...) }

// Builtin is the English text of key.
func (c *Catalog) Builtin(key string) (string, bool) {
	t, ok := c.builtin[key]
	return t, ok
}

// Languages lists the languages the messages file provides, sorted.
func (c *Catalog) Languages() []string {
	out := make([]string, 0, len(c.langs))
	for l := range c.langs {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

// Default is the language used when the reader's is unknown or not in the
// file.
func (c *Catalog) Default() string { return c.def }

// chain lists the tables to try for a platform language code, best
// first: the exact tag ("pt-br"), then its base ("pt"), then the default
// language; an English reader gets the file's [en] only, never the
// default. Telegram sends "de" or "pt-br", Discord "de" or "pt-BR"; both
// are accepted. The built-in English text comes after the chain.
func (c *Catalog) chain(code string) []string {
	code = normalize(code)
	base, _, _ := strings.Cut(code, "-")
	if base == English {
		return []string{English}
	}
	var out []string
	for _, l := range []string{code, base} {
		if _, ok := c.langs[l]; ok && l != "" && (len(out) == 0 || out[0] != l) {
			out = append(out, l)
		}
	}
	return append(out, c.def)
}

func normalize(code string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(code), "_", "-"))
}

// Text is the raw text of key for the language code, placeholders left in:
// the file's text in the first language of the chain that has it, else
// the built-in English. An unknown key yields the key itself so a missing
// table entry shows up in tests instead of an empty message.
func (c *Catalog) Text(code, key string) string {
	for _, l := range c.chain(code) {
		if t, ok := c.langs[l][key]; ok {
			return t
		}
	}
	if t, ok := c.builtin[key]; ok {
		return t
	}
	return key
}

// Render is the text of key in the language code with its placeholders
// filled from args, given as name, value pairs ("product", "Pro"). Values
// are formatted with fmt.Sprint. A placeholder without a value stays as
// written, so a mistake is visible rather than silent.
func (c *Catalog) Render(code, key string, args ...any) string {
	return Fill(c.Text(code, key), args...)
}

// Fill replaces the {name} placeholders of text from name, value pairs.
func Fill(text string, args ...any) string {
	if len(args) == 0 || !strings.Contains(text, "{") {
		return text
	}
	vals := make(map[string]string, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		name, _ := args[i].(string)
		vals[name] = fmt.Sprint(args[i+1])
	}
	return placeholder.ReplaceAllStringFunc(text, func(m string) string {
		if v, ok := vals[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// placeholders is the set of placeholder names in text.
func placeholders(text string) map[string]bool {
	set := map[string]bool{}
	for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
		set[m[1]] = true
	}
	return set
}
