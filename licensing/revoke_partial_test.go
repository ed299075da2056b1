package licensing

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/store"
)

// errAfter is a context whose Err starts failing after n calls: a deadline
// that passes in the middle of Revoke, at every point in turn.
type errAfter struct {
	context.Context
	n, calls atomic.Int64
}

func (c *errAfter) Err() error {
	if c.calls.Add(1) > c.n.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// Once the store says revoked, the gate refuses, however far Revoke got.
func TestRevokeStoppedPartwayStillRefuses(t *testing.T) {
	checked := 0
	for n := int64(1); n < 12; n++ {
		h := newHarness(t)
		lic := h.issue("pro", alice, h.clock.Now().Add(30*24*time.Hour))
		h.activate(alice, lic.Key)
		if _, err := h.svc.Check(h.ctx, alice); err != nil {
			t.Fatal(err)
		}
		ctx := &errAfter{Context: context.Background()}
		ctx.n.Store(n)
		h.svc.Revoke(ctx, "admin", lic.Key)
		if h.license(lic.Key).Status != store.LicenseRevoked {
			continue
		}
		checked++
		if _, err := h.svc.Check(h.ctx, alice); err == nil {
			t.Errorf("stopped after %d context checks: revoked in the store, the gate still admits", n)
		}
	}
	// Without a stop between the store's revocation and the end, the
	// loop above checked nothing.
	if checked == 0 {
		t.Fatal("Revoke never got as far as the store's revocation")
	}
}
