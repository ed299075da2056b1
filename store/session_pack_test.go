package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// A signed session comes back exactly as AuthForge sent it, so its
// signature still verifies, while the stored record is smaller; values that
// would not round-trip are kept as they came.
func TestSessionPackedAndExact(t *testing.T) {
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(nil)
	token := "eyJzaWQiOiJhYmMiLCJleHAiOjE3OTY0MTQ1OTl9." + strings.Repeat("m", 43)
	payload := base64.StdEncoding.EncodeToString([]byte(`{"sessionToken":"` + token + `","expiresIn":1796414599,"nonce":"0123456789abcdef","licenseLabel":"shopbot:cs_1"}`))
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte(payload)))
	cases := []Activation{
		{Identity: alice, Key: key1, ProductID: "pro", SessionToken: token, Payload: payload, Signature: sig, ActivatedAt: t0},
		// A token other than the payload's, a payload that is not JSON, and
		// one in unpadded base64, and a signature that is not base64.
		{Identity: bob, Key: key1, ProductID: "pro", SessionToken: "other", Payload: payload, Signature: sig, ActivatedAt: t0},
		{Identity: alice, Key: key2, ProductID: "pro", SessionToken: token, Payload: base64.StdEncoding.EncodeToString([]byte("not json")), Signature: "??", ActivatedAt: t0},
		{Identity: alice, Key: key3, ProductID: "pro", SessionToken: "", Payload: strings.TrimRight(payload, "="), Signature: sig, ActivatedAt: t0},
	}
	for _, enc := range []bool{false, true} {
		t.Run(fmt.Sprint("encrypted=", enc), func(t *testing.T) {
			var k []byte
			if enc {
				k = testKey(6)
			}
			db := openTest(t, k)
			for _, a := range cases {
				mustNoErr(t, db.PutActivation(ctx, a))
			}
			for _, want := range cases {
				got, err := db.ActivationsFor(ctx, want.Identity)
				mustNoErr(t, err)
				var found bool
				for _, g := range got {
					if g.Key == want.Key {
						found = true
						if g.SessionToken != want.SessionToken || g.Payload != want.Payload || g.Signature != want.Signature {
							t.Errorf("%s/%s came back as token %q payload %q sig %q", want.Identity, want.Key[:4], g.SessionToken, g.Payload, g.Signature)
						}
					}
				}
				if !found {
					t.Fatalf("%s/%s not found", want.Identity, want.Key[:4])
				}
			}
			got, _ := db.ActivationsFor(ctx, alice)
			for _, g := range got {
				if g.Key == key1 {
					raw, _ := base64.StdEncoding.DecodeString(g.Signature)
					if !ed25519.Verify(pub, []byte(g.Payload), raw) {
						t.Error("the stored session no longer verifies")
					}
				}
			}
			if enc {
				return
			}
			mustNoErr(t, db.view(ctx, func(tx *bolt.Tx) error {
				raw := bucket(tx, bucketActivations).Get(activationKey(alice, db.crypt.kid(key1)))
				if len(raw) >= len(payload)+len(token)+len(sig) {
					t.Errorf("packed record is %d bytes; the session alone was %d", len(raw), len(payload)+len(token)+len(sig))
				}
				return nil
			}))
		})
	}
}
