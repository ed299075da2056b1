// Package dashboard is the seller's web dashboard under /admin/ on the
// shop's own HTTP server: overview, licenses, events and the audit log,
// server-rendered with html/template and no script.
//
// There are no passwords: an admin sends /dashboard in a private chat and
// gets a one-time link (Link); opening it starts a session kept in memory.
// Every request re-checks the session and that its admin is still one in
// the config; every POST carries the session's CSRF token; GETs change
// nothing in the shop. Actions call the same operations as the chat
// commands (Ops), so their effect and audit entries are the same.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/admin/"

// cookieName is the session cookie; its path keeps it off every other
// route of the server.
const cookieName = "shopbot_admin"

// Ops are the chat commands' operations (commands.Shop and
// commands.Admin, implemented by cmd/shopbot's shop adapter).
type Ops interface {
	Revoke(ctx context.Context, actor identity.Identity, t commands.Target) ([]commands.License, error)
	Lookup(ctx context.Context, actor identity.Identity, t commands.Target) ([]commands.LicenseDetails, error)
	Grant(ctx context.Context, actor, who identity.Identity, productID string) (commands.License, error)
	Extend(ctx context.Context, actor identity.Identity, key string, by time.Duration) (commands.License, error)
	ResetHWID(ctx context.Context, actor identity.Identity, key string) (commands.License, error)
	Stats(ctx context.Context) (commands.Stats, error)
	Replay(ctx context.Context, actor identity.Identity, eventID string) (commands.Event, error)
}

// Store is what the pages read directly: bounded pages of the event and
// audit logs, orders (search by order id), and the audit log for the
// dashboard's own entries (sign-in, key revealed).
type Store interface {
	EventsBefore(ctx context.Context, state store.EventState, before uint64, limit int) ([]store.Event, error)
	AuditBefore(ctx context.Context, before uint64, limit int) ([]store.AuditRecord, error)
	GetOrder(ctx context.Context, id string) (store.Order, error)
	Audit(ctx context.Context, e store.AuditEntry) error
}

// Options configure a Dashboard.
type Options struct {
	Ops   Ops
	Store Store
	// Ledger reads revenue per day; nil leaves the revenue part of the
	// overview out.
	Ledger Ledger
	// IsAdmin answers from the config; every request asks it again.
	IsAdmin func(identity.Identity) bool
	// BaseURL is where browsers reach the server (public_url, or
	// http://listen); sign-in links start with it.
	BaseURL string
	// Explain words a core error for the admin (commands.Handler.Explain).
	Explain  func(error) string
	Products []config.Product
	Clock    func() time.Time
	Logger   *slog.Logger
}

// Dashboard serves the pages and makes sign-in links.
type Dashboard struct {
	ops      Ops
	db       Store
	ledger   Ledger
	isAdmin  func(identity.Identity) bool
	base     string
	secure   bool
	explain  func(error) string
	products []config.Product
	now      func() time.Time
	log      *slog.Logger
	auth     *auth
	mux      *http.ServeMux
	pages    pages
}

// New checks opts and builds a Dashboard.
func New(opts Options) (*Dashboard, error) {
	switch {
	case opts.Ops == nil || opts.Store == nil:
		return nil, errors.New("dashboard: Ops and Store are required")
	case opts.IsAdmin == nil:
		return nil, errors.New("dashboard: IsAdmin is required")
	}
	base, err := url.Parse(opts.BaseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("dashboard: base URL %q: want http(s)://host", opts.BaseURL)
	}
	d := &Dashboard{
		ops: opts.Ops, db: opts.Store, ledger: opts.Ledger, isAdmin: opts.IsAdmin,
		base: strings.TrimRight(opts.BaseURL, "/"), secure: base.Scheme == "https",
		explain: opts.Explain, products: opts.Products, now: opts.Clock, log: opts.Logger,
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.explain == nil {
		d.explain = func(error) string { return "That did not work; the log says why." }
	}
	// Chat texts mark commands and keys with backticks, which a page
	// would show as they are.
	chatText := d.explain
	d.explain = func(err error) string { return strings.ReplaceAll(chatText(err), "`", "") }
	d.auth = newAuth(d.now)
	if d.pages, err = parsePages(); err != nil {
		return nil, err
	}
	d.routes()
	return d, nil
}

// Link makes a one-time sign-in link for an admin.
func (d *Dashboard) Link(_ context.Context, who identity.Identity) (string, error) {
	if !d.isAdmin(who) {
		return "", commands.ErrNoDashboardAccount
	}
	return d.base + Prefix + "signin?t=" + d.auth.newLink(who), nil
}

// Logout ends who's sessions and unused links.
func (d *Dashboard) Logout(ctx context.Context, who identity.Identity) (int, error) {
	n := d.auth.endAll(who)
	d.audit(ctx, who, "dashboard logout", "", fmt.Sprintf("%d session(s) ended", n))
	return n, nil
}

// ServeHTTP serves everything under Prefix.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Nothing here may be framed, cached, sniffed, or leak its URL (the
	// sign-in token) to another site.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	d.mux.ServeHTTP(w, r)
}

type handler func(w http.ResponseWriter, r *http.Request, s view)

func (d *Dashboard) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET "+Prefix+"signin", d.signIn)
	m.HandleFunc("GET "+Prefix+"style.css", d.pages.css)
	m.Handle("GET "+Prefix+"{$}", d.page(d.overview))
	m.Handle("GET "+Prefix+"licenses", d.page(d.licenses))
	m.Handle("GET "+Prefix+"events", d.page(d.events))
	m.Handle("GET "+Prefix+"audit", d.page(d.auditLog))
	m.Handle("POST "+Prefix+"licenses/revoke", d.action(d.revoke))
	m.Handle("POST "+Prefix+"licenses/extend", d.action(d.extend))
	m.Handle("POST "+Prefix+"licenses/reset", d.action(d.reset))
	m.Handle("POST "+Prefix+"licenses/grant", d.action(d.grant))
	m.Handle("POST "+Prefix+"licenses/reveal", d.action(d.reveal))
	m.Handle("POST "+Prefix+"events/replay", d.action(d.replay))
	m.Handle("POST "+Prefix+"logout", d.action(d.logout))
	d.mux = m
}

// session finds the request's live session of a current admin; a session
// whose admin left the config is ended.
func (d *Dashboard) session(r *http.Request) (view, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || c.Value == "" {
		return view{}, false
	}
	s, ok := d.auth.lookup(c.Value)
	if !ok {
		return view{}, false
	}
	if !d.isAdmin(s.who) {
		d.auth.end(s.id)
		d.log.Info("dashboard session ended: no longer an admin", "identity", s.who.String())
		return view{}, false
	}
	return s, true
}

// page serves a GET for a signed-in admin.
func (d *Dashboard) page(next handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.session(r)
		if !ok {
			d.refuse(w, http.StatusUnauthorized)
			return
		}
		next(w, r, s)
	})
}

// action serves a POST for a signed-in admin whose form carries the
// session's CSRF token.
func (d *Dashboard) action(next handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := d.session(r)
		if !ok {
			d.refuse(w, http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil || !s.checkCSRF(r.PostFormValue("csrf")) {
			d.log.Warn("dashboard action refused: bad or missing CSRF token", "identity", s.who.String(), "path", r.URL.Path)
			d.refuse(w, http.StatusForbidden)
			return
		}
		next(w, r, s)
	})
}

func (d *Dashboard) refuse(w http.ResponseWriter, status int) {
	msg := "You are not signed in, or your session has ended. Send /dashboard to the shop's bot in a private chat for a new sign-in link."
	if status == http.StatusForbidden {
		msg = "This form has expired or did not come from the dashboard. Go back, reload the page and try again."
	}
	d.render(w, status, "refused", view{}, msg)
}

// signIn spends a one-time token, sets the session cookie and sends the
// browser on to the overview, so the token leaves the address bar.
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	cookie, who, ok := d.auth.redeem(r.URL.Query().Get("t"))
	if ok && !d.isAdmin(who) {
		d.auth.end(hash(cookie))
		ok = false
	}
	if !ok {
		d.render(w, http.StatusUnauthorized, "refused", view{},
			"This sign-in link has expired or was already used. Send /dashboard to the shop's bot in a private chat for a new one.")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: cookie, Path: Prefix,
		MaxAge: int(absoluteTTL / time.Second), HttpOnly: true,
		Secure: d.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	d.audit(r.Context(), who, "dashboard sign-in", "", "")
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, s view) {
	d.auth.end(s.id)
	d.audit(r.Context(), s.who, "dashboard logout", "", "1 session(s) ended")
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true,
		Secure: d.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode})
	d.render(w, http.StatusOK, "refused", view{}, "Signed out.")
}

// audit records what the dashboard does beyond the chat's operations.
func (d *Dashboard) audit(ctx context.Context, who identity.Identity, action, target, detail string) {
	err := d.db.Audit(ctx, store.AuditEntry{Actor: who.String(), Action: action, Target: target, Detail: detail})
	if err != nil {
		d.log.Error("dashboard: audit entry not written", "action", action, "err", err)
	}
}

// done leaves msg for the next page and sends the browser there (a
// reload then repeats nothing).
func (d *Dashboard) done(w http.ResponseWriter, r *http.Request, s view, msg, to string) {
	d.auth.setFlash(s.id, msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
}
