package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

type answer struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// post calls method with params encoded as kind: "json", "form" or
// "multipart".
func post(t *testing.T, s *Server, token, method, kind string, params map[string]string) (int, answer) {
	t.Helper()
	var body bytes.Buffer
	var ct string
	switch kind {
	case "json":
		m := map[string]any{}
		for k, v := range params {
			var raw json.RawMessage
			if json.Unmarshal([]byte(v), &raw) == nil && (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) {
				m[k] = raw
			} else {
				m[k] = v
			}
		}
		json.NewEncoder(&body).Encode(m)
		ct = "application/json"
	case "form":
		vals := url.Values{}
		for k, v := range params {
			vals.Set(k, v)
		}
		body.WriteString(vals.Encode())
		ct = "application/x-www-form-urlencoded"
	case "multipart":
		w := multipart.NewWriter(&body)
		for k, v := range params {
			w.WriteField(k, v)
		}
		w.Close()
		ct = w.FormDataContentType()
	}
	resp, err := http.Post(s.URL()+"/bot"+token+"/"+method, ct, &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, a
}

func TestBodyEncodingsAndResults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	u := User{ID: 5, FirstName: "Ann"}
	s.SendText(u, u.ID, "hi")
	kb := `{"inline_keyboard":[[{"text":"Go","callback_data":"buy:x"}]]}`
	for _, kind := range []string{"json", "form", "multipart"} {
		status, a := post(t, s, s.Token(), "sendMessage", kind, map[string]string{
			"chat_id": "5", "text": "<b>Key</b> <code>AB&amp;CD</code>", "parse_mode": "HTML", "reply_markup": kb,
		})
		if status != 200 || !a.OK {
			t.Fatalf("%s: %d %+v", kind, status, a)
		}
		var m Message
		json.Unmarshal(a.Result, &m)
		if m.Text != "Key AB&CD" || m.Chat.Type != "private" || m.From == nil || !m.From.IsBot || m.ReplyMarkup == nil {
			t.Errorf("%s: message = %+v", kind, m)
		}
	}
	msgs := s.BotMessages(5)
	if len(msgs) != 3 || msgs[0].Code()[0] != "AB&CD" || msgs[0].Buttons()[0].CallbackData != "buy:x" {
		t.Errorf("recorded = %+v", msgs)
	}
	if c := s.CallsTo("sendMessage"); len(c) != 3 || c[2].Params["chat_id"] != "5" || c[2].Status != 200 {
		t.Errorf("calls = %+v", c)
	}
}

func TestErrorsLookReal(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	u := User{ID: 5}
	s.SendText(u, u.ID, "hi")
	tests := []struct {
		name, token, method string
		params              map[string]string
		code                int
		desc                string
	}{
		{"token", "1:wrong", "getMe", nil, 401, "Unauthorized"},
		{"method", s.Token(), "noSuchMethod", nil, 404, "Not Found"},
		{"chat", s.Token(), "sendMessage", map[string]string{"chat_id": "77", "text": "x"}, 400, "Bad Request: chat not found"},
		{"html", s.Token(), "sendMessage", map[string]string{"chat_id": "5", "text": "a < b", "parse_mode": "HTML"}, 400, "Bad Request: can't parse entities"},
		{"amp", s.Token(), "sendMessage", map[string]string{"chat_id": "5", "text": "R&D", "parse_mode": "HTML"}, 400, "Bad Request: can't parse entities"},
		{"empty", s.Token(), "sendMessage", map[string]string{"chat_id": "5", "text": " "}, 400, "Bad Request: message text is empty"},
		{"data", s.Token(), "sendMessage", map[string]string{"chat_id": "5", "text": "x", "reply_markup": `{"inline_keyboard":[[{"text":"a","callback_data":"` + strings.Repeat("x", 65) + `"}]]}`}, 400, "Bad Request: BUTTON_DATA_INVALID"},
		{"query", s.Token(), "answerCallbackQuery", map[string]string{"callback_query_id": "1"}, 400, "Bad Request: query is too old"},
	}
	for _, tt := range tests {
		status, a := post(t, s, tt.token, tt.method, "json", tt.params)
		if status != tt.code || a.OK || a.ErrorCode != tt.code || !strings.HasPrefix(a.Description, tt.desc) {
			t.Errorf("%s: %d %+v", tt.name, status, a)
		}
	}
	s.BlockBot(5)
	if _, a := post(t, s, s.Token(), "sendMessage", "form", map[string]string{"chat_id": "5", "text": "x"}); a.ErrorCode != 403 || a.Description != "Forbidden: bot was blocked by the user" {
		t.Errorf("blocked: %+v", a)
	}
	s.FailNext("getMe", 429, "", 7)
	if _, a := post(t, s, s.Token(), "getMe", "json", nil); a.ErrorCode != 429 || a.Parameters.RetryAfter != 7 || a.Description != "Too Many Requests: retry after 7" {
		t.Errorf("429: %+v", a)
	}
	if _, a := post(t, s, s.Token(), "getMe", "json", nil); !a.OK {
		t.Errorf("FailNext must fail once: %+v", a)
	}
}

func TestGetUpdatesLongPollAndOffset(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	u := User{ID: 5}
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.SendText(u, u.ID, "/start")
	}()
	start := time.Now()
	_, a := post(t, s, s.Token(), "getUpdates", "form", map[string]string{"timeout": "5"})
	var ups []Update
	json.Unmarshal(a.Result, &ups)
	if len(ups) != 1 || ups[0].Message.Text != "/start" || ups[0].Message.Entities[0].Type != "bot_command" {
		t.Fatalf("updates = %s", a.Result)
	}
	if time.Since(start) > 3*time.Second {
		t.Error("long poll did not return when the update arrived")
	}
	// Unconfirmed updates come back; an offset past them confirms them.
	_, a = post(t, s, s.Token(), "getUpdates", "form", nil)
	if json.Unmarshal(a.Result, &ups); len(ups) != 1 {
		t.Errorf("unconfirmed update not redelivered: %s", a.Result)
	}
	_, a = post(t, s, s.Token(), "getUpdates", "form", map[string]string{"offset": itoa(ups[0].UpdateID + 1)})
	if json.Unmarshal(a.Result, &ups); len(ups) != 0 || s.Pending() != 0 {
		t.Errorf("confirmed update redelivered: %s", a.Result)
	}
	post(t, s, s.Token(), "setWebhook", "form", map[string]string{"url": "http://127.0.0.1:1/hook"})
	if status, _ := post(t, s, s.Token(), "getUpdates", "form", nil); status != 409 {
		t.Errorf("getUpdates with a webhook set: %d, want 409", status)
	}
}

func TestMembership(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	defer s.Close()
	const chat = -100
	s.AddChat(chat, "Members")
	_, a := post(t, s, s.Token(), "createChatInviteLink", "json", map[string]string{
		"chat_id": itoa(chat), "member_limit": "1", "expire_date": itoa(now.Add(time.Hour).Unix()),
	})
	var inv struct {
		InviteLink  string `json:"invite_link"`
		MemberLimit int    `json:"member_limit"`
	}
	json.Unmarshal(a.Result, &inv)
	if err := s.UseInvite(5, inv.InviteLink); err != nil || inv.MemberLimit != 1 {
		t.Fatalf("join: %v %+v", err, inv)
	}
	if err := s.UseInvite(6, inv.InviteLink); err == nil {
		t.Error("one-use link used twice")
	}
	// unban without only_if_banned removes a member, as documented.
	post(t, s, s.Token(), "unbanChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": "5", "only_if_banned": "true"})
	if s.Status(chat, 5) != StatusMember {
		t.Error("only_if_banned removed a member")
	}
	post(t, s, s.Token(), "banChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": "5"})
	if err := s.Join(5, chat); err != ErrBanned {
		t.Errorf("banned user joined: %v", err)
	}
	post(t, s, s.Token(), "unbanChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": "5", "only_if_banned": "true"})
	if s.Status(chat, 5) != StatusLeft || len(s.Members(chat)) != 0 {
		t.Errorf("status after unban = %s, members %v", s.Status(chat, 5), s.Members(chat))
	}
	s.SetMember(chat, s.BotUser().ID, StatusMember)
	if _, a := post(t, s, s.Token(), "banChatMember", "json", map[string]string{"chat_id": itoa(chat), "user_id": "5"}); a.ErrorCode != 400 {
		t.Errorf("a bot without rights banned someone: %+v", a)
	}
}

func TestWaitMessage(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	u := User{ID: 5}
	id := s.SendText(u, u.ID, "hi")
	go func() {
		time.Sleep(20 * time.Millisecond)
		resp, err := http.Post(s.URL()+"/bot"+s.Token()+"/sendMessage", "application/json", strings.NewReader(`{"chat_id":5,"text":"hello"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := s.WaitMessage(ctx, 5, id, nil)
	if err != nil || m.Text != "hello" {
		t.Fatalf("%+v %v", m, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := s.WaitMessage(short, 5, m.MessageID, nil); err == nil {
		t.Error("WaitMessage found a message that was never sent")
	}
}

func TestParseHTML(t *testing.T) {
	tests := []struct {
		in, plain string
		ents      []Entity
		bad       bool
	}{
		{"a &lt;b&gt; &amp; &quot;c&quot; &#39;d&#x27;", `a <b> & "c" 'd'`, nil, false},
		{"x <code>KEY</code>", "x KEY", []Entity{{Type: "code", Offset: 2, Length: 3}}, false},
		{"😀<b>é</b>", "😀é", []Entity{{Type: "bold", Offset: 2, Length: 1}}, false},
		{`<a href="https://x">go</a>`, "go", []Entity{{Type: "text_link", Offset: 0, Length: 2, URL: "https://x"}}, false},
		{"<b>open", "", nil, true},
		{"<b>x</i>", "", nil, true},
		{"<script>x</script>", "", nil, true},
		{"a & b", "", nil, true},
		{"a > b", "", nil, true},
	}
	for _, tt := range tests {
		plain, ents, err := parseHTML(tt.in)
		if (err != nil) != tt.bad {
			t.Errorf("%q: err = %v", tt.in, err)
			continue
		}
		if tt.bad {
			continue
		}
		if plain != tt.plain || len(ents) != len(tt.ents) {
			t.Errorf("%q: %q %+v", tt.in, plain, ents)
			continue
		}
		for i := range ents {
			if ents[i] != tt.ents[i] {
				t.Errorf("%q: entity %+v, want %+v", tt.in, ents[i], tt.ents[i])
			}
		}
	}
}
