package demo

import (
	"net/http"
	"net/http/httputil"
	"net/url"
)

// The shop's dashboard is served through the page's address, which is
// the shop's public_url in the demo: sign-in links point here, and
// /admin/ is passed on to the shop's own server.

// handleDashboard sends the browser to a fresh one-time sign-in link of
// the demo's admin. Only the demo does this on a GET: its page lets
// anyone act as the admin anyway, and it listens on this machine.
func (s *Server) handleDashboard(w http.ResponseWriter, r *http.Request) {
	if s.opts.DashboardLink == nil {
		http.Error(w, "The dashboard is not wired in this demo.", http.StatusNotFound)
		return
	}
	link, err := s.opts.DashboardLink(r.Context())
	if err != nil {
		s.log.Warn("demo: dashboard link", "err", err)
		http.Error(w, "No dashboard link: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, link, http.StatusSeeOther)
}

// handleAdmin passes /admin/ to the shop.
func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) {
	shop, err := url.Parse(s.opts.ShopURL())
	if err != nil || shop.Host == "" {
		http.Error(w, "The shop is not up yet.", http.StatusServiceUnavailable)
		return
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(shop)
			pr.Out.Host = pr.In.Host
		},
	}
	proxy.ServeHTTP(w, r)
}
