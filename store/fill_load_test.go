package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// TestSteadyFill measures how full the pages run when a shop adds its
// sales one at a time (one license, order and activation per commit, in
// random key order, as webhooks and /activate do), unlike the scale test,
// which fills the store in large transactions. Off by default; run with
//
//	SHOPBOT_FILL=20000 go test -count=1 -run TestSteadyFill -v ./store/
func TestSteadyFill(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOPBOT_FILL"))
	if n <= 0 {
		t.Skip("set SHOPBOT_FILL=N to run")
	}
	ctx := context.Background()
	// fsync is off: it changes the time taken, not how pages fill.
	db, err := Open(ctx, Options{Path: filepath.Join(t.TempDir(), "fill.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	randKey := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		s := string(b)
		return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	start := time.Now()
	for i := range n {
		who := identity.TelegramUser(int64(1_000_000_000 + i*7919%n))
		key := randKey()
		order := "cs_test_" + hex.EncodeToString(randBytes(24))
		_, err := db.UpsertOrder(ctx, order, func(o *Order, _ bool) error {
			o.Mode, o.ProductID, o.Identity, o.PaymentIntentID = "payment", "pro", who, "pi_"+hex.EncodeToString(randBytes(12))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		l := License{Key: key, ProductID: "pro", Owner: who, OrderID: order, Status: LicenseActive, MaxSlots: 2,
			Label: "shopbot:" + order, Source: "purchase", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(30 * 24 * time.Hour)}
		if _, err := db.AttachLicense(ctx, order, l); err != nil {
			t.Fatal(err)
		}
		token := base64.RawURLEncoding.EncodeToString(randBytes(80)) + "." + base64.RawURLEncoding.EncodeToString(randBytes(32))
		payload := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf(
			`{"sessionToken":%q,"expiresIn":%d,"sessionExpiresAt":"2026-12-05T20:00:00Z","nonce":%q,"timestamp":%d,"requestId":"req_%s","appVariables":{},"licenseVariables":{},"licenseExpiresAt":"2027-01-03T20:00:00Z","maxHwidSlots":2,"hwidCount":1,"licenseLabel":"shopbot:%s"}`,
			token, time.Now().Unix()+86400, hex.EncodeToString(randBytes(16)), time.Now().Unix(), hex.EncodeToString(randBytes(8)), order)))
		a := Activation{Identity: who, Key: key, ProductID: "pro", SessionToken: token, SessionExpiresAt: time.Now().Add(24 * time.Hour),
			Payload: payload, Signature: base64.StdEncoding.EncodeToString(randBytes(64)), KeyID: "k1",
			LicenseExpiresAt: l.ExpiresAt, HWIDCount: 1, MaxSlots: 2, ActivatedAt: time.Now(), RefreshedAt: time.Now()}
		if err := db.PutActivation(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var rows []string
	var used, alloc int
	mustNoErr(t, db.view(ctx, func(tx *bolt.Tx) error {
		for _, name := range []string{bucketActivations, bucketOrders, bucketLicenses, bucketOrdersPI, bucketLicensesOwner,
			bucketActivationsKey, bucketLicensesDue, bucketActivationsRefresh} {
			st := bucket(tx, name).Stats()
			u, a := st.LeafInuse+st.BranchInuse, st.LeafAlloc+st.BranchAlloc
			used, alloc = used+u, alloc+a
			rows = append(rows, fmt.Sprintf("%s %d/%d B", name, u/n, a/n))
		}
		return nil
	}))
	t.Logf("%d sales one per commit in %v; per license, used / in pages: %s; all %d / %d B (%.0f %% full)",
		n, time.Since(start).Round(time.Millisecond), strings.Join(rows, ", "), used/n, alloc/n, 100*float64(used)/float64(alloc))
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}
