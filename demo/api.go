package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/store"
)

// State is everything the page shows, as GET /api/state returns it.
type State struct {
	Version  string             `json:"version"`
	Buyer    Persona            `json:"buyer"`
	Admin    Persona            `json:"admin"`
	ShopURL  string             `json:"shop_url"`
	Telegram map[string][]TGMsg `json:"telegram"` // by role: buyer, admin
	Discord  map[string][]Entry `json:"discord"`
	Roles    map[string][]Role  `json:"roles"`
	Events   []Event            `json:"events"`
	Licenses []License          `json:"licenses"`
	Credits  int                `json:"credits_used"`
	// Validations and Heartbeats count the AuthForge auth calls: a
	// session that expired costs one of them on the next gated command.
	Validations int `json:"validations"`
	Heartbeats  int `json:"heartbeats"`
	// Clock is the demo's time; its Now is not part of Version.
	Clock    ClockState `json:"clock"`
	Payments []Session  `json:"payments"`
	Ready    bool       `json:"discord_ready"`
	// Feed is the admin feed's Telegram chat ([alerts]).
	Feed []TGMsg `json:"feed"`
	// Stars are the Telegram Stars payments, newest first (stars.go).
	Stars []StarsPayment `json:"stars"`
}

// TGMsg is one Telegram message, users' and the bot's.
type TGMsg struct {
	ID       int                   `json:"id"`
	FromBot  bool                  `json:"from_bot"`
	Text     string                `json:"text"`
	Entities []telegramtest.Entity `json:"entities,omitempty"`
	Buttons  [][]TGButton          `json:"buttons,omitempty"`
	Edited   bool                  `json:"edited,omitempty"`
	Deleted  bool                  `json:"deleted,omitempty"`
	// Service is the line shown for a payment service message
	// (successful_payment, refunded_payment); Text is then empty.
	Service string `json:"service,omitempty"`
}

// TGButton is an inline keyboard button.
type TGButton struct {
	Text string `json:"text"`
	URL  string `json:"url,omitempty"`
	Data string `json:"data,omitempty"`
	// Invoice is set when URL is a Stars invoice link: the page opens its
	// stand-in payment sheet instead of the link.
	Invoice *TGInvoice `json:"invoice,omitempty"`
}

// Role is a Discord role the member holds.
type Role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Event is a stored webhook event.
type Event struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	State      string    `json:"state"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	ReceivedAt time.Time `json:"received_at"`
}

// License is a license as the AuthForge stand-in holds it, with the
// shop's product and owner when the store knows the key.
type License struct {
	Key       string     `json:"key"`
	Status    string     `json:"status"`
	Product   string     `json:"product,omitempty"`
	Owner     string     `json:"owner,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	MaxSlots  int        `json:"max_slots"`
	// HWIDs are the slots AuthForge has bound; Holders the identities
	// the shop has an activation of the key for, as /lookup counts
	// them. A revoke leaves the HWIDs bound and removes every holder.
	HWIDs   []string `json:"hwids"`
	Holders []string `json:"holders"`
	Label   string   `json:"label"`
}

// maxWait bounds one long poll of /api/state.
const maxWait = 20 * time.Second

// handleState is GET /api/state[?since=version]: the state, at once when
// its version differs from since, else at the next change or after
// maxWait.
func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	since := r.URL.Query().Get("since")
	ctx, cancel := context.WithTimeout(r.Context(), maxWait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := s.state(r.Context())
		if err != nil {
			s.log.Error("demo: read state", "err", err)
			apiError(w, http.StatusInternalServerError, "reading the shop's store failed: "+err.Error())
			return
		}
		if st.Version != since {
			writeJSON(w, http.StatusOK, st)
			return
		}
		select {
		case <-s.opts.Telegram.Changed():
		case <-s.opts.Stripe.Changed():
		case <-tick.C:
		case <-ctx.Done():
			writeJSON(w, http.StatusOK, st)
			return
		}
	}
}

// state reads every fake and the store.
func (s *Server) state(ctx context.Context) (State, error) {
	st := State{
		Buyer: s.opts.Buyer, Admin: s.opts.Admin, ShopURL: s.opts.ShopURL(),
		Telegram: map[string][]TGMsg{}, Discord: map[string][]Entry{}, Roles: map[string][]Role{},
		Credits: s.opts.AuthForge.CreditsUsed(), Payments: s.opts.Stripe.Sessions(),
		Validations: s.opts.AuthForge.Calls("POST /auth/validate"), Heartbeats: s.opts.AuthForge.Calls("POST /auth/heartbeat"),
		Clock: s.clock.state(),
		Ready: s.opts.Discord.Connected() && len(s.opts.Discord.Commands()) > 0,
		Stars: s.starsPayments(),
	}
	if s.opts.FeedChat != 0 {
		st.Feed = s.telegramChat(s.opts.FeedChat)
	}
	for _, role := range []string{roleBuyer, roleAdmin} {
		p, _ := s.persona(role)
		st.Telegram[role] = s.telegramChat(p.TelegramID)
		st.Discord[role] = s.discordChat(role, p.DiscordID)
		st.Roles[role] = s.roles(p.DiscordID)
	}
	events, err := s.opts.Store.ListEvents(ctx, "", 50)
	if err != nil {
		return State{}, err
	}
	for _, e := range events {
		st.Events = append(st.Events, Event{ID: e.ID, Type: e.Type, State: string(e.State), Attempts: e.Attempts,
			LastError: e.LastError, ReceivedAt: e.ReceivedAt})
	}
	stored, err := s.opts.Store.ListLicenses(ctx)
	if err != nil {
		return State{}, err
	}
	byKey := make(map[string]store.License, len(stored))
	for _, l := range stored {
		byKey[l.Key] = l
	}
	for _, l := range s.opts.AuthForge.Licenses() {
		out := License{Key: l.Key, Status: l.Status, ExpiresAt: l.ExpiresAt, MaxSlots: l.MaxHWIDSlots,
			HWIDs: l.HWIDList, Label: l.Label}
		if sl, ok := byKey[l.Key]; ok {
			out.Product, out.Owner = sl.ProductID, sl.Owner.String()
		}
		acts, err := s.opts.Store.ActivationsForKey(ctx, l.Key)
		if err != nil {
			return State{}, err
		}
		out.Holders = []string{}
		for _, a := range acts {
			out.Holders = append(out.Holders, a.Identity.String())
		}
		if out.HWIDs == nil {
			out.HWIDs = []string{}
		}
		st.Licenses = append(st.Licenses, out)
	}
	slices.Reverse(st.Licenses) // newest first
	// The version covers the clock's offset but not its ticking time, so
	// a long poll waits for real changes.
	now := st.Clock.Now
	st.Clock.Now = time.Time{}
	b, err := json.Marshal(st)
	if err != nil {
		return State{}, err
	}
	sum := sha256.Sum256(b)
	st.Version = hex.EncodeToString(sum[:8])
	st.Clock.Now = now
	return st, nil
}

func (s *Server) telegramChat(chatID int64) []TGMsg {
	msgs := s.opts.Telegram.Messages(chatID)
	out := make([]TGMsg, 0, len(msgs))
	for _, m := range msgs {
		t := TGMsg{ID: m.MessageID, FromBot: m.FromBot(), Text: m.Text, Entities: m.Entities,
			Edited: m.EditDate != 0, Deleted: m.Deleted, Service: s.serviceText(m)}
		if m.ReplyMarkup != nil {
			for _, row := range m.ReplyMarkup.InlineKeyboard {
				var r []TGButton
				for _, b := range row {
					r = append(r, TGButton{Text: b.Text, URL: b.URL, Data: b.CallbackData, Invoice: s.invoiceButton(b.URL)})
				}
				t.Buttons = append(t.Buttons, r)
			}
		}
		out = append(out, t)
	}
	return out
}

func (s *Server) roles(userID string) []Role {
	out := []Role{}
	for _, id := range s.opts.Discord.Roles(userID) {
		name, ok := s.opts.RoleNames[id]
		if !ok {
			continue // @everyone, the bot's own role
		}
		out = append(out, Role{ID: id, Name: name})
	}
	return out
}

// tgUser is the persona as a Telegram user.
func tgUser(p Persona) telegramtest.User {
	return telegramtest.User{ID: p.TelegramID, FirstName: p.Name, Username: strings.ToLower(p.Name)}
}

// handleTelegramSend is POST /api/telegram/send {"as", "text"}: the
// persona writes text in their private chat with the bot.
func (s *Server) handleTelegramSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		asField
		Text string `json:"text"`
	}
	p, ok := s.readAs(w, r, &in, `need "as" (buyer or admin) and a text of 1 to 4096 bytes`, func() bool {
		in.Text = strings.TrimSpace(in.Text)
		return in.Text != "" && len(in.Text) <= 4096
	})
	if !ok {
		return
	}
	id := s.opts.Telegram.SendText(tgUser(p), p.TelegramID, in.Text)
	writeJSON(w, http.StatusOK, map[string]int{"message_id": id})
}

// handleTelegramPress is POST /api/telegram/press {"as", "message_id",
// "data"}: the persona taps an inline button.
func (s *Server) handleTelegramPress(w http.ResponseWriter, r *http.Request) {
	var in struct {
		asField
		MessageID int    `json:"message_id"`
		Data      string `json:"data"`
	}
	p, ok := s.readAs(w, r, &in, needAs, nil)
	if !ok {
		return
	}
	if _, err := s.opts.Telegram.Press(tgUser(p), in.MessageID, in.Data); err != nil {
		apiError(w, http.StatusConflict, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
