package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// TestKillDuringStarsFulfillmentLosesNothing runs the real binary, lets
// buyers pay Stars invoices at once and kills the process with SIGKILL
// inside AuthForge's create of a license (after AuthForge made it, before
// shopbot heard). Telegram keeps the updates the dead process had taken
// but not confirmed and delivers them to the next run. In the end every
// payment has exactly one license, at AuthForge and in the store.
func TestKillDuringStarsFulfillmentLosesNothing(t *testing.T) {
	_, _, bin := dockerBinary(t)
	w := starsWorld(t)
	w.af.SetLatency(5 * time.Millisecond)
	cfg := filepath.Join(w.dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(w.config()), 0o600); err != nil {
		t.Fatal(err)
	}
	const buyers = 24
	p := startBinary(t, bin, cfg, w.env)
	links := make([]string, buyers)
	users := make([]telegramtest.User, buyers)
	for i := range buyers {
		users[i] = telegramtest.User{ID: int64(80000 + i), FirstName: "B"}
		after := w.tg.SendText(users[i], users[i].ID, "/buy pro")
		m := w.wait(users[i].ID, after, func(m telegramtest.SentMessage) bool { return len(m.Buttons()) > 0 }, "/buy reply")
		for _, b := range m.Buttons() {
			if strings.HasPrefix(b.URL, "https://t.me/$") {
				links[i] = b.URL
			}
		}
		if links[i] == "" {
			t.Fatalf("no Stars button for buyer %d: %+v", i, m.Buttons())
		}
	}

	killed := make(chan struct{})
	var once sync.Once
	w.af.OnCreate(func(total int) {
		if total >= buyers/3 {
			once.Do(func() { p.kill(t); close(killed) })
		}
	})
	charges := make([]string, buyers)
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// A payment whose pre-checkout the dying process did not
			// answer is refused by Telegram: that buyer did not pay.
			if res, err := w.tg.Pay(ctx, users[i], links[i]); err == nil && res.OK {
				charges[i] = res.ChargeID
			}
		})
	}
	waitFor(t, "the kill inside a create", func() bool {
		select {
		case <-killed:
			return true
		default:
			return false
		}
	})
	w.af.OnCreate(nil)
	wg.Wait()
	paid := 0
	for _, c := range charges {
		if c != "" {
			paid++
		}
	}
	if n := len(w.af.Licenses()); n >= paid {
		t.Fatalf("the kill came after all %d licenses existed: it interrupted nothing", n)
	}

	p = startBinary(t, bin, cfg, w.env)
	waitFor(t, "every payment fulfilled", func() bool {
		return w.tg.Pending() == 0 && pendingEvents(t, p.addr) == 0 && len(w.af.Licenses()) >= paid
	})
	p.stop(t)

	owners := map[string]int{}
	for _, l := range w.af.Licenses() {
		owners[l.Label]++
	}
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(w.dir, "shop.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i, c := range charges {
		if c == "" {
			continue
		}
		ls, err := db.LicensesByOwner(context.Background(), identity.TelegramUser(users[i].ID))
		if err != nil || len(ls) != 1 {
			t.Fatalf("buyer %d paid (%s) and has %d licenses in the store (%v), want 1", i, c, len(ls), err)
		}
		if n := owners["shopbot:"+ls[0].OrderID]; n != 1 {
			t.Errorf("buyer %d's order %s has %d licenses at AuthForge, want 1", i, ls[0].OrderID, n)
		}
	}
	if len(owners) != paid || len(w.af.Licenses()) != paid {
		t.Fatalf("%d licenses under %d labels at AuthForge for %d payments", len(w.af.Licenses()), len(owners), paid)
	}
	if paid < buyers/3 {
		t.Fatalf("only %d of %d buyers could pay", paid, buyers)
	}
	st, err := db.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Revenue) != 1 || st.Revenue[0].Payments != int64(paid) || st.Revenue[0].Amount != int64(250*paid) {
		t.Fatalf("ledger %+v, want %d payments of 250 Stars", st.Revenue, paid)
	}
	t.Logf("%d of %d buyers paid; one license each", paid, buyers)
}
