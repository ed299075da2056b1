package authforge

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultAuthURL = "https://auth.authforge.cc"
	DefaultAPIURL  = "https://api.authforge.cc"
	DefaultTimeout = 10 * time.Second
)

// maxBody bounds how much of a response body is read.
const maxBody = 1 << 20

// Config configures a Client. AppID is required; the Auth API also needs
// AppSecret and PublicKeys, the Developer API needs APIKey.
type Config struct {
	AppID     string
	AppSecret string
	// PublicKeys are the app's Ed25519 public keys. During a key rotation
	// list the old and the new key: a signature that verifies with any of
	// them is accepted.
	PublicKeys []ed25519.PublicKey
	// APIKey is the Developer API bearer key (af_live_...).
	APIKey string
	// AuthURL is the Auth API base, default https://auth.authforge.cc.
	AuthURL string
	// APIURL is the Developer API base, default https://api.authforge.cc;
	// the client appends /v1/... (a trailing /v1 in APIURL is tolerated).
	APIURL     string
	HTTPClient *http.Client
	// Timeout bounds each HTTP request (attempt), default 10s.
	Timeout time.Duration
	// RetryDelays are the waits before the Auth API's retries of a rate
	// limited request, default 2s and 5s; a longer Retry-After wins.
	RetryDelays []time.Duration
	// Sleep waits d or until ctx ends; default a timer. Tests inject it.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// Client talks to both AuthForge APIs. It is safe for concurrent use.
type Client struct {
	appID     string
	appSecret string
	apiKey    string
	keys      []ed25519.PublicKey
	authURL   string
	apiURL    string
	hc        *http.Client
	timeout   time.Duration
	delays    []time.Duration
	sleep     func(context.Context, time.Duration) error
	log       *slog.Logger
	now       func() time.Time
}

// AppID is the app whose keys the client validates and manages.
func (c *Client) AppID() string { return c.appID }

// New checks cfg, fills in the defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.AppID) == "" {
		return nil, errors.New("authforge: config: app id is required")
	}
	c := &Client{
		appID:     cfg.AppID,
		appSecret: cfg.AppSecret,
		apiKey:    cfg.APIKey,
		hc:        cfg.HTTPClient,
		timeout:   cfg.Timeout,
		delays:    append([]time.Duration(nil), cfg.RetryDelays...),
		sleep:     cfg.Sleep,
		log:       cfg.Logger,
		now:       time.Now,
	}
	for i, k := range cfg.PublicKeys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("authforge: config: public key %d has %d bytes, want %d", i, len(k), ed25519.PublicKeySize)
		}
		c.keys = append(c.keys, append(ed25519.PublicKey(nil), k...))
	}
	var err error
	if c.authURL, err = baseURL(cfg.AuthURL, DefaultAuthURL); err != nil {
		return nil, fmt.Errorf("authforge: config: auth url: %w", err)
	}
	if c.apiURL, err = baseURL(cfg.APIURL, DefaultAPIURL); err != nil {
		return nil, fmt.Errorf("authforge: config: api url: %w", err)
	}
	c.apiURL = strings.TrimSuffix(c.apiURL, "/v1")
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	switch {
	case c.timeout < 0:
		return nil, errors.New("authforge: config: negative timeout")
	case c.timeout == 0:
		c.timeout = DefaultTimeout
	}
	if cfg.RetryDelays == nil {
		c.delays = []time.Duration{2 * time.Second, 5 * time.Second}
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func baseURL(s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = def
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// response is a fully read HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs one HTTP request with the per-request timeout. sent reports
// whether the request was written out, so it may have reached the server.
// Transport errors match ErrUnavailable and never contain the URL (it may
// hold a license key); op names the call in messages.
func (c *Client) send(ctx context.Context, op, method, rawURL string, body any, bearer bool) (res response, sent bool, err error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return response{}, false, fmt.Errorf("authforge: %s: encode request: %w", op, err)
		}
		rd = bytes.NewReader(b)
	}
	rctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	rctx = httptrace.WithClientTrace(rctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	})
	req, err := http.NewRequestWithContext(rctx, method, rawURL, rd)
	if err != nil {
		return response{}, false, fmt.Errorf("authforge: %s: %w", op, stripURL(err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "shopbot-authforge")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, wrote.Load(), unavailable(op, stripURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return response{}, true, unavailable(op, fmt.Errorf("read response: %w", stripURL(err)))
	}
	if len(b) > maxBody {
		return response{}, true, fmt.Errorf("authforge: %s: %w: response larger than %d bytes", op, ErrServer, maxBody)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, true, nil
}

// stripURL drops the *url.Error wrapper, whose message carries the request
// URL and so possibly a license key.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// apiError builds the *APIError of a failed answer from its JSON body
// {"error":"code","message":"..."} and headers.
func (c *Client) apiError(res response) *APIError {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
	}
	_ = json.Unmarshal(res.body, &body) // a non-JSON body leaves the status to speak
	e := &APIError{Status: res.status, Message: body.Message}
	var code string
	if json.Unmarshal(body.Error, &code) == nil {
		e.Code = code
	}
	if e.Code == "" {
		e.Code = body.Code
	}
	if res.header != nil {
		e.RetryAfter = parseRetryAfter(res.header.Get("Retry-After"), c.now())
	}
	if len(e.Message) > 300 {
		e.Message = strings.ToValidUTF8(e.Message[:300], "") + "…"
	}
	return e
}
