package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// metrics serves GET /metrics in the Prometheus text format: what a seller
// alerts on (failed or piling-up payment events, AuthForge credits spent)
// and charts (orders, licenses, activations). Sales figures are business
// data, so it requires the same bearer token as the entitlements API and
// is off without one.
func (a *app) metrics(token string) http.HandlerFunc {
	want := sha256.Sum256([]byte("Bearer " + token))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shopbot"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		st, err := a.db.Stats(r.Context())
		if err != nil {
			a.log.Error("metrics: store", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		ls, err := a.lic.Stats(r.Context())
		if err != nil {
			a.log.Error("metrics: licensing", "err", err)
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		var b bytes.Buffer
		family := func(name, typ, help string) {
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		}
		labelled := func(name, label string, values map[string]int) {
			keys := make([]string, 0, len(values))
			for k := range values {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "%s{%s=%q} %d\n", name, label, k, values[k])
			}
		}
		orders := map[string]int{}
		for s, n := range st.OrdersByStatus {
			orders[string(s)] = n
		}
		events := map[string]int{}
		for s, n := range st.EventsByState {
			events[string(s)] = n
		}
		family("shopbot_orders", "gauge", "Orders by status.")
		labelled("shopbot_orders", "status", orders)
		family("shopbot_licenses", "gauge", "Licenses by status.")
		labelled("shopbot_licenses", "status", map[string]int{"active": ls.ActiveLicenses, "revoked": ls.RevokedLicenses})
		family("shopbot_activations", "gauge", "Chat accounts holding a slot of a license, by product.")
		labelled("shopbot_activations", "product", ls.ActivationsByProduct)
		family("shopbot_stripe_events", "gauge", "Stored Stripe events by state; failed ones need an admin.")
		labelled("shopbot_stripe_events", "state", events)
		family("shopbot_authforge_validations_total", "counter", "Successful AuthForge validate calls (1 credit each).")
		fmt.Fprintf(&b, "shopbot_authforge_validations_total %d\n", ls.Validations)
		family("shopbot_authforge_heartbeats_total", "counter", "Successful AuthForge heartbeats (1 credit per 10).")
		fmt.Fprintf(&b, "shopbot_authforge_heartbeats_total %d\n", ls.Heartbeats)
		family("shopbot_authforge_credits_estimate", "gauge", "AuthForge credits spent, estimated from the calls above.")
		fmt.Fprintf(&b, "shopbot_authforge_credits_estimate %s\n", strconv.FormatFloat(ls.CreditsEstimate, 'g', -1, 64))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	}
}
