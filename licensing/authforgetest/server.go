package authforgetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultAppID     = "app_demo"
	DefaultAppSecret = "demo_app_secret"
	DefaultAPIKey    = "af_test_demo_api_key"
)

// Options configures a Server; zero fields get the defaults.
type Options struct {
	AppID     string
	AppSecret string
	APIKey    string
	// Now is the fake's clock for expiry, sessions and createdAt; default
	// time.Now.
	Now func() time.Time
	// Credits is the account balance; 0 means unlimited.
	Credits int
	// HeartbeatGrace is how long after a session ends a heartbeat may
	// still renew it; 0 means none: the heartbeat answers session_expired
	// and the caller must validate again (one credit).
	HeartbeatGrace time.Duration
	// AccountApps are other apps of the same AuthForge account: the
	// Developer API key reads and updates their licenses too (GET answers
	// 200 with their appId), while validate with this app's credentials
	// refuses them. Empty: another app's key is 404, as for a stranger's.
	AccountApps []string
}

// Server is the fake AuthForge. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	srv  *httptest.Server
	mux  *http.ServeMux

	mu        sync.Mutex
	signKey   ed25519.PrivateKey
	keyID     int
	macKey    []byte
	licenses  map[string]*License
	order     []string // keys in creation order, for pagination
	sessions  map[string]*session
	nonces    map[string]time.Time
	limited   bool // credits is a balance, not unlimited
	credits   int  // credits that may be used in total while limited
	used      int
	beats     map[string]int // successful heartbeats per license
	calls     []string       // "METHOD /path" of every request
	faults    []*fault
	latency   time.Duration
	afterMake []afterCreate
	onCreate  func(total int)
}

// New starts a fake AuthForge on a loopback port. Close it when done.
func New(opts Options) *Server {
	if opts.AppID == "" {
		opts.AppID = DefaultAppID
	}
	if opts.AppSecret == "" {
		opts.AppSecret = DefaultAppSecret
	}
	if opts.APIKey == "" {
		opts.APIKey = DefaultAPIKey
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		macKey:   randomBytes(32),
		licenses: map[string]*License{},
		sessions: map[string]*session{},
		nonces:   map[string]time.Time{},
		beats:    map[string]int{},
		limited:  opts.Credits > 0,
		credits:  opts.Credits,
		keyID:    1,
	}
	_, s.signKey, _ = ed25519.GenerateKey(rand.Reader)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /auth/validate", s.handleValidate)
	s.mux.HandleFunc("POST /auth/heartbeat", s.handleHeartbeat)
	s.mux.HandleFunc("GET /v1/licenses", s.handleList)
	s.mux.HandleFunc("POST /v1/licenses", s.handleCreate)
	s.mux.HandleFunc("GET /v1/licenses/{key}", s.handleGet)
	s.mux.HandleFunc("PUT /v1/licenses/{key}", s.handleUpdate)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL of both APIs (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// Close shuts the server down.
func (s *Server) Close() { s.srv.Close() }

// Options returns the effective options (with defaults filled in).
func (s *Server) Options() Options { return s.opts }

// PublicKey is the key that verifies the current signatures.
func (s *Server) PublicKey() ed25519.PublicKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signKey.Public().(ed25519.PublicKey)
}

// PublicKeyBase64 is PublicKey in standard base64, as the AuthForge
// dashboard shows it.
func (s *Server) PublicKeyBase64() string {
	return base64.StdEncoding.EncodeToString(s.PublicKey())
}

// RotateKey replaces the signing key (a key rotation) and returns the new
// public key.
func (s *Server) RotateKey() ed25519.PublicKey {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signKey = priv
	s.keyID++
	return priv.Public().(ed25519.PublicKey)
}

// OnCreate calls f after each license is created and before it is
// answered, with the number of licenses that exist then: a crash test
// kills the caller there, between AuthForge's create and its own save.
// nil stops it.
func (s *Server) OnCreate(f func(total int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCreate = f
}

// SetLatency delays every answer by d (0 to stop).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// SetCredits sets the balance: from now on n more credits may be used (0:
// out of credits, validations answer no_credits).
func (s *Server) SetCredits(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited = true
	s.credits = s.used + max(n, 0)
}

// SetUnlimitedCredits lifts the balance.
func (s *Server) SetUnlimitedCredits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limited = false
}

// outOfCredits reports whether charging one more credit is refused.
// Called with s.mu held.
func (s *Server) outOfCredits() bool {
	return s.limited && s.used >= s.credits
}

// CreditsUsed is the number of credits consumed so far.
func (s *Server) CreditsUsed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used
}

// Calls counts the requests that matched pattern so far: "/auth/validate"
// (that exact path), "/v1/licenses/" (a trailing slash matches every path
// under it; "/" counts every request), optionally preceded by a method
// ("POST /v1/licenses").
func (s *Server) Calls(pattern string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		method, path, _ := cutCall(c)
		if matches(pattern, method, path) {
			n++
		}
	}
	return n
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	latency := s.latency
	f := s.takeFault(r.Method, r.URL.Path)
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f != nil {
		f.apply(w)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) now() time.Time { return s.opts.Now() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"status": "error", "error": code, "message": msg})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return b
}
