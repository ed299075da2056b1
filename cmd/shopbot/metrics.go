package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/outbox"
)

// metrics serves GET /metrics in the Prometheus text format: what a seller
// alerts on (failed or piling-up payment events, AuthForge credits spent)
// and charts (orders, licenses, activations). Sales figures are business
// data, so it requires the same bearer token as the entitlements API and
// is off without one.
func (a *app) metrics(token string) http.HandlerFunc {
	return requireBearer(token, func(w http.ResponseWriter, r *http.Request) {
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
		a.chatMetrics(&b)
		family("shopbot_authforge_validations_total", "counter", "Successful AuthForge validate calls (1 credit each).")
		fmt.Fprintf(&b, "shopbot_authforge_validations_total %d\n", ls.Validations)
		family("shopbot_authforge_heartbeats_total", "counter", "Successful AuthForge heartbeats (1 credit per 10).")
		fmt.Fprintf(&b, "shopbot_authforge_heartbeats_total %d\n", ls.Heartbeats)
		family("shopbot_authforge_credits_estimate", "gauge", "AuthForge credits spent, estimated from the calls above.")
		fmt.Fprintf(&b, "shopbot_authforge_credits_estimate %s\n", strconv.FormatFloat(ls.CreditsEstimate, 'g', -1, 64))
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
}

// requireBearer serves next only to requests carrying the API token;
// hashing both sides first makes the comparison constant-time in the
// length too.
func requireBearer(token string, next http.HandlerFunc) http.HandlerFunc {
	want := sha256.Sum256([]byte("Bearer " + token))
	return func(w http.ResponseWriter, r *http.Request) {
		got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shopbot"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

// chatLoad is each chat platform's crowd protection counters, for /stats.
func (a *app) chatLoad() []commands.ChatLoad {
	var out []commands.ChatLoad
	if a.tg != nil {
		st := a.tg.Stats()
		out = append(out, commands.ChatLoad{
			Platform:        "Telegram",
			CommandsDropped: st.Budget.Dropped(),
			RepliesDropped:  st.Outbox.Dropped,
			Queued:          st.Outbox.Queued,
			RateLimited:     st.Outbox.RateLimited + st.RateLimited,
		})
	}
	if a.dc != nil {
		st := a.dc.Stats()
		out = append(out, commands.ChatLoad{
			Platform:        "Discord",
			CommandsDropped: st.Budget.Dropped(),
			RateLimited:     st.RateLimited,
		})
	}
	return out
}

// chatMetrics writes the crowd protection's families: commands dropped
// by reason, replies dropped, messages queued, commands in progress and
// 429 answers, each by platform.
func (a *app) chatMetrics(b *bytes.Buffer) {
	type platform struct {
		name        string
		budget      budget.Stats
		out         outbox.Stats
		rateLimited uint64
	}
	var ps []platform
	if a.tg != nil {
		st := a.tg.Stats()
		ps = append(ps, platform{"telegram", st.Budget, st.Outbox, st.Outbox.RateLimited + st.RateLimited})
	}
	if a.dc != nil {
		st := a.dc.Stats()
		ps = append(ps, platform{"discord", st.Budget, outbox.Stats{}, st.RateLimited})
	}
	if len(ps) == 0 {
		return
	}
	fmt.Fprint(b, "# HELP shopbot_chat_commands_dropped_total Commands dropped before any work: over the sender's budget (rate), past the sender's in-flight cap (busy), past the platform's (full).\n# TYPE shopbot_chat_commands_dropped_total counter\n")
	for _, p := range ps {
		for _, r := range []struct {
			reason string
			n      uint64
		}{{"rate", p.budget.DroppedRate}, {"busy", p.budget.DroppedBusy}, {"full", p.budget.DroppedFull}} {
			fmt.Fprintf(b, "shopbot_chat_commands_dropped_total{platform=%q,reason=%q} %d\n", p.name, r.reason, r.n)
		}
	}
	gauge := func(name, typ, help string, value func(platform) uint64) {
		fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
		for _, p := range ps {
			fmt.Fprintf(b, "%s{platform=%q} %d\n", name, p.name, value(p))
		}
	}
	gauge("shopbot_chat_commands_in_flight", "gauge", "Commands being handled now.", func(p platform) uint64 { return uint64(p.budget.InFlight) })
	gauge("shopbot_chat_replies_dropped_total", "counter", "Replies dropped from a full reply queue (a flooding chat loses its own oldest).", func(p platform) uint64 { return p.out.Dropped })
	gauge("shopbot_chat_queue_depth", "gauge", "Messages waiting to go out.", func(p platform) uint64 { return uint64(p.out.Queued) })
	gauge("shopbot_chat_messages_sent_total", "counter", "Messages handed to the platform by the paced outbox.", func(p platform) uint64 { return p.out.Sent })
	gauge("shopbot_chat_rate_limited_total", "counter", "429 answers from the platform.", func(p platform) uint64 { return p.rateLimited })
}
