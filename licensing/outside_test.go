package licensing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/licensing/authforgetest"
	"github.com/shopbot/shopbot/store"
)

// outsideProducts are testProducts with outside_key_labels: "shared-*"
// matches both, so the first in config order (pro) must win.
func outsideProducts() []config.Product {
	ps := []config.Product{testProducts[0], testProducts[1]}
	ps[0].OutsideKeyLabels = []string{"pro-*", "shared-*"}
	ps[1].OutsideKeyLabels = []string{"team-?", "shared-*"}
	return ps
}

// siblingApp is another app of the fake's AuthForge account: the Developer
// API reads its keys (200, with its appId), validate refuses them.
const siblingApp = "app_sibling"

func acceptOutside(limit int) func(*Options) {
	return func(o *Options) {
		o.Products = outsideProducts()
		o.AcceptOutsideKeys = true
		o.ActivationLimit = limit
	}
}

// getCalls counts Developer API reads of one license.
func (h *harness) getCalls() int { return h.fake.Calls("GET /v1/licenses/") }

// assertNotStored fails when key was written to the store.
func (h *harness) assertNotStored(key string) {
	h.t.Helper()
	if _, err := h.db.GetLicense(h.ctx, key); !errors.Is(err, store.ErrNotFound) {
		h.t.Errorf("%s: store.GetLicense err = %v, want not found (nothing imported)", authforge.MaskKey(key), err)
	}
}

func TestOutsideKeyImportedAndActivated(t *testing.T) {
	h := newHarness(t, acceptOutside(0))
	exp := h.clock.Now().Add(60 * 24 * time.Hour).Truncate(time.Millisecond)
	made := h.fake.SeedLicense(authforgetest.License{Label: "pro-dashboard-7", ExpiresAt: &exp, MaxHWIDSlots: 3})

	res := h.activate(alice, strings.ToLower(made.Key))
	if res.Product.ID != "pro" || res.Renewed {
		t.Fatalf("activation = product %q renewed %v, want a new activation of pro", res.Product.ID, res.Renewed)
	}
	lic := h.license(made.Key)
	if lic.Source != SourceImport || lic.Owner != alice || lic.OrderID != "" || lic.ProductID != "pro" ||
		!lic.ExpiresAt.Equal(exp) || lic.MaxSlots != 3 || lic.Label != "pro-dashboard-7" || lic.Status != store.LicenseActive {
		t.Errorf("imported license = %+v", lic)
	}
	if n := len(h.activations(alice)); n != 1 {
		t.Errorf("alice has %d activations, want 1", n)
	}
	if got, _ := h.rec.lastSync(alice); len(got) != 1 || got[0] != "pro" {
		t.Errorf("alice's access synced to %v, want [pro]", got)
	}
	if got, err := h.svc.Entitled(h.ctx, alice); err != nil || len(got) != 1 || got[0] != "pro" {
		t.Errorf("Entitled(alice) = %v, %v", got, err)
	}
	entries, err := h.db.RecentAudit(h.ctx, 5)
	if err != nil || len(entries) == 0 || entries[0].Action != "import" || entries[0].Actor != alice.String() ||
		!strings.Contains(entries[0].Detail, "pro") || strings.Contains(entries[0].Target, made.Key) {
		t.Errorf("audit = %+v, %v; want an import entry by alice with a masked key", entries, err)
	}
	if h.getCalls() != 1 || h.validateCalls() != 1 {
		t.Errorf("%d lookups and %d validates, want 1 and 1", h.getCalls(), h.validateCalls())
	}

	// Now the key is the shop's: another holder activates it the usual
	// way, with no further lookup, and alice stays its owner.
	h.activate(bob, made.Key)
	if h.getCalls() != 1 {
		t.Errorf("a known key was looked up again (%d lookups)", h.getCalls())
	}
	if o := h.license(made.Key).Owner; o != alice {
		t.Errorf("owner after bob's activation = %s, want alice", o)
	}

	// A label both products match goes to the first in config order; a
	// lifetime key stays lifetime.
	shared := h.fake.SeedLicense(authforgetest.License{Label: "shared-1"})
	if res := h.activate(carol, shared.Key); res.Product.ID != "pro" {
		t.Errorf("shared label imported as %q, want pro (first in config order)", res.Product.ID)
	}
	if l := h.license(shared.Key); !l.ExpiresAt.IsZero() || l.MaxSlots != 1 {
		t.Errorf("lifetime import = %+v", l)
	}
	team := h.fake.SeedLicense(authforgetest.License{Label: "team-B"})
	if res := h.activate(carol, team.Key); res.Product.ID != "team" {
		t.Errorf("team label imported as %q, want team", res.Product.ID)
	}
}

func TestOutsideKeyRefusals(t *testing.T) {
	h := newHarness(t, acceptOutside(100))
	past := h.clock.Now().Add(-time.Hour)
	foreign := h.fake.SeedLicense(authforgetest.License{AppID: "app_other", Label: "pro-1"})
	noProduct := h.fake.SeedLicense(authforgetest.License{Label: "gift-1"})
	revoked := h.fake.SeedLicense(authforgetest.License{Label: "pro-2", Status: "revoked"})
	expired := h.fake.SeedLicense(authforgetest.License{Label: "pro-3", ExpiresAt: &past})
	sibling := h.fake.SeedLicense(authforgetest.License{AppID: siblingApp, Label: "pro-5"})

	cases := []struct {
		name string
		key  string
		want error
	}{
		{"foreign app", foreign.Key, ErrUnknownKey},
		{"another app of the account", sibling.Key, ErrUnknownKey},
		{"no such key", "ABCD-EFGH-JKLM-NPQR", ErrUnknownKey},
		{"label matches no product", noProduct.Key, ErrNoOutsideProduct},
		{"revoked", revoked.Key, ErrRevoked},
		{"expired", expired.Key, ErrExpired},
	}
	for _, c := range cases {
		if _, err := h.svc.Activate(h.ctx, alice, c.key); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		h.assertNotStored(c.key)
	}

	// AuthForge may answer 403 for another app's key: refused the same
	// way, and not mistaken for broken credentials.
	h.fake.FailNext("GET /v1/licenses/", 1, 403, "forbidden")
	if _, err := h.svc.Activate(h.ctx, alice, noProduct.Key); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("403: err = %v, want ErrUnknownKey", err)
	}
	if n := h.rec.alertCount(); n != 0 {
		t.Errorf("%d admin alerts for refused buyer keys, want 0", n)
	}

	// A wrong api_key (401) is the seller's problem: the buyer is told
	// to try later and the admins are alerted.
	h.fake.FailNext("GET /v1/licenses/", 1, 401, "unauthorized")
	if _, err := h.svc.Activate(h.ctx, alice, noProduct.Key); !errors.Is(err, ErrUnavailable) {
		t.Errorf("401: err = %v, want ErrUnavailable", err)
	}
	if n := h.rec.alertCount(); n != 1 {
		t.Errorf("%d admin alerts after a 401, want 1", n)
	}

	// A key whose slots are all bound elsewhere fails validate: nothing is
	// imported, so no one owns it by trying.
	full := h.fake.SeedLicense(authforgetest.License{Label: "pro-4", HWIDList: []string{"tg:999"}})
	if _, err := h.svc.Activate(h.ctx, alice, full.Key); !errors.Is(err, ErrSlotsFull) {
		t.Errorf("slots full: err = %v", err)
	}
	h.assertNotStored(full.Key)

	if got := h.validateCalls(); got != 1 {
		t.Errorf("%d validate calls, want 1 (only the slots-full key reached validate)", got)
	}
	if got := h.getCalls(); got != len(cases)+3 {
		t.Errorf("%d lookups, want %d", got, len(cases)+3)
	}
}

func TestOutsideKeysDisabledByDefault(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Products = outsideProducts() })
	made := h.fake.SeedLicense(authforgetest.License{Label: "pro-1"})
	calls := h.authCalls()
	if _, err := h.svc.Activate(h.ctx, alice, made.Key); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	if got := h.authCalls(); got != calls {
		t.Errorf("AuthForge saw %d calls with accept_outside_keys off, want 0", got-calls)
	}
	h.assertNotStored(made.Key)
}

// Lookups count as activation attempts; malformed input costs neither a
// lookup nor an attempt.
func TestOutsideKeyLookupsRateLimited(t *testing.T) {
	h := newHarness(t, acceptOutside(2))
	for range 3 {
		if _, err := h.svc.Activate(h.ctx, alice, "ABCD-EFGH-JKLM-NPQ"); !errors.Is(err, ErrMalformedKey) {
			t.Fatalf("malformed: err = %v", err)
		}
	}
	if got := h.authCalls(); got != 0 {
		t.Fatalf("malformed keys made %d AuthForge calls, want 0", got)
	}
	for _, k := range []string{"ABCD-EFGH-JKLM-NPQR", "ABCD-EFGH-JKLM-NPQS"} {
		if _, err := h.svc.Activate(h.ctx, alice, k); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("%s: err = %v", k, err)
		}
	}
	var rl *RateLimitError
	if _, err := h.svc.Activate(h.ctx, alice, "ABCD-EFGH-JKLM-NPQT"); !errors.As(err, &rl) {
		t.Fatalf("third lookup: err = %v, want *RateLimitError", err)
	}
	if got := h.getCalls(); got != 2 {
		t.Errorf("%d lookups, want 2 (the limited attempt must not reach AuthForge)", got)
	}
	if _, err := h.svc.Activate(h.ctx, bob, "ABCD-EFGH-JKLM-NPQT"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("bob is limited by alice's attempts: err = %v", err)
	}
}
