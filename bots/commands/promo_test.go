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
