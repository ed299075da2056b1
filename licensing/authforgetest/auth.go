package authforgetest

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Session TTL bounds (seconds) of the Auth API.
const (
	minTTL     = 3600
	maxTTL     = 604800
	defaultTTL = 86400
	// beatsPerCredit: heartbeats are billed 1 credit per 10 successes.
	beatsPerCredit = 10
	// pruneAbove: the session and nonce tables are pruned of stale
	// entries once they grow past this.
	pruneAbove = 4096
)

// session is the server side of a session token.
type session struct {
	key  string
	hwid string
	ttl  int64
	exp  time.Time
}

// authError is an Auth API failure.
type authError struct {
	code, msg string
}

func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID      string `json:"appId"`
		AppSecret  string `json:"appSecret"`
		LicenseKey string `json:"licenseKey"`
		HWID       string `json:"hwid"`
		Nonce      string `json:"nonce"`
		TTLSeconds *int64 `json:"ttlSeconds"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.authFail(w, authError{"bad_request", "body is not JSON"})
		return
	}
	if req.LicenseKey == "" || req.HWID == "" || req.Nonce == "" {
		s.authFail(w, authError{"bad_request", "licenseKey, hwid and nonce are required"})
		return
	}
	ttl := int64(defaultTTL)
	if req.TTLSeconds != nil {
		ttl = min(max(*req.TTLSeconds, minTTL), maxTTL)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if req.AppID != s.opts.AppID || req.AppSecret != s.opts.AppSecret {
		s.authFail(w, authError{"invalid_app", "unknown app or wrong secret"})
		return
	}
	if e := s.useNonce(req.Nonce, now); e != nil {
		s.authFail(w, *e)
		return
	}
	l := s.licenses[req.LicenseKey]
	if e := checkLicense(l, s.opts.AppID, now); e != nil {
		s.authFail(w, *e)
		return
	}
	if s.outOfCredits() {
		s.authFail(w, authError{"no_credits", "the account is out of credits"})
		return
	}
	if !l.bind(req.HWID) {
		s.authFail(w, authError{"hwid_mismatch", "all " + strconv.Itoa(l.MaxHWIDSlots) + " HWID slots are taken"})
		return
	}
	s.used++
	token, sess := s.openSession(l.Key, req.HWID, ttl, now)
	s.answer(w, r, l, token, sess, req.Nonce, now)
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppID        string `json:"appId"`
		SessionToken string `json:"sessionToken"`
		Nonce        string `json:"nonce"`
		HWID         string `json:"hwid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.authFail(w, authError{"bad_request", "body is not JSON"})
		return
	}
	if req.SessionToken == "" || req.Nonce == "" || req.HWID == "" {
		s.authFail(w, authError{"bad_request", "sessionToken, hwid and nonce are required"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if req.AppID != s.opts.AppID {
		s.authFail(w, authError{"invalid_app", "unknown app"})
		return
	}
	if e := s.useNonce(req.Nonce, now); e != nil {
		s.authFail(w, *e)
		return
	}
	sid, ok := s.tokenID(req.SessionToken)
	sess := s.sessions[sid]
	if !ok || sess == nil || !now.Before(sess.exp.Add(s.opts.HeartbeatGrace)) {
		s.authFail(w, authError{"session_expired", "session expired or unknown"})
		return
	}
	if sess.hwid != req.HWID {
		s.authFail(w, authError{"hwid_mismatch", "session belongs to another HWID"})
		return
	}
	l := s.licenses[sess.key]
	if e := checkLicense(l, s.opts.AppID, now); e != nil {
		delete(s.sessions, sid)
		s.authFail(w, *e)
		return
	}
	billed := (s.beats[l.Key]+1)%beatsPerCredit == 0
	if billed && s.outOfCredits() {
		s.authFail(w, authError{"no_credits", "the account is out of credits"})
		return
	}
	if !l.bind(req.HWID) {
		delete(s.sessions, sid)
		s.authFail(w, authError{"hwid_mismatch", "all " + strconv.Itoa(l.MaxHWIDSlots) + " HWID slots are taken"})
		return
	}
	s.beats[l.Key]++
	if billed {
		s.used++
	}
	delete(s.sessions, sid)
	token, next := s.openSession(l.Key, req.HWID, sess.ttl, now)
	s.answer(w, r, l, token, next, req.Nonce, now)
}

// checkLicense is the license part of validation.
func checkLicense(l *License, appID string, now time.Time) *authError {
	switch {
	case l == nil || l.AppID != appID:
		return &authError{"invalid_key", "unknown license key"}
	case l.Status == "revoked":
		return &authError{"revoked", "license revoked"}
	case l.expired(now):
		return &authError{"expired", "license expired"}
	}
	return nil
}

// useNonce records a request nonce; a nonce seen before is a replay.
// Called with s.mu held.
func (s *Server) useNonce(nonce string, now time.Time) *authError {
	if _, seen := s.nonces[nonce]; seen {
		return &authError{"replay_detected", "nonce already used"}
	}
	if len(s.nonces) > pruneAbove {
		for n, t := range s.nonces {
			if now.Sub(t) > time.Hour {
				delete(s.nonces, n)
			}
		}
	}
	s.nonces[nonce] = now
	return nil
}

// openSession stores a new session and returns its token. Called with s.mu
// held.
func (s *Server) openSession(key, hwid string, ttl int64, now time.Time) (string, *session) {
	if len(s.sessions) > pruneAbove {
		for id, ss := range s.sessions {
			if !now.Before(ss.exp.Add(s.opts.HeartbeatGrace)) {
				delete(s.sessions, id)
			}
		}
	}
	sess := &session{key: key, hwid: hwid, ttl: ttl, exp: now.Add(time.Duration(ttl) * time.Second).Truncate(time.Second)}
	sid := hex.EncodeToString(randomBytes(12))
	s.sessions[sid] = sess
	body, _ := json.Marshal(map[string]any{
		"sid": sid, "app": s.opts.AppID, "iat": now.Unix(), "exp": sess.exp.Unix(), "ttl": ttl,
	})
	b := base64.RawURLEncoding.EncodeToString(body)
	return b + "." + s.mac(b), sess
}

func (s *Server) mac(body string) string {
	m := hmac.New(sha256.New, s.macKey)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tokenID checks a session token's MAC and returns its session id.
func (s *Server) tokenID(token string) (string, bool) {
	body, mac, ok := strings.Cut(token, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.mac(body))) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", false
	}
	var claims struct {
		SID string `json:"sid"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.SID == "" {
		return "", false
	}
	return claims.SID, true
}

// answer writes the signed success answer. Called with s.mu held.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, l *License, token string, sess *session, nonce string, now time.Time) {
	if s.take(kindWrongNonce, r.Method, r.URL.Path) != nil {
		nonce = hex.EncodeToString(randomBytes(16))
	}
	var licExp any
	if l.ExpiresAt != nil {
		licExp = formatTime(*l.ExpiresAt)
	}
	p, _ := json.Marshal(map[string]any{
		"sessionToken":     token,
		"expiresIn":        sess.exp.Unix(),
		"sessionExpiresAt": formatTime(sess.exp),
		"nonce":            nonce,
		"timestamp":        now.Unix(),
		"requestId":        "req_" + hex.EncodeToString(randomBytes(8)),
		"appVariables":     map[string]any{},
		"licenseVariables": map[string]any{},
		"licenseExpiresAt": licExp,
		"maxHwidSlots":     l.MaxHWIDSlots,
		"hwidCount":        len(l.HWIDList),
		"licenseLabel":     l.Label,
	})
	payload := base64.StdEncoding.EncodeToString(p)
	sig := ed25519.Sign(s.signKey, []byte(payload))
	if s.take(kindTamper, r.Method, r.URL.Path) != nil {
		sig[0] ^= 0xff
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"status":    "ok",
		"payload":   payload,
		"signature": base64.StdEncoding.EncodeToString(sig),
		"keyId":     "k" + strconv.Itoa(s.keyID),
	})
}

func (s *Server) authFail(w http.ResponseWriter, e authError) {
	writeError(w, statusForCode(e.code), e.code, e.msg)
}
