package authforgetest

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault is an injected failure answered instead of the real handling.
type Fault struct {
	Status     int           // HTTP status, default 500
	Code       string        // error code in the body; empty sends none
	Message    string        // default "injected failure"
	RetryAfter time.Duration // Retry-After header; a 429 gets 1s by default
	// Drop closes the connection without an answer (a network failure).
	Drop bool
}

// fault kinds beyond Fault: tampering with a real answer.
type faultKind int

const (
	kindFail faultKind = iota
	kindTamper
	kindWrongNonce
)

type fault struct {
	pattern string
	left    int
	kind    faultKind
	spec    Fault
}

// afterCreate is a lost answer after a successful create.
type afterCreate int

const (
	answer500 afterCreate = iota
	hangUp
)

// FailNext makes the next n requests matching path (see Calls for the
// pattern syntax) fail with status and the error code (empty: derived from
// the status). A 429 carries Retry-After: 1.
func (s *Server) FailNext(path string, n int, status int, code string) {
	if code == "" {
		code = codeForStatus(status)
	}
	s.FailNextWith(path, n, Fault{Status: status, Code: code})
}

// FailNextWith makes the next n requests matching path fail as f describes.
func (s *Server) FailNextWith(path string, n int, f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Message == "" {
		f.Message = "injected failure"
	}
	if f.Status == http.StatusTooManyRequests && f.RetryAfter == 0 {
		f.RetryAfter = time.Second
	}
	s.addFault(&fault{pattern: path, left: n, kind: kindFail, spec: f})
}

// TamperNext corrupts the signature of the next successful Auth API answer
// to a request matching path.
func (s *Server) TamperNext(path string) {
	s.addFault(&fault{pattern: path, left: 1, kind: kindTamper})
}

// WrongNonceNext makes the next successful Auth API answer to a request
// matching path echo a different nonce (validly signed).
func (s *Server) WrongNonceNext(path string) {
	s.addFault(&fault{pattern: path, left: 1, kind: kindWrongNonce})
}

// ClearFaults cancels every pending injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.afterMake = nil
}

// DropAfterCreateNext makes the next POST /v1/licenses create its licenses
// and then answer 500 server_error, as if AuthForge failed after writing.
func (s *Server) DropAfterCreateNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterMake = append(s.afterMake, answer500)
}

// HangUpAfterCreateNext makes the next POST /v1/licenses create its
// licenses and then close the connection without an answer.
func (s *Server) HangUpAfterCreateNext() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterMake = append(s.afterMake, hangUp)
}

func (s *Server) addFault(f *fault) {
	if f.left <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// takeFault consumes the first pending failure for the request. Called with
// s.mu held.
func (s *Server) takeFault(method, path string) *Fault {
	return s.take(kindFail, method, path)
}

// take is called with s.mu held.
func (s *Server) take(kind faultKind, method, path string) *Fault {
	for i, f := range s.faults {
		if f.kind != kind || !matches(f.pattern, method, path) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		spec := f.spec
		return &spec
	}
	return nil
}

// takeAfterCreate consumes a pending lost-answer fault.
func (s *Server) takeAfterCreate() (afterCreate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.afterMake) == 0 {
		return 0, false
	}
	a := s.afterMake[0]
	s.afterMake = s.afterMake[1:]
	return a, true
}

func (f *Fault) apply(w http.ResponseWriter) {
	if f.Drop {
		dropConnection(w)
		return
	}
	if f.RetryAfter > 0 {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if f.Code == "" {
		writeJSON(w, f.Status, map[string]any{"status": "error", "message": f.Message})
		return
	}
	writeError(w, f.Status, f.Code, f.Message)
}

// dropConnection closes the client's connection without an answer.
func dropConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Hijacking is unsupported (HTTP/2): abort the handler, which
		// resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close() // the point is to break the connection
}

// matches reports whether a request fits pattern: "[METHOD ]/path", where a
// trailing slash matches every path below it.
func matches(pattern, method, path string) bool {
	if m, p, ok := strings.Cut(pattern, " "); ok {
		if !strings.EqualFold(m, method) {
			return false
		}
		pattern = p
	}
	if strings.HasSuffix(pattern, "/") {
		return strings.HasPrefix(path, pattern)
	}
	return path == pattern
}

func cutCall(c string) (method, path string, ok bool) {
	return strings.Cut(c, " ")
}

// codeForStatus is the error code AuthForge sends with status.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "bad_request"
	case http.StatusUnauthorized:
		return "invalid_app"
	case http.StatusPaymentRequired:
		return "no_credits"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusTooManyRequests:
		return "rate_limited"
	}
	return "server_error"
}

// statusForCode is the HTTP status the fake answers an error code with.
func statusForCode(code string) int {
	switch code {
	case "bad_request", "replay_detected":
		return http.StatusBadRequest
	case "invalid_app", "session_expired", "unauthorized":
		return http.StatusUnauthorized
	case "no_credits", "app_burn_cap_reached":
		return http.StatusPaymentRequired
	case "invalid_key", "not_found":
		return http.StatusNotFound
	case "rate_limited":
		return http.StatusTooManyRequests
	case "server_error", "system_error":
		return http.StatusInternalServerError
	}
	return http.StatusForbidden // expired, revoked, hwid_mismatch, blocked, app_disabled, forbidden
}
