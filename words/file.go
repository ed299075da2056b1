package words

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads a messages file into a copy of c. defaultLang ("" = English)
// is the language of readers whose own the file does not have; it must be
// English or a table of the file. Every problem is reported, each naming
// the file, the language and the key: an unknown key, or a text whose
// placeholders differ from the built-in text's (one missing or unknown).
func (c *Catalog) Load(path, defaultLang string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("messages file: %w", err)
	}
	return c.Parse(path, data, defaultLang)
}

// Parse is Load for data already read; name is used in errors.
func (c *Catalog) Parse(name string, data []byte, defaultLang string) (*Catalog, error) {
	var doc map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("messages file %s: %w", name, err)
	}
	out := &Catalog{builtin: c.builtin, order: c.order, langs: map[string]map[string]string{}, def: English}
	var errs []error
	raw := map[string]map[string]string{}
	for lang, v := range doc {
		table, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("messages file %s: %s is not a language table; write texts under [de], [pt-br], ...", name, lang))
			continue
		}
		raw[lang] = map[string]string{}
		errs = append(errs, flatten(name, lang, "", table, raw[lang])...)
	}
	langs := make([]string, 0, len(raw))
	for l := range raw {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		tag := normalize(lang)
		if tag == "" {
			errs = append(errs, fmt.Errorf("messages file %s: empty language name", name))
			continue
		}
		if _, dup := out.langs[tag]; dup {
			errs = append(errs, fmt.Errorf("messages file %s: language [%s] given twice", name, lang))
			continue
		}
		table := map[string]string{}
		keys := make([]string, 0, len(raw[lang]))
		for k := range raw[lang] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, key := range keys {
			text := raw[lang][key]
			if err := c.checkText(key, text); err != nil {
				errs = append(errs, fmt.Errorf("messages file %s, language [%s], key %s: %w", name, lang, key, err))
				continue
			}
			table[key] = text
		}
		out.langs[tag] = table
	}
	if defaultLang != "" {
		tag := normalize(defaultLang)
		if _, ok := out.langs[tag]; !ok && tag != English {
			errs = append(errs, fmt.Errorf("messages file %s: default language %q has no [%s] table", name, defaultLang, defaultLang))
		} else {
			out.def = tag
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// flatten collects the texts of one language table; a dotted key may be
// written bare (activate.done = "..."), which TOML reads as nested tables.
func flatten(name, lang, prefix string, table map[string]any, out map[string]string) []error {
	var errs []error
	for k, v := range table {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		switch v := v.(type) {
		case string:
			out[key] = v
		case map[string]any:
			errs = append(errs, flatten(name, lang, key, v, out)...)
		default:
			errs = append(errs, fmt.Errorf("messages file %s, language [%s], key %s: the text must be a string in quotes, not %T", name, lang, key, v))
		}
	}
	return errs
}

// checkText accepts a replacement for key when key is built in and the
// replacement uses exactly the built-in text's placeholders.
func (c *Catalog) checkText(key, text string) error {
	def, ok := c.builtin[key]
	if !ok {
		return errors.New("unknown message key (`shopbot messages` prints every key)")
	}
	if strings.TrimSpace(text) == "" {
		return errors.New("empty text")
	}
	want, got := placeholders(def), placeholders(text)
	var missing, unknown []string
	for p := range want {
		if !got[p] {
			missing = append(missing, "{"+p+"}")
		}
	}
	for p := range got {
		if !want[p] {
			unknown = append(unknown, "{"+p+"}")
		}
	}
	sort.Strings(missing)
	sort.Strings(unknown)
	switch {
	case len(missing) > 0 && len(unknown) > 0:
		return fmt.Errorf("missing placeholder %s and unknown placeholder %s", strings.Join(missing, ", "), strings.Join(unknown, ", "))
	case len(missing) > 0:
		return fmt.Errorf("missing placeholder %s", strings.Join(missing, ", "))
	case len(unknown) > 0:
		return fmt.Errorf("unknown placeholder %s (this message knows %s)", strings.Join(unknown, ", "), placeholderList(want))
	}
	return nil
}

func placeholderList(set map[string]bool) string {
	if len(set) == 0 {
		return "none"
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, "{"+p+"}")
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// WriteTOML writes the built-in table as a messages file: one [en] table,
// every key with its English text, ready to copy into [de] and translate.
func (c *Catalog) WriteTOML(w io.Writer) error {
	var b strings.Builder
	b.WriteString("# shopbot messages: copy this table, rename [en] to your language\n")
	b.WriteString("# (e.g. [de], [pt-br]) and translate the texts you want to change;\n")
	b.WriteString("# delete the lines you keep in English. Keep every {placeholder} of a\n")
	b.WriteString("# text (their order is free). Point config.toml's [messages] file here.\n\n[en]\n")
	for _, k := range c.order {
		fmt.Fprintf(&b, "%s = %s\n", k, quote(c.builtin[k]))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
