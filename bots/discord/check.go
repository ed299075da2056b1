package discord

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// CheckPermissions verifies ahead of time that role changes will work, for
// `shopbot check --online`: the bot is a member of the guild, its roles
// give it Manage Roles (or Administrator), and every product role exists,
// is not managed by an integration, and sits below the bot's highest role.
// The error names each problem and how to fix it.
func (b *Bot) CheckPermissions(ctx context.Context) error {
	var me *discordgo.Member
	err := b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		me, err = b.s.GuildMember(b.guild, b.botID, o...)
		return err
	})
	if err != nil {
		return fmt.Errorf("discord: the bot is not a member of guild %s (invite it with the bot and applications.commands scopes, and check discord.guild_id): %w", b.guild, err)
	}
	var roles []*discordgo.Role
	err = b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		roles, err = b.s.GuildRoles(b.guild, o...)
		return err
	})
	if err != nil {
		return fmt.Errorf("discord: list roles of guild %s: %w", b.guild, err)
	}
	byID := map[string]*discordgo.Role{}
	for _, r := range roles {
		if r != nil {
			byID[r.ID] = r
		}
	}
	var perms int64
	if everyone := byID[b.guild]; everyone != nil {
		perms = everyone.Permissions
	}
	top, topName := 0, "@everyone"
	for _, id := range me.Roles {
		r := byID[id]
		if r == nil {
			continue
		}
		perms |= r.Permissions
		if r.Position > top {
			top, topName = r.Position, r.Name
		}
	}
	var problems []string
	if perms&(discordgo.PermissionAdministrator|discordgo.PermissionManageRoles) == 0 {
		problems = append(problems, "the bot's roles lack the Manage Roles permission: give its role Manage Roles in Server Settings → Roles")
	}
	for _, p := range b.products {
		for _, id := range p.DiscordRoleIDs {
			r := byID[id]
			switch {
			case r == nil:
				problems = append(problems, fmt.Sprintf("product %q: role %s does not exist in guild %s (fix products.discord_role_ids)", p.ID, id, b.guild))
			case r.Managed:
				problems = append(problems, fmt.Sprintf("product %q: role %s (%q) belongs to an integration and cannot be given to members", p.ID, id, r.Name))
			case r.Position >= top:
				problems = append(problems, fmt.Sprintf("product %q: role %s (%q) is not below the bot's highest role %q: drag the bot's role above it in Server Settings → Roles", p.ID, id, r.Name, topName))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("discord: role permissions: %w", errors.New(strings.Join(problems, "; ")))
	}
	return nil
}
