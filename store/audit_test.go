package store

import (
	"context"
	"fmt"
	"testing"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	if got, err := db.RecentAudit(ctx, 5); err != nil || len(got) != 0 {
		t.Fatalf("empty RecentAudit = %+v, %v", got, err)
	}
	for i := range 5 {
		mustNoErr(t, db.Audit(ctx, AuditEntry{Time: t0, Actor: "tg:1", Action: fmt.Sprintf("a%d", i), Target: "AAAA-…-DDDD", Detail: "d"}))
	}
	mustNoErr(t, db.Audit(ctx, AuditEntry{Actor: "system", Action: "a5"}))
	got, err := db.RecentAudit(ctx, 3)
	mustNoErr(t, err)
	if len(got) != 3 || got[0].Action != "a5" || got[1].Action != "a4" || got[2].Action != "a3" {
		t.Errorf("RecentAudit(3) = %+v", got)
	}
	if got[0].Time.IsZero() {
		t.Error("Audit did not fill Time")
	}
	if got[1].Target != "AAAA-…-DDDD" || got[1].Actor != "tg:1" || got[1].Detail != "d" || !got[1].Time.Equal(t0) {
		t.Errorf("entry = %+v", got[1])
	}
	if all, _ := db.RecentAudit(ctx, 0); len(all) != 6 {
		t.Errorf("RecentAudit(0) returned %d entries, want all 6", len(all))
	}
}
