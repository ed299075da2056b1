package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

// cli runs a shopbot subcommand against the world's config, as a seller
// would in a second terminal, and returns its exit code and output.
func (w *world) cli(args ...string) (int, string, string) {
	w.t.Helper()
	path := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(path, []byte(w.config()), 0o600); err != nil {
		w.t.Fatal(err)
	}
	args = append([]string{args[0], "-config", path}, args[1:]...)
	var out, errOut bytes.Buffer
	env := func(k string) (string, bool) { v, ok := w.env[k]; return v, ok }
	code := runWith(ctxTimeout(w.t, time.Minute), args, env, &out, &errOut, hooks{})
	return code, out.String(), errOut.String()
}

// openSnapshot opens a snapshot file as a store (a copy, so the file
// itself stays as written) with key.
func openSnapshot(t *testing.T, path string, key []byte) *store.DB {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), store.Options{Path: cp, EncryptionKey: key})
	if err != nil {
		t.Fatalf("snapshot %s does not open: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestBackupDuringWebhookBurst: `shopbot backup` run while webhooks pour in
// writes, through the running shop, a snapshot that opens and holds every
// event acknowledged before the backup started.
func TestBackupDuringWebhookBurst(t *testing.T) {
	w := newWorld(t)
	w.start()
	const senders, perSender = 4, 40
	var mu sync.Mutex
	var acked []string
	var started sync.WaitGroup
	started.Add(senders)
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			// Counted down once, even when a webhook fails early.
			ready := sync.OnceFunc(started.Done)
			defer ready()
			for i := range perSender {
				if i == 5 {
					ready()
				}
				id := fmt.Sprintf("evt_burst_%d_%d", g, i)
				ev := stripetest.CheckoutExpired(stripetest.EventParams{ID: id, SessionID: "cs_" + id, Product: "pro", Identity: "tg:5001"})
				// Not postEvent: it may not stop the test from this goroutine.
				if code := w.post(ev, stripetest.SignEvent(testWebhookSecret, ev, time.Now())); code != http.StatusOK {
					t.Errorf("webhook %s: %d", id, code)
					return
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		})
	}
	started.Wait()
	mu.Lock()
	before := slices.Clone(acked)
	mu.Unlock()
	snap := filepath.Join(t.TempDir(), "snap.db")
	code, out, errOut := w.cli("backup", "-o", snap, "-server", "http://"+w.addr)
	wg.Wait()
	if code != 0 {
		t.Fatalf("backup exit %d: %s%s\n%s", code, out, errOut, w.logs)
	}
	if !strings.Contains(out, "through the running shop") {
		t.Errorf("backup did not go through the running shop: %s", out)
	}
	if len(before) < senders*5 {
		t.Fatalf("only %d events acknowledged before the backup", len(before))
	}
	db := openSnapshot(t, snap, nil)
	for _, id := range before {
		if _, err := db.GetEvent(context.Background(), id); err != nil {
			t.Fatalf("event %s acknowledged before the backup is not in the snapshot: %v", id, err)
		}
	}
	// The endpoint is the store's whole content: no token, no snapshot.
	if code, _ := w.getAuthorized(BackupPath, "wrong-token-0123456789"); code != http.StatusUnauthorized {
		t.Fatalf("backup with a wrong token: %d", code)
	}
}

// TestRestoreOldSnapshotLosesNothing: a snapshot taken after order A is
// restored after orders B and C were paid. On the next start catch-up
// re-reads B and C from Stripe, the worker finds their licenses at
// AuthForge by label, and every buyer's /license shows every key, with no
// second license for anything.
func TestRestoreOldSnapshotLosesNothing(t *testing.T) {
	w := newWorld(t)
	t.Cleanup(w.stripe.Reset)
	w.start()
	paid := func(id string, created time.Time) []byte {
		return stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_" + id, SessionID: "cs_test_" + id,
			Product: "pro", Identity: "tg:5001", Created: created})
	}
	now := time.Now()
	evA, evB, evC := paid("a", now.Add(-3*time.Minute)), paid("b", now.Add(-2*time.Minute)), paid("c", now.Add(-time.Minute))
	w.say(w.buyer, "/start")
	w.postEvent(evA)
	w.waitUntil("order A licensed", func() bool { return len(w.af.Licenses()) == 1 })
	w.waitIdle()
	snap := filepath.Join(t.TempDir(), "old.db")
	if code, out, errOut := w.cli("backup", "-o", snap, "-server", "http://"+w.addr); code != 0 {
		t.Fatalf("backup exit %d: %s%s", code, out, errOut)
	}
	for _, ev := range [][]byte{evB, evC} {
		w.postEvent(ev)
	}
	w.waitUntil("orders B and C licensed", func() bool { return len(w.af.Licenses()) == 3 })
	w.waitIdle()
	w.shutdown()

	// The disk is lost; the old snapshot goes back. Stripe still lists
	// the events, as its Events API does for 30 days.
	w.stripe.SetEvents(evA, evB, evC)
	code, out, errOut := w.cli("restore", snap)
	if code != 0 {
		t.Fatalf("restore exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "previous store file is kept at") {
		t.Errorf("restore output: %s", out)
	}
	delivered := len(w.keyMessages(w.buyer.ID))
	w.start()
	// B and C are not in the snapshot: catch-up brings them back and the
	// worker delivers their keys again.
	w.waitUntil("orders B and C re-read and delivered", func() bool { return len(w.keyMessages(w.buyer.ID)) >= delivered+2 })
	w.waitIdle()
	lics := w.af.Licenses()
	if len(lics) != 3 {
		t.Fatalf("AuthForge holds %d licenses after the restore, want 3 (one per order): %+v", len(lics), lics)
	}
	r := w.say(w.buyer, "/license")
	for _, label := range []string{"shopbot:cs_test_a", "shopbot:cs_test_b", "shopbot:cs_test_c"} {
		i := slices.IndexFunc(lics, func(l authforgetest.License) bool { return l.Label == label })
		if i < 0 {
			t.Fatalf("no license labelled %s: %+v", label, lics)
		}
		if !strings.Contains(r.Text, lics[i].Key) {
			t.Errorf("/license after the restore lacks the key of %s:\n%s", label, r.Text)
		}
	}
}

// TestRestoreRefuses: restore changes nothing while the shop runs, for a
// file that is not a snapshot, or for a snapshot made with another key,
// and says why.
func TestRestoreRefuses(t *testing.T) {
	w := newWorld(t)
	w.storeExtra = `encryption_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="` + "\n"
	w.start()
	snap := filepath.Join(t.TempDir(), "good.db")
	if code, out, errOut := w.cli("backup", "-o", snap, "-server", "http://"+w.addr); code != 0 {
		t.Fatalf("backup exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := w.cli("restore", snap); code != 1 || !strings.Contains(errOut, "shopbot is running") ||
		!strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("restore over a running shop: exit %d: %s", code, errOut)
	}
	w.health() // still serving from its own file
	w.shutdown()
	// Stopped, backup reads the file itself.
	offline := filepath.Join(t.TempDir(), "offline.db")
	if code, out, errOut := w.cli("backup", "-o", offline); code != 0 || !strings.Contains(out, "from the store file") ||
		!strings.Contains(out, ", encrypted;") {
		t.Fatalf("backup of a stopped shop: exit %d: %s%s", code, out, errOut)
	}
	live := filepath.Join(w.dir, "shop.db")
	before, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}

	corrupt := filepath.Join(t.TempDir(), "corrupt.db")
	good, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corrupt, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := w.cli("restore", corrupt); code != 1 || !strings.Contains(errOut, "is not a usable snapshot") ||
		!strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("restore of a torn file: exit %d: %s", code, errOut)
	}
	w.storeExtra = `encryption_key = "HyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4="` + "\n"
	if code, _, errOut := w.cli("restore", snap); code != 1 || !strings.Contains(errOut, "does not open with store.encryption_key") ||
		!strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("restore with another key: exit %d: %s", code, errOut)
	}
	after, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a refused restore changed the store file")
	}
	if m, _ := filepath.Glob(live + ".before-restore-*"); len(m) > 0 {
		t.Fatalf("a refused restore moved the store aside: %v", m)
	}
}

// TestAutomaticSnapshots: with store.backup_dir the shop writes a snapshot
// at start that opens with its key, and keeps only backup_keep of them,
// leaving other files alone.
func TestAutomaticSnapshots(t *testing.T) {
	w := newWorld(t)
	dir := filepath.Join(t.TempDir(), "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := []string{"shopbot-20200101T000000Z.db", "shopbot-20200102T000000Z.db", "shopbot-20200103T000000Z.db"}
	for _, n := range append(slices.Clone(old), "notes.txt") {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("old"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.storeExtra = fmt.Sprintf("backup_dir = %q\nbackup_interval = \"1h\"\nbackup_keep = 2\n", dir)
	w.start()
	snaps := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "shopbot-*.db"))
		slices.Sort(m)
		return m
	}
	w.waitUntil("a new snapshot and old ones pruned", func() bool {
		s := snaps()
		return len(s) == 2 && !slices.Contains(old, filepath.Base(s[1]))
	})
	s := snaps()
	if filepath.Base(s[0]) != old[2] {
		t.Errorf("kept %v, want the newest old one and the new one", s)
	}
	if _, err := store.Inspect(context.Background(), s[1], nil); err != nil {
		t.Errorf("automatic snapshot: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("pruning touched another file: %v", err)
	}
}

// TestRebuildWithoutBackup: the store is lost and there is no backup.
// `shopbot rebuild` makes a new one from AuthForge's shopbot licenses and
// Stripe's Checkout sessions: each buyer owns their key again (/license),
// an activated buyer passes the gate again without /activate (the session
// is validated lazily), no license is created, and what matched nothing
// is reported.
func TestRebuildWithoutBackup(t *testing.T) {
	w := newWorld(t)
	t.Cleanup(w.stripe.Reset)
	second := telegramtest.User{ID: 5002, FirstName: "Cal"}
	w.start()
	params := func(id, who string) stripetest.EventParams {
		return stripetest.EventParams{ID: "evt_" + id, SessionID: "cs_test_" + id, Product: "pro", Identity: who}
	}
	pa, pb := params("ra", "tg:5001"), params("rb", "tg:5002")
	keyA := w.buyAndDeliver(pa.ID, pa.SessionID)
	w.postEvent(stripetest.CheckoutCompleted(pb))
	w.waitUntil("order B licensed", func() bool { return len(w.af.Licenses()) == 2 })
	w.waitIdle()
	if r := w.say(w.buyer, "/activate "+keyA); !strings.Contains(r.Text, "ctivated") {
		t.Fatalf("/activate: %q", r.Text)
	}
	stray := w.af.SeedLicense(authforgetest.License{Label: "shopbot:grant:0badc0de", MaxHWIDSlots: 1})
	w.shutdown()
	if err := os.Remove(filepath.Join(w.dir, "shop.db")); err != nil {
		t.Fatal(err)
	}

	// Stripe lists the paid sessions, and one more that never got its
	// license.
	pd := params("rd", "tg:5003")
	w.stripe.SetCheckoutSessions(stripetest.CheckoutSession(pa, "complete"), stripetest.CheckoutSession(pb, "complete"),
		stripetest.CheckoutSession(pd, "complete"))
	w.stripe.SetSubscriptions()
	code, out, errOut := w.cli("rebuild")
	if code != 0 {
		t.Fatalf("rebuild exit %d: %s%s", code, out, errOut)
	}
	for _, want := range []string{"2 orders, 2 licenses (0 revoked), 1 activations", "could not be matched (2)",
		"shopbot:grant:0badc0de", "cs_test_rd (pro, tg:5003) has no license"} {
		if !strings.Contains(out, want) {
			t.Errorf("rebuild report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, stray.Key) {
		t.Errorf("rebuild report shows a whole license key:\n%s", out)
	}
	if code, _, errOut := w.cli("rebuild"); code != 1 || !strings.Contains(errOut, "never writes over one") {
		t.Fatalf("second rebuild over the new store: exit %d: %s", code, errOut)
	}

	// D's payment event is still in Stripe's Events API: the first
	// catch-up of the rebuilt store reaches back 30 days and fulfills it.
	pd.Created = time.Now().Add(-20 * 24 * time.Hour)
	w.stripe.SetEvents(stripetest.CheckoutCompleted(pd))
	w.start()
	w.waitUntil("the paid session without a license fulfilled", func() bool { return len(w.af.Licenses()) == 4 })
	w.waitIdle()
	if r := w.say(w.buyer, "/premium"); !strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("activated buyer after the rebuild: /premium = %q", r.Text)
	}
	licenses := w.af.Licenses()
	if len(licenses) != 4 {
		t.Fatalf("AuthForge holds %d licenses after the rebuild, want the same 3 and one for cs_test_rd", len(licenses))
	}
	for _, c := range []struct {
		who   telegramtest.User
		label string
	}{{w.buyer, "shopbot:cs_test_ra"}, {second, "shopbot:cs_test_rb"}} {
		i := slices.IndexFunc(licenses, func(l authforgetest.License) bool { return l.Label == c.label })
		if i < 0 {
			t.Fatalf("no license %s", c.label)
		}
		if r := w.say(c.who, "/license"); !strings.Contains(r.Text, licenses[i].Key) {
			t.Errorf("%s: /license after the rebuild lacks their key:\n%s", c.who.FirstName, r.Text)
		}
	}
}

// TestLogConfig: [log] format "json" makes every line a JSON record, and
// level "warn" drops the info records.
func TestLogConfig(t *testing.T) {
	w := newWorld(t)
	w.extra = "\n[log]\nformat = \"json\"\nlevel = \"info\"\n"
	w.start()
	w.shutdown()
	lines := strings.Split(strings.TrimSpace(w.logs.String()), "\n")
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
	}
	if !strings.Contains(w.logs.String(), `"msg":"shopbot running"`) {
		t.Fatalf("no JSON info record:\n%s", w.logs)
	}
	w.extra = "\n[log]\nformat = \"text\"\nlevel = \"warn\"\n"
	w.start()
	w.shutdown()
	if s := w.logs.String(); strings.Contains(s, "shopbot running") || strings.Contains(s, "level=INFO") {
		t.Fatalf("level warn still logs info records:\n%s", s)
	}
}
