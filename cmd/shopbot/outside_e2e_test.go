package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

// TestOutsideKeysE2E: with authforge.accept_outside_keys, a key made in the
// AuthForge dashboard is imported on /activate as the product whose
// outside_key_labels match its label and opens the gated command; a key of
// another app and one whose label matches no product are refused with
// their own messages, without a validate call (issue 13, item 6).
func TestOutsideKeysE2E(t *testing.T) {
	w := newWorld(t)
	w.authforgeExtra = "accept_outside_keys = true\n"
	w.productExtra = `outside_key_labels = ["legacy-*"]` + "\n"
	exp := time.Now().Add(90 * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	made := w.af.SeedLicense(authforgetest.License{Label: "legacy-2023-0042", ExpiresAt: &exp, MaxHWIDSlots: 2})
	foreign := w.af.SeedLicense(authforgetest.License{AppID: "app_other", Label: "legacy-2023-0043"})
	gift := w.af.SeedLicense(authforgetest.License{Label: "gift-7"})
	w.start()

	if r := w.say(w.buyer, "/premium"); strings.Contains(r.Text, testGatedReply) {
		t.Fatalf("gated command open before activation: %q", r.Text)
	}
	if r := w.say(w.buyer, "/activate "+foreign.Key); !strings.Contains(r.Text, "This key was not issued by this shop") {
		t.Errorf("/activate of another app's key = %q", r.Text)
	}
	if r := w.say(w.buyer, "/activate "+gift.Key); !strings.Contains(r.Text, "does not match any product here") {
		t.Errorf("/activate of a key matching no product = %q", r.Text)
	}
	if n := w.af.Calls("/auth/validate"); n != 0 {
		t.Errorf("refused outside keys cost %d validate calls, want 0", n)
	}
	r := w.say(w.buyer, "/activate "+made.Key)
	if !strings.Contains(r.Text, "Activated: Pro") || !strings.Contains(r.Text, "1 of 2 slots") {
		t.Fatalf("/activate of an outside key = %q", r.Text)
	}
	if r := w.say(w.buyer, "/premium"); !strings.Contains(r.Text, testGatedReply) {
		t.Errorf("gated command after importing = %q", r.Text)
	}
	if n := w.af.Calls("/auth/validate"); n != 1 {
		t.Errorf("%d validate calls, want 1", n)
	}

	w.readStore(func(ctx context.Context, db *store.DB) error {
		lic, err := db.GetLicense(ctx, made.Key)
		if err != nil {
			return err
		}
		if lic.Source != "import" || lic.ProductID != "pro" || lic.Owner.String() != "tg:5001" || lic.OrderID != "" ||
			!lic.ExpiresAt.Equal(exp) || lic.MaxSlots != 2 {
			t.Errorf("imported license = %+v", lic)
		}
		for _, k := range []string{foreign.Key, gift.Key} {
			if _, err := db.GetLicense(ctx, k); err == nil {
				t.Errorf("refused key %s was stored", k[:4])
			}
		}
		entries, err := db.RecentAudit(ctx, 20)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.Action == "import" && e.Actor == "tg:5001" {
				return nil
			}
		}
		t.Errorf("no import audit entry in %+v", entries)
		return nil
	})
}
