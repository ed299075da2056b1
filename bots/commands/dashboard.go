package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/shopbot/shopbot/identity"
)

// Dashboard signs admins in to the web dashboard: Link makes a one-time
// sign-in link for who, Logout ends who's sessions and unused links and
// says how many sessions there were. Options.Dashboard sets it; nil (no
// reachable HTTP server) makes /dashboard say so.
type Dashboard interface {
	Link(ctx context.Context, who identity.Identity) (string, error)
	Logout(ctx context.Context, who identity.Identity) (int, error)
}

// ErrNoDashboardAccount is what Dashboard.Link returns for an admin who
// is one only by a Discord role: the dashboard re-checks every request
// against the config, which names users, not roles.
var ErrNoDashboardAccount = errors.New("dashboard: admin by role only")

// OptionDashboard describes Discord's optional action of /dashboard.
const OptionDashboard = "logout: end your dashboard sessions"

const (
	descDashboard         = "Open the web dashboard (one-time link); /dashboard logout ends its sessions"
	msgDashboardUsage     = "Use /dashboard for a sign-in link, or /dashboard logout to end your dashboard sessions."
	msgDashboardOff       = "The dashboard needs a reachable web server: set server.public_url (or server.listen) in the config."
	msgDashboardLink      = "Your dashboard sign-in link, valid for 5 minutes and for one use. Do not share it:\n%s"
	msgDashboardButton    = "Open dashboard"
	msgDashboardLoggedOut = "Dashboard sessions ended: %d."
	msgDashboardRoleOnly  = "The dashboard signs in admins listed by user id (discord.admin_user_ids); an admin role is not enough."
)

// dashboard is /dashboard and /dashboard logout.
func (h *Handler) dashboard(ctx context.Context, req Request) Reply {
	if r, refused := h.refuse(ctx, req, "dashboard"); refused {
		return r
	}
	if h.dash == nil {
		return Reply{Text: msgDashboardOff, Ephemeral: true}
	}
	switch strings.ToLower(firstArg(req.Args)) {
	case "":
	case "logout":
		n, err := h.dash.Logout(ctx, req.Who)
		if err != nil {
			return h.fail(ctx, req, "dashboard logout", err)
		}
		return Reply{Text: fmt.Sprintf(msgDashboardLoggedOut, n), Ephemeral: true}
	default:
		return Reply{Text: msgDashboardUsage, Ephemeral: true}
	}
	url, err := h.dash.Link(ctx, req.Who)
	if errors.Is(err, ErrNoDashboardAccount) {
		return Reply{Text: msgDashboardRoleOnly, Ephemeral: true}
	}
	if err != nil {
		return h.fail(ctx, req, "dashboard", err)
	}
	r := Reply{Text: fmt.Sprintf(msgDashboardLink, url), Ephemeral: true, Sensitive: true}
	// Telegram refuses buttons to plain-HTTP and local addresses; the
	// link in the text works everywhere.
	if strings.HasPrefix(url, "https://") {
		r.Buttons = [][]Button{{{Label: msgDashboardButton, URL: url}}}
	}
	return r
}

// Explain words a core error for an admin, as the chat would.
func (h *Handler) Explain(err error) string {
	return problemIn(h.adminWords(), h.problem(err))
}
