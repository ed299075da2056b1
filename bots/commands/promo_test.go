package commands

import (
	"context"
	"strings"
	"testing"
)

func TestBuyWithPromotionCode(t *testing.T) {
	ctx := context.Background()
	s := &shop{link: "https://pay.example/cs_code"}
	h := newHandler(t, s)

	r := h.Handle(ctx, private("buy", "lifetime", "SPRING`x"))
	if got := s.Calls(); len(got) != 1 || got[0] != "link tg:42 lifetime SPRING`x" {
		t.Fatalf("calls = %q, want the link with the code", got)
	}
	if !strings.HasPrefix(r.Text, "Promotion code `SPRING'x` applied") {
		t.Errorf("reply = %q, want the code applied first (backtick neutralised)", r.Text)
	}
	if b := buttons(r); len(b) != 1 || b[0].URL != "https://pay.example/cs_code" {
		t.Errorf("buttons = %+v", b)
	}

	// A plain /buy says nothing about codes.
	r = h.Handle(ctx, private("buy", "lifetime"))
	if strings.Contains(r.Text, "Promotion code") {
		t.Errorf("plain /buy reply mentions a code: %q", r.Text)
	}

	s.linkErr = errBadCode
	r = h.Handle(ctx, private("buy", "lifetime", "NOPE"))
	if r.Text != problemText(Problem{Kind: KindPromotionCode}) || !strings.Contains(r.Text, "unknown or has expired") || len(buttons(r)) != 0 {
		t.Errorf("bad code reply = %+v, want the promotion code message and no pay button", r)
	}
}

// A group's /buy PRODUCT CODE keeps the code on its way to the private
// chat: in the start link when it fits there, else in the text.
func TestGroupBuyKeepsPromotionCode(t *testing.T) {
	ctx := context.Background()
	s := &shop{link: "https://pay.example/cs_code"}
	h := newHandler(t, s)

	r := h.Handle(ctx, group("buy", "lifetime", "SPRING-25"))
	b := buttons(r)
	if len(b) != 1 || b[0].Start != "buy_lifetime_SPRING-25" || len(s.Calls()) != 0 {
		t.Fatalf("group reply buttons %+v, calls %q; want a start link carrying the code and no checkout", b, s.Calls())
	}
	r = h.Handle(ctx, private("start", b[0].Start))
	if got := s.Calls(); len(got) != 1 || got[0] != "link tg:42 lifetime SPRING-25" {
		t.Fatalf("calls after the start link = %q, want the link with the code", got)
	}
	if !strings.HasPrefix(r.Text, "Promotion code `SPRING-25` applied") {
		t.Errorf("reply = %q, want the code applied", r.Text)
	}

	// A code that cannot ride in a start link is asked for again.
	r = h.Handle(ctx, group("buy", "lifetime", "SPRING!25"))
	if b := buttons(r); len(b) != 1 || b[0].Start != "buy_lifetime" || !strings.Contains(r.Text, "`/buy lifetime SPRING!25`") {
		t.Fatalf("group reply %+v, want the plain start link and the command to send", r)
	}
}
