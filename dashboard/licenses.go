package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// maxQuery bounds a search: a key, an identity or an order id is short.
const maxQuery = 256

type licensesData struct {
	// Query is the search to show in the box (never a key); Shown names
	// what the results are for, keys masked.
	Query    string
	Shown    string
	Searched bool
	Problem  string
	Results  []licenseRow
	Products []config.Product
}

// licenseRow is one license as the page shows it: the key masked, and a
// handle standing for it in the action forms.
type licenseRow struct {
	Handle      string
	Masked      string
	Product     string
	Status      string
	Owner       string
	Holders     []string
	SlotsUsed   int
	MaxSlots    int
	ExpiresAt   time.Time
	OrderID     string
	OrderStatus string
	Remote      string
	CreatedAt   time.Time
	Active      bool
}

// licenses searches by key, identity or order id (q), or shows the
// license a handle stands for (h: where actions come back to). The search
// is the chat's /lookup, which records a "lookup" audit entry as the chat
// does: reading a buyer's data is an admin action. A key typed into the
// search is not echoed back: pages show keys masked.
func (d *Dashboard) licenses(w http.ResponseWriter, r *http.Request, s view) {
	data := licensesData{Products: d.products}
	var t commands.Target
	query := r.URL.Query()
	if h := query.Get("h"); h != "" {
		data.Searched = true
		if key, ok := d.auth.key(s.id, h); ok {
			t = commands.Target{Key: key}
		} else {
			data.Problem = "That license is no longer on the page; search for it again."
		}
	} else if q := strings.TrimSpace(query.Get("q")); q != "" {
		data.Searched = true
		t, data.Problem = d.target(r.Context(), q)
		if t.Key == "" {
			data.Query = q
		}
	}
	if data.Problem == "" && (t.Key != "" || !t.Who.IsZero()) {
		data.Shown = t.String()
		found, problem := d.lookup(r.Context(), s.who, t)
		data.Problem = problem
		for _, l := range found {
			data.Results = append(data.Results, d.licenseRow(s, l))
		}
	}
	d.render(w, http.StatusOK, "licenses", s, data)
}

// target reads a search: an order id (exact), else an identity
// ("tg:123", "discord:456") or a key. The second result is what to tell
// the admin when it is neither.
func (d *Dashboard) target(ctx context.Context, q string) (commands.Target, string) {
	if len(q) > maxQuery {
		return commands.Target{}, "That is too long for a key, a user or an order id."
	}
	o, err := d.db.GetOrder(ctx, q)
	switch {
	case err == nil && o.LicenseKey == "":
		return commands.Target{}, fmt.Sprintf("Order %s (%s) has no license yet.", o.ID, o.Status)
	case err == nil:
		return commands.Target{Key: o.LicenseKey}, ""
	case !errors.Is(err, store.ErrNotFound):
		d.log.Error("dashboard: search orders", "err", err)
		return commands.Target{}, "The store could not be read; the log says why."
	}
	t, ok := commands.ParseTarget(q)
	if !ok {
		return commands.Target{}, "Search for a license key, a user (tg:123456 or discord:123456789) or an order id."
	}
	return t, ""
}

func (d *Dashboard) lookup(ctx context.Context, who identity.Identity, t commands.Target) ([]commands.LicenseDetails, string) {
	found, err := d.ops.Lookup(ctx, who, t)
	if err != nil {
		d.log.Info("dashboard: lookup refused", "target", t.String(), "err", err)
		return nil, d.explain(err)
	}
	if len(found) == 0 {
		return nil, "No license found for " + t.String() + "."
	}
	return found, ""
}

func (d *Dashboard) licenseRow(s view, l commands.LicenseDetails) licenseRow {
	row := licenseRow{
		Handle: d.auth.handle(s.id, l.Key), Masked: authforge.MaskKey(l.Key),
		Product: l.ProductName, Status: string(l.Status), Owner: "none",
		SlotsUsed: l.SlotsUsed, MaxSlots: l.MaxSlots, ExpiresAt: l.ExpiresAt,
		OrderID: l.OrderID, OrderStatus: l.OrderStatus, CreatedAt: l.CreatedAt,
		Remote: l.RemoteStatus, Active: l.Status == commands.StatusActive,
	}
	if row.Product == "" {
		row.Product = d.productName(l.ProductID)
	}
	if !l.Owner.IsZero() {
		row.Owner = l.Owner.String()
	}
	for _, h := range l.Holders {
		row.Holders = append(row.Holders, h.String())
	}
	switch {
	case l.RemoteUnavailable:
		row.Remote = "unreachable"
	case row.Remote == "":
		row.Remote = "not asked"
	}
	return row
}

// formKey reads the key a form's handle stands for.
func (d *Dashboard) formKey(w http.ResponseWriter, r *http.Request, s view) (string, bool) {
	key, ok := d.auth.key(s.id, r.PostFormValue("h"))
	if !ok {
		d.done(w, r, s, "That license is no longer on the page; search for it again.", Prefix+"licenses")
	}
	return key, ok
}

// backTo is the license page of the form's handle.
func backTo(r *http.Request) string {
	return Prefix + "licenses?h=" + url.QueryEscape(r.PostFormValue("h"))
}

// revoke is /revoke KEY.
func (d *Dashboard) revoke(w http.ResponseWriter, r *http.Request, s view) {
	key, ok := d.formKey(w, r, s)
	if !ok {
		return
	}
	revoked, err := d.ops.Revoke(r.Context(), s.who, commands.Target{Key: key})
	msg := ""
	switch {
	case err != nil:
		msg = "Revoke " + authforge.MaskKey(key) + ": " + d.explain(err)
	case len(revoked) == 0:
		msg = "Nothing to revoke: " + authforge.MaskKey(key) + " was not active."
	default:
		msg = "Revoked " + authforge.MaskKey(key) + "; its holders lost access and were told."
	}
	d.done(w, r, s, msg, backTo(r))
}

// extend is /extend KEY DURATION.
func (d *Dashboard) extend(w http.ResponseWriter, r *http.Request, s view) {
	key, ok := d.formKey(w, r, s)
	if !ok {
		return
	}
	by, ok := commands.ParseExtension(r.PostFormValue("by"))
	if !ok {
		d.done(w, r, s, "Extend by a duration such as 30d, 2w or 72h (at most 100 years).", backTo(r))
		return
	}
	l, err := d.ops.Extend(r.Context(), s.who, key, by)
	msg := ""
	if err != nil {
		msg = "Extend " + authforge.MaskKey(key) + ": " + d.explain(err)
	} else {
		msg = "Extended " + authforge.MaskKey(key) + " until " + l.ExpiresAt.UTC().Format("2006-01-02 15:04 UTC") + "."
	}
	d.done(w, r, s, msg, backTo(r))
}

// reset is /resethwid KEY.
func (d *Dashboard) reset(w http.ResponseWriter, r *http.Request, s view) {
	key, ok := d.formKey(w, r, s)
	if !ok {
		return
	}
	msg := "Freed every slot of " + authforge.MaskKey(key) + "; its former holders lost access."
	if _, err := d.ops.ResetHWID(r.Context(), s.who, key); err != nil {
		msg = "Reset slots of " + authforge.MaskKey(key) + ": " + d.explain(err)
	}
	d.done(w, r, s, msg, backTo(r))
}

// grant is /grant PRODUCT USER.
func (d *Dashboard) grant(w http.ResponseWriter, r *http.Request, s view) {
	raw := strings.TrimSpace(r.PostFormValue("who"))
	who, err := identity.Parse(raw)
	if err != nil || len(raw) > maxQuery {
		d.done(w, r, s, "Grant to a user written as tg:123456 or discord:123456789.", Prefix+"licenses")
		return
	}
	product := r.PostFormValue("product")
	l, err := d.ops.Grant(r.Context(), s.who, who, product)
	msg := ""
	if err != nil {
		msg = "Grant to " + who.String() + ": " + d.explain(err)
	} else {
		msg = "Granted " + d.productName(l.ProductID) + " to " + who.String() + ": " + authforge.MaskKey(l.Key) + ", delivered in their chat."
	}
	d.done(w, r, s, msg, Prefix+"licenses?q="+url.QueryEscape(who.String()))
}

// reveal shows one whole key, once, and records that it was shown.
func (d *Dashboard) reveal(w http.ResponseWriter, r *http.Request, s view) {
	key, ok := d.formKey(w, r, s)
	if !ok {
		return
	}
	d.audit(r.Context(), s.who, "reveal key", authforge.MaskKey(key), "shown whole on the dashboard")
	d.done(w, r, s, "Key "+authforge.MaskKey(key)+" in full: "+key, backTo(r))
}
