package authforge

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Session is a verified Auth API answer: a session for one license key and
// HWID, valid until ExpiresAt.
type Session struct {
	Token     string    // sessionToken, for Heartbeat
	ExpiresAt time.Time // end of the session
	// Payload and Signature are the signed answer as sent (base64 payload,
	// base64 Ed25519 signature), kept so that a stored session can be
	// re-verified with Verify.
	Payload   string
	Signature string
	KeyID     string
	// LicenseExpiresAt is the license's end; zero for a lifetime license or
	// when the payload does not say.
	LicenseExpiresAt time.Time
	MaxHWIDSlots     int // 0 when the payload does not say
	HWIDCount        int // bound HWIDs, 0 when the payload does not say
	Label            string
}

// Validate asks AuthForge whether key is good for hwid, binding hwid to a
// free slot if needed, and opens a session of ttl (0: AuthForge's default,
// 24h; the server clamps to 1h..7d). It costs one credit when it succeeds.
func (c *Client) Validate(ctx context.Context, key, hwid string, ttl time.Duration) (Session, error) {
	op := "validate " + MaskKey(key)
	return c.authCall(ctx, op, "/auth/validate", func(nonce string) map[string]any {
		body := map[string]any{
			"appId":      c.appID,
			"appSecret":  c.appSecret,
			"licenseKey": key,
			"hwid":       hwid,
			"nonce":      nonce,
		}
		if secs := int64(ttl / time.Second); secs > 0 {
			body["ttlSeconds"] = secs
		}
		return body
	})
}

// Heartbeat renews the session of sessionToken for hwid. revoked, expired
// and session_expired failures mean the entitlement (or the session) is
// gone; after ErrSessionExpired a caller may Validate again.
func (c *Client) Heartbeat(ctx context.Context, sessionToken, hwid string) (Session, error) {
	op := "heartbeat " + MaskKey(sessionToken)
	return c.authCall(ctx, op, "/auth/heartbeat", func(nonce string) map[string]any {
		return map[string]any{
			"appId":        c.appID,
			"sessionToken": sessionToken,
			"nonce":        nonce,
			"hwid":         hwid,
		}
	})
}

// Verify checks a stored signed answer: signature must be a valid Ed25519
// signature of payload's ASCII bytes by one of the configured public keys.
func (c *Client) Verify(payload, signature string) error {
	sig, err := decodeBase64(strings.TrimSpace(signature))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: malformed signature", ErrBadSignature)
	}
	if len(c.keys) == 0 {
		return fmt.Errorf("%w: no public key configured", ErrBadSignature)
	}
	for _, k := range c.keys {
		if ed25519.Verify(k, []byte(payload), sig) {
			return nil
		}
	}
	return ErrBadSignature
}

// authCall runs an Auth API request: a fresh nonce per attempt, rate limits
// retried after c.delays, one retry on a network failure.
func (c *Client) authCall(ctx context.Context, op, path string, build func(nonce string) map[string]any) (Session, error) {
	netRetried := false
	limited := 0
	for {
		nonce := newNonce()
		res, _, err := c.send(ctx, op, http.MethodPost, c.authURL+path, build(nonce), false)
		if err != nil {
			if ctx.Err() != nil || netRetried {
				return Session{}, err
			}
			netRetried = true
			c.log.Info("authforge request failed; retrying once", "op", op, "err", err)
			continue
		}
		sess, apiErr, err := c.session(res, nonce)
		if apiErr == nil {
			if err != nil {
				return Session{}, fmt.Errorf("authforge: %s: %w", op, err)
			}
			return sess, nil
		}
		if apiErr.rateLimited() && limited < len(c.delays) {
			wait := max(c.delays[limited], apiErr.RetryAfter)
			if wait <= maxRetryWait {
				limited++
				c.log.Info("authforge rate limited; retrying with a fresh nonce", "op", op, "wait", wait)
				if err := c.sleep(ctx, wait); err != nil {
					return Session{}, fmt.Errorf("authforge: %s: %w: %w", op, apiErr, err)
				}
				continue
			}
		}
		return Session{}, fmt.Errorf("authforge: %s: %w", op, apiErr)
	}
}

// newNonce returns 16 random bytes in hex.
func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}

// envelope is the outer JSON of an Auth API answer.
type envelope struct {
	Status    json.RawMessage `json:"status"`
	Payload   string          `json:"payload"`
	Signature string          `json:"signature"`
	KeyID     json.RawMessage `json:"keyId"`
	Error     json.RawMessage `json:"error"`
}

// payload is the signed JSON inside an answer.
type payload struct {
	SessionToken     string          `json:"sessionToken"`
	ExpiresIn        json.RawMessage `json:"expiresIn"`
	Nonce            string          `json:"nonce"`
	SessionExpiresAt json.RawMessage `json:"sessionExpiresAt"`
	LicenseExpiresAt json.RawMessage `json:"licenseExpiresAt"`
	MaxHWIDSlots     json.RawMessage `json:"maxHwidSlots"`
	HWIDCount        json.RawMessage `json:"hwidCount"`
	LicenseLabel     string          `json:"licenseLabel"`
}

// session interprets an Auth API answer to a request that sent nonce. A
// failure AuthForge reports comes back as apiErr; an answer that cannot be
// trusted or read as err.
func (c *Client) session(res response, nonce string) (s Session, apiErr *APIError, err error) {
	ok2xx := res.status >= 200 && res.status < 300
	var env envelope
	if jerr := json.Unmarshal(res.body, &env); jerr != nil {
		if !ok2xx {
			return Session{}, c.apiError(res), nil
		}
		return Session{}, nil, fmt.Errorf("%w: malformed answer: %v", ErrServer, jerr)
	}
	if !ok2xx || !successful(env) {
		return Session{}, c.apiError(res), nil
	}
	if err := c.Verify(env.Payload, env.Signature); err != nil {
		return Session{}, nil, err
	}
	p, err := decodePayload(env.Payload)
	if err != nil {
		return Session{}, nil, err
	}
	if p.Nonce != nonce {
		return Session{}, nil, ErrNonceMismatch
	}
	if p.SessionToken == "" {
		return Session{}, nil, fmt.Errorf("%w: payload has no session token", ErrServer)
	}
	now := c.now()
	s = Session{
		Token:     p.SessionToken,
		Payload:   env.Payload,
		Signature: env.Signature,
		KeyID:     flexString(env.KeyID),
		Label:     p.LicenseLabel,
	}
	var found bool
	if s.ExpiresAt, found = tokenExpiry(p.SessionToken, now); !found {
		if s.ExpiresAt, found = sessionTime(p.ExpiresIn, now); !found {
			s.ExpiresAt, _ = parseTime(p.SessionExpiresAt)
		}
	}
	s.LicenseExpiresAt, _ = parseTime(p.LicenseExpiresAt)
	s.MaxHWIDSlots, _ = parseInt(p.MaxHWIDSlots)
	s.HWIDCount, _ = parseInt(p.HWIDCount)
	return s, nil, nil
}

// successful reports whether an answer's status is a success value: "ok",
// true, "success" or "valid". An answer without status counts as a success
// when it carries a payload and no error.
func successful(env envelope) bool {
	raw := strings.TrimSpace(string(env.Status))
	if raw == "" || raw == "null" {
		return env.Payload != "" && len(env.Error) == 0
	}
	if raw == "true" {
		return true
	}
	var s string
	if json.Unmarshal(env.Status, &s) != nil {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "ok", "success", "valid", "true":
		return true
	}
	return false
}

func decodePayload(b64 string) (payload, error) {
	raw, err := decodeBase64(b64)
	if err != nil {
		return payload{}, fmt.Errorf("%w: payload is not base64: %v", ErrServer, err)
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return payload{}, fmt.Errorf("%w: payload is not JSON: %v", ErrServer, err)
	}
	return p, nil
}

// tokenExpiry reads "expiresIn" or "exp" from the JSON body of a session
// token "<base64url body>.<base64url mac>".
func tokenExpiry(token string, now time.Time) (time.Time, bool) {
	body, _, ok := strings.Cut(token, ".")
	if !ok {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(body, "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		ExpiresIn json.RawMessage `json:"expiresIn"`
		Exp       json.RawMessage `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return time.Time{}, false
	}
	if t, ok := sessionTime(claims.ExpiresIn, now); ok {
		return t, true
	}
	return sessionTime(claims.Exp, now)
}

// relativeLimit: an expiresIn below it (a date before 2001) is read as
// seconds from now rather than as a unix time.
const relativeLimit = 1e9

// sessionTime reads a session end: unix seconds, or, for small values,
// seconds from now.
func sessionTime(raw json.RawMessage, now time.Time) (time.Time, bool) {
	if n, ok := parseInt(raw); ok && n > 0 && n < relativeLimit {
		return now.Add(time.Duration(n) * time.Second).UTC(), true
	}
	return parseTime(raw)
}

// flexString reads a JSON string or number as a string.
func flexString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
