package licensing

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
)

func TestGateFreshSessionCostsNothing(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	calls, credits := h.authCalls(), h.creditsUsed()

	for range 100 {
		ent, err := h.svc.Check(h.ctx, alice, "pro")
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if ent.ProductID != "pro" || ent.Key != lic.Key {
			t.Fatalf("entitlement = %+v", ent)
		}
	}
	if _, err := h.svc.Check(h.ctx, alice); err != nil {
		t.Errorf("Check without product filter: %v", err)
	}
	if _, err := h.svc.Check(h.ctx, alice, "team"); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("Check(team) err = %v, want ErrNotEntitled", err)
	}
	if _, err := h.svc.Check(h.ctx, bob, "pro"); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("Check(bob) err = %v, want ErrNotEntitled", err)
	}
	if got := h.authCalls() - calls; got != 0 {
		t.Errorf("fresh checks made %d AuthForge calls, want 0", got)
	}
	if got := h.creditsUsed() - credits; got != 0 {
		t.Errorf("fresh checks used %v credits, want 0", got)
	}
}

func TestGateExpiredSessionHeartbeatsOnce(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	act := h.activate(alice, lic.Key).Activation
	h.clock.Advance(act.SessionExpiresAt.Sub(h.clock.Now()) + time.Second)
	beats, validates := h.heartbeatCalls(), h.validateCalls()

	for range 5 {
		if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
			t.Fatalf("Check after session expiry: %v", err)
		}
	}
	if got := h.heartbeatCalls() - beats; got != 1 {
		t.Errorf("%d heartbeats, want 1", got)
	}
	if got := h.validateCalls() - validates; got != 0 {
		t.Errorf("%d validations, want 0 (heartbeat sufficed)", got)
	}
	stored := h.activations(alice)[0]
	if !stored.SessionExpiresAt.After(h.clock.Now()) || stored.SessionToken == act.SessionToken {
		t.Errorf("stored session not refreshed: %+v", stored)
	}
}

func TestGateRemoteRevocationAtNextRefresh(t *testing.T) {
	h := newHarness(t)
	pro := h.issue("pro", alice, time.Time{})
	act := h.activate(alice, pro.Key).Activation
	h.activate(bob, pro.Key)
	h.remoteRevoke(pro.Key)

	// Still fresh: the gate trusts the signed session (documented).
	if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
		t.Fatalf("fresh session after remote revoke: %v", err)
	}
	h.clock.Advance(act.SessionExpiresAt.Sub(h.clock.Now()) + time.Second)
	if _, err := h.svc.Check(h.ctx, alice, "pro"); !errors.Is(err, ErrNotEntitled) {
		t.Fatalf("after refresh: err = %v, want ErrNotEntitled", err)
	}
	if n := len(h.activations(alice)) + len(h.activations(bob)); n != 0 {
		t.Errorf("%d activations left", n)
	}
	if got, ok := h.rec.lastSync(alice); !ok || len(got) != 0 {
		t.Errorf("SyncAccess(alice) = %v, %v; want []", got, ok)
	}
	if got, ok := h.rec.lastSync(bob); !ok || len(got) != 0 {
		t.Errorf("SyncAccess(bob) = %v, %v; want []", got, ok)
	}
	if h.license(pro.Key).Status != "revoked" {
		t.Errorf("license not marked revoked: %+v", h.license(pro.Key))
	}
	if ns := h.rec.noticesTo(alice); len(ns) == 0 || !strings.Contains(ns[len(ns)-1].Text, "revoked") {
		t.Errorf("alice was not told: %+v", ns)
	}
}

func TestGateUnavailableFailsClosedAndKeeps(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	act := h.activate(alice, lic.Key).Activation
	h.clock.Advance(act.SessionExpiresAt.Sub(h.clock.Now()) + time.Second)
	h.tamperSignatures()

	if _, err := h.svc.Check(h.ctx, alice, "pro"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if n := len(h.activations(alice)); n != 1 {
		t.Fatalf("activation removed on an untrusted answer (%d left)", n)
	}
	// Within the back-off the gate does not ask again.
	calls := h.authCalls()
	if _, err := h.svc.Check(h.ctx, alice, "pro"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("second check err = %v", err)
	}
	if got := h.authCalls() - calls; got != 0 {
		t.Errorf("%d AuthForge calls during back-off", got)
	}
	h.repairFake()
	h.clock.Advance(refreshBackoff)
	if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
		t.Errorf("after AuthForge recovered: %v", err)
	}
}

func TestSweeperExpiresLicenses(t *testing.T) {
	h := newHarness(t)
	short := h.issue("pro", alice, h.clock.Now().Add(48*time.Hour))
	long := h.issue("team", alice, time.Time{})
	h.activate(alice, short.Key)
	h.activate(alice, long.Key)

	if n, err := h.svc.Sweep(h.ctx); err != nil || n != 0 {
		t.Fatalf("early sweep = %d, %v", n, err)
	}
	h.clock.Advance(49 * time.Hour)
	calls := h.authCalls()
	n, err := h.svc.Sweep(h.ctx)
	if err != nil || n != 1 {
		t.Fatalf("sweep = %d, %v; want 1", n, err)
	}
	if got := h.authCalls() - calls; got != 0 {
		t.Errorf("sweep made %d AuthForge calls", got)
	}
	if got, _ := h.rec.lastSync(alice); !slices.Equal(got, []string{"team"}) {
		t.Errorf("SyncAccess(alice) = %v, want [team]", got)
	}
	ns := h.rec.noticesTo(alice)
	if len(ns) == 0 || !strings.Contains(ns[len(ns)-1].Text, "/buy pro") {
		t.Errorf("no renew hint: %+v", ns)
	}
	if n, _ := h.svc.Sweep(h.ctx); n != 0 {
		t.Errorf("second sweep removed %d", n)
	}
	if got := len(h.rec.noticesTo(alice)); got != len(ns) {
		t.Errorf("second sweep notified again")
	}
}

func TestEntitledUsesStoredStateOnly(t *testing.T) {
	h := newHarness(t)
	pro := h.issue("pro", alice, time.Time{})
	team := h.issue("team", alice, time.Time{})
	h.activate(alice, pro.Key)
	h.activate(alice, team.Key)
	h.clock.Advance(72 * time.Hour) // sessions expired: still entitled in stored state
	calls := h.authCalls()
	got, err := h.svc.Entitled(h.ctx, alice)
	if err != nil || !slices.Equal(got, []string{"pro", "team"}) {
		t.Errorf("Entitled = %v, %v", got, err)
	}
	if h.authCalls() != calls {
		t.Error("Entitled called AuthForge")
	}
}

func TestRunLoopsStopOnCancel(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Refresh = RefreshEager })
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 2)
	go func() { done <- h.svc.RunSweeper(ctx, time.Hour) }()
	go func() { done <- h.svc.RunHeartbeats(ctx, time.Hour) }()
	cancel()
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("loop returned %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("loop did not return after cancel")
		}
	}
}

func TestHeartbeatAllRefreshesAndRemovesRevoked(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Refresh = RefreshEager })
	keep := h.issue("pro", alice, time.Time{})
	gone := h.issue("team", bob, time.Time{})
	h.activate(alice, keep.Key)
	h.activate(bob, gone.Key)
	h.remoteRevoke(gone.Key)
	h.clock.Advance(20 * time.Minute)

	n, err := h.svc.HeartbeatAll(h.ctx, 10*time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("HeartbeatAll = %d, %v; want 1", n, err)
	}
	if len(h.activations(bob)) != 0 {
		t.Error("revoked activation kept")
	}
	if _, err := h.svc.Check(h.ctx, bob, "team"); !errors.Is(err, ErrNotEntitled) {
		t.Errorf("bob: %v", err)
	}
	beats := h.heartbeatCalls()
	if n, _ := h.svc.HeartbeatAll(h.ctx, 10*time.Minute); n != 0 || h.heartbeatCalls() != beats {
		t.Errorf("recently refreshed activation heartbeated again")
	}
}

func TestGateConcurrentRefreshHeartbeatsOnce(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	act := h.activate(alice, lic.Key).Activation
	h.clock.Advance(act.SessionExpiresAt.Sub(h.clock.Now()) + time.Second)
	beats, validates := h.heartbeatCalls(), h.validateCalls()

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Check: %v", err)
	}
	if got := h.heartbeatCalls() - beats + h.validateCalls() - validates; got != 1 {
		t.Errorf("%d AuthForge refreshes for one expired session, want 1", got)
	}
}

func TestGateRevalidatesWhenSessionGone(t *testing.T) {
	h := newHarness(t)
	lic := h.issue("pro", alice, time.Time{})
	h.activate(alice, lic.Key)
	// The stored token is lost (e.g. the server forgot the session): the
	// gate falls back to validate.
	acts := h.activations(alice)
	acts[0].SessionToken = ""
	acts[0].SessionExpiresAt = h.clock.Now().Add(-time.Minute)
	if err := h.db.PutActivation(h.ctx, acts[0]); err != nil {
		t.Fatal(err)
	}
	h.svc.cache.invalidate(alice)
	validates := h.validateCalls()
	if _, err := h.svc.Check(h.ctx, alice, "pro"); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if got := h.validateCalls() - validates; got != 1 {
		t.Errorf("%d validations, want 1", got)
	}
	if h.activations(alice)[0].SessionToken == "" {
		t.Error("new session not stored")
	}
}

// HeartbeatAll reads the due activations page by page from the store's
// refresh index: every activation older than minAge is heartbeated once,
// however many pages they fill, and none refreshed since.
func TestHeartbeatAllPagesOnlyDue(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Refresh = RefreshEager })
	const old, fresh = heartbeatPage + 9, 5
	for i := range old + fresh {
		if i == old {
			h.clock.Advance(20 * time.Minute)
		}
		who := identity.TelegramUser(int64(5000 + i))
		h.activate(who, h.issue("pro", who, time.Time{}).Key)
	}
	beats := h.heartbeatCalls()
	n, err := h.svc.HeartbeatAll(h.ctx, 10*time.Minute)
	if err != nil || n != old {
		t.Fatalf("HeartbeatAll = %d, %v; want %d", n, err, old)
	}
	if got := h.heartbeatCalls() - beats; got != old {
		t.Fatalf("%d heartbeats for %d due activations", got, old)
	}
	if n, err := h.svc.HeartbeatAll(h.ctx, 10*time.Minute); n != 0 || err != nil {
		t.Fatalf("second pass right after: %d, %v; want nothing due", n, err)
	}
}
