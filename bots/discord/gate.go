package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

// The role gate: a product role held without a license (someone gave it
// by hand) is taken back, at /sync and, in gateway mode, as soon as the
// member update arrives; in HTTP-interaction mode the app's timer calls
// SweepRoles. Admins (admin_user_ids, admin roles), bots and a product's
// discord_exempt_user_ids keep their roles.

// Reasons given with a removal.
const (
	reasonMemberUpdate = "role held without a license (member update)"
	reasonSweep        = "role held without a license (member check)"
)

// membersPage is Discord's largest page of GET /guilds/{id}/members.
const membersPage = 1000

// MemberEvents reports whether the gateway tells the bot of member
// updates (gateway mode), so that periodic sweeps are not needed.
func (b *Bot) MemberEvents() bool { return b.mode == ModeGateway }

// onMemberUpdate checks a member whose roles changed.
func (b *Bot) onMemberUpdate(_ *discordgo.Session, e *discordgo.GuildMemberUpdate) {
	if e.Member == nil || e.User == nil || e.GuildID != b.guild || b.entitled == nil {
		return
	}
	if !b.inflight.Enter() {
		return
	}
	defer b.inflight.Exit()
	defer b.catchPanic("member update")
	ctx, cancel := context.WithTimeout(context.Background(), b.handlerTimeout)
	defer cancel()
	b.checkRoles(ctx, e.Member, reasonMemberUpdate)
}

// checkRoles removes the product roles m holds that no license of theirs
// grants, and returns how many it removed. When the entitlements cannot
// be read nothing is removed.
func (b *Bot) checkRoles(ctx context.Context, m *discordgo.Member, reason string) int {
	if m.User == nil || m.User.Bot || b.adminUsers[m.User.ID] {
		return 0
	}
	var held []string
	for _, r := range m.Roles {
		if b.adminRoles[r] {
			return 0
		}
		if b.isProductRole[r] && !b.exemptRoles[m.User.ID][r] {
			held = append(held, r)
		}
	}
	if len(held) == 0 {
		return 0
	}
	who := identity.DiscordUser(m.User.ID)
	products, err := b.entitled(ctx, who)
	if err != nil {
		b.log.Warn("discord: roles not checked: entitlements unreadable", "identity", who.String(), "err", err)
		return 0
	}
	want := map[string]bool{}
	for _, p := range products {
		for _, r := range b.productRoles[p] {
			want[r] = true
		}
	}
	removed := 0
	var first string
	for _, role := range held {
		if want[role] {
			continue
		}
		err := b.call(ctx, func(o ...discordgo.RequestOption) error {
			return b.s.GuildMemberRoleRemove(b.guild, m.User.ID, role, o...)
		})
		if apiCode(err) == codeUnknownMember {
			return removed
		}
		if err != nil {
			b.log.Error("discord: could not take back a role held without a license", "identity", who.String(), "err", b.roleError(ctx, role, err))
			continue
		}
		removed++
		if first == "" {
			first = role
		}
		b.log.Info("discord: role held without a license removed", "identity", who.String(), "role", role, "reason", reason)
		if b.onRemoval != nil {
			b.onRemoval(ctx, notify.Removal{Who: who, Place: "Discord role " + role, Reason: reason})
		}
	}
	if first != "" {
		p := b.roleProduct(first)
		n := notify.Notice{Text: b.say(ctx, who, "access.removed", "product", p.Name, "id", p.ID), Priority: notify.Normal}
		if err := b.Notify(ctx, who, n); err != nil {
			b.log.Info("discord: could not tell a member whose role was removed", "identity", who.String(), "err", err)
		}
	}
	return removed
}

// roleProduct is the first product granting role.
func (b *Bot) roleProduct(role string) config.Product {
	for _, p := range b.products {
		for _, r := range p.DiscordRoleIDs {
			if r == role {
				if p.Name == "" {
					p.Name = p.ID
				}
				return p
			}
		}
	}
	return config.Product{ID: role, Name: role}
}

// SweepRoles reads the guild's members page by page and takes back the
// product roles held without a license. With maxPages > 0 it reads at
// most that many pages and the next call continues after them; with 0 it
// reads the whole guild. It needs the Server Members intent. It returns
// how many roles it removed.
func (b *Bot) SweepRoles(ctx context.Context, maxPages int) (int, error) {
	if b.entitled == nil || len(b.allRoles) == 0 {
		return 0, nil
	}
	after := ""
	if maxPages > 0 {
		b.cursorMu.Lock()
		defer b.cursorMu.Unlock()
		after = b.cursor
	}
	removed := 0
	for pages := 0; maxPages == 0 || pages < maxPages; pages++ {
		var members []*discordgo.Member
		err := b.call(ctx, func(o ...discordgo.RequestOption) error {
			var err error
			members, err = b.s.GuildMembers(b.guild, after, membersPage, o...)
			return err
		})
		if err != nil {
			return removed, fmt.Errorf("discord: list guild members (is the Server Members intent enabled?): %w", err)
		}
		for _, m := range members {
			removed += b.checkRoles(ctx, m, reasonSweep)
		}
		if len(members) < membersPage || members[len(members)-1].User == nil {
			after = ""
			break
		}
		after = members[len(members)-1].User.ID
	}
	if maxPages > 0 {
		b.cursor = after
	}
	return removed, nil
}
