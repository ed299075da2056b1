package notify

import (
	"context"
	"errors"
	"testing"

	"github.com/shopbot/shopbot/identity"
)

// sender records what the router hands it and fails when told to.
type sender struct {
	notified []identity.Identity
	alerts   int
	fail     error
}

func (s *sender) Notify(_ context.Context, to identity.Identity, _ Notice) error {
	s.notified = append(s.notified, to)
	return s.fail
}

func (s *sender) AlertAdmins(context.Context, string) error { s.alerts++; return s.fail }

func (s *sender) SyncAccess(context.Context, identity.Identity, []string) error { return s.fail }

func TestRouterDispatchesByPlatform(t *testing.T) {
	ctx := context.Background()
	r := NewRouter()
	tg, dc := &sender{}, &sender{}
	r.Register(identity.Telegram, tg)
	r.Register(identity.Discord, dc)

	if err := r.Notify(ctx, identity.TelegramUser(1), Notice{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Notify(ctx, identity.DiscordUser("123456789012345678"), Notice{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if len(tg.notified) != 1 || len(dc.notified) != 1 {
		t.Fatalf("telegram got %v, discord got %v", tg.notified, dc.notified)
	}
}

func TestRouterWithoutAdapter(t *testing.T) {
	r := NewRouter()
	r.Register(identity.Telegram, &sender{})
	err := r.SyncAccess(context.Background(), identity.DiscordUser("123456789012345678"), nil)
	if !errors.Is(err, ErrNoRoute) {
		t.Fatalf("err = %v, want ErrNoRoute", err)
	}
}

// Admin alerts go to every platform and fail only when none delivered.
func TestAlertAdminsFailsOnlyWhenAllFail(t *testing.T) {
	ctx := context.Background()
	r := NewRouter()
	down := errors.New("down")
	tg, dc := &sender{fail: down}, &sender{}
	r.Register(identity.Telegram, tg)
	r.Register(identity.Discord, dc)
	if err := r.AlertAdmins(ctx, "x"); err != nil {
		t.Fatalf("one platform delivered, err = %v", err)
	}
	dc.fail = down
	if err := r.AlertAdmins(ctx, "x"); !errors.Is(err, down) {
		t.Fatalf("all failed, err = %v", err)
	}
	if tg.alerts != 2 || dc.alerts != 2 {
		t.Fatalf("alerts: telegram %d, discord %d", tg.alerts, dc.alerts)
	}
}
