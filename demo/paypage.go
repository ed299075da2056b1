package demo

import (
	"time"

	"errors"
	"github.com/shopbot/shopbot/notify"
	"html/template"
	"net/http"
	"net/url"
)

// payPage is the stand-in Stripe Checkout page. It is plain HTML forms so
// it works without JavaScript, like the real one mostly does not.
var payPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Checkout · {{.Product}}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/checkout.css">
</head><body>
<main class="card" id="checkout" data-status="{{.S.Status}}">
<p class="test">TEST MODE · stand-in for Stripe Checkout</p>
<h1>{{.Product}}</h1>
<p class="mode">{{if eq .S.Mode "subscription"}}Subscription, billed monthly{{else}}One-time payment{{end}} · price <code>{{.S.PriceID}}</code></p>
<p class="who">Buyer: <code>{{.S.Identity}}</code> · session <code>{{.S.ID}}</code></p>
{{if .Note}}<p class="note" id="note">{{.Note}}</p>{{end}}
{{if .Err}}<p class="error" id="error">{{.Err}}</p>{{end}}
{{if eq .S.Status "paid"}}
  <p class="ok" id="paid">Payment received. The bot delivers the key in the chat.</p>
  <a class="button primary" id="return" href="{{.S.SuccessURL}}">Return to the shop</a>
{{else if eq .S.Status "failed"}}
  <p class="error" id="failed">The bank rejected the payment. The bot tells the buyer in the chat.</p>
  <a class="button" id="return" href="{{.S.CancelURL}}">Return to the shop</a>
{{else if eq .S.Status "pending"}}
  <p class="note" id="pending">Bank debit started: Stripe sent checkout.session.completed with payment_status "unpaid". The shop waits for the bank.</p>
  <form method="post"><input type="hidden" name="action" value="async_ok"><button class="primary" id="async-ok">Bank confirms payment</button></form>
  <form method="post"><input type="hidden" name="action" value="async_fail"><button id="async-fail">Bank rejects payment</button></form>
{{else}}
  <label>Card number<input value="4242 4242 4242 4242" readonly></label>
  <div class="row"><label>Expiry<input value="12 / 34" readonly></label><label>CVC<input value="123" readonly></label></div>
  <form method="post"><input type="hidden" name="action" value="pay"><button class="primary" id="pay">{{if eq .S.Mode "subscription"}}Subscribe{{else}}Pay{{end}}</button></form>
  <form method="post"><input type="hidden" name="action" value="decline"><button id="decline">Pay with a card that is declined</button></form>
  <form method="post"><input type="hidden" name="action" value="async"><button id="async">Pay by bank debit (async)</button></form>
  <a class="cancel" href="{{.S.CancelURL}}">Cancel and return to the shop</a>
{{end}}
<p class="fine">Nothing here is charged. Buttons post correctly signed Stripe events to the shop's real <code>/webhooks/stripe</code>.</p>
</main></body></html>`))

var notes = map[string]string{
	actDecline:   "Your card was declined. Try again: Stripe sends no event for a declined attempt, the session stays open.",
	actPay:       "",
	actAsync:     "",
	actAsyncOK:   "The bank confirmed: Stripe sent checkout.session.async_payment_succeeded.",
	actAsyncFail: "The bank rejected the debit: Stripe sent checkout.session.async_payment_failed.",
}

// handlePayPage is GET /pay/{id}.
func (s *Server) handlePayPage(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.opts.Stripe.Session(r.PathValue("id"))
	if !ok {
		http.Error(w, "This checkout session does not exist. Ask the bot again with /buy.", http.StatusNotFound)
		return
	}
	s.renderPay(w, http.StatusOK, sess, notes[r.URL.Query().Get("note")], "")
}

// handlePayAction is POST /pay/{id} with form field action.
func (s *Server) handlePayAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	action := r.PostFormValue("action")
	sess, err := s.pay(r.Context(), id, action)
	var se errState
	switch {
	case err == nil:
		http.Redirect(w, r, "/pay/"+url.PathEscape(id)+"?note="+url.QueryEscape(action), http.StatusSeeOther)
	case sess.ID == "":
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.As(err, &se):
		s.renderPay(w, http.StatusConflict, sess, "", se.msg)
	default:
		s.log.Warn("demo: checkout action failed", "session", id, "action", action, "err", err)
		s.renderPay(w, http.StatusBadGateway, sess, "", "Stripe could not reach the shop: "+err.Error())
	}
}

func (s *Server) renderPay(w http.ResponseWriter, status int, sess Session, note, msg string) {
	name := s.productName(sess.Product)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	err := payPage.Execute(w, struct {
		S                  Session
		Product, Note, Err string
	}{sess, name, note, msg})
	if err != nil {
		s.log.Warn("demo: render checkout page", "err", err)
	}
}

// formatTime writes t as the shop's messages do (notify.TimeLayout), so
// the page and the chats spell a date one way.
func formatTime(t time.Time) string { return t.UTC().Format(notify.TimeLayout) }

// productName is the configured name of product id, or the id.
func (s *Server) productName(id string) string {
	for _, p := range s.opts.Products {
		if p.ID == id && p.Name != "" {
			return p.Name
		}
	}
	return id
}

// returnPage is where Checkout sends the buyer back.
var returnPage = template.Must(template.New("return").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="4; url=/">
<title>{{.Title}}</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/checkout.css">
</head><body><main class="card">
<h1>{{.Title}}</h1><p>{{.Text}}</p>
<a class="button primary" id="back" href="/">Back to the chats</a>
</main></body></html>`))

// handleReturn serves the success and cancel URLs (server.public_url is the
// demo page).
func (s *Server) handleReturn(paid bool) http.HandlerFunc {
	data := struct{ Title, Text string }{"Payment received", "Your license key is on its way to your chat."}
	if !paid {
		data = struct{ Title, Text string }{"Payment cancelled", "Nothing was charged. Start again from the chat with /buy."}
	}
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err := returnPage.Execute(w, data); err != nil {
			s.log.Warn("demo: render return page", "err", err)
		}
	}
}

// billingPage is the stand-in Stripe customer portal that the shop's
// "Manage subscription" button opens.
var billingPage = template.Must(template.New("billing").Funcs(template.FuncMap{"when": formatTime}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Billing · {{.Customer}}</title><link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/checkout.css">
</head><body><main class="card" id="billing">
<p class="test">TEST MODE · stand-in for Stripe's customer portal</p>
<h1>Your subscriptions</h1>
<p class="who">Customer <code>{{.Customer}}</code></p>
{{range .Subs}}<p class="note sub">{{.Name}} · {{if .S.Canceled}}canceled{{else}}active, renews on {{when .S.PeriodEnd}}{{end}}</p>
{{else}}<p class="note">No subscription.</p>{{end}}
<p class="fine">Stripe's real portal lets the buyer cancel or change the card here. In the demo, use the panel's Stripe buttons (renew, cancel, refund) instead.</p>
<a class="button primary" id="back" href="/">Back to the chats</a>
</main></body></html>`))

// handleBillingPage is GET /billing/{customer}.
func (s *Server) handleBillingPage(w http.ResponseWriter, r *http.Request) {
	customer := r.PathValue("customer")
	type sub struct {
		S    Session
		Name string
	}
	var subs []sub
	for _, sess := range s.opts.Stripe.CustomerSessions(customer) {
		if sess.Mode == "subscription" {
			subs = append(subs, sub{sess, s.productName(sess.Product)})
		}
	}
	if len(s.opts.Stripe.CustomerSessions(customer)) == 0 {
		http.Error(w, "No such customer.", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := billingPage.Execute(w, struct {
		Customer string
		Subs     []sub
	}{customer, subs}); err != nil {
		s.log.Warn("demo: render billing page", "err", err)
	}
}
