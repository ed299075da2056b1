package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/shopbot/shopbot/store"
)

// pageSize is the rows of one events or audit page.
const pageSize = 50

// eventID is the shape of a stored event id, as /replay takes it
// (Stripe's evt_..., Telegram Stars' tgpay:...); anything else is refused
// before the core.
var eventID = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,255}$`)

var eventStates = []store.EventState{store.EventFailed, store.EventPending, store.EventDone, store.EventIgnored}

type eventsData struct {
	State  string
	States []store.EventState
	Events []store.Event
	// Next is the cursor of the next (older) page; 0 when this is the last.
	Next uint64
}

// events lists the payment event log, newest first, by state.
func (d *Dashboard) events(w http.ResponseWriter, r *http.Request, s view) {
	q := r.URL.Query()
	state := store.EventState(q.Get("state"))
	if state != "" && !validState(state) {
		state = ""
	}
	before, _ := strconv.ParseUint(q.Get("before"), 10, 64)
	evs, err := d.db.EventsBefore(r.Context(), state, before, pageSize+1)
	if err != nil {
		d.fail(w, s, "the event log", err)
		return
	}
	data := eventsData{State: string(state), States: eventStates}
	if len(evs) > pageSize {
		evs = evs[:pageSize]
		data.Next = evs[pageSize-1].Seq
	}
	data.Events = evs
	d.render(w, http.StatusOK, "events", s, data)
}

func validState(s store.EventState) bool {
	for _, v := range eventStates {
		if s == v {
			return true
		}
	}
	return false
}

// replay is /replay EVENT.
func (d *Dashboard) replay(w http.ResponseWriter, r *http.Request, s view) {
	back := Prefix + "events"
	if st := store.EventState(r.PostFormValue("state")); validState(st) {
		back += "?state=" + url.QueryEscape(string(st))
	}
	id := r.PostFormValue("id")
	if !eventID.MatchString(id) {
		d.done(w, r, s, "That is not an event id.", back)
		return
	}
	ev, err := d.ops.Replay(r.Context(), s.who, id)
	msg := "Replayed " + id + ": now " + ev.State + "."
	if err != nil {
		msg = "Replay " + id + ": " + d.explain(err)
		if ev.LastError != "" {
			msg += " Last error: " + ev.LastError
		}
	}
	d.done(w, r, s, msg, back)
}

type auditData struct {
	Entries []store.AuditRecord
	Next    uint64
}

// auditLog lists the audit log, newest first.
func (d *Dashboard) auditLog(w http.ResponseWriter, r *http.Request, s view) {
	before, _ := strconv.ParseUint(r.URL.Query().Get("before"), 10, 64)
	entries, err := d.db.AuditBefore(r.Context(), before, pageSize+1)
	if err != nil {
		d.fail(w, s, "the audit log", err)
		return
	}
	data := auditData{}
	if len(entries) > pageSize {
		entries = entries[:pageSize]
		data.Next = entries[pageSize-1].Seq
	}
	data.Entries = entries
	d.render(w, http.StatusOK, "audit", s, data)
}
