package licensing

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/shopbot/shopbot/identity"
)

// EntitlementsPath is the route HTTPHandler serves.
const EntitlementsPath = "/api/v1/entitlements/"

// entitlementsResponse is the JSON body of GET /api/v1/entitlements/{identity}.
type entitlementsResponse struct {
	Identity string            `json:"identity"`
	Entitled bool              `json:"entitled"`
	Products []string          `json:"products"`
	Licenses []licenseResponse `json:"licenses"`
}

type licenseResponse struct {
	Product string `json:"product"`
	// ExpiresAt is RFC 3339, or null for a lifetime license.
	ExpiresAt *time.Time `json:"expiresAt"`
}

type errorResponse struct {
	Error string `json:"error"`
}

// HTTPHandler serves GET /api/v1/entitlements/{identity}[?product=id] for
// the seller's own services: it requires "Authorization: Bearer <token>"
// (compared in constant time; 401 otherwise, and always with an empty
// token), 400 for a malformed identity, 503 when AuthForge cannot confirm
// anything. It runs the gate, so it costs no credit while sessions are
// fresh. Mount it at EntitlementsPath.
func (s *Service) HTTPHandler(token string) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !authorized(r, token, want) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shopbot"`)
			writeJSON(w, http.StatusUnauthorized, errorResponse{Error: "unauthorized"})
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, errorResponse{Error: "method not allowed"})
			return
		}
		raw, ok := strings.CutPrefix(r.URL.Path, EntitlementsPath)
		if !ok || raw == "" || strings.Contains(raw, "/") {
			writeJSON(w, http.StatusNotFound, errorResponse{Error: "not found"})
			return
		}
		who, err := identity.Parse(raw)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorResponse{Error: "identity must be tg:<id> or discord:<id>"})
			return
		}
		var ents []Entitlement
		if product := r.URL.Query().Get("product"); product != "" {
			var ent Entitlement
			ent, err = s.Check(r.Context(), who, product)
			if err == nil {
				ents = []Entitlement{ent}
			}
		} else {
			ents, err = s.Entitlements(r.Context(), who)
		}
		if err != nil && !errors.Is(err, ErrNotEntitled) {
			s.log.Warn("entitlement API could not answer", "identity", who.String(), "err", err)
			writeJSON(w, http.StatusServiceUnavailable, errorResponse{Error: "license server unavailable, try again later"})
			return
		}
		resp := entitlementsResponse{Identity: who.String(), Entitled: len(ents) > 0, Products: []string{}, Licenses: []licenseResponse{}}
		for _, e := range ents {
			resp.Products = append(resp.Products, e.ProductID)
			lr := licenseResponse{Product: e.ProductID}
			if !e.ExpiresAt.IsZero() {
				t := e.ExpiresAt.UTC()
				lr.ExpiresAt = &t
			}
			resp.Licenses = append(resp.Licenses, lr)
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// authorized compares the bearer token in constant time (over hashes, so
// the length of the token does not leak either).
func authorized(r *http.Request, token string, want [32]byte) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
