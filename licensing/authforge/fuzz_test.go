package authforge

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
)

// fuzzKey is a fixed Ed25519 key so that fuzzed payloads can be signed.
func fuzzKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
}

func fuzzClient(t testing.TB) *Client {
	c, err := New(Config{AppID: "app", PublicKeys: []ed25519.PublicKey{fuzzKey().Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC) }
	return c
}

// FuzzAuthAnswer feeds arbitrary Auth API answers to the parser: it must
// never panic, never accept an unsigned answer, and classify failures.
func FuzzAuthAnswer(f *testing.F) {
	f.Add(200, []byte(`{"status":"ok","payload":"e30=","signature":"AAAA"}`))
	f.Add(403, []byte(`{"status":"error","error":"revoked","message":"x"}`))
	f.Add(429, []byte(`not json`))
	f.Add(200, []byte(`{"status":true}`))
	f.Add(500, []byte(``))
	f.Add(200, []byte(`{"error":["x"],"status":{"a":1}}`))
	c := fuzzClient(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		s, apiErr, err := c.session(response{status: status, header: http.Header{"Retry-After": {"1"}}, body: body}, "nonce")
		if apiErr == nil && err == nil {
			t.Fatalf("accepted an unsigned answer: %+v", s)
		}
		if apiErr != nil {
			_ = apiErr.Error()
			_ = errors.Is(apiErr, ErrServer)
		}
	})
}

// FuzzSignedPayload signs arbitrary payload bytes with the trusted key: the
// parser must not panic, and a success must carry a token and the nonce.
func FuzzSignedPayload(f *testing.F) {
	f.Add([]byte(`{"sessionToken":"eyJleHAiOjE3MzU2OTMyMDB9.mac","expiresIn":1735693200,"nonce":"n1","licenseExpiresAt":null,"maxHwidSlots":2,"hwidCount":1}`), "n1")
	f.Add([]byte(`{"sessionToken":"t","expiresIn":"3600","nonce":"n1","licenseExpiresAt":"2026-01-01T00:00:00Z","maxHwidSlots":"x"}`), "n1")
	f.Add([]byte(`{"sessionToken":"a.b.c","expiresIn":1e300,"nonce":"n","hwidCount":-1e30}`), "n")
	f.Add([]byte(`[]`), "")
	c := fuzzClient(f)
	key := fuzzKey()
	f.Fuzz(func(t *testing.T, payloadJSON []byte, nonce string) {
		p := base64.StdEncoding.EncodeToString(payloadJSON)
		body, _ := json.Marshal(map[string]any{
			"status":    "ok",
			"payload":   p,
			"signature": base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(p))),
		})
		s, apiErr, err := c.session(response{status: 200, body: body}, nonce)
		if apiErr != nil {
			t.Fatalf("signed success answer read as failure: %v", apiErr)
		}
		if err != nil {
			if errors.Is(err, ErrBadSignature) {
				t.Fatalf("valid signature rejected: %v", err)
			}
			return
		}
		if s.Token == "" || s.Payload != p {
			t.Fatalf("accepted session %+v", s)
		}
		var echo struct {
			Nonce string `json:"nonce"`
		}
		if json.Unmarshal(payloadJSON, &echo) != nil || echo.Nonce != nonce {
			t.Fatalf("accepted payload without the nonce %q: %s", nonce, payloadJSON)
		}
	})
}

// FuzzLicenseJSON reads arbitrary Developer API license objects.
func FuzzLicenseJSON(f *testing.F) {
	f.Add([]byte(`{"licenseKey":"ABCD-EFGH-JKMN-2345","status":"active","expiresAt":null,"maxHwidSlots":1,"hwidList":["tg:1"],"createdAt":"2025-01-01T00:00:00.000Z"}`))
	f.Add([]byte(`{"hwidList":[{"hwid":"tg:1"},{"value":"x"},3],"expiresAt":1735689600000,"maxHwidSlots":"16"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var j licenseJSON
		if json.Unmarshal(b, &j) != nil {
			return
		}
		_ = j.license()
	})
}
