package discord_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/identity"
)

// The in-test shop also implements commands.Admin and commands.Account, so
// the handler offers every command; each method only records its call.
var (
	_ commands.Admin   = (*shop)(nil)
	_ commands.Account = (*shop)(nil)
)

func (s *shop) Grant(_ context.Context, actor, to identity.Identity, productID string) (commands.License, error) {
	s.record(fmt.Sprintf("grant %s %s %s", actor, to, productID))
	return commands.License{Key: key, ProductID: productID}, nil
}

func (s *shop) Extend(_ context.Context, actor identity.Identity, k string, by time.Duration) (commands.License, error) {
	s.record(fmt.Sprintf("extend %s %s %s", actor, k, by))
	return commands.License{Key: k, ProductID: "pro-monthly"}, nil
}

func (s *shop) ResetHWID(_ context.Context, actor identity.Identity, k string) (commands.License, error) {
	s.record(fmt.Sprintf("resethwid %s %s", actor, k))
	return commands.License{Key: k, ProductID: "pro-monthly"}, nil
}

func (s *shop) Stats(context.Context) (commands.Stats, error) {
	s.record("stats")
	return commands.Stats{Orders: 1}, nil
}

func (s *shop) Audit(_ context.Context, n int) ([]commands.AuditEntry, error) {
	s.record(fmt.Sprintf("audit %d", n))
	return nil, nil
}

func (s *shop) FailedEvents(_ context.Context, n int) ([]commands.Event, error) {
	s.record(fmt.Sprintf("failed %d", n))
	return nil, nil
}

func (s *shop) Replay(_ context.Context, actor identity.Identity, id string) (commands.Event, error) {
	s.record(fmt.Sprintf("replay %s %s", actor, id))
	return commands.Event{ID: id, Type: "invoice.paid", State: "done"}, nil
}

func (s *shop) SyncAll(_ context.Context, actor identity.Identity) (int, error) {
	s.record("sync " + actor.String())
	return 1, nil
}

func (s *shop) Transfer(_ context.Context, who identity.Identity, k string) (int, error) {
	s.record(fmt.Sprintf("transfer %s %s", who, k))
	return 1, nil
}

func (s *shop) BillingLink(_ context.Context, who identity.Identity, k string) (string, error) {
	s.record(fmt.Sprintf("billing %s %s", who, k))
	return "https://billing.example/" + who.ID, nil
}

var adminCommands = map[string]bool{
	"revoke": true, "lookup": true, "grant": true, "extend": true, "resethwid": true,
	"stats": true, "audit": true, "failed": true, "replay": true, "sync": true,
}

func TestAdminCommandOptions(t *testing.T) {
	e := newEnv(t, "http")
	if err := e.bot.RegisterCommands(context.Background()); err != nil {
		t.Fatal(err)
	}
	byName := map[string]discordtest.Command{}
	for _, c := range e.dc.Commands() {
		byName[c.Name] = c
	}
	type opt struct {
		name     string
		typ      int
		required bool
	}
	want := map[string][]opt{
		"transfer":  {{"key", discordtest.OptionString, true}},
		"grant":     {{"product", discordtest.OptionString, true}, {"user", discordtest.OptionUser, false}, {"identity", discordtest.OptionString, false}},
		"extend":    {{"key", discordtest.OptionString, true}, {"duration", discordtest.OptionString, true}},
		"resethwid": {{"key", discordtest.OptionString, true}},
		"replay":    {{"event", discordtest.OptionString, true}},
		"audit":     {{"n", discordtest.OptionInteger, false}},
		"failed":    {{"n", discordtest.OptionInteger, false}},
		"stats":     nil,
		"sync":      nil,
	}
	for name, opts := range want {
		c, ok := byName[name]
		if !ok {
			t.Errorf("/%s not registered", name)
			continue
		}
		var got []opt
		for _, o := range c.Options {
			got = append(got, opt{o.Name, o.Type, o.Required})
		}
		if !slices.Equal(got, opts) {
			t.Errorf("/%s options = %+v, want %+v", name, got, opts)
		}
	}
	if p := byName["grant"].Options[0]; len(p.Choices) != 2 || p.Choices[1].Value != "lifetime" {
		t.Errorf("/grant product choices = %+v", p.Choices)
	}
	if n := byName["audit"].Options[0]; n.MinValue == nil || *n.MinValue != 1 || n.MaxValue == nil || *n.MaxValue != 50 {
		t.Errorf("/audit n bounds = %v..%v", n.MinValue, n.MaxValue)
	}
}

func TestAdminCommandArguments(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		// Options arrive in the order the admin filled them in.
		r := e.command(t, admin, "grant", discordtest.UserOption("user", buyer.ID), discordtest.StringOption("product", "lifetime"))
		if !r.Deferred || !r.Ephemeral || !strings.HasPrefix(r.Content, "Granted Lifetime to `discord:42`") || strings.Contains(r.Content, key) {
			t.Errorf("grant reply = %+v", r)
		}
		e.command(t, admin, "grant", discordtest.StringOption("product", "pro-monthly"), discordtest.StringOption("identity", "tg:5"))
		e.command(t, admin, "extend", discordtest.StringOption("key", strings.ToLower(key)), discordtest.StringOption("duration", "2w"))
		e.command(t, admin, "audit", discordtest.IntegerOption("n", 5))
		e.command(t, admin, "failed")
		if r := e.command(t, admin, "replay", discordtest.StringOption("event", "evt_123")); !strings.HasPrefix(r.Content, "Replayed `evt_123`") {
			t.Errorf("replay reply = %q", r.Content)
		}
		e.command(t, admin, "sync")
		calls := e.shop.Calls()
		for _, want := range []string{
			"grant discord:900 discord:42 lifetime", "grant discord:900 tg:5 pro-monthly",
			"extend discord:900 " + key + " 336h0m0s", "audit 5", "failed 10", "replay discord:900 evt_123", "sync discord:900",
		} {
			if !slices.Contains(calls, want) {
				t.Errorf("no call %q in %q", want, calls)
			}
		}
	})
}

func TestNonAdminOpsRefusedAtOnce(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		for _, name := range []string{"grant", "stats", "audit", "sync", "replay"} {
			r := e.command(t, buyer, name)
			if r.Deferred || r.Content != "This command is for admins." || !r.Ephemeral {
				t.Errorf("/%s by a member = %+v", name, r)
			}
		}
		if len(e.shop.Calls()) != 0 {
			t.Errorf("members reached the shop: %q", e.shop.Calls())
		}
	})
}

func TestTransferAndBillingButton(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "transfer", discordtest.StringOption("key", key))
		if !r.Deferred || !r.Ephemeral || !strings.HasPrefix(r.Content, "Key `ABCD-…-MNOP` is free again") {
			t.Errorf("transfer reply = %+v", r)
		}
		if !hasCall(e.shop.Calls(), "transfer discord:42 "+key) {
			t.Errorf("shop calls = %q", e.shop.Calls())
		}
		// A subscription the buyer pays for gets a link to its billing page.
		r = e.command(t, buyer, "license")
		if len(r.Buttons) != 1 || r.Buttons[0].URL != "https://billing.example/42" || r.Buttons[0].Style != 5 ||
			!strings.HasPrefix(r.Buttons[0].Label, "Manage subscription") {
			t.Errorf("license buttons = %+v", r.Buttons)
		}
	})
}

// TestAdminRoleCountsOnlyInShopGuild: holding a role whose id is a
// configured admin role makes an admin only in the shop's guild; the same
// member and roles in an interaction from another guild are refused.
func TestAdminRoleCountsOnlyInShopGuild(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		e.dc.AddMember(modUser.ID, adminRole)
		in := inGuild(t, e.dc.SlashCommand(modUser, "stats"), "999999999999999999")
		r := e.do(t, in)
		if r.Deferred || r.Content != "This command is for admins." || !r.Ephemeral {
			t.Errorf("/stats from another guild = %+v", r)
		}
		if calls := e.shop.Calls(); len(calls) != 0 {
			t.Fatalf("an admin role of another guild reached the shop: %q", calls)
		}
		// The same member in the shop's guild is an admin.
		r = e.command(t, modUser, "stats")
		if !r.Deferred || !hasCall(e.shop.Calls(), "stats") {
			t.Fatalf("/stats by an admin-role member of the shop's guild = %+v, calls %q", r, e.shop.Calls())
		}
	})
}

// inGuild rewrites the interaction's guild_id, as if it came from guild.
func inGuild(t *testing.T, in discordtest.Interaction, guild string) discordtest.Interaction {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(in.Body, &body); err != nil {
		t.Fatal(err)
	}
	body["guild_id"] = guild
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	in.Body = b
	return in
}
