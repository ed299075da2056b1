// Package telegramtest is an in-process fake of the Telegram Bot API for
// shopbot's tests and for `shopbot demo`. It serves /bot<TOKEN>/<method>
// over HTTP like api.telegram.org: multipart/form-data, JSON and urlencoded
// bodies; {"ok":true,"result":...} answers with realistic objects; errors
// with the real codes and descriptions; getUpdates long polling; and
// webhook delivery with the secret-token header.
//
// A control API plays the users (SendText, Press, Join, Pay), inspects
// what the bot did (Messages, Calls, Members, Invoices) and injects
// failures (BlockBot, FailNext). It deliberately does not import
// "testing" so the demo binary can use it. All methods are safe for concurrent use.
package telegramtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures the fake.
type Options struct {
	// Token is the bot token the fake accepts; default "123456789:TEST".
	// The number before ':' is the bot's user id.
	Token string
	// BotUsername is getMe's username; default "shopbot_test_bot".
	BotUsername string
	// Now is the fake's clock for message dates and invite expiry.
	Now func() time.Time
	// WebhookRetry is the pause before redelivering an update the webhook
	// did not accept; default 100ms.
	WebhookRetry time.Duration
}

// Server is the fake Bot API.
type Server struct {
	token    string
	bot      User
	now      func() time.Time
	retry    time.Duration
	http     *httptest.Server
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup

	mu         sync.Mutex
	changed    chan struct{}
	nextMsg    int
	nextUpdate int64
	nextQuery  int
	nextInvite int
	users      map[int64]User
	chats      map[int64]*chatState
	messages   []*SentMessage
	byID       map[int]*SentMessage
	pending    []Update
	calls      []Call
	blocked    map[int64]bool
	failures   map[string][]failure
	queries    map[string]bool // callback query id → answered
	commands   map[string][]BotCommand
	invites    map[string]*Invite
	webhook    webhookState
	// allowed is the bot's last allowed_updates; nil: never given.
	allowed []string
	stars   starState
}

type chatState struct {
	chat     Chat
	members  map[int64]string
	requests map[int64]string // user id → join request state
}

type failure struct {
	code       int
	desc       string
	retryAfter int
}

type webhookState struct {
	url, secret string
}

// New starts the fake on a loopback port.
func New(opts Options) *Server {
	if opts.Token == "" {
		opts.Token = "123456789:TEST"
	}
	if opts.BotUsername == "" {
		opts.BotUsername = "shopbot_test_bot"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.WebhookRetry <= 0 {
		opts.WebhookRetry = 100 * time.Millisecond
	}
	id, err := strconv.ParseInt(strings.SplitN(opts.Token, ":", 2)[0], 10, 64)
	if err != nil || id <= 0 {
		id = 1000
	}
	s := &Server{
		token:    opts.Token,
		bot:      User{ID: id, IsBot: true, FirstName: "Shop Bot", Username: opts.BotUsername},
		now:      opts.Now,
		retry:    opts.WebhookRetry,
		stop:     make(chan struct{}),
		changed:  make(chan struct{}),
		users:    map[int64]User{},
		chats:    map[int64]*chatState{},
		byID:     map[int]*SentMessage{},
		blocked:  map[int64]bool{},
		failures: map[string][]failure{},
		queries:  map[string]bool{},
		commands: map[string][]BotCommand{},
		invites:  map[string]*Invite{},
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	s.wg.Add(1)
	go s.deliverLoop()
	return s
}

// URL is the API root to give the client (bot.WithServerURL).
func (s *Server) URL() string { return s.http.URL }

// Token is the token the fake accepts.
func (s *Server) Token() string { return s.token }

// BotUser is the bot's own user (getMe).
func (s *Server) BotUser() User { return s.bot }

// Close stops webhook delivery and the HTTP server.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
	s.http.Close()
}

// maxBody bounds a request body; real uploads are bigger, but shopbot
// sends no files.
const maxBody = 8 << 20

// apiError is an {"ok":false} answer.
type apiError struct {
	code       int
	desc       string
	retryAfter int
}

func (e *apiError) Error() string { return e.desc }

func badRequest(desc string) *apiError { return &apiError{code: 400, desc: "Bad Request: " + desc} }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	token, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		writeJSON(w, 404, map[string]any{"ok": false, "error_code": 404, "description": "Not Found"})
		return
	}
	if token != s.token {
		writeJSON(w, 401, map[string]any{"ok": false, "error_code": 401, "description": "Unauthorized"})
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeJSON(w, 400, map[string]any{"ok": false, "error_code": 400, "description": "Bad Request: " + err.Error()})
		return
	}
	if method == "getUpdates" {
		result, err := s.getUpdates(r, params)
		respond(w, result, err)
		return
	}
	result, err := s.call(method, params)
	status := 200
	var ae *apiError
	if errors.As(err, &ae) {
		status = ae.code
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, Params: params, Status: status, At: s.now()})
	s.notifyLocked()
	s.mu.Unlock()
	respond(w, result, err)
}

// call runs one method after any injected failure.
func (s *Server) call(method string, p map[string]string) (any, error) {
	s.mu.Lock()
	if q := s.failures[method]; len(q) > 0 {
		f := q[0]
		s.failures[method] = q[1:]
		s.mu.Unlock()
		return nil, &apiError{code: f.code, desc: f.desc, retryAfter: f.retryAfter}
	}
	s.mu.Unlock()
	switch method {
	case "getMe":
		return s.bot, nil
	case "sendMessage":
		return s.sendMessage(p)
	case "editMessageText":
		return s.editMessageText(p)
	case "deleteMessage":
		return s.deleteMessage(p)
	case "answerCallbackQuery":
		return s.answerCallbackQuery(p)
	case "setMyCommands":
		return s.setMyCommands(p)
	case "getMyCommands":
		return s.getMyCommands(p)
	case "setWebhook":
		return s.setWebhook(p)
	case "deleteWebhook":
		return s.deleteWebhook(p)
	case "getWebhookInfo":
		return s.getWebhookInfo()
	case "getChatMember":
		return s.getChatMember(p)
	case "createChatInviteLink":
		return s.createChatInviteLink(p)
	case "banChatMember":
		return s.banChatMember(p)
	case "unbanChatMember":
		return s.unbanChatMember(p)
	case "approveChatJoinRequest":
		return s.approveChatJoinRequest(p)
	case "declineChatJoinRequest":
		return s.declineChatJoinRequest(p)
	case "createInvoiceLink":
		return s.createInvoiceLink(p)
	case "sendInvoice":
		return s.sendInvoice(p)
	case "answerPreCheckoutQuery":
		return s.answerPreCheckoutQuery(p)
	case "refundStarPayment":
		return s.refundStarPayment(p)
	case "editUserStarSubscription":
		return s.editUserStarSubscription(p)
	case "getStarTransactions":
		return s.getStarTransactions(p)
	}
	return nil, &apiError{code: 404, desc: "Not Found"}
}

func respond(w http.ResponseWriter, result any, err error) {
	if err == nil {
		writeJSON(w, 200, map[string]any{"ok": true, "result": result})
		return
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{code: 500, desc: "Internal Server Error"}
	}
	body := map[string]any{"ok": false, "error_code": ae.code, "description": ae.desc}
	if ae.retryAfter > 0 {
		body["parameters"] = map[string]any{"retry_after": ae.retryAfter}
	}
	writeJSON(w, ae.code, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readParams flattens any of the three body encodings the real API takes,
// plus the query string, into field → string. An empty body is no
// parameters whatever its Content-Type: go-telegram/bot sends a bare
// multipart header with no parts for methods without parameters.
func readParams(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range r.URL.Query() {
		out[k] = v[0]
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("can't read body: %v", err)
	}
	if len(body) == 0 {
		return out, nil
	}
	ct, ctParams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), ctParams["boundary"]).ReadForm(maxBody)
		if err != nil {
			return nil, fmt.Errorf("can't parse multipart body: %v", err)
		}
		defer form.RemoveAll()
		for k, v := range form.Value {
			out[k] = v[0]
		}
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("can't parse form body: %v", err)
		}
		for k, v := range vals {
			out[k] = v[0]
		}
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("can't parse JSON body: %v", err)
		}
		for k, raw := range m {
			var str string
			if json.Unmarshal(raw, &str) == nil {
				out[k] = str
			} else {
				out[k] = string(raw)
			}
		}
	default:
		return nil, fmt.Errorf("unsupported Content-Type %q", ct)
	}
	return out, nil
}

// FailNext makes the next call of method fail with code and description
// (default: the standard text for code). retryAfter > 0 adds
// parameters.retry_after, as Telegram does with 429.
func (s *Server) FailNext(method string, code int, description string, retryAfter int) {
	if description == "" {
		description = http.StatusText(code)
		if code == 429 {
			description = fmt.Sprintf("Too Many Requests: retry after %d", retryAfter)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[method] = append(s.failures[method], failure{code, description, retryAfter})
}

// BlockBot makes userID block the bot: sends to their chat get 403.
func (s *Server) BlockBot(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[userID] = true
}

// UnblockBot undoes BlockBot.
func (s *Server) UnblockBot(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, userID)
}

// Calls returns every answered call in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the answered calls of one method.
func (s *Server) CallsTo(method string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// MyCommands returns the command menu set for a scope: "default",
// "all_private_chats", ... or "chat:<id>".
func (s *Server) MyCommands(scope string) []BotCommand {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]BotCommand(nil), s.commands[scope]...)
}

// Webhook returns the webhook URL and secret set by the bot.
func (s *Server) Webhook() (url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.webhook.url, s.webhook.secret
}

// notifyLocked wakes everyone waiting for a change; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func parseInt(p map[string]string, key string) (int64, bool) {
	v, err := strconv.ParseInt(p[key], 10, 64)
	return v, err == nil
}

func validURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return u.Scheme == "tg" || u.Host != "" && (u.Scheme == "https" || u.Scheme == "http")
}
