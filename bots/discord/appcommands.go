package discord

import (
	"context"
	"fmt"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/bots/commands"
)

// maxChoices is Discord's limit on an option's fixed choices and on
// autocomplete suggestions; with more products /buy autocompletes.
const maxChoices = 25

// RegisterCommands replaces the guild's slash commands with the shop's:
// /buy, /activate, /license, every gated command, /transfer, /help, and
// the admin commands (/revoke, /lookup, /grant, /extend, /resethwid,
// /stats, /audit, /failed, /replay, /sync), hidden from everyone but
// server admins (default_member_permissions "0") and still checked here
// against admin_role_ids and admin_user_ids. Guild commands update at once, unlike
// global ones. `shopbot setup discord` calls it too.
func (b *Bot) RegisterCommands(ctx context.Context) error {
	cmds := b.applicationCommands()
	var created []*discordgo.ApplicationCommand
	err := b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		created, err = b.s.ApplicationCommandBulkOverwrite(b.appID, b.guild, cmds, o...)
		return err
	})
	if err != nil {
		hint := ""
		if apiCode(err) == codeMissingAccess || apiStatus(err) == 403 {
			hint = " (invite the bot to the guild with the applications.commands scope, and check discord.application_id and discord.guild_id)"
		}
		return fmt.Errorf("discord: register slash commands for guild %s%s: %w", b.guild, hint, err)
	}
	b.log.Info("discord slash commands registered", "guild", b.guild, "count", len(created))
	return nil
}

// applicationCommands builds the command list from the same menu the
// Telegram adapter registers, with each command's options. Admin commands
// are hidden from everyone but server admins (default_member_permissions
// "0"); the handler still checks every caller.
func (b *Bot) applicationCommands() []*discordgo.ApplicationCommand {
	var out []*discordgo.ApplicationCommand
	for _, e := range b.cmds.Menu(true) {
		c := &discordgo.ApplicationCommand{
			Name:        e.Command,
			Description: truncateRunes(e.Description, 100),
			Type:        discordgo.ChatApplicationCommand,
			Options:     b.commandOptions(e.Command),
		}
		if commands.AdminCommand(e.Command) {
			adminOnly := int64(0)
			c.DefaultMemberPermissions = &adminOnly
		}
		out = append(out, c)
	}
	return out
}

// commandOptions are a command's options. Discord wants required options
// before optional ones; the handler reads /grant's and /extend's
// arguments in any order, because Discord sends them as filled in.
func (b *Bot) commandOptions(name string) []*discordgo.ApplicationCommandOption {
	str := func(name, desc string, required bool) *discordgo.ApplicationCommandOption {
		return &discordgo.ApplicationCommandOption{
			Type: discordgo.ApplicationCommandOptionString, Name: name,
			Description: desc, Required: required, MaxLength: 200,
		}
	}
	opts := []*discordgo.ApplicationCommandOption{}
	switch name {
	case "buy":
		opts = append(opts, b.productOption(commands.OptionProduct, false), str("code", commands.OptionPromoCode, false))
	case "activate":
		opts = append(opts, str("key", commands.OptionKey, true))
	case "transfer":
		opts = append(opts, str("key", commands.OptionMoveKey, true))
	case "revoke", "lookup", "refund":
		opts = append(opts,
			str("key", commands.OptionTargetKey, false),
			&discordgo.ApplicationCommandOption{
				Type: discordgo.ApplicationCommandOptionUser, Name: "user",
				Description: commands.OptionTargetUser,
			})
	case "grant":
		opts = append(opts,
			b.productOption(commands.OptionGrantProd, true),
			&discordgo.ApplicationCommandOption{
				Type: discordgo.ApplicationCommandOptionUser, Name: "user",
				Description: commands.OptionGrantUser,
			},
			str("identity", commands.OptionIdentity, false))
	case "extend":
		opts = append(opts, str("key", commands.OptionAdminKey, true), str("duration", commands.OptionDuration, true))
	case "resethwid":
		opts = append(opts, str("key", commands.OptionAdminKey, true))
	case "replay":
		opts = append(opts, str("event", commands.OptionEvent, true))
	case "dashboard":
		opts = append(opts, str("action", commands.OptionDashboard, false))
	case "broadcast":
		text := str("text", commands.OptionBroadcastText, true)
		text.MaxLength = 1800
		opts = append(opts, str("product", commands.OptionBroadcastProd, true), text)
	case "audit", "failed":
		least, most := 1.0, 50.0
		opts = append(opts, &discordgo.ApplicationCommandOption{
			Type: discordgo.ApplicationCommandOptionInteger, Name: "n",
			Description: commands.OptionCount, MinValue: &least, MaxValue: most,
		})
	}
	return opts
}

// productOption is the product of /buy (optional: /buy alone shows the
// catalog) and /grant (required): a fixed choice list, or autocomplete
// past Discord's 25 choices.
func (b *Bot) productOption(desc string, required bool) *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{
		Type: discordgo.ApplicationCommandOptionString, Name: "product",
		Description: desc, Required: required,
	}
	if len(b.products) > maxChoices {
		o.Autocomplete = true
		return o
	}
	for _, p := range b.products {
		o.Choices = append(o.Choices, &discordgo.ApplicationCommandOptionChoice{
			Name: truncateRunes(productName(p.ID, p.Name), 100), Value: p.ID,
		})
	}
	return o
}
