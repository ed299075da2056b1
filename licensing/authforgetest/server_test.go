package authforgetest

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call posts (or gets) raw JSON and decodes the answer.
func call(t *testing.T, s *Server, method, path, bearer string, body any) (int, http.Header, map[string]any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.URL()+path, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

func TestWireValidate(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	s := New(Options{Now: func() time.Time { return now }})
	defer s.Close()
	lic := s.SeedLicense(License{Label: "x"})
	if len(lic.Key) != 19 || strings.ContainsAny(lic.Key, "IO01") {
		t.Errorf("seeded key %q", lic.Key)
	}
	o := s.Options()
	req := map[string]any{"appId": o.AppID, "appSecret": o.AppSecret, "licenseKey": lic.Key, "hwid": "tg:1", "nonce": "n1", "ttlSeconds": 7200}
	status, _, out := call(t, s, "POST", "/auth/validate", "", req)
	if status != 200 || out["status"] != "ok" {
		t.Fatalf("validate: %d %v", status, out)
	}
	payload := out["payload"].(string)
	sig, _ := base64.StdEncoding.DecodeString(out["signature"].(string))
	if !ed25519.Verify(s.PublicKey(), []byte(payload), sig) {
		t.Fatal("signature does not verify over the base64 payload string")
	}
	raw, _ := base64.StdEncoding.DecodeString(payload)
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p["nonce"] != "n1" || p["expiresIn"].(float64) != float64(now.Add(2*time.Hour).Unix()) ||
		p["licenseExpiresAt"] != nil || p["hwidCount"].(float64) != 1 || p["licenseLabel"] != "x" {
		t.Errorf("payload %v", p)
	}
	tok := p["sessionToken"].(string)
	body, _, ok := strings.Cut(tok, ".")
	if claims, err := base64.RawURLEncoding.DecodeString(body); !ok || err != nil || !strings.Contains(string(claims), `"exp":`) {
		t.Errorf("token %q: body %s, %v", tok, claims, err)
	}
	// The same nonce again is a replay.
	status, _, out = call(t, s, "POST", "/auth/validate", "", req)
	if status != 400 || out["error"] != "replay_detected" {
		t.Errorf("replay: %d %v", status, out)
	}
	hb := map[string]any{"appId": o.AppID, "sessionToken": tok, "nonce": "n2", "hwid": "tg:1"}
	if status, _, out = call(t, s, "POST", "/auth/heartbeat", "", hb); status != 200 || out["status"] != "ok" {
		t.Errorf("heartbeat: %d %v", status, out)
	}
	if s.CreditsUsed() != 1 || s.Calls("/auth/") != 3 || s.Calls("POST /auth/heartbeat") != 1 {
		t.Errorf("credits %d, calls %d", s.CreditsUsed(), s.Calls("/auth/"))
	}
}

func TestWireDeveloperAPI(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	o := s.Options()
	if status, _, out := call(t, s, "GET", "/v1/licenses?appId="+o.AppID, "wrong", nil); status != 401 || out["error"] == nil {
		t.Errorf("bad bearer: %d %v", status, out)
	}
	status, _, out := call(t, s, "POST", "/v1/licenses", o.APIKey, map[string]any{
		"appId": o.AppID, "quantity": 3, "expiresAt": nil, "maxHwidSlots": 2, "label": "batch"})
	if status != 201 || len(out["licenses"].([]any)) != 3 {
		t.Fatalf("create: %d %v", status, out)
	}
	first := out["licenses"].([]any)[0].(map[string]any)
	if first["expiresAt"] != nil || first["maxHwidSlots"].(float64) != 2 || first["status"] != "active" {
		t.Errorf("created %v", first)
	}
	status, _, out = call(t, s, "GET", "/v1/licenses?limit=2&appId="+o.AppID, o.APIKey, nil)
	if status != 200 || len(out["licenses"].([]any)) != 2 || out["cursor"] == nil {
		t.Fatalf("page 1: %d %v", status, out)
	}
	status, _, out = call(t, s, "GET", "/v1/licenses?limit=2&appId="+o.AppID+"&cursor="+out["cursor"].(string), o.APIKey, nil)
	if status != 200 || len(out["licenses"].([]any)) != 1 || out["cursor"] != nil {
		t.Fatalf("page 2: %d %v", status, out)
	}
	key := first["licenseKey"].(string)
	if status, _, out = call(t, s, "PUT", "/v1/licenses/"+key, o.APIKey, map[string]any{"action": "explode"}); status != 400 || out["error"] != "bad_request" {
		t.Errorf("unknown action: %d %v", status, out)
	}
	if status, _, out = call(t, s, "GET", "/v1/licenses/ABCD-EFGH-JKLM-NPQR", o.APIKey, nil); status != 404 || out["error"] != "not_found" {
		t.Errorf("unknown key: %d %v", status, out)
	}
	if status, _, _ = call(t, s, "GET", "/v1/nothing", o.APIKey, nil); status != 404 {
		t.Errorf("unknown path: %d", status)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	s.FailNext("/v1/licenses", 1, 429, "")
	status, h, out := call(t, s, "GET", "/v1/licenses?appId="+s.Options().AppID, s.Options().APIKey, nil)
	if status != 429 || h.Get("Retry-After") != "1" || out["error"] != "rate_limited" {
		t.Errorf("429: %d %v %v", status, h, out)
	}
	s.FailNext("/v1/licenses", 1, 500, "")
	s.ClearFaults()
	if status, _, _ = call(t, s, "GET", "/v1/licenses?appId="+s.Options().AppID, s.Options().APIKey, nil); status != 200 {
		t.Errorf("after ClearFaults: %d", status)
	}
	s.SetCredits(0)
	lic := s.SeedLicense(License{})
	o := s.Options()
	status, _, out = call(t, s, "POST", "/auth/validate", "", map[string]any{"appId": o.AppID, "appSecret": o.AppSecret, "licenseKey": lic.Key, "hwid": "h", "nonce": "n"})
	if status != 402 || out["error"] != "no_credits" {
		t.Errorf("no credits: %d %v", status, out)
	}
	s.SetUnlimitedCredits()
	s.SetLatency(0)
}

// TestWireOtherAppKeys: the Developer API hides another app's key (404)
// unless that app belongs to the same account (AccountApps), and validate
// never accepts it with this app's credentials.
func TestWireOtherAppKeys(t *testing.T) {
	for _, shared := range []bool{false, true} {
		opts := Options{}
		if shared {
			opts.AccountApps = []string{"app_sibling"}
		}
		s := New(opts)
		lic := s.SeedLicense(License{AppID: "app_sibling", Label: "x"})
		o := s.Options()
		status, _, out := call(t, s, "GET", "/v1/licenses/"+lic.Key, o.APIKey, nil)
		switch {
		case !shared && (status != 404 || out["error"] != "not_found"):
			t.Errorf("GET another app's key = %d %v, want 404 not_found", status, out)
		case shared && (status != 200 || out["appId"] != "app_sibling" || out["label"] != "x"):
			t.Errorf("GET a sibling app's key = %d %v, want 200 with its appId", status, out)
		}
		req := map[string]any{"appId": o.AppID, "appSecret": o.AppSecret, "licenseKey": lic.Key, "hwid": "tg:1", "nonce": "n1"}
		if status, _, out := call(t, s, "POST", "/auth/validate", "", req); status == 200 && out["status"] == "ok" {
			t.Errorf("validate accepted another app's key (shared %v): %v", shared, out)
		}
		s.Close()
	}
}
