package discord_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
)

func TestCommandsRegisteredForGuild(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		var names []string
		for _, c := range e.dc.Commands() {
			names = append(names, c.Name)
			hidden := c.DefaultMemberPermissions != nil && *c.DefaultMemberPermissions == "0"
			if admin := adminCommands[c.Name]; admin != hidden {
				t.Errorf("/%s default_member_permissions = %v", c.Name, c.DefaultMemberPermissions)
			}
			switch c.Name {
			case "buy":
				if len(c.Options) != 2 || c.Options[0].Name != "product" || len(c.Options[0].Choices) != 2 ||
					c.Options[0].Choices[0].Value != "pro-monthly" || c.Options[1].Name != "code" || c.Options[1].Required {
					t.Errorf("/buy options = %+v", c.Options)
				}
			case "activate":
				if len(c.Options) != 1 || c.Options[0].Name != "key" || !c.Options[0].Required {
					t.Errorf("/activate options = %+v", c.Options)
				}
			case "revoke":
				if len(c.Options) != 2 || c.Options[0].Name != "key" || c.Options[1].Type != discordtest.OptionUser {
					t.Errorf("/revoke options = %+v", c.Options)
				}
			}
		}
		want := []string{"buy", "activate", "license", "premium", "transfer", "help",
			"revoke", "lookup", "grant", "extend", "resethwid", "stats", "audit", "failed", "replay", "sync"}
		if !slices.Equal(names, want) {
			t.Errorf("commands = %q, want %q", names, want)
		}
		if e.mode == discord.ModeGateway && e.dc.Intents()&(1<<1) == 0 {
			t.Errorf("intents %b lack GUILD_MEMBERS", e.dc.Intents())
		}
	})
}

func TestBuyRepliesWithEphemeralLinkButton(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "buy", discordtest.StringOption("product", "pro-monthly"))
		if !r.Deferred || !r.Ephemeral {
			t.Errorf("checkout link not deferred and ephemeral: %+v", r)
		}
		if len(r.Buttons) != 1 || r.Buttons[0].URL != "https://checkout.example/pro-monthly" || r.Buttons[0].Style != 5 {
			t.Fatalf("buttons = %+v", r.Buttons)
		}
		if !strings.Contains(r.Content, "Pro (monthly)") {
			t.Errorf("content = %q", r.Content)
		}
		if !hasCall(e.shop.Calls(), "link discord:42 pro-monthly") {
			t.Errorf("shop calls = %q", e.shop.Calls())
		}
	})
}

// TestBuyWithCode: the code option reaches the shop with its product
// whatever order the buyer filled the options in, and a code without a
// product asks for the product instead of making a link.
func TestBuyWithCode(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "buy", discordtest.StringOption("code", "SPRING"), discordtest.StringOption("product", "lifetime"))
		if !hasCall(e.shop.Calls(), "link discord:42 lifetime SPRING") {
			t.Fatalf("shop calls = %q, want the link with the code", e.shop.Calls())
		}
		if !strings.Contains(r.Content, "Promotion code `SPRING` applied") || len(r.Buttons) != 1 {
			t.Errorf("reply = %q with %d buttons, want the code applied and a pay button", r.Content, len(r.Buttons))
		}
		calls := len(e.shop.Calls())
		r = e.command(t, buyer, "buy", discordtest.StringOption("code", "SPRING"))
		if !strings.Contains(r.Content, "/buy PRODUCT CODE") || len(e.shop.Calls()) != calls {
			t.Errorf("code alone: reply %q, shop calls %q; want the usage and no link", r.Content, e.shop.Calls())
		}
	})
}

func TestBuyCatalogAndButton(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "buy")
		if r.Deferred || r.Type != 4 || !r.Ephemeral {
			t.Errorf("catalog should be an immediate ephemeral message: %+v", r)
		}
		var ids []string
		for _, b := range r.Buttons {
			ids = append(ids, b.CustomID)
		}
		if !slices.Equal(ids, []string{"buy:pro-monthly", "buy:lifetime"}) {
			t.Fatalf("catalog buttons = %q", ids)
		}
		r = e.do(t, e.dc.ComponentClick(buyer, "buy:lifetime"))
		if !r.Deferred || len(r.Buttons) != 1 || r.Buttons[0].URL != "https://checkout.example/lifetime" {
			t.Fatalf("button reply = %+v", r)
		}
	})
}

func TestActivateRepliesAndGrantsRole(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		e.dc.AddMember(buyer.ID)
		r := e.command(t, buyer, "activate", discordtest.StringOption("key", " "+key+" "))
		if !r.Deferred || !r.Ephemeral {
			t.Errorf("activation not deferred and ephemeral: %+v", r)
		}
		if !strings.HasPrefix(r.Content, "Activated: Pro (monthly).") {
			t.Errorf("reply = %q", r.Content)
		}
		if got := e.dc.Roles(buyer.ID); !slices.Equal(got, []string{roleA}) {
			t.Errorf("roles = %q, want the product role", got)
		}
		if !hasCall(e.shop.Calls(), "activate discord:42 "+key) {
			t.Errorf("shop calls = %q", e.shop.Calls())
		}
		if strings.Contains(e.logs.String(), key) {
			t.Error("a whole license key was logged")
		}
	})
}

func TestLicenseShowsKeyEphemerally(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "license")
		if !r.Deferred || !r.Ephemeral || !strings.Contains(r.Content, "`"+key+"`") {
			t.Errorf("license reply = %+v", r)
		}
	})
}

func TestGatedCommand(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "premium")
		if !strings.HasPrefix(r.Content, "This command needs Pro (monthly).") {
			t.Errorf("refusal = %q", r.Content)
		}
		if len(r.Buttons) != 1 || r.Buttons[0].CustomID != "buy:pro-monthly" {
			t.Errorf("refusal buttons = %+v", r.Buttons)
		}
		e.shop.entitle(who(buyer), "pro-monthly")
		r = e.command(t, buyer, "premium")
		if r.Content != "the secret" || !r.Ephemeral {
			t.Errorf("allowed reply = %+v", r)
		}
	})
}

func TestAdminCommands(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		// By admin_user_ids.
		r := e.command(t, admin, "revoke", discordtest.StringOption("key", strings.ToLower(key)))
		if !r.Deferred || !strings.HasPrefix(r.Content, "Revoked 1 license(s):") || strings.Contains(r.Content, key) {
			t.Errorf("revoke reply = %+v", r)
		}
		if !hasCall(e.shop.Calls(), "revoke discord:900 "+key) {
			t.Errorf("shop calls = %q", e.shop.Calls())
		}
		// By admin_role_ids, with a user option.
		e.dc.AddMember(modUser.ID, adminRole)
		r = e.command(t, modUser, "lookup", discordtest.UserOption("user", buyer.ID))
		if !strings.Contains(r.Content, "ABCD-…-MNOP") {
			t.Errorf("lookup reply = %q", r.Content)
		}
		if !hasCall(e.shop.Calls(), "lookup discord:42") {
			t.Errorf("shop calls = %q", e.shop.Calls())
		}
	})
}

func TestNonAdminRevokeRefused(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		e.dc.AddMember(buyer.ID, roleA)
		r := e.command(t, buyer, "revoke", discordtest.StringOption("key", key))
		if r.Deferred || r.Content != "This command is for admins." || !r.Ephemeral {
			t.Errorf("refusal = %+v", r)
		}
		if hasCall(e.shop.Calls(), "revoke") {
			t.Errorf("non-admin reached the shop: %q", e.shop.Calls())
		}
	})
}

func TestHelpAndAutocomplete(t *testing.T) {
	eachMode(t, func(t *testing.T, e *env) {
		r := e.command(t, buyer, "help")
		if r.Deferred || !strings.Contains(r.Content, "/premium") || strings.Contains(r.Content, "/revoke") {
			t.Errorf("help = %+v", r)
		}
		r = e.do(t, e.dc.Autocomplete(buyer, "buy", "product", "life"))
		if r.Type != 8 || len(r.Choices) != 1 || r.Choices[0].Value != "lifetime" {
			t.Errorf("autocomplete = %+v", r)
		}
	})
}
