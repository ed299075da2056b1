package commands

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
)

// Sentinels standing in for the core's; classify below plays the role of
// the wiring code's one mapping function.
var (
	errMalformed   = errors.New("malformed")
	errNotEntitled = errors.New("not entitled")
	errStripe      = errors.New("stripe: card_error raw detail")
	errBoom        = errors.New("database exploded: secret detail")
	errBadCode     = errors.New("promotion code unknown")
)

type slotsFull struct{ max int }

func (e *slotsFull) Error() string { return "slots full" }

func classify(err error) Problem {
	var sf *slotsFull
	switch {
	case errors.As(err, &sf):
		return Problem{Kind: KindSlotsFull, Slots: sf.max}
	case errors.Is(err, errMalformed):
		return Problem{Kind: KindMalformedKey}
	case errors.Is(err, errNotEntitled):
		return Problem{Kind: KindNotEntitled}
	case errors.Is(err, errStripe):
		return Problem{Kind: KindPaymentUnavailable}
	case errors.Is(err, errBadCode):
		return Problem{Kind: KindPromotionCode}
	}
	return Problem{}
}

// shop is an in-test Shop: the boundary to the core, recording calls.
type shop struct {
	mu       sync.Mutex
	calls    []string
	link     string
	linkErr  error
	act      Activation
	actErr   error
	lics     []License
	entitled map[string]bool
	checkErr error
	revoked  []License
	details  []LicenseDetails
}

func (s *shop) record(c string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func (s *shop) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

func (s *shop) CheckoutLink(_ context.Context, who identity.Identity, id, code string) (string, error) {
	if code != "" {
		id += " " + code
	}
	s.record("link " + who.String() + " " + id)
	return s.link, s.linkErr
}

func (s *shop) Activate(_ context.Context, who identity.Identity, key string) (Activation, error) {
	s.record("activate " + who.String() + " " + key)
	return s.act, s.actErr
}

func (s *shop) Licenses(_ context.Context, who identity.Identity) ([]License, error) {
	s.record("licenses " + who.String())
	return s.lics, nil
}

func (s *shop) Check(_ context.Context, who identity.Identity, ids ...string) error {
	s.record("check " + who.String() + " " + strings.Join(ids, ","))
	if s.checkErr != nil {
		return s.checkErr
	}
	for _, id := range ids {
		if s.entitled[id] {
			return nil
		}
	}
	return errNotEntitled
}

func (s *shop) Revoke(_ context.Context, actor identity.Identity, t Target) ([]License, error) {
	s.record("revoke " + actor.String() + " " + t.Key + t.Who.String())
	return s.revoked, nil
}

func (s *shop) Lookup(_ context.Context, _ identity.Identity, t Target) ([]LicenseDetails, error) {
	s.record("lookup " + t.Key + t.Who.String())
	return s.details, nil
}

var products = []config.Product{
	{ID: "pro-monthly", Name: "Pro (monthly)", Description: "All premium commands", MaxHWIDSlots: 2},
	{ID: "lifetime", Name: "Lifetime"},
}

func newHandler(t *testing.T, s *shop) *Handler {
	t.Helper()
	h, err := New(Options{
		Shop:     s,
		Products: products,
		Gated:    []config.GatedCommand{{Command: "premium", Products: []string{"pro-monthly", "lifetime"}, Reply: "secret: https://example.com/x"}},
		Classify: classify,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var buyer = identity.TelegramUser(42)

func private(cmd string, args ...string) Request {
	return Request{Who: buyer, Command: cmd, Args: args, Private: true}
}

func group(cmd string, args ...string) Request {
	return Request{Who: buyer, Command: cmd, Args: args}
}

func buttons(r Reply) []Button {
	var out []Button
	for _, row := range r.Buttons {
		out = append(out, row...)
	}
	return out
}

func TestCatalogAndBuy(t *testing.T) {
	ctx := context.Background()
	s := &shop{link: "https://pay.example/cs_1"}
	h := newHandler(t, s)

	r := h.Handle(ctx, private("buy"))
	b := buttons(r)
	if len(b) != 2 || b[0].Data != "buy:pro-monthly" || b[1].Data != "buy:lifetime" {
		t.Fatalf("catalog buttons = %+v", b)
	}
	if !strings.Contains(r.Text, "Pro (monthly) — All premium commands") {
		t.Errorf("catalog text = %q", r.Text)
	}

	for _, req := range []Request{private("buy", "pro-monthly"), private("start", "buy_pro-monthly")} {
		r = h.Handle(ctx, req)
		b = buttons(r)
		if len(b) != 1 || b[0].URL != "https://pay.example/cs_1" {
			t.Fatalf("%s: buttons = %+v", req.Command, b)
		}
	}
	r = h.Callback(ctx, private(""), "buy:lifetime")
	if b := buttons(r); len(b) != 1 || b[0].URL == "" {
		t.Fatalf("callback buy: %+v", r)
	}
	if got := s.Calls(); len(got) != 3 || got[2] != "link tg:42 lifetime" {
		t.Errorf("calls = %q", got)
	}
}

func TestBuyInGroupGoesPrivate(t *testing.T) {
	s := &shop{link: "https://pay.example/cs_1"}
	h := newHandler(t, s)
	r := h.Handle(context.Background(), group("buy", "pro-monthly"))
	b := buttons(r)
	if len(b) != 1 || b[0].Start != "buy_pro-monthly" || b[0].URL != "" {
		t.Fatalf("group buy buttons = %+v", b)
	}
	r = h.Handle(context.Background(), group("buy"))
	for _, b := range buttons(r) {
		if b.Data != "" || !strings.HasPrefix(b.Start, "buy_") {
			t.Errorf("group catalog button %+v must open the private chat", b)
		}
	}
	if len(s.Calls()) != 0 {
		t.Errorf("no checkout link may be made for a group: %q", s.Calls())
	}
}

func TestUnknownProductAndErrors(t *testing.T) {
	ctx := context.Background()
	s := &shop{linkErr: errStripe}
	h := newHandler(t, s)
	r := h.Handle(ctx, private("buy", "nope"))
	if !strings.HasPrefix(r.Text, "There is no product") || len(buttons(r)) != 2 {
		t.Errorf("unknown product reply = %+v", r)
	}
	r = h.Handle(ctx, private("buy", "lifetime"))
	if r.Text != problemText(Problem{Kind: KindPaymentUnavailable}) || strings.Contains(r.Text, "card_error") {
		t.Errorf("stripe error reply = %q", r.Text)
	}
	s.linkErr = errBoom
	r = h.Handle(ctx, private("buy", "lifetime"))
	if r.Text != TextInternalError {
		t.Errorf("unknown error reply = %q", r.Text)
	}
}

func TestActivate(t *testing.T) {
	ctx := context.Background()
	exp := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := &shop{act: Activation{ProductID: "pro-monthly", ExpiresAt: exp, SlotsUsed: 1, MaxSlots: 2}}
	h := newHandler(t, s)

	r := h.Handle(ctx, group("activate", "ABCD-EFGH-IJKL-MNOP"))
	if !r.DeleteRequest || len(s.Calls()) != 0 || buttons(r)[0].Start == "" {
		t.Fatalf("group activate = %+v, calls %q", r, s.Calls())
	}
	if r := h.Handle(ctx, group("activate")); r.DeleteRequest {
		t.Error("nothing to delete without a key")
	}

	r = h.Handle(ctx, private("activate", "abcd-efgh-ijkl-mnop"))
	want := "Activated: Pro (monthly).\nValid until 1 Mar 2026 12:00 UTC.\nAccounts: 1 of 2 slots used."
	if r.Text != want {
		t.Errorf("reply = %q, want %q", r.Text, want)
	}
	r = h.Callback(ctx, private(""), "act:ABCD-EFGH-IJKL-MNOP")
	if !strings.HasPrefix(r.Text, "Activated") {
		t.Errorf("button activate = %q", r.Text)
	}
	if got := s.Calls(); len(got) != 2 || got[1] != "activate tg:42 ABCD-EFGH-IJKL-MNOP" {
		t.Errorf("calls = %q", got)
	}

	s.actErr = &slotsFull{max: 3}
	r = h.Handle(ctx, private("activate", "ABCD-EFGH-IJKL-MNOP"))
	if !strings.Contains(r.Text, "all 3 account(s)") {
		t.Errorf("slots full = %q", r.Text)
	}
	s.actErr = errMalformed
	if r := h.Handle(ctx, private("activate", "x")); !strings.HasPrefix(r.Text, "That doesn't look like a license key") {
		t.Errorf("malformed = %q", r.Text)
	}
}

func TestLicenses(t *testing.T) {
	ctx := context.Background()
	s := &shop{lics: []License{
		{Key: "ABCD-EFGH-IJKL-MNOP", ProductID: "lifetime", Status: StatusActive, SlotsUsed: 0, MaxSlots: 1},
		{Key: "QRST-UVWX-YZ12-3456", ProductID: "pro-monthly", Status: StatusRevoked, Activated: true, MaxSlots: 2},
	}}
	h := newHandler(t, s)
	r := h.Handle(ctx, private("license"))
	if !r.Sensitive || !strings.Contains(r.Text, "`ABCD-EFGH-IJKL-MNOP`") || !strings.Contains(r.Text, "Lifetime license.") {
		t.Fatalf("license reply = %+v", r)
	}
	if b := buttons(r); len(b) != 1 || b[0].Data != "act:ABCD-EFGH-IJKL-MNOP" {
		t.Errorf("activate buttons = %+v", b)
	}
	r = h.Handle(ctx, group("license"))
	if r.Sensitive || strings.Contains(r.Text, "ABCD") || len(s.Calls()) != 1 {
		t.Errorf("group license must not list keys: %+v", r)
	}
}

func TestGatedCommand(t *testing.T) {
	ctx := context.Background()
	s := &shop{entitled: map[string]bool{}}
	h := newHandler(t, s)
	r := h.Handle(ctx, private("premium"))
	if !strings.Contains(r.Text, "needs Pro (monthly) or Lifetime") || len(buttons(r)) != 2 {
		t.Errorf("denied = %+v", r)
	}
	s.entitled["lifetime"] = true
	if r := h.Handle(ctx, private("PREMIUM")); r.Text != "secret: https://example.com/x" {
		t.Errorf("allowed = %q", r.Text)
	}
	if r := h.Handle(ctx, group("premium")); strings.Contains(r.Text, "secret") {
		t.Errorf("gated content posted in a group: %q", r.Text)
	}
	if r := h.Handle(ctx, private("start", "cmd_premium")); r.Text != "secret: https://example.com/x" {
		t.Errorf("deep link = %q", r.Text)
	}
	s.checkErr = errBoom
	if r := h.Handle(ctx, private("premium")); r.Text != TextInternalError {
		t.Errorf("gate failure = %q", r.Text)
	}
}

func TestAdminCommands(t *testing.T) {
	ctx := context.Background()
	s := &shop{
		revoked: []License{{Key: "ABCD-EFGH-IJKL-MNOP", ProductID: "lifetime"}},
		details: []LicenseDetails{{
			License: License{Key: "ABCD-EFGH-IJKL-MNOP", ProductID: "lifetime", Status: StatusActive, SlotsUsed: 1, MaxSlots: 1},
			Owner:   buyer, Holders: []identity.Identity{buyer}, OrderID: "cs_1", OrderStatus: "fulfilled", RemoteStatus: "active",
		}},
	}
	h := newHandler(t, s)
	for _, cmd := range []string{"revoke", "lookup"} {
		r := h.Handle(ctx, private(cmd, "ABCD-EFGH-IJKL-MNOP"))
		if r.Text != msgAdminOnly {
			t.Errorf("non-admin %s = %q", cmd, r.Text)
		}
	}
	if len(s.Calls()) != 0 {
		t.Fatalf("non-admin reached the shop: %q", s.Calls())
	}
	admin := Request{Who: identity.TelegramUser(1), Admin: true, Private: true}
	admin.Command, admin.Args = "revoke", []string{"abcd-efgh-ijkl-mnop"}
	r := h.Handle(ctx, admin)
	if !strings.Contains(r.Text, "Revoked 1 license(s):\n• Lifetime `ABCD-…-MNOP`") {
		t.Errorf("revoke = %q", r.Text)
	}
	admin.Command, admin.Args = "lookup", []string{"tg:42"}
	r = h.Handle(ctx, admin)
	if !strings.Contains(r.Text, "Holders: `tg:42` (1 of 1 slots)") || strings.Contains(r.Text, "EFGH") {
		t.Errorf("lookup = %q", r.Text)
	}
	admin.Args = []string{"tg:abc"}
	if r := h.Handle(ctx, admin); r.Text != msgBadTarget {
		t.Errorf("bad target = %q", r.Text)
	}
	want := []string{"revoke tg:1 ABCD-EFGH-IJKL-MNOP", "lookup tg:42"}
	if got := s.Calls(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("calls = %q", got)
	}
}

func TestUnknownCommandsAndMenu(t *testing.T) {
	ctx := context.Background()
	h := newHandler(t, &shop{})
	if r := h.Handle(ctx, group("weather")); !r.Empty() {
		t.Errorf("unknown command in a group must be ignored: %q", r.Text)
	}
	if r := h.Handle(ctx, private("weather")); r.Text != msgUnknownCommand {
		t.Errorf("unknown command = %q", r.Text)
	}
	if r := h.Callback(ctx, private(""), "zzz"); r.Text != msgStaleButton {
		t.Errorf("stale button = %q", r.Text)
	}
	user, admin := h.Menu(false), h.Menu(true)
	if len(admin) != len(user)+10 || user[3].Command != "premium" || user[4].Command != "transfer" {
		t.Errorf("menu = %+v / %+v", user, admin)
	}
	if r := h.Handle(ctx, Request{Command: "help", Admin: true, Private: true}); !strings.Contains(r.Text, "/revoke KEY|tg:ID") {
		t.Errorf("admin help = %q", r.Text)
	}
}

func TestNewRejectsBadGatedCommands(t *testing.T) {
	for _, g := range []string{"buy", "bad name", "", "x@y"} {
		_, err := New(Options{Shop: &shop{}, Gated: []config.GatedCommand{{Command: g}}})
		if err == nil {
			t.Errorf("gated command %q accepted", g)
		}
	}
	if _, err := New(Options{}); err == nil {
		t.Error("missing Shop accepted")
	}
}

func TestWaitText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                "in a few minutes",
		30 * time.Second: "in 30 seconds",
		90 * time.Second: "in a minute",
		7 * time.Minute:  "in 7 minutes",
		3 * time.Hour:    "in 3 hours",
		72 * time.Hour:   "in 3 days",
	} {
		if got := waitText(d); got != want {
			t.Errorf("waitText(%v) = %q, want %q", d, got, want)
		}
	}
}

// Admin answers carry buyers' identities and orders: in a group they are
// not given, for admins or anyone, and a key typed there is deleted.
func TestAdminCommandsStayPrivate(t *testing.T) {
	ctx := context.Background()
	s := &shop{}
	h := newHandler(t, s)
	for _, admin := range []bool{true, false} {
		for _, c := range []struct {
			cmd, arg  string
			deleteMsg bool
		}{
			{"lookup", "tg:777", false},
			{"revoke", "abcd-efgh-ijkl-mnop", true},
			{"resethwid", "ABCD-EFGH-IJKL-MNOP", true},
			{"stats", "", false},
		} {
			req := Request{Who: identity.TelegramUser(1), Command: c.cmd, Admin: admin}
			if c.arg != "" {
				req.Args = []string{c.arg}
			}
			r := h.Handle(ctx, req)
			if r.Text != msgGoPrivate || r.DeleteRequest != c.deleteMsg {
				t.Errorf("admin=%v /%s %s in a group: %q delete=%v", admin, c.cmd, c.arg, r.Text, r.DeleteRequest)
			}
		}
	}
	if len(s.Calls()) != 0 {
		t.Fatalf("group admin commands reached the shop: %q", s.Calls())
	}
}

// /help speaks each platform's syntax: words in Telegram, options in Discord.
func TestHelpSyntaxPerPlatform(t *testing.T) {
	h := newHandler(t, &shop{})
	ctx := context.Background()
	tg := h.Handle(ctx, Request{Who: identity.TelegramUser(1), Command: "help", Admin: true, Private: true})
	dc := h.Handle(ctx, Request{Who: identity.DiscordUser("123456789012345678"), Command: "help", Admin: true, Private: true})
	for _, want := range []string{"/activate KEY", "/revoke KEY|tg:ID"} {
		if !strings.Contains(tg.Text, want) {
			t.Errorf("Telegram /help lacks %q:\n%s", want, tg.Text)
		}
	}
	for _, want := range []string{"/activate key:", "/revoke key: | user:"} {
		if !strings.Contains(dc.Text, want) {
			t.Errorf("Discord /help lacks %q:\n%s", want, dc.Text)
		}
	}
}
