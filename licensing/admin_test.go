package licensing

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

func TestRevokeKeepsOtherProducts(t *testing.T) {
	h := newHarness(t)
	pro := h.issue("pro", alice, time.Time{})
	team := h.issue("team", alice, time.Time{})
	h.activate(alice, pro.Key)
	h.activate(alice, team.Key)
	h.activate(bob, pro.Key)

	lic, err := h.svc.Revoke(h.ctx, "tg:1", pro.Key)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if lic.Status != store.LicenseRevoked || lic.RevokedAt.IsZero() {
		t.Errorf("returned license = %+v", lic)
	}
	// Immediate: the sessions are fresh, yet the gate denies.
	if _, err := h.svc.Check(h.ctx, alice, "pro"); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("Check(alice, pro) err = %v", err)
	}
	if _, err := h.svc.Check(h.ctx, alice, "team"); err != nil {
		t.Errorf("Check(alice, team) err = %v; the other license must still count", err)
	}
	if got, _ := h.rec.lastSync(alice); !slices.Equal(got, []string{"team"}) {
		t.Errorf("SyncAccess(alice) = %v, want [team]", got)
	}
	if got, ok := h.rec.lastSync(bob); !ok || len(got) != 0 {
		t.Errorf("SyncAccess(bob) = %v, want []", got)
	}
	masked := authforge.MaskKey(pro.Key)
	for _, ns := range [][]string{texts(h.rec.noticesTo(alice)), texts(h.rec.noticesTo(bob))} {
		if !slices.ContainsFunc(ns, func(s string) bool { return strings.Contains(s, masked) && strings.Contains(s, "revoked") }) {
			t.Errorf("holder not told about %s: %q", masked, ns)
		}
		for _, s := range ns {
			if strings.Contains(s, pro.Key) {
				t.Errorf("notice shows the whole key: %q", s)
			}
		}
	}
	if remote, err := h.af.GetLicense(h.ctx, pro.Key); err != nil || remote.Status != "revoked" {
		t.Errorf("AuthForge license = %+v, %v; want revoked", remote, err)
	}
	entries, err := h.db.RecentAudit(h.ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Action != "revoke" || entries[0].Target != masked || entries[0].Actor != "tg:1" {
		t.Errorf("audit = %+v", entries)
	}
	for _, e := range entries {
		if strings.Contains(e.Target+e.Detail, pro.Key) {
			t.Errorf("audit entry holds the whole key: %+v", e)
		}
	}
	// Revoking again is safe and quiet.
	before := len(h.rec.noticesTo(alice))
	if _, err := h.svc.Revoke(h.ctx, "tg:1", pro.Key); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if len(h.rec.noticesTo(alice)) != before {
		t.Error("second revoke notified again")
	}
}

func TestRevokeIdentity(t *testing.T) {
	h := newHarness(t)
	owned := h.issue("pro", alice, time.Time{})
	shared := h.issue("team", bob, time.Time{})
	other := h.issue("pro", bob, time.Time{})
	h.activate(alice, shared.Key)
	lics, err := h.svc.RevokeIdentity(h.ctx, "tg:1", alice)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range lics {
		keys = append(keys, l.Key)
	}
	slices.Sort(keys)
	want := []string{owned.Key, shared.Key}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("revoked %v, want %v", keys, want)
	}
	if h.license(other.Key).Status != store.LicenseActive {
		t.Error("a license unrelated to alice was revoked")
	}
}

func TestGrantDeliversKey(t *testing.T) {
	h := newHarness(t)
	lic, err := h.svc.Grant(h.ctx, "tg:1", carol, "pro")
	if err != nil {
		t.Fatal(err)
	}
	if lic.Source != "grant" || !strings.HasPrefix(lic.Label, "shopbot:grant:") || lic.Owner != carol {
		t.Errorf("license = %+v", lic)
	}
	if want := h.clock.Now().Add(30 * 24 * time.Hour); !lic.ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want %s", lic.ExpiresAt, want)
	}
	if stored := h.license(lic.Key); stored.Key != lic.Key {
		t.Errorf("grant not stored")
	}
	ns := h.rec.noticesTo(carol)
	if len(ns) != 1 || ns[0].ActivateKey != lic.Key {
		t.Fatalf("notices = %+v", ns)
	}
	h.activate(carol, lic.Key)
	if _, err := h.svc.Check(h.ctx, carol, "pro"); err != nil {
		t.Errorf("granted license does not entitle: %v", err)
	}
	if _, err := h.svc.Grant(h.ctx, "tg:1", carol, "gold"); !errors.Is(err, ErrUnknownProduct) {
		t.Errorf("unknown product: %v", err)
	}
	if e, _ := h.db.RecentAudit(h.ctx, 1); len(e) != 1 || e[0].Action != "grant" {
		t.Errorf("audit = %+v", e)
	}
}

func TestExtend(t *testing.T) {
	h := newHarness(t)
	end := h.clock.Now().Add(24 * time.Hour).Truncate(time.Second)
	lic := h.issue("pro", alice, end)
	h.activate(alice, lic.Key)

	got, err := h.svc.Extend(h.ctx, "tg:1", lic.Key, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := end.Add(48 * time.Hour)
	if !got.ExpiresAt.Equal(want) || !h.license(lic.Key).ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want %s", got.ExpiresAt, want)
	}
	remote, err := h.af.GetLicense(h.ctx, lic.Key)
	if err != nil || remote.ExpiresAt == nil || !remote.ExpiresAt.Equal(want) {
		t.Errorf("AuthForge expiry = %v, %v; want %s", remote.ExpiresAt, err, want)
	}
	// Past the old end the sweeper keeps the activation.
	h.clock.Advance(30 * time.Hour)
	if n, _ := h.svc.Sweep(h.ctx); n != 0 {
		t.Errorf("sweep removed %d after extension", n)
	}
	lifetime := h.issue("team", alice, time.Time{})
	if _, err := h.svc.Extend(h.ctx, "tg:1", lifetime.Key, time.Hour); !errors.Is(err, ErrLifetime) {
		t.Errorf("lifetime: err = %v", err)
	}
	if _, err := h.svc.Extend(h.ctx, "tg:1", lic.Key, -time.Hour); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative: err = %v", err)
	}
}

func TestResetHWIDFreesSlots(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	h.activate(bob, lic.Key)
	if _, err := h.svc.ResetHWID(h.ctx, "tg:1", lic.Key); err != nil {
		t.Fatal(err)
	}
	if len(h.activations(alice))+len(h.activations(bob)) != 0 {
		t.Error("activations kept after reset")
	}
	if got, _ := h.rec.lastSync(bob); len(got) != 0 {
		t.Errorf("SyncAccess(bob) = %v", got)
	}
	if remote, _ := h.af.GetLicense(h.ctx, lic.Key); len(remote.HWIDList) != 0 {
		t.Errorf("AuthForge HWIDs = %v", remote.HWIDList)
	}
	if res := h.activate(carol, lic.Key); res.SlotsUsed != 1 {
		t.Errorf("slots after reset = %d, want 1", res.SlotsUsed)
	}
}

func TestTransferLimit(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	if _, err := h.svc.Transfer(h.ctx, carol, lic.Key); !errors.Is(err, ErrNotHolder) {
		t.Errorf("stranger: err = %v", err)
	}
	for i := range 2 {
		left, err := h.svc.Transfer(h.ctx, alice, lic.Key)
		if err != nil || left != 1-i {
			t.Fatalf("transfer %d = %d, %v", i+1, left, err)
		}
		h.clock.Advance(24 * time.Hour)
	}
	_, err := h.svc.Transfer(h.ctx, alice, lic.Key)
	var tl *TransferLimitError
	if !errors.As(err, &tl) || tl.RetryAfter <= 0 {
		t.Fatalf("third transfer: err = %v", err)
	}
	h.clock.Advance(30 * 24 * time.Hour)
	if _, err := h.svc.Transfer(h.ctx, alice, lic.Key); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestLookupAndLicenses(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(bob, lic.Key)
	info, err := h.svc.Lookup(h.ctx, strings.ToLower(lic.Key))
	if err != nil {
		t.Fatal(err)
	}
	if info.Product.ID != "pro" || len(info.Holders) != 1 || info.Holders[0].Identity != bob || info.Holders[0].SessionToken != "" {
		t.Errorf("info = %+v", info)
	}
	if info.Remote == nil || len(info.Remote.HWIDList) != 1 {
		t.Errorf("remote = %+v (%s)", info.Remote, info.RemoteError)
	}
	calls := h.authCalls()
	for _, who := range []struct {
		name string
		fn   func() ([]Info, error)
	}{
		{"alice", func() ([]Info, error) { return h.svc.Licenses(h.ctx, alice) }},
		{"bob", func() ([]Info, error) { return h.svc.Licenses(h.ctx, bob) }},
	} {
		infos, err := who.fn()
		if err != nil || len(infos) != 1 || infos[0].License.Key != lic.Key {
			t.Errorf("Licenses(%s) = %+v, %v", who.name, infos, err)
		}
	}
	if h.authCalls() != calls {
		t.Error("Licenses called AuthForge")
	}
	if _, err := h.svc.Lookup(h.ctx, "ABCD-EFGH-JKLM-NPQR"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown: %v", err)
	}
	st, err := h.svc.Stats(h.ctx)
	if err != nil || st.ActiveLicenses != 1 || st.Activations != 1 || st.Validations != 1 || st.CreditsEstimate != 1 {
		t.Errorf("stats = %+v, %v", st, err)
	}
}

func texts(ns []notify.Notice) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Text
	}
	return out
}
