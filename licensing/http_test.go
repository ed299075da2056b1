package licensing

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestHTTPHandler(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, h.clock.Now().Add(240*time.Hour))
	h.activate(alice, lic.Key)
	srv := httptest.NewServer(h.svc.HTTPHandler("s3cret"))
	defer srv.Close()

	get := func(path, token string) (*http.Response, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp, body
	}

	for _, tc := range []struct {
		name, path, token string
		status            int
	}{
		{"no token", "/api/v1/entitlements/tg:1001", "", http.StatusUnauthorized},
		{"wrong token", "/api/v1/entitlements/tg:1001", "s3cres", http.StatusUnauthorized},
		{"longer token", "/api/v1/entitlements/tg:1001", "s3cret2", http.StatusUnauthorized},
		{"bad identity", "/api/v1/entitlements/slack:1", "s3cret", http.StatusBadRequest},
		{"not a number", "/api/v1/entitlements/tg:abc", "s3cret", http.StatusBadRequest},
		{"no identity", "/api/v1/entitlements/", "s3cret", http.StatusNotFound},
	} {
		if resp, _ := get(tc.path, tc.token); resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}

	resp, body := get("/api/v1/entitlements/tg:1001", "s3cret")
	if resp.StatusCode != http.StatusOK || body["identity"] != "tg:1001" || body["entitled"] != true {
		t.Fatalf("entitled: %d %v", resp.StatusCode, body)
	}
	if ps, _ := body["products"].([]any); !slices.Equal(ps, []any{"pro"}) {
		t.Errorf("products = %v", body["products"])
	}
	ls, _ := body["licenses"].([]any)
	if len(ls) != 1 {
		t.Fatalf("licenses = %v", body["licenses"])
	}
	l := ls[0].(map[string]any)
	if l["product"] != "pro" || l["expiresAt"] != lic.ExpiresAt.UTC().Format(time.RFC3339) {
		t.Errorf("license = %v, want expiresAt %s", l, lic.ExpiresAt.UTC().Format(time.RFC3339))
	}

	if _, body := get("/api/v1/entitlements/tg:1001?product=team", "s3cret"); body["entitled"] != false {
		t.Errorf("?product=team: %v", body)
	}
	if _, body := get("/api/v1/entitlements/tg:1001?product=pro", "s3cret"); body["entitled"] != true {
		t.Errorf("?product=pro: %v", body)
	}
	if _, body := get("/api/v1/entitlements/discord:77", "s3cret"); body["entitled"] != false {
		t.Errorf("stranger: %v", body)
	}

	empty := httptest.NewServer(h.svc.HTTPHandler(""))
	defer empty.Close()
	req, _ := http.NewRequest(http.MethodGet, empty.URL+"/api/v1/entitlements/tg:1001", nil)
	req.Header.Set("Authorization", "Bearer ")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("empty token configured: %v %v", resp.StatusCode, err)
	}
}
