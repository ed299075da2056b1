package authforge_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
)

// recorder records requests (bodies) and the client's sleeps.
type recorder struct {
	mu     sync.Mutex
	bodies []map[string]any
	trips  int
	sleeps []time.Duration
	base   http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body map[string]any
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		_ = json.Unmarshal(b, &body)
	}
	r.mu.Lock()
	r.trips++
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sleeps = append(r.sleeps, d)
	return nil
}

func (r *recorder) nonces() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range r.bodies {
		if n, ok := b["nonce"].(string); ok {
			out = append(out, n)
		}
	}
	return out
}

func (r *recorder) slept() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...)
}

func (r *recorder) roundTrips() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.trips
}

type env struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeclock.Clock
	fake  *authforgetest.Server
	rec   *recorder
	logs  *bytes.Buffer
	c     *authforge.Client
}

var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, opts authforgetest.Options, edit ...func(*authforge.Config)) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), clock: fakeclock.New(start), logs: &bytes.Buffer{}}
	opts.Now = e.clock.Now
	e.fake = authforgetest.New(opts)
	t.Cleanup(e.fake.Close)
	// No keep-alive: net/http itself replays idempotent requests that fail
	// on a reused connection, which would hide the client's own retries.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	e.rec = &recorder{base: tr}
	e.c = e.client(edit...)
	return e
}

// client builds a client of the fake with e's recorder and logger.
func (e *env) client(edit ...func(*authforge.Config)) *authforge.Client {
	e.t.Helper()
	o := e.fake.Options()
	cfg := authforge.Config{
		AppID:      o.AppID,
		AppSecret:  o.AppSecret,
		APIKey:     o.APIKey,
		PublicKeys: []ed25519.PublicKey{e.fake.PublicKey()},
		AuthURL:    e.fake.URL(),
		APIURL:     e.fake.URL(),
		HTTPClient: &http.Client{Transport: e.rec},
		Timeout:    2 * time.Second,
		Sleep:      e.rec.sleep,
		Logger:     slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range edit {
		f(&cfg)
	}
	c, err := authforge.New(cfg)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	return c
}

func (e *env) seed(l authforgetest.License) authforgetest.License {
	return e.fake.SeedLicense(l)
}

func ptr[T any](v T) *T { return &v }
