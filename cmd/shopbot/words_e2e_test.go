package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
)

// germanMessages replaces a few texts in German and one in Portuguese.
const germanMessages = `
[de]
help.header = "Was ich kann:"
help.buy = "Eine Lizenz kaufen"
activate.usage = "Schick deinen Schlüssel so: ` + "`/activate ABCD-EFGH-IJKL-MNOP`" + `"
"chat.unknown_command" = "Diesen Befehl kenne ich nicht. /help zeigt, was ich kann."

[pt]
help.header = "O que posso fazer:"
`

// withMessages writes body as the shop's messages file and points the
// config at it.
func (w *world) withMessages(body, defaultLang string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, "messages.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		w.t.Fatal(err)
	}
	w.extra += fmt.Sprintf("\n[messages]\nfile = %q\ndefault_language = %q\n", path, defaultLang)
	return path
}

// A buyer's Telegram language_code picks the messages file's table for
// /help and /activate; a language the file lacks gets the English text.
func TestTelegramReplyInBuyersLanguage(t *testing.T) {
	w := newWorld(t)
	w.withMessages(germanMessages, "")
	w.start()

	de := telegramtest.User{ID: 7001, FirstName: "Dora", LanguageCode: "de"}
	help := w.say(de, "/help").Text
	if !strings.HasPrefix(help, "Was ich kann:") || !strings.Contains(help, "/buy [PRODUCT [CODE]] — Eine Lizenz kaufen") || !strings.Contains(help, "/activate KEY — Activate a license key") {
		t.Errorf("German /help = %q", help)
	}
	if got := w.say(de, "/activate").Text; got != "Schick deinen Schlüssel so: /activate ABCD-EFGH-IJKL-MNOP" {
		t.Errorf("German /activate = %q", got)
	}
	if got := w.say(de, "/weather").Text; got != "Diesen Befehl kenne ich nicht. /help zeigt, was ich kann." {
		t.Errorf("German unknown command = %q", got)
	}

	fr := telegramtest.User{ID: 7002, FirstName: "Fleur", LanguageCode: "fr"}
	if got := w.say(fr, "/help").Text; !strings.HasPrefix(got, "What I can do:") || !strings.Contains(got, "/buy [PRODUCT [CODE]] — Buy a license") {
		t.Errorf("French (not in the file) /help = %q, want English", got)
	}
	if got := w.say(w.buyer, "/activate").Text; got != "Send your key like this: /activate ABCD-EFGH-IJKL-MNOP" {
		t.Errorf("no language_code /activate = %q, want English", got)
	}
}

// Discord's interaction locale picks the table: "de" exactly, "pt-BR"
// through its base "pt".
func TestDiscordReplyInBuyersLocale(t *testing.T) {
	w := newWorld(t)
	w.withDiscord("http")
	w.withMessages(germanMessages, "")
	w.start()

	de := discordtest.User{ID: "400000000000000051", Username: "dora", Locale: "de"}
	w.dc.AddMember(de.ID)
	if got := w.slash(de, "help").Content; !strings.HasPrefix(got, "Was ich kann:") || !strings.Contains(got, "Eine Lizenz kaufen") {
		t.Errorf("German Discord /help = %q", got)
	}
	br := discordtest.User{ID: "400000000000000052", Username: "bia", Locale: "pt-BR"}
	w.dc.AddMember(br.ID)
	if got := w.slash(br, "help").Content; !strings.HasPrefix(got, "O que posso fazer:") {
		t.Errorf("pt-BR Discord /help = %q", got)
	}
	if got := w.slash(discordBuyer, "help").Content; !strings.HasPrefix(got, "What I can do:") {
		t.Errorf("en-US Discord /help = %q", got)
	}
}

// `shopbot check` loads the messages file and names the file, language
// and key of each bad text; a good file is reported with its languages.
func TestCheckMessagesFile(t *testing.T) {
	w := newWorld(t)
	msgs := w.withMessages(germanMessages, "de")
	cfg := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"check", "-config", cfg}, env, &out, &errOut); code != 0 {
		t.Fatalf("check of a good messages file: exit %d\n%s%s", code, &out, &errOut)
	}
	if !strings.Contains(out.String(), "messages "+msgs+": ok (languages: de, pt; default de)") {
		t.Errorf("check output lacks the messages line:\n%s", &out)
	}

	bad := "[de]\nactivate.done = \"Aktiviert: {produkt}.\"\nactivate.nope = \"x\"\n"
	if err := os.WriteFile(msgs, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"check", "-config", cfg}, env, &out, &errOut); code != 1 {
		t.Fatalf("check of a bad messages file: exit %d, want 1\n%s%s", code, &out, &errOut)
	}
	for _, want := range []string{
		"messages file " + msgs + ", language [de], key activate.done: missing placeholder {product}, {slots}, {used}, {validity} and unknown placeholder {produkt}",
		"messages file " + msgs + ", language [de], key activate.nope: unknown message key",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, &errOut)
		}
	}
}

// `shopbot messages` prints every built-in text as a messages file that
// the loader accepts and that reproduces each text exactly.
func TestMessagesCommandRoundTrips(t *testing.T) {
	var out, errOut bytes.Buffer
	env := func(string) (string, bool) { return "", false }
	if code := run(context.Background(), []string{"messages"}, env, &out, &errOut); code != 0 {
		t.Fatalf("shopbot messages: exit %d\n%s", code, &errOut)
	}
	c, err := builtinWords()
	if err != nil {
		t.Fatal(err)
	}
	// Renamed to a language, the printed table must load and give back
	// every built-in text unchanged.
	loaded, err := c.Parse("printed", bytes.Replace(out.Bytes(), []byte("\n[en]\n"), []byte("\n[xx]\n"), 1), "")
	if err != nil {
		t.Fatalf("printed table does not load: %v", err)
	}
	if len(c.Keys()) < 50 {
		t.Fatalf("only %d built-in messages", len(c.Keys()))
	}
	for _, k := range c.Keys() {
		want, _ := c.Builtin(k)
		if !strings.Contains(out.String(), "\n"+k+" = ") {
			t.Errorf("key %s not printed", k)
		}
		if got := loaded.Text("xx", k); got != want {
			t.Errorf("%s: round trip gives %q, built in %q", k, got, want)
		}
	}
}

// Notices the core sends with no message in hand (the key delivery after
// payment, a revocation after a restart) use the language the buyer last
// wrote in; a buyer whose language the file lacks gets English.
func TestNoticesInRememberedLanguage(t *testing.T) {
	w := newWorld(t)
	w.withMessages(`
[de]
delivery.until = "Danke für deinen Kauf von {product}! Dein Lizenzschlüssel: {key}\nEr gilt bis {until}."
loss.revoked = "Deine Lizenz {key} für {product} wurde widerrufen. Neu kaufen: /buy {id}."
notice.activate_in_chat = "Tippe unten auf Aktivieren."
notice.activate_button = "Aktivieren"
`, "")
	w.buyer.LanguageCode = "de"
	w.start()
	key := w.buyAndDeliver("evt_words_1", "cs_test_words_1")
	var msgs []telegramtest.SentMessage
	for _, m := range w.tg.BotMessages(w.buyer.ID) {
		if len(m.Code()) > 0 {
			msgs = append(msgs, m)
		}
	}
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "Danke für deinen Kauf von Pro! Dein Lizenzschlüssel: "+key+"\nEr gilt bis ") {
		t.Fatalf("delivery = %+v, want the German text", msgs)
	}
	// The adapter's own additions speak German too.
	if !strings.HasSuffix(msgs[0].Text, "\nTippe unten auf Aktivieren.") || len(msgs[0].Buttons()) == 0 || msgs[0].Buttons()[0].Text != "Aktivieren" {
		t.Errorf("delivery hint and button = %q %+v, want German", msgs[0].Text, msgs[0].Buttons())
	}

	// The language survives a restart: the store has it, not only memory.
	w.shutdown()
	w.start()
	after := w.lastID(w.buyer.ID)
	if r := w.answer(w.admin, "/revoke "+key, "Revoked"); !strings.Contains(r.Text, "Revoked 1 license") {
		t.Fatalf("/revoke = %q", r.Text)
	}
	m := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool {
		return strings.Contains(m.Text, "widerrufen") || strings.Contains(m.Text, "revoked")
	}, "revocation notice")
	if !strings.HasPrefix(m.Text, "Deine Lizenz ") || !strings.Contains(m.Text, "für Pro wurde widerrufen. Neu kaufen: /buy pro.") {
		t.Fatalf("revocation notice = %q, want German", m.Text)
	}
}

// A buyer whose language the file lacks gets the key delivery in English,
// exactly as without a messages file.
func TestNoticeFallsBackToEnglish(t *testing.T) {
	w := newWorld(t)
	w.withMessages("[de]\ndelivery.until = \"Danke: {product} {key} {until}\"\n", "")
	w.buyer.LanguageCode = "fr"
	w.start()
	key := w.buyAndDeliver("evt_words_2", "cs_test_words_2")
	msgs := w.keyMessages(w.buyer.ID)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0].Text, "Thank you for your purchase of Pro! Your license key: "+key+"\nIt runs until ") ||
		!strings.HasSuffix(msgs[0].Text, "\nTap Activate below, or send /activate with the key, to start using it.") {
		t.Fatalf("delivery = %+v, want the English text", msgs)
	}
}

// What the Telegram adapter sends on its own, a declined join request,
// speaks the language the stranger last wrote in.
func TestDeclinedJoinInRememberedLanguage(t *testing.T) {
	w := newWorld(t)
	w.productExtra = fmt.Sprintf("telegram_chat_ids = [%d]\n", gatedChat)
	w.tg.AddChat(gatedChat, "Pro members")
	w.tg.SetMember(gatedChat, chatOwner.ID, telegramtest.StatusCreator)
	w.withMessages("[de]\naccess.join_declined = \"Deine Anfrage für {product} wurde abgelehnt: keine Lizenz. Kaufen: /buy {id}\"\n", "")
	w.start()
	de := telegramtest.User{ID: 7101, FirstName: "Dieter", LanguageCode: "de"}
	w.say(de, "/start")
	after := w.lastID(de.ID)
	if err := w.tg.RequestJoin(de, gatedChat); err != nil {
		t.Fatal(err)
	}
	m := w.wait(de.ID, after, func(m telegramtest.SentMessage) bool {
		return strings.Contains(m.Text, "abgelehnt") || strings.Contains(m.Text, "declined")
	}, "decline notice")
	if m.Text != "Deine Anfrage für Pro wurde abgelehnt: keine Lizenz. Kaufen: /buy pro" {
		t.Fatalf("decline notice = %q, want German", m.Text)
	}
}
