package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shopbot/shopbot/identity"
)

func TestMembersPaged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shop.db")
	db := openAt(t, path, nil)
	const chat, other = "telegram:-1001", "telegram:-1002"
	var want []identity.Identity
	for _, id := range []int64{7, 10, 100, 11, 9} {
		who := identity.TelegramUser(id)
		mustNoErr(t, db.RememberMember(ctx, chat, who))
		mustNoErr(t, db.RememberMember(ctx, chat, who)) // again: still one entry
	}
	mustNoErr(t, db.RememberMember(ctx, other, alice))
	mustNoErr(t, db.ForgetMember(ctx, chat, identity.TelegramUser(11)))
	mustNoErr(t, db.ForgetMember(ctx, chat, identity.TelegramUser(12))) // never seen
	// Key order: tg:10 < tg:100 < tg:7 < tg:9.
	for _, id := range []int64{10, 100, 7, 9} {
		want = append(want, identity.TelegramUser(id))
	}
	var got []identity.Identity
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		page, err := db.Members(ctx, chat, after, 3)
		mustNoErr(t, err)
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		got = append(got, page...)
		after = page[len(page)-1].String()
	}
	if len(got) != len(want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("members = %v, want %v", got, want)
		}
	}
	if o, err := db.Members(ctx, other, "", 0); err != nil || len(o) != 1 || o[0] != alice {
		t.Fatalf("other place = %v, %v", o, err)
	}
	if _, err := db.Members(ctx, "", "", 1); err == nil {
		t.Fatal("empty place accepted")
	}

	// Removals are audited and counted together, and the count survives
	// a restart.
	mustNoErr(t, db.RecordAccessRemoval(ctx, AuditEntry{Actor: "shopbot", Action: "access_removed", Target: "tg:9"}))
	mustNoErr(t, db.RecordAccessRemoval(ctx, AuditEntry{Actor: "shopbot", Action: "access_removed", Target: "tg:10"}))
	mustNoErr(t, db.Close())
	db = openAt(t, path, nil)
	st, err := db.Stats(ctx)
	mustNoErr(t, err)
	if st.AccessRemovals != 2 {
		t.Fatalf("stats = %+v, want 2 removals", st)
	}
	if a, _ := db.RecentAudit(ctx, 5); len(a) != 2 || a[0].Target != "tg:10" {
		t.Fatalf("last audit = %+v", a)
	}
	if m, _ := db.Members(ctx, chat, "", 0); len(m) != 4 {
		t.Fatalf("after reopen %d members, want 4", len(m))
	}
}
