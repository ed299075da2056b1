package discord_test

import (
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/budget"
	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
)

// A member over their command budget still gets an answer to every
// interaction, at once (not deferred) and private; nothing reaches the
// shop's core for them, and other members are served as usual.
func TestFloodOverBudgetIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := start(t, mode, func(o *discord.Options) {
				o.Budget = budget.New(budget.Options{Burst: 3, InFlight: 100, Now: o.Now})
			})
			flooder := discordtest.User{ID: "777000777000777000", Username: "flood"}
			e.dc.AddMember(flooder.ID)
			var deferred, slowDown int
			for range 8 {
				r := e.command(t, flooder, "premium")
				switch {
				case r.Content == commands.TextSlowDown:
					slowDown++
					if r.Deferred || !r.Ephemeral {
						t.Errorf("slow-down answer deferred=%v ephemeral=%v; want an immediate private answer", r.Deferred, r.Ephemeral)
					}
				case strings.HasPrefix(r.Content, "This command needs"):
					deferred++
				default:
					t.Errorf("unexpected answer %q", r.Content)
				}
			}
			if deferred != 3 || slowDown != 5 {
				t.Fatalf("flooder: %d answered by the gate, %d told to slow down; want 3 and 5", deferred, slowDown)
			}
			if got := e.shop.Calls(); countPrefix(got, "check "+who(flooder).String()) != 3 {
				t.Fatalf("the gate was asked %d times for the flooder, want 3: %v", countPrefix(got, "check "+who(flooder).String()), got)
			}
			if r := e.command(t, buyer, "premium"); !strings.HasPrefix(r.Content, "This command needs") {
				t.Fatalf("another member during the flood got %q", r.Content)
			}
		})
	}
}

func countPrefix(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}
