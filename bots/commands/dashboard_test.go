package commands

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/identity"
)

// dash is an in-test Dashboard, recording calls.
type dash struct {
	ops
	url string
	err error
}

func (d *dash) Link(_ context.Context, who identity.Identity) (string, error) {
	d.record("link %s", who)
	return d.url, d.err
}

func (d *dash) Logout(_ context.Context, who identity.Identity) (int, error) {
	d.record("logout %s", who)
	return 2, nil
}

func TestDashboardCommand(t *testing.T) {
	d := &dash{url: "https://shop.example.com/admin/signin?t=abc"}
	h, err := New(Options{Shop: &shop{}, Products: products, Dashboard: d})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := h.Handle(ctx, adminReq("dashboard"))
	if !strings.Contains(r.Text, d.url) || !r.Ephemeral || !r.Sensitive || len(r.Buttons) != 1 || r.Buttons[0][0].URL != d.url {
		t.Errorf("/dashboard = %+v", r)
	}
	if r := h.Handle(ctx, adminReq("dashboard", "LOGOUT")); r.Text != "Dashboard sessions ended: 2." {
		t.Errorf("/dashboard logout = %q", r.Text)
	}
	if r := h.Handle(ctx, adminReq("dashboard", "now")); r.Text != msgDashboardUsage {
		t.Errorf("/dashboard now = %q", r.Text)
	}
	// A member, and an admin in a group, get no link and cause no call.
	member := Request{Who: identity.TelegramUser(2), Command: "dashboard", Private: true}
	if r := h.Handle(ctx, member); r.Text != msgAdminOnly {
		t.Errorf("member /dashboard = %q", r.Text)
	}
	group := adminReq("dashboard")
	group.Private = false
	if r := h.Handle(ctx, group); strings.Contains(r.Text, d.url) || r.Buttons[0][0].Start != "dashboard" {
		t.Errorf("/dashboard in a group = %+v", r)
	}
	if got := d.Calls(); !slices.Equal(got, []string{"link tg:1", "logout tg:1"}) {
		t.Errorf("calls = %q", got)
	}
	// A plain-HTTP link has no button (Telegram refuses them).
	d.url = "http://localhost:8080/admin/signin?t=abc"
	if r := h.Handle(ctx, adminReq("dashboard")); len(r.Buttons) != 0 || !strings.Contains(r.Text, d.url) {
		t.Errorf("/dashboard over http = %+v", r)
	}
	// An admin by Discord role only is told why there is no link.
	d.err = ErrNoDashboardAccount
	if r := h.Handle(ctx, adminReq("dashboard")); r.Text != msgDashboardRoleOnly {
		t.Errorf("/dashboard for a role admin = %q", r.Text)
	}
	if !slices.ContainsFunc(h.Menu(true), func(e MenuEntry) bool { return e.Command == "dashboard" }) {
		t.Error("/dashboard is not in the admin menu")
	}
	// Without a dashboard the command says how to get one and is not in
	// the menu.
	off, err := New(Options{Shop: &shop{}, Products: products})
	if err != nil {
		t.Fatal(err)
	}
	if r := off.Handle(ctx, adminReq("dashboard")); r.Text != msgDashboardOff {
		t.Errorf("/dashboard without a dashboard = %q", r.Text)
	}
	if slices.ContainsFunc(off.Menu(true), func(e MenuEntry) bool { return e.Command == "dashboard" }) {
		t.Error("/dashboard in the menu without a dashboard")
	}
}
