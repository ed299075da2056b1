package discordtest_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
)

func do(t *testing.T, method, url, auth, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v, resp.Header
}

func TestRESTErrorsLikeDiscord(t *testing.T) {
	s := discordtest.New(discordtest.Options{})
	defer s.Close()
	api := s.URL() + "/api/v10"
	auth := "Bot " + s.BotToken()

	if st, _, _ := do(t, "GET", api+"/users/@me", "", ""); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, v, _ := do(t, "GET", api+"/users/@me", auth, ""); st != 200 || v["id"] != s.BotUserID() {
		t.Errorf("users/@me: %d %v", st, v)
	}
	if st, v, _ := do(t, "GET", api+"/guilds/"+s.GuildID()+"/members/5", auth, ""); st != 404 || v["code"] != 10007.0 {
		t.Errorf("unknown member: %d %v", st, v)
	}
	s.AddMember("5")
	role := api + "/guilds/" + s.GuildID() + "/members/5/roles/"
	if st, v, _ := do(t, "PUT", role+"404", auth, ""); st != 404 || v["code"] != 10011.0 {
		t.Errorf("unknown role: %d %v", st, v)
	}
	s.SetRole(discordtest.Role{ID: "7", Position: 1})
	s.DenyRoles()
	if st, v, _ := do(t, "PUT", role+"7", auth, ""); st != 403 || v["code"] != 50013.0 {
		t.Errorf("denied: %d %v", st, v)
	}
	s.AllowRoles()
	if st, _, _ := do(t, "PUT", role+"7", auth, ""); st != 204 || strings.Join(s.Roles("5"), ",") != "7" {
		t.Errorf("grant: %d roles %q", st, s.Roles("5"))
	}
	s.RateLimitNext("/users/@me", 1)
	st, v, h := do(t, "GET", api+"/users/@me", auth, "")
	if st != 429 || v["retry_after"] != 0.1 || h.Get("X-RateLimit-Reset-After") == "" {
		t.Errorf("rate limit: %d %v %v", st, v, h)
	}
	if n := len(s.Calls("/users/@me")); n != 3 {
		t.Errorf("calls = %d", n)
	}
	_, ch, _ := do(t, "POST", api+"/users/@me/channels", auth, `{"recipient_id":"5"}`)
	s.CloseDMs("5")
	if st, v, _ := do(t, "POST", api+"/channels/"+ch["id"].(string)+"/messages", auth, `{"content":"hi"}`); st != 403 || v["code"] != 50007.0 {
		t.Errorf("closed DMs: %d %v", st, v)
	}
}

func TestInteractionLifecycle(t *testing.T) {
	s := discordtest.New(discordtest.Options{})
	defer s.Close()
	in := s.SlashCommand(discordtest.User{ID: "5"}, "buy", discordtest.StringOption("product", "x"))
	cb := s.URL() + "/api/v10/interactions/" + in.ID + "/" + in.Token + "/callback"
	if st, _, _ := do(t, "POST", cb, "", `{"type":5,"data":{"flags":64}}`); st != 204 {
		t.Fatalf("callback: %d", st)
	}
	if st, v, _ := do(t, "POST", cb, "", `{"type":4,"data":{"content":"x"}}`); st != 400 || v["code"] != 40060.0 {
		t.Errorf("second callback: %d %v", st, v)
	}
	edit := s.URL() + "/api/v10/webhooks/" + s.ApplicationID() + "/" + in.Token + "/messages/@original"
	body := `{"content":"done","components":[{"type":1,"components":[{"type":2,"style":5,"label":"Pay","url":"https://x"}]}]}`
	if st, _, _ := do(t, "PATCH", edit, "", body); st != 200 {
		t.Fatalf("edit: %d", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := s.WaitReply(ctx, in)
	if err != nil || !r.Deferred || !r.Ephemeral || r.Content != "done" || len(r.Buttons) != 1 || r.Buttons[0].URL != "https://x" {
		t.Errorf("reply = %+v, %v", r, err)
	}
}

func TestSignInteraction(t *testing.T) {
	s := discordtest.New(discordtest.Options{})
	defer s.Close()
	body := []byte(`{"type":1}`)
	sig, ts := discordtest.SignInteraction(s.PrivateKey(), body, time.Unix(1700000000, 0))
	raw, _ := hex.DecodeString(sig)
	if ts != "1700000000" || !ed25519.Verify(s.PublicKey(), append([]byte(ts), body...), raw) {
		t.Errorf("signature does not verify: %s %s", sig, ts)
	}
}
