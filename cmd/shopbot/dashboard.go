package main

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/dashboard"
	"github.com/shopbot/shopbot/identity"
)

// newDashboard builds the web dashboard when the HTTP server is reachable
// (public_url, or else server.listen); nil otherwise. explain words core
// errors as the chat does; it is read only when a request comes in, after
// the command handler exists.
func (a *app) newDashboard(sh *shop, explain *func(error) string) (*dashboard.Dashboard, error) {
	base := dashboardBase(a.cfg.Server.PublicURL, a.cfg.Server.Listen)
	if base == "" {
		return nil, nil
	}
	now := a.hooks.now
	if a.hooks.dashClock != nil {
		now = a.hooks.dashClock
	}
	d, err := dashboard.New(dashboard.Options{
		Ops:      sh,
		Store:    a.db,
		Ledger:   ledger(a.db),
		IsAdmin:  a.dashboardAdmin,
		BaseURL:  base,
		Explain:  func(err error) string { return (*explain)(err) },
		Products: a.cfg.Products,
		Clock:    now,
		Logger:   a.log.With("part", "dashboard"),
	})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}

// dashboardBase is where browsers reach the server: public_url, else
// server.listen over plain HTTP (an empty host is this machine).
func dashboardBase(publicURL, listen string) string {
	if publicURL != "" {
		return strings.TrimRight(publicURL, "/")
	}
	if listen == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// dashboardAdmin answers from the config: Telegram admins and Discord
// admin_user_ids. Admins by Discord role only are not signed in (a role
// can be taken away without the shop hearing of it).
func (a *app) dashboardAdmin(who identity.Identity) bool {
	switch who.Platform {
	case identity.Telegram:
		id, err := who.Int64()
		return err == nil && slices.Contains(a.cfg.Telegram.Admins, id) && a.tg != nil
	case identity.Discord:
		return slices.Contains(a.cfg.Discord.AdminUserIDs, who.ID) && a.dc != nil
	}
	return false
}

// dashboardOrNil keeps a nil dashboard a nil interface, so /dashboard
// says it is off.
func dashboardOrNil(d *dashboard.Dashboard) commands.Dashboard {
	if d == nil {
		return nil
	}
	return d
}
