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
// /buy, /activate, /license, every gated command, /help, and the admin
// commands /revoke and /lookup, hidden from everyone but server admins
// (default_member_permissions "0") and still checked here against
// admin_role_ids and admin_user_ids. Guild commands update at once, unlike
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
// Telegram adapter registers.
func (b *Bot) applicationCommands() []*discordgo.ApplicationCommand {
	adminOnly := int64(0)
	var out []*discordgo.ApplicationCommand
	for _, e := range b.cmds.Menu(true) {
		c := &discordgo.ApplicationCommand{
			Name:        e.Command,
			Description: truncateRunes(e.Description, 100),
			Type:        discordgo.ChatApplicationCommand,
			Options:     []*discordgo.ApplicationCommandOption{},
		}
		switch e.Command {
		case "buy":
			c.Options = append(c.Options, b.productOption())
		case "activate":
			c.Options = append(c.Options, &discordgo.ApplicationCommandOption{
				Type: discordgo.ApplicationCommandOptionString, Name: "key",
				Description: commands.OptionKey, Required: true, MaxLength: 200,
			})
		case "revoke", "lookup":
			c.DefaultMemberPermissions = &adminOnly
			c.Options = append(c.Options,
				&discordgo.ApplicationCommandOption{
					Type: discordgo.ApplicationCommandOptionString, Name: "key",
					Description: commands.OptionTargetKey, MaxLength: 200,
				},
				&discordgo.ApplicationCommandOption{
					Type: discordgo.ApplicationCommandOptionUser, Name: "user",
					Description: commands.OptionTargetUser,
				})
		}
		out = append(out, c)
	}
	return out
}

// productOption is /buy's product: a fixed choice list, or autocomplete
// past Discord's 25 choices. It is optional: /buy alone shows the catalog.
func (b *Bot) productOption() *discordgo.ApplicationCommandOption {
	o := &discordgo.ApplicationCommandOption{
		Type: discordgo.ApplicationCommandOptionString, Name: "product",
		Description: commands.OptionProduct,
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
