package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/fakeclock"
	"github.com/shopbot/shopbot/store"
)

var (
	admin = identity.TelegramUser(9001)
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// unreached stands for the shop's operations in tests whose requests must
// be refused before any operation: a call panics and fails the test.
type unreached struct{ Ops }

// testDashboard serves a dashboard over a real store; isAdmin says
// whether the admin is still in the config.
func testDashboard(t *testing.T, clock *fakeclock.Clock, isAdmin *atomic.Bool) (*Dashboard, *store.DB, *httptest.Server) {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Path: filepath.Join(t.TempDir(), "shop.db"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := New(Options{
		Ops: unreached{}, Store: db, BaseURL: "https://shop.example.com",
		IsAdmin: func(who identity.Identity) bool { return who == admin && isAdmin.Load() },
		Clock:   clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, db, srv
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn redeems a fresh link and returns the session cookie.
func signIn(t *testing.T, d *Dashboard, srv *httptest.Server) *http.Cookie {
	t.Helper()
	link, err := d.Link(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	resp, err := noRedirect().Get(srv.URL + u.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && resp.StatusCode == http.StatusSeeOther {
			return c
		}
	}
	t.Fatalf("sign-in: %d, no session cookie", resp.StatusCode)
	return nil
}

func getWith(t *testing.T, srv *httptest.Server, path string, c *http.Cookie) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if c != nil {
		req.AddCookie(c)
	}
	resp, err := noRedirect().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// An admin taken out of the config loses their live sessions at the next
// request, and putting them back does not revive those sessions; nor
// does a link made before they were removed work.
func TestAdminRemovedFromConfigIsRefused(t *testing.T) {
	clock := fakeclock.New(t0)
	var isAdmin atomic.Bool
	isAdmin.Store(true)
	d, db, srv := testDashboard(t, clock, &isAdmin)
	c := signIn(t, d, srv)
	if code := getWith(t, srv, "/admin/audit", c); code != http.StatusOK {
		t.Fatalf("audit page while admin: %d", code)
	}
	link, err := d.Link(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	isAdmin.Store(false)
	if code := getWith(t, srv, "/admin/audit", c); code != http.StatusUnauthorized {
		t.Fatalf("audit page after removal from the config: %d", code)
	}
	u, _ := url.Parse(link)
	if code := getWith(t, srv, u.RequestURI(), nil); code != http.StatusUnauthorized {
		t.Fatalf("link made before the removal: %d", code)
	}
	if _, err := d.Link(context.Background(), admin); err == nil {
		t.Fatal("a link was made for a removed admin")
	}
	// Neither the ended session nor the refused link left one behind.
	if n := len(d.auth.sessions); n != 0 {
		t.Fatalf("%d session(s) kept for a removed admin", n)
	}
	isAdmin.Store(true)
	if code := getWith(t, srv, "/admin/audit", c); code != http.StatusUnauthorized {
		t.Fatalf("session revived when the admin came back: %d", code)
	}
	// The sign-in was audited with the admin as actor.
	entries, err := db.RecentAudit(context.Background(), 0)
	if err != nil || len(entries) != 1 || entries[0].Action != "dashboard sign-in" || entries[0].Actor != "tg:9001" {
		t.Fatalf("audit = %+v, %v", entries, err)
	}
}

// Actions are POSTs: the same path by GET is not served, and a POST
// without a session never reaches an operation.
func TestActionsArePostOnly(t *testing.T) {
	clock := fakeclock.New(t0)
	var isAdmin atomic.Bool
	isAdmin.Store(true)
	d, _, srv := testDashboard(t, clock, &isAdmin)
	c := signIn(t, d, srv)
	for _, path := range []string{"/admin/licenses/revoke", "/admin/licenses/grant", "/admin/events/replay", "/admin/logout"} {
		if code := getWith(t, srv, path, c); code != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: %d, want 405", path, code)
		}
		resp, err := http.Post(srv.URL+path, "application/x-www-form-urlencoded", strings.NewReader("csrf=x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %d", path, resp.StatusCode)
		}
	}
}

// Pages carry headers that keep them out of frames, caches and other
// sites' Referer.
func TestSecurityHeaders(t *testing.T) {
	clock := fakeclock.New(t0)
	var isAdmin atomic.Bool
	isAdmin.Store(true)
	_, _, srv := testDashboard(t, clock, &isAdmin)
	resp, err := http.Get(srv.URL + "/admin/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for name, want := range map[string]string{
		"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-store",
	} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
}
