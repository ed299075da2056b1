package authforgetest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// License is a license as the fake holds it.
type License struct {
	Key          string
	AppID        string
	Status       string     // "active" or "revoked"
	ExpiresAt    *time.Time // nil: lifetime
	MaxHWIDSlots int        // 0: unlimited
	HWIDList     []string
	Label        string
	CreatedAt    time.Time
}

func (l *License) clone() License {
	c := *l
	c.HWIDList = slices.Clone(l.HWIDList)
	if l.ExpiresAt != nil {
		t := *l.ExpiresAt
		c.ExpiresAt = &t
	}
	return c
}

func (l *License) expired(now time.Time) bool {
	return l.ExpiresAt != nil && !now.Before(*l.ExpiresAt)
}

// bind binds hwid to a free slot if it is not bound yet; false when every
// slot is taken by another HWID.
func (l *License) bind(hwid string) bool {
	if slices.Contains(l.HWIDList, hwid) {
		return true
	}
	if l.MaxHWIDSlots > 0 && len(l.HWIDList) >= l.MaxHWIDSlots {
		return false
	}
	l.HWIDList = append(l.HWIDList, hwid)
	return true
}

// keyAlphabet is AuthForge's key alphabet: A–Z without I and O, 2–9.
const keyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// newKey returns a fresh key of four groups of four. Called with s.mu held.
func (s *Server) newKey() string {
	for {
		b := randomBytes(16)
		var sb strings.Builder
		for i, c := range b {
			if i > 0 && i%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(keyAlphabet[int(c)%len(keyAlphabet)])
		}
		if k := sb.String(); s.licenses[k] == nil {
			return k
		}
	}
}

// SeedLicense stores l directly (as if created in the dashboard) and returns
// the stored copy. Empty fields get defaults: a fresh key, the app id,
// status active, one HWID slot, createdAt now. An existing license with the
// same key is replaced.
func (s *Server) SeedLicense(l License) License {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Key == "" {
		l.Key = s.newKey()
	}
	if l.AppID == "" {
		l.AppID = s.opts.AppID
	}
	if l.Status == "" {
		l.Status = "active"
	}
	if l.MaxHWIDSlots == 0 {
		l.MaxHWIDSlots = 1
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = s.now().UTC()
	}
	stored := l.clone()
	if s.licenses[l.Key] == nil {
		s.order = append(s.order, l.Key)
	}
	s.licenses[l.Key] = &stored
	return stored.clone()
}

// License returns a copy of the license with key.
func (s *Server) License(key string) (License, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.licenses[key]
	if l == nil {
		return License{}, false
	}
	return l.clone(), true
}

// Licenses returns copies of every license in creation order.
func (s *Server) Licenses() []License {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]License, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.licenses[k].clone())
	}
	return out
}

// Revoke revokes key directly, as from the AuthForge dashboard; false for an
// unknown key.
func (s *Server) Revoke(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.licenses[key]
	if l == nil {
		return false
	}
	l.Status = "revoked"
	return true
}

// licenseJSON is the Developer API form of l.
func licenseJSON(l *License) map[string]any {
	var exp any
	if l.ExpiresAt != nil {
		exp = formatTime(*l.ExpiresAt)
	}
	hwids := l.HWIDList
	if hwids == nil {
		hwids = []string{}
	}
	return map[string]any{
		"licenseKey":   l.Key,
		"appId":        l.AppID,
		"status":       l.Status,
		"expiresAt":    exp,
		"maxHwidSlots": l.MaxHWIDSlots,
		"hwidList":     hwids,
		"label":        l.Label,
		"createdAt":    formatTime(l.CreatedAt),
	}
}

func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// authorized checks the Developer API bearer key.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+s.opts.APIKey {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or invalid API key")
		return false
	}
	return true
}

type createRequest struct {
	AppID              string  `json:"appId"`
	Quantity           *int    `json:"quantity"`
	ExpiresAt          *string `json:"expiresAt"`
	MaxHWIDSlots       *int    `json:"maxHwidSlots"`
	UnlimitedHWIDSlots bool    `json:"unlimitedHwidSlots"`
	Label              string  `json:"label"`
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var req createRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not JSON")
		return
	}
	if req.AppID != s.opts.AppID {
		writeError(w, http.StatusForbidden, "forbidden", "appId does not belong to this API key")
		return
	}
	qty, slots := 1, 1
	if req.Quantity != nil {
		qty = *req.Quantity
	}
	if req.MaxHWIDSlots != nil {
		slots = *req.MaxHWIDSlots
	}
	var exp *time.Time
	if req.ExpiresAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "expiresAt is not ISO 8601")
			return
		}
		t = t.UTC()
		exp = &t
	}
	switch {
	case qty < 1 || qty > 100:
		writeError(w, http.StatusBadRequest, "bad_request", "quantity must be 1..100")
		return
	case !req.UnlimitedHWIDSlots && (slots < 1 || slots > 16):
		writeError(w, http.StatusBadRequest, "bad_request", "maxHwidSlots must be 1..16")
		return
	case len(req.Label) > 128:
		writeError(w, http.StatusBadRequest, "bad_request", "label longer than 128 characters")
		return
	}
	if req.UnlimitedHWIDSlots {
		slots = 0
	}
	s.mu.Lock()
	out := make([]map[string]any, 0, qty)
	for range qty {
		l := &License{Key: s.newKey(), AppID: s.opts.AppID, Status: "active", ExpiresAt: exp,
			MaxHWIDSlots: slots, Label: req.Label, CreatedAt: s.now().UTC()}
		s.licenses[l.Key] = l
		s.order = append(s.order, l.Key)
		out = append(out, licenseJSON(l))
	}
	created := s.onCreate
	s.mu.Unlock()
	if created != nil {
		created(len(s.Licenses()))
	}
	if lost, ok := s.takeAfterCreate(); ok {
		if lost == hangUp {
			dropConnection(w)
			return
		}
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"licenses": out})
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	switch app := q.Get("appId"); {
	case app == "":
		writeError(w, http.StatusBadRequest, "bad_request", "appId is required")
		return
	case app != s.opts.AppID:
		writeError(w, http.StatusForbidden, "forbidden", "appId does not belong to this API key")
		return
	}
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be 1..200")
			return
		}
		limit = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start, err := parseCursor(q.Get("cursor"), len(s.order))
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "invalid cursor")
		return
	}
	end := min(start+limit, len(s.order))
	page := make([]map[string]any, 0, end-start)
	for _, k := range s.order[start:end] {
		page = append(page, licenseJSON(s.licenses[k]))
	}
	var next any
	if end < len(s.order) {
		next = base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, map[string]any{"licenses": page, "cursor": next})
}

func parseCursor(c string, n int) (int, error) {
	if c == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, err
	}
	v, ok := strings.CutPrefix(string(raw), "o:")
	if !ok {
		return 0, errors.New("bad cursor")
	}
	i, err := strconv.Atoi(v)
	if err != nil || i < 0 || i > n {
		return 0, errors.New("bad cursor")
	}
	return i, nil
}

// license looks up the {key} of the request (a license of this app or of
// one of Options.AccountApps); it answers 404 itself.
// Called with s.mu held.
func (s *Server) license(w http.ResponseWriter, r *http.Request) *License {
	l := s.licenses[r.PathValue("key")]
	if l == nil || (l.AppID != s.opts.AppID && !slices.Contains(s.opts.AccountApps, l.AppID)) {
		writeError(w, http.StatusNotFound, "not_found", "license not found")
		return nil
	}
	return l
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.license(w, r); l != nil {
		writeJSON(w, http.StatusOK, licenseJSON(l))
	}
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var req struct {
		Action    string  `json:"action"`
		ExpiresAt *string `json:"expiresAt"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "body is not JSON")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.license(w, r)
	if l == nil {
		return
	}
	switch req.Action {
	case "revoke":
		l.Status = "revoked"
	case "extend":
		if req.ExpiresAt == nil {
			writeError(w, http.StatusBadRequest, "bad_request", "extend needs expiresAt")
			return
		}
		t, err := time.Parse(time.RFC3339Nano, *req.ExpiresAt)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "expiresAt is not ISO 8601")
			return
		}
		t = t.UTC()
		l.ExpiresAt = &t
	case "reset-hwid":
		l.HWIDList = nil
	default:
		writeError(w, http.StatusBadRequest, "bad_request", "unknown action "+strconv.Quote(req.Action))
		return
	}
	writeJSON(w, http.StatusOK, licenseJSON(l))
}
