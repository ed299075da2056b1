package discord_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/discord"
	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

func TestNotifyDeliversKeyAndReportsClosedDMs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	ctx := waitCtx(t)
	n := notify.Notice{
		Text:        "Thanks for buying *Pro*! Your key: " + key,
		ActivateKey: key,
		Links:       []notify.Link{{Label: "Manage billing", URL: "https://billing.example/x"}},
	}
	if err := e.bot.Notify(ctx, who(buyer), n); err != nil {
		t.Fatal(err)
	}
	dms := e.dc.DMs(buyer.ID)
	if len(dms) != 1 {
		t.Fatalf("DMs = %+v", dms)
	}
	m := dms[0]
	if !strings.Contains(m.Content, "`"+key+"`") || !strings.Contains(m.Content, `\*Pro\*`) || !strings.Contains(m.Content, "/activate") {
		t.Errorf("DM content = %q", m.Content)
	}
	if len(m.Buttons) != 1 || m.Buttons[0].URL != "https://billing.example/x" {
		t.Errorf("DM buttons = %+v", m.Buttons)
	}

	e.dc.CloseDMs(buyer.ID)
	err := e.bot.Notify(ctx, who(buyer), notify.Notice{Text: "hello"})
	if !errors.Is(err, notify.ErrUndeliverable) {
		t.Errorf("closed DMs: err = %v, want ErrUndeliverable", err)
	}
	if err := e.bot.Notify(ctx, identity.TelegramUser(1), notify.Notice{Text: "x"}); err == nil {
		t.Error("a Telegram identity was accepted")
	}
}

func TestAlertAdminsFailsOnlyWhenAllFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP, func(o *discord.Options) { o.AdminUserIDs = []string{adminID, "901"} })
	ctx := waitCtx(t)
	e.dc.CloseDMs("901")
	if err := e.bot.AlertAdmins(ctx, "disk full"); err != nil {
		t.Fatalf("one admin reachable: %v", err)
	}
	if dms := e.dc.DMs(adminID); len(dms) != 1 || dms[0].Content != "Admin alert: disk full" {
		t.Errorf("admin DMs = %+v", dms)
	}
	e.dc.CloseDMs(adminID)
	if err := e.bot.AlertAdmins(ctx, "again"); !errors.Is(err, notify.ErrUndeliverable) {
		t.Errorf("no admin reachable: err = %v", err)
	}
}

func TestSyncAccessKeepsRoleAnotherLicenseGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	ctx := waitCtx(t)
	e.dc.AddMember(buyer.ID, adminRole)
	if err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly", "lifetime"}); err != nil {
		t.Fatal(err)
	}
	if got := e.dc.Roles(buyer.ID); !slices.Equal(got, []string{roleA, roleB, adminRole}) {
		t.Fatalf("roles = %q", got)
	}
	// The lifetime license is revoked; Pro still grants roleA.
	path := "/guilds/" + e.dc.GuildID() + "/members/" + buyer.ID + "/roles/" + roleA
	if err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	if got := e.dc.Roles(buyer.ID); !slices.Equal(got, []string{roleA, adminRole}) {
		t.Errorf("roles = %q, want roleA kept and the unrelated role untouched", got)
	}
	if calls := e.dc.Calls(path); len(calls) != 1 {
		t.Errorf("roleA changed %d times, want only the first grant: %+v", len(calls), calls)
	}
	if err := e.bot.SyncAccess(ctx, who(buyer), nil); err != nil {
		t.Fatal(err)
	}
	if got := e.dc.Roles(buyer.ID); !slices.Equal(got, []string{adminRole}) {
		t.Errorf("roles = %q after losing every license", got)
	}
	// Someone who left the guild has nothing to sync.
	if err := e.bot.SyncAccess(ctx, identity.DiscordUser("555"), []string{"pro-monthly"}); err != nil {
		t.Errorf("non-member: %v", err)
	}
}

func TestMissingPermissionsTellsAdminsOncePerHour(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	ctx := waitCtx(t)
	e.dc.AddMember(buyer.ID)
	e.dc.DenyRoles()
	err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly"})
	if !errors.Is(err, discord.ErrRolePermission) || !strings.Contains(err.Error(), "missing Manage Roles permission, or the bot's role is below the product role 111 in Server Settings → Roles") {
		t.Fatalf("err = %v", err)
	}
	dms := e.dc.DMs(adminID)
	if len(dms) != 1 || !strings.Contains(dms[0].Content, "111") || !strings.Contains(dms[0].Content, "Manage Roles") {
		t.Fatalf("admin DMs = %+v", dms)
	}
	if err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly"}); !errors.Is(err, discord.ErrRolePermission) {
		t.Fatalf("second sync within the hour: err = %v", err)
	}
	if n := len(e.dc.DMs(adminID)); n != 1 {
		t.Errorf("admins alerted %d times within the hour", n)
	}
	e.clock.Advance(61 * time.Minute)
	if err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly"}); !errors.Is(err, discord.ErrRolePermission) {
		t.Fatalf("sync after an hour: err = %v", err)
	}
	if n := len(e.dc.DMs(adminID)); n != 2 {
		t.Errorf("admins alerted %d times after an hour, want 2", n)
	}
	// A role above the bot's is refused the same way without DenyRoles.
	e.dc.AllowRoles()
	e.dc.SetRole(discordtest.Role{ID: roleB, Name: "Lifetime", Position: 20})
	err = e.bot.SyncAccess(ctx, who(buyer), []string{"lifetime"})
	if !errors.Is(err, discord.ErrRolePermission) || !strings.Contains(err.Error(), "222") {
		t.Errorf("role above the bot: err = %v", err)
	}
	if got := e.dc.Roles(buyer.ID); !slices.Equal(got, []string{roleA}) {
		t.Errorf("roles = %q", got)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	ctx := waitCtx(t)
	e.dc.AddMember(buyer.ID)
	e.dc.RateLimitNext("/users/@me/channels", 2)
	rolePath := "/guilds/" + e.dc.GuildID() + "/members/" + buyer.ID + "/roles/" + roleA
	e.dc.RateLimitNext(rolePath, 1)
	if err := e.bot.Notify(ctx, who(buyer), notify.Notice{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if err := e.bot.SyncAccess(ctx, who(buyer), []string{"pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.dc.Calls("/users/@me/channels")); n != 3 {
		t.Errorf("DM channel calls = %d, want 2 limited + 1", n)
	}
	if n := len(e.dc.Calls(rolePath)); n != 2 {
		t.Errorf("role calls = %d, want 1 limited + 1", n)
	}
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if got := e.clock.Sleeps(); !slices.Equal(got, want) {
		t.Errorf("waits = %v, want retry_after each time %v", got, want)
	}
	if len(e.dc.DMs(buyer.ID)) != 1 || !slices.Equal(e.dc.Roles(buyer.ID), []string{roleA}) {
		t.Error("calls did not succeed after the rate limit")
	}
}

func TestRateLimitLongerThanAllowedFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP, func(o *discord.Options) { o.MaxRetryAfter = 50 * time.Millisecond })
	e.dc.RateLimitNext("/users/@me/channels", 1)
	err := e.bot.Notify(waitCtx(t), who(buyer), notify.Notice{Text: "hi"})
	if err == nil || !strings.Contains(err.Error(), "rate limited") {
		t.Errorf("err = %v", err)
	}
}

func TestMemberRejoinGetsRolesBack(t *testing.T) {
	t.Parallel()
	e := start(t, discord.ModeGateway)
	e.shop.entitle(who(buyer), "lifetime")
	e.dc.AddMember(buyer.ID, roleA, roleB)
	e.dc.MemberLeave(buyer.ID)
	if err := e.dc.MemberJoin(buyer.ID); err != nil {
		t.Fatal(err)
	}
	err := e.dc.WaitFor(waitCtx(t), func() bool { return len(e.dc.Roles(buyer.ID)) == 2 })
	if err != nil {
		t.Fatalf("roles after rejoin = %q", e.dc.Roles(buyer.ID))
	}
	// A member with no license joins: nothing is asked of Discord.
	before := len(e.dc.Calls(""))
	if err := e.dc.MemberJoin("555"); err != nil {
		t.Fatal(err)
	}
	r := e.command(t, buyer, "help") // a round trip, so the join was handled
	if r.Content == "" || len(e.dc.Roles("555")) != 0 {
		t.Errorf("newcomer roles = %q", e.dc.Roles("555"))
	}
	for _, c := range e.dc.Calls("")[before:] {
		if strings.Contains(c.Path, "/members/555") {
			t.Errorf("unexpected call for a newcomer: %+v", c)
		}
	}
}

func TestCheckPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	ctx := waitCtx(t)
	if err := e.bot.CheckPermissions(ctx); err != nil {
		t.Fatalf("good setup: %v", err)
	}
	e.dc.SetRole(discordtest.Role{ID: roleB, Name: "Lifetime", Position: 10})
	e.dc.SetRole(discordtest.Role{ID: discordtest.BotRoleID, Name: "shopbot", Position: 10, Managed: true})
	err := e.bot.CheckPermissions(ctx)
	if err == nil || !strings.Contains(err.Error(), "Manage Roles permission") || !strings.Contains(err.Error(), `role 222 ("Lifetime") is not below`) {
		t.Errorf("err = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "role 111") {
		t.Errorf("a role below the bot was reported: %v", err)
	}

	missing := newEnv(t, discord.ModeHTTP, func(o *discord.Options) {
		o.Products = []config.Product{{ID: "x", DiscordRoleIDs: []string{"999"}}}
	})
	if err := missing.bot.CheckPermissions(ctx); err == nil || !strings.Contains(err.Error(), "role 999 does not exist") {
		t.Errorf("missing role: err = %v", err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	base := discord.Options{
		Token: e.dc.BotToken(), ApplicationID: e.dc.ApplicationID(), GuildID: e.dc.GuildID(),
		APIURL: e.dc.URL(), Commands: nil,
	}
	cases := map[string]func(o *discord.Options){
		"no commands":       func(o *discord.Options) {},
		"no token":          func(o *discord.Options) { o.Token = "" },
		"http without key":  func(o *discord.Options) { o.Interactions = discord.ModeHTTP },
		"unknown mode":      func(o *discord.Options) { o.Interactions = "webhook" },
		"bad api url":       func(o *discord.Options) { o.APIURL = "discord.com" },
		"token rejected":    func(o *discord.Options) { o.Token = "wrong" },
		"gateway not ws(s)": func(o *discord.Options) { o.GatewayURL = "http://x" },
	}
	h := newHandler(t, &shop{entitled: map[string][]string{}})
	for name, f := range cases {
		o := base
		if name != "no commands" {
			o.Commands = h
		}
		f(&o)
		if _, err := discord.New(context.Background(), o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := discord.ParsePublicKey("zz"); err == nil {
		t.Error("ParsePublicKey accepted garbage")
	}
}

// A reminder's Renew button starts /buy for its product, like the
// catalog's buttons.
func TestNotifyRenewButton(t *testing.T) {
	t.Parallel()
	e := newEnv(t, discord.ModeHTTP)
	if err := e.bot.Notify(waitCtx(t), who(buyer), notify.Notice{Text: "runs out soon", Renew: "pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	dms := e.dc.DMs(buyer.ID)
	if len(dms) != 1 || len(dms[0].Buttons) != 1 || dms[0].Buttons[0].CustomID != "buy:pro-monthly" || dms[0].Buttons[0].Label != "Renew" {
		t.Fatalf("DMs = %+v; want one Renew button with custom_id buy:pro-monthly", dms)
	}
}
