package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// TestStoreScale is a load test, not a unit test: it runs only with
// SHOPBOT_SCALE=<licenses> and prints figures. One real purchase and
// activation go through the real wiring; their order, license and
// activation are then copied (new ids, keys and buyers, same sizes) until
// the store holds that many licenses, each with its order and one
// activation. Then the shop starts again on that store.
//
//	SHOPBOT_SCALE=100000 go test -count=1 -run TestStoreScale -v -timeout 60m ./cmd/shopbot/
func TestStoreScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHOPBOT_SCALE"))
	if n <= 0 {
		t.Skip("load test: set SHOPBOT_SCALE=<licenses> to run it")
	}
	w := newWorld(t)
	w.start()
	key := w.buyAndDeliver("evt_scale_1", "cs_test_scale_1")
	if r := w.say(w.buyer, "/activate "+key); !strings.Contains(r.Text, "Activated") {
		t.Fatalf("/activate: %q", r.Text)
	}
	w.waitIdle()
	w.shutdown()
	path := filepath.Join(w.dir, "shop.db")

	genStart := time.Now()
	fillStore(t, path, key, n)
	gen := time.Since(genStart)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("store with %d licenses (each with its order and one activation): %.1f MB, %d bytes per license (filled in %v)",
		n, float64(fi.Size())/1e6, fi.Size()/int64(n), gen.Round(time.Second))
	logBuckets(t, path, n)

	runtime.GC()
	anon0, file0 := rss(t)
	started := time.Now()
	w.start()
	w.health()
	startup := time.Since(started)
	runtime.GC()
	anon1, file1 := rss(t)
	t.Logf("start-up to /healthz: %v; process RSS grew by %.1f MB anonymous, %.1f MB file-backed (the store is %.1f MB)",
		startup.Round(time.Millisecond), float64(anon1-anon0)/1e6, float64(file1-file0)/1e6, float64(fi.Size())/1e6)

	w.say(w.admin, "/start")
	stats := timeReplies(t, w, "/stats", "Shop figures", 20)
	mid := scaleKey(n / 2)
	lookup := timeReplies(t, w, "/lookup "+mid, mid[:4]+"-…-"+mid[15:], 20)
	t.Logf("/stats answered in p50 %v, max %v; /lookup KEY in p50 %v, max %v (20 each, through the Telegram stand-in)",
		quantile(stats, 50), quantile(stats, 100), quantile(lookup, 50), quantile(lookup, 100))
	code, body := w.getAuthorized("/metrics", testAPIToken)
	if code != http.StatusOK || !strings.Contains(body, fmt.Sprintf(`shopbot_licenses{status="active"} %d`, n)) {
		t.Fatalf("/metrics does not count %d active licenses: %d\n%s", n, code, body)
	}
}

// fillStore copies the one real order, license and activation in the
// store at path until it holds n licenses.
func fillStore(t *testing.T, path, key string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Path: path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lic, err := db.GetLicense(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	order, err := db.GetOrder(ctx, lic.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	acts, err := db.ActivationsForKey(ctx, key)
	if err != nil || len(acts) != 1 {
		t.Fatalf("activations: %v %v", acts, err)
	}
	act := acts[0]
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 64 {
		wg.Go(func() {
			for i := range jobs {
				if err := copyLicense(ctx, db, order, lic, act, i); err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := 1; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

func copyLicense(ctx context.Context, db *store.DB, o store.Order, l store.License, a store.Activation, i int) error {
	who := identity.TelegramUser(int64(1_000_000_000 + i))
	k := scaleKey(i)
	o.ID = fmt.Sprintf("cs_test_scale_%09d", i)
	o.SessionID, o.Identity, o.LicenseKey = o.ID, who, ""
	o.PaymentIntentID = fmt.Sprintf("pi_scale_%09d", i)
	o.CreatedAt, o.UpdatedAt = time.Time{}, time.Time{}
	if _, err := db.UpsertOrder(ctx, o.ID, func(p *store.Order, _ bool) error {
		id := p.ID
		*p = o
		p.ID = id
		p.Status = store.OrderPending
		return nil
	}); err != nil {
		return err
	}
	l.Key, l.Owner, l.OrderID, l.Label = k, who, o.ID, "shopbot:"+o.ID
	if _, err := db.AttachLicense(ctx, o.ID, l); err != nil {
		return err
	}
	a.Identity, a.Key = who, k
	return db.PutActivation(ctx, a)
}

// scaleKey is the i-th license key of the filled store: the key alphabet
// (A-Z without I and O, digits 2-9) in base 32.
func scaleKey(i int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	var b [16]byte
	for j := 15; j >= 0; j-- {
		b[j] = alphabet[i%32]
		i /= 32
	}
	return string(b[0:4]) + "-" + string(b[4:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16])
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// timeReplies sends text as the admin n times and returns how long each
// answer (the first reply starting with prefix) took.
func timeReplies(t *testing.T, w *world, text, prefix string, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for range n {
		t0 := time.Now()
		w.answer(w.admin, text, prefix)
		out = append(out, time.Since(t0))
	}
	return out
}

// rss reads this process's resident memory from /proc: anonymous and
// file-backed (the store's mmap counts there), in bytes.
func rss(t *testing.T) (anon, file int64) {
	t.Helper()
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return anon, file
}

// logBuckets prints what takes the space: each bucket's records, the
// bytes they use and the bytes of the pages they hold, per license.
func logBuckets(t *testing.T, path string, n int) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	err = bdb.View(func(tx *bolt.Tx) error {
		var lines []string
		var used, held int
		err := tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			u, h := st.LeafInuse+st.BranchInuse, st.LeafAlloc+st.BranchAlloc
			used, held = used+u, held+h
			if h >= 4096*4 {
				lines = append(lines, fmt.Sprintf("%s: %d keys, %d B used / %d B in pages per license", name, st.KeyN, u/n, h/n))
			}
			return nil
		})
		t.Logf("buckets (larger ones): %s; all: %d B used, %d B in pages per license; file %d pages, %d free",
			strings.Join(lines, "; "), used/n, held/n, tx.Size()/int64(bdb.Info().PageSize), bdb.Stats().FreePageN)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
