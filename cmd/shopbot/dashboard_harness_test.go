package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// signInLink matches the one-time link in the /dashboard reply.
var signInLink = regexp.MustCompile(`https://shop\.example\.com(/admin/signin\?t=[A-Za-z0-9_-]+)`)

// dashLink asks for a sign-in link as the Telegram admin, through the chat,
// and returns its path on the shop's server.
func (w *world) dashLink() string {
	w.t.Helper()
	r := w.answer(w.admin, "/dashboard", "Your dashboard sign-in link")
	m := signInLink.FindStringSubmatch(r.Text)
	if m == nil {
		w.t.Fatalf("/dashboard = %q, want a sign-in link", r.Text)
	}
	return m[1]
}

// dashClient is a cookie-keeping HTTP client for the dashboard that follows
// no redirects, so each step's status and cookie can be checked. It
// sends the session cookie by hand: the cookie is Secure (public_url is
// https) and the test server is plain HTTP.
type dashClient struct {
	w      *world
	cookie string
}

type dashPage struct {
	status    int
	body      string
	location  string
	setCookie *http.Cookie
}

func (b *dashClient) do(method, path string, form url.Values) dashPage {
	b.w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "http://"+b.w.addr+path, body)
	if err != nil {
		b.w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: "shopbot_admin", Value: b.cookie})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		b.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.w.t.Fatalf("%s %s: %v", method, path, err)
	}
	p := dashPage{status: resp.StatusCode, body: string(raw), location: resp.Header.Get("Location")}
	for _, c := range resp.Cookies() {
		if c.Name == "shopbot_admin" {
			p.setCookie = c
		}
	}
	return p
}

func (b *dashClient) get(path string) dashPage { return b.do(http.MethodGet, path, nil) }

// signIn opens a sign-in link and keeps the session cookie it sets.
func (b *dashClient) signIn(link string) {
	b.w.t.Helper()
	p := b.get(link)
	if p.status != http.StatusSeeOther || p.location != "/admin/" || p.setCookie == nil {
		b.w.t.Fatalf("sign-in: %d to %q, cookie %v\n%s", p.status, p.location, p.setCookie, p.body)
	}
	b.cookie = p.setCookie.Value
}

var (
	csrfField   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	handleField = regexp.MustCompile(`name="h" value="([^"]+)"`)
)

// field reads a hidden form field from a page.
func field(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return html.UnescapeString(m[1])
}

// act posts a dashboard form with the page's CSRF token and returns the
// flash message the next page shows.
func (b *dashClient) act(path string, form url.Values) string {
	b.w.t.Helper()
	home := b.get("/admin/")
	if home.status != http.StatusOK {
		b.w.t.Fatalf("GET /admin/: %d\n%s", home.status, home.body)
	}
	form.Set("csrf", field(b.w.t, csrfField, home.body))
	p := b.do(http.MethodPost, path, form)
	if p.status != http.StatusSeeOther {
		b.w.t.Fatalf("POST %s: %d\n%s", path, p.status, p.body)
	}
	next := b.get(p.location)
	m := regexp.MustCompile(`(?s)<p class="flash" id="flash">(.*?)</p>`).FindStringSubmatch(next.body)
	if m == nil {
		b.w.t.Fatalf("POST %s: no message on %s:\n%s", path, p.location, next.body)
	}
	return html.UnescapeString(m[1])
}

// handleOf searches for q and returns the form handle of the one license
// found.
func (b *dashClient) handleOf(q string) string {
	b.w.t.Helper()
	p := b.get("/admin/licenses?q=" + url.QueryEscape(q))
	if p.status != http.StatusOK {
		b.w.t.Fatalf("search %q: %d\n%s", q, p.status, p.body)
	}
	return field(b.w.t, handleField, p.body)
}
