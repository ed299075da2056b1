package discord_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
)

func post(t *testing.T, url string, body []byte, sig, ts string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(waitCtx(t), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if sig != "" {
		req.Header.Set("X-Signature-Ed25519", sig)
	}
	if ts != "" {
		req.Header.Set("X-Signature-Timestamp", ts)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInteractionsEndpointVerifiesSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP, func(o *discord.Options) { o.MaxBodyBytes = 4096 })
	priv := e.dc.PrivateKey()
	now := e.clock.Now()
	in := e.dc.SlashCommand(buyer, "buy", discordtest.StringOption("product", "pro-monthly"))
	_, otherKey, _ := ed25519.GenerateKey(nil)

	sig, ts := discordtest.SignInteraction(priv, in.Body, now)
	badSig, _ := discordtest.SignInteraction(otherKey, in.Body, now)
	staleSig, staleTS := discordtest.SignInteraction(priv, in.Body, now.Add(-6*time.Minute))
	futureSig, futureTS := discordtest.SignInteraction(priv, in.Body, now.Add(6*time.Minute))
	tampered := bytes.Replace(in.Body, []byte("pro-monthly"), []byte("lifetime"), 1)
	pingBody := e.dc.Ping().Body
	pingSig, pingTS := discordtest.SignInteraction(priv, pingBody, now)
	junk := []byte("{not json")
	junkSig, junkTS := discordtest.SignInteraction(priv, junk, now)
	big := []byte(`{"type":1,"pad":"` + strings.Repeat("x", 5000) + `"}`)
	bigSig, bigTS := discordtest.SignInteraction(priv, big, now)

	cases := []struct {
		name    string
		body    []byte
		sig, ts string
		status  int
	}{
		{"no signature", in.Body, "", "", 401},
		{"wrong key", in.Body, badSig, ts, 401},
		{"not hex", in.Body, "zz" + sig[2:], ts, 401},
		{"tampered body", tampered, sig, ts, 401},
		{"stale timestamp", in.Body, staleSig, staleTS, 401},
		{"future timestamp", in.Body, futureSig, futureTS, 401},
		{"malformed JSON", junk, junkSig, junkTS, 400},
		{"too large", big, bigSig, bigTS, 413},
		{"ping", pingBody, pingSig, pingTS, 200},
	}
	for _, c := range cases {
		status, body := post(t, e.url, c.body, c.sig, c.ts)
		if status != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, c.status, body)
		}
		if c.name == "ping" && strings.TrimSpace(body) != `{"type":1}` {
			t.Errorf("ping answer = %s", body)
		}
	}
	if calls := e.shop.Calls(); len(calls) != 0 {
		t.Errorf("unverified requests reached the shop: %q", calls)
	}
	resp, err := http.Get(e.url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}

	// The good signature works, and the first answer is the deferral.
	status, body := post(t, e.url, in.Body, sig, ts)
	var first struct {
		Type int `json:"type"`
		Data struct {
			Flags int `json:"flags"`
		} `json:"data"`
	}
	if status != 200 || json.Unmarshal([]byte(body), &first) != nil || first.Type != 5 || first.Data.Flags != 64 {
		t.Fatalf("signed /buy: %d %s", status, body)
	}
	if err := e.dc.WaitFor(waitCtx(t), func() bool { return len(e.dc.Responses()) == 1 }); err != nil {
		t.Fatal("deferred reply never edited")
	}
	if r := e.dc.Responses()[0]; r.Kind != "edit" || len(r.Buttons) != 1 || r.Buttons[0].URL == "" {
		t.Errorf("edit = %+v", r)
	}
}
