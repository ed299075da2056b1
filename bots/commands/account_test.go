package commands

import (
	"context"
	"strings"
	"testing"
)

func TestTransfer(t *testing.T) {
	ctx := context.Background()
	o := &ops{remaining: 1}
	h := newOpsHandler(t, o)
	r := h.Handle(ctx, private("transfer", "abcd-efgh-ijkl-mnop"))
	if !strings.HasPrefix(r.Text, "Key `ABCD-…-MNOP` is free again") || !strings.Contains(r.Text, "move this key 1 more time(s)") || strings.Contains(r.Text, "EFGH") {
		t.Errorf("transfer = %q", r.Text)
	}
	o.remaining = 0
	if r := h.Handle(ctx, private("transfer", "ABCD-EFGH-IJKL-MNOP")); !strings.Contains(r.Text, "last move allowed") {
		t.Errorf("last transfer = %q", r.Text)
	}
	o.err = errMoved
	if r := h.Handle(ctx, private("transfer", "ABCD-EFGH-IJKL-MNOP")); r.Text != "This key was moved 2 time(s) recently, the most allowed. Please try again in 3 days." {
		t.Errorf("limit = %q", r.Text)
	}
	if r := h.Handle(ctx, private("transfer")); r.Text != msgTransferUsage {
		t.Errorf("usage = %q", r.Text)
	}
	calls := len(o.Calls())
	r = h.Handle(ctx, group("transfer", "ABCD-EFGH-IJKL-MNOP"))
	if !r.DeleteRequest || len(buttons(r)) != 1 || buttons(r)[0].Start != "transfer" || len(o.Calls()) != calls {
		t.Errorf("transfer in a group = %+v", r)
	}
	if r := h.Handle(ctx, private("start", "transfer")); r.Text != msgTransferUsage {
		t.Errorf("deep link = %q", r.Text)
	}
}

func TestLicenseBillingButton(t *testing.T) {
	ctx := context.Background()
	s := &shop{lics: []License{
		{Key: "ABCD-EFGH-IJKL-MNOP", ProductID: "pro-monthly", Status: StatusActive, Activated: true, Billing: true, MaxSlots: 2},
		{Key: "QRST-UVWX-YZ12-3456", ProductID: "lifetime", Status: StatusActive, Activated: true, MaxSlots: 1},
		{Key: "WXYZ-UVWX-YZ12-3456", ProductID: "pro-monthly", Status: StatusRevoked, Billing: true, MaxSlots: 1},
	}}
	o := &ops{billing: "https://billing.stripe.com/p/session/test_1"}
	h, err := New(Options{Shop: s, Account: o, Products: products, Classify: opsClassify})
	if err != nil {
		t.Fatal(err)
	}
	r := h.Handle(ctx, private("license"))
	b := buttons(r)
	if len(b) != 1 || b[0].URL != o.billing || b[0].Label != "Manage subscription: Pro (monthly)" {
		t.Errorf("buttons = %+v", b)
	}
	if got := o.Calls(); len(got) != 1 || got[0] != "billing tg:42 ABCD-EFGH-IJKL-MNOP" {
		t.Errorf("billing calls = %q", got)
	}
	// A portal failure costs only the button.
	o.billErr = errStripe
	r = h.Handle(ctx, private("license"))
	if len(buttons(r)) != 0 || !strings.Contains(r.Text, "`ABCD-EFGH-IJKL-MNOP`") {
		t.Errorf("with a portal failure = %+v", r)
	}
}

// fullShop implements Shop, Admin and Account in one type, as the wiring
// does; New finds the extra interfaces on it.
type fullShop struct {
	*shop
	*ops
}

func TestShopImplementingAdminIsUsed(t *testing.T) {
	ctx := context.Background()
	o := &ops{synced: 2}
	h, err := New(Options{Shop: fullShop{&shop{}, o}, Products: products, Classify: opsClassify})
	if err != nil {
		t.Fatal(err)
	}
	if r := h.Handle(ctx, adminReq("sync")); !strings.Contains(r.Text, "2 account(s)") {
		t.Errorf("sync = %q", r.Text)
	}
	// Without them the commands exist (menus stay complete) but say so.
	plain, err := New(Options{Shop: &shop{}, Products: products, Classify: opsClassify})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []Request{adminReq("stats"), private("transfer", "ABCD-EFGH-IJKL-MNOP")} {
		if r := plain.Handle(ctx, req); r.Text != msgUnavailable {
			t.Errorf("/%s without the interface = %q", req.Command, r.Text)
		}
	}
	if got := plain.Menu(true); len(got) != len(h.Menu(true)) {
		t.Errorf("menus differ: %d vs %d", len(got), len(h.Menu(true)))
	}
}

func TestHelpListsAdminCommandsToAdminsOnly(t *testing.T) {
	h := newOpsHandler(t, &ops{})
	user := h.Handle(context.Background(), private("help")).Text
	admin := h.Handle(context.Background(), adminReq("help")).Text
	for _, line := range []string{"/grant tg:ID PRODUCT", "/extend KEY DURATION", "/resethwid KEY", "/stats", "/audit [N]", "/failed [N]", "/replay EVENT_ID", "/sync", msgHelpAdminHeader} {
		if strings.Contains(user, line) {
			t.Errorf("user help shows %q", line)
		}
		if !strings.Contains(admin, line) {
			t.Errorf("admin help lacks %q:\n%s", line, admin)
		}
	}
	if !strings.Contains(user, "/transfer KEY") {
		t.Errorf("user help lacks /transfer:\n%s", user)
	}
}
