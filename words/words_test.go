package words

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := New([]Message{
		{Key: "activate.done", Text: "Activated: {product}.\n{validity}"},
		{Key: "help.header", Text: "What I can do:"},
	}, []Message{
		{Key: "notice.quote", Text: "Say \"hi\"\tnow \\ {name}"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRefusesDuplicateAndMalformedKeys(t *testing.T) {
	if _, err := New([]Message{{Key: "a.b", Text: "x"}}, []Message{{Key: "a.b", Text: "y"}}); err == nil || !strings.Contains(err.Error(), `"a.b" defined twice`) {
		t.Fatalf("duplicate key: err = %v", err)
	}
	if _, err := New([]Message{{Key: "Bad Key", Text: "x"}}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("malformed key: err = %v", err)
	}
}

func TestRenderPicksLanguageAndFallsBack(t *testing.T) {
	c, err := testCatalog(t).Parse("m.toml", []byte(`
[de]
"activate.done" = "{validity}\nAktiviert: {product}."
[pt]
"help.header" = "O que posso fazer:"
[pt-BR]
"activate.done" = "Ativado: {product}. {validity}"
`), "")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ code, key, want string }{
		// Placeholders reordered by the translator.
		{"de", "activate.done", "Gültig.\nAktiviert: Pro."},
		{"de-AT", "activate.done", "Gültig.\nAktiviert: Pro."},
		// Discord's "pt-BR": the exact table first, then its base.
		{"pt-BR", "activate.done", "Ativado: Pro. Gültig."},
		{"pt-BR", "help.header", "O que posso fazer:"},
		{"pt", "activate.done", "Activated: Pro.\nGültig."},
		// A language the file lacks, none, and a key the language lacks: English.
		{"fr", "activate.done", "Activated: Pro.\nGültig."},
		{"", "help.header", "What I can do:"},
		{"de", "help.header", "What I can do:"},
	}
	for _, tc := range cases {
		if got := c.Render(tc.code, tc.key, "product", "Pro", "validity", "Gültig."); got != tc.want {
			t.Errorf("Render(%q, %q) = %q, want %q", tc.code, tc.key, got, tc.want)
		}
	}
	if got := c.Render("de", "no.such"); got != "no.such" {
		t.Errorf("unknown key renders %q, want the key", got)
	}
}

func TestDefaultLanguage(t *testing.T) {
	c, err := testCatalog(t).Parse("m.toml", []byte("[de]\n\"help.header\" = \"Was ich kann:\"\n"), "de")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Render("fr", "help.header"); got != "Was ich kann:" {
		t.Errorf("unknown language with default de: %q", got)
	}
	if got := c.Render("en-US", "help.header"); got != "What I can do:" {
		t.Errorf("English reader with default de: %q", got)
	}
	if _, err := testCatalog(t).Parse("m.toml", []byte("[de]\n\"help.header\" = \"Was ich kann:\"\n"), "fr"); err == nil || !strings.Contains(err.Error(), `default language "fr" has no [fr] table`) {
		t.Errorf("default language without a table: err = %v", err)
	}
}

func TestParseReportsEveryProblemWithFileLanguageAndKey(t *testing.T) {
	_, err := testCatalog(t).Parse("/etc/shop/messages.toml", []byte(`
[de]
"activate.done" = "Aktiviert: {produkt}. {validity}"
"activate.typo" = "x"
"help.header" = "Was ich kann: {extra}"
[fr]
"activate.done" = "Activé."
"help.header" = ""
`), "")
	if err == nil {
		t.Fatal("bad file accepted")
	}
	for _, want := range []string{
		"messages file /etc/shop/messages.toml, language [de], key activate.done: missing placeholder {product} and unknown placeholder {produkt}",
		"messages file /etc/shop/messages.toml, language [de], key activate.typo: unknown message key",
		"messages file /etc/shop/messages.toml, language [de], key help.header: unknown placeholder {extra} (this message knows none)",
		"messages file /etc/shop/messages.toml, language [fr], key activate.done: missing placeholder {product}, {validity}",
		"messages file /etc/shop/messages.toml, language [fr], key help.header: empty text",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseRefusesBadTOML(t *testing.T) {
	for name, data := range map[string]string{
		"syntax":      "[de\n\"help.header\" = \"x\"",
		"not a table": "\"help.header\" = \"x\"",
		"not text":    "[de]\n\"help.header\" = 3",
	} {
		_, err := testCatalog(t).Parse("m.toml", []byte(data), "")
		if err == nil || !strings.Contains(err.Error(), "messages file m.toml") {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
	if _, err := testCatalog(t).Load(filepath.Join(t.TempDir(), "absent.toml"), ""); err == nil || !strings.Contains(err.Error(), "absent.toml") {
		t.Errorf("missing file: err = %v", err)
	}
}

// The printed table is a valid messages file that reproduces every
// built-in text exactly, quotes and escapes included.
func TestWriteTOMLRoundTrips(t *testing.T) {
	c := testCatalog(t)
	var b bytes.Buffer
	if err := c.WriteTOML(&b); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "messages.toml")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := c.Load(path, "")
	if err != nil {
		t.Fatalf("printed table does not load: %v\n%s", err, b.String())
	}
	for _, k := range c.Keys() {
		want, _ := c.Builtin(k)
		if got, ok := loaded.langs["en"][k]; !ok || got != want {
			t.Errorf("%s: printed %q, built in %q", k, got, want)
		}
	}
}
