package store

import (
	"context"
	"fmt"
	"testing"
)

func TestEventsBeforePages(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := range 7 {
		ev := Event{ID: fmt.Sprintf("evt_%d", i), Type: "checkout.session.completed", Payload: []byte("{}")}
		if i%2 == 1 {
			ev.State = EventFailed
		}
		if _, err := db.PutEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(evs []Event) string {
		s := ""
		for _, e := range evs {
			s += e.ID[4:]
		}
		return s
	}
	page, err := db.EventsBefore(ctx, "", 0, 3)
	mustNoErr(t, err)
	if ids(page) != "654" || page[0].Payload != nil {
		t.Fatalf("first page = %s (payload %q), want 654 without payload", ids(page), page[0].Payload)
	}
	page, err = db.EventsBefore(ctx, "", page[2].Seq, 3)
	mustNoErr(t, err)
	if ids(page) != "321" {
		t.Fatalf("second page = %s, want 321", ids(page))
	}
	failed, err := db.EventsBefore(ctx, EventFailed, 0, 2)
	mustNoErr(t, err)
	if ids(failed) != "53" {
		t.Fatalf("failed page = %s, want 53", ids(failed))
	}
	failed, err = db.EventsBefore(ctx, EventFailed, failed[1].Seq, 2)
	mustNoErr(t, err)
	if ids(failed) != "1" {
		t.Fatalf("failed second page = %s, want 1", ids(failed))
	}
	pending, err := db.EventsBefore(ctx, EventPending, 0, 10)
	mustNoErr(t, err)
	if ids(pending) != "6420" {
		t.Fatalf("pending = %s, want 6420", ids(pending))
	}
	if _, err := db.EventsBefore(ctx, "bogus", 0, 1); err == nil {
		t.Fatal("unknown state accepted")
	}
}

func TestAuditBeforePages(t *testing.T) {
	ctx := context.Background()
	db := openTest(t, nil)
	for i := range 5 {
		mustNoErr(t, db.Audit(ctx, AuditEntry{Actor: "tg:1", Action: fmt.Sprintf("a%d", i)}))
	}
	page, err := db.AuditBefore(ctx, 0, 2)
	mustNoErr(t, err)
	if len(page) != 2 || page[0].Action != "a4" || page[1].Action != "a3" {
		t.Fatalf("first page = %+v", page)
	}
	page, err = db.AuditBefore(ctx, page[1].Seq, 10)
	mustNoErr(t, err)
	if len(page) != 3 || page[0].Action != "a2" || page[2].Action != "a0" {
		t.Fatalf("second page = %+v", page)
	}
}
