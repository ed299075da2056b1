package discord

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bwmarrin/discordgo"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

// ErrRolePermission matches role changes Discord refused with 50013.
var ErrRolePermission = errors.New("discord refused the role change")

// Notify sends n to the user by direct message. Closed DMs (50007) and
// unknown users are final: the error wraps notify.ErrUndeliverable.
func (b *Bot) Notify(ctx context.Context, to identity.Identity, n notify.Notice) error {
	user, err := discordUser(to)
	if err != nil {
		return err
	}
	msg := &discordgo.MessageSend{
		Content:         b.renderNotice(n),
		Components:      b.noticeRows(n),
		AllowedMentions: noMentions(),
	}
	if err := b.dm(ctx, user, msg); err != nil {
		return fmt.Errorf("discord: notify %s: %w", to, err)
	}
	return nil
}

// AlertAdmins sends text to every admin_user_id by direct message. It
// fails only when no admin could be told. Admin roles cannot be messaged.
func (b *Bot) AlertAdmins(ctx context.Context, text string) error {
	if len(b.adminIDs) == 0 {
		b.log.Warn("discord: no admin_user_ids configured; alert not sent", "alert", text)
		return nil
	}
	content := escape(truncateRunes(commands.TextAdminAlertPrefix+text, maxContentRunes))
	var errs []error
	for _, id := range b.adminIDs {
		msg := &discordgo.MessageSend{Content: content, AllowedMentions: noMentions()}
		if err := b.dm(ctx, id, msg); err != nil {
			errs = append(errs, fmt.Errorf("admin %s: %w", id, err))
		}
	}
	if len(errs) == len(b.adminIDs) {
		return fmt.Errorf("discord: alert admins: %w", errors.Join(errs...))
	}
	for _, err := range errs {
		b.log.Warn("discord: admin alert not delivered", "err", err)
	}
	return nil
}

// dm opens (or reuses: Discord returns the same channel) the direct
// message channel with user and sends msg.
func (b *Bot) dm(ctx context.Context, user string, msg *discordgo.MessageSend) error {
	var ch *discordgo.Channel
	err := b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		ch, err = b.s.UserChannelCreate(user, o...)
		return err
	})
	if err == nil {
		err = b.call(ctx, func(o ...discordgo.RequestOption) error {
			_, err := b.s.ChannelMessageSendComplex(ch.ID, msg, o...)
			return err
		})
	}
	switch code := apiCode(err); {
	case err == nil:
		return nil
	case code == codeCannotMessageUser || code == codeUnknownUser:
		return fmt.Errorf("%w (discord code %d: DMs closed or user unknown)", notify.ErrUndeliverable, code)
	}
	return err
}

func discordUser(who identity.Identity) (string, error) {
	if who.Platform != identity.Discord {
		return "", fmt.Errorf("discord: %s is not a Discord identity", who)
	}
	if err := who.Validate(); err != nil {
		return "", fmt.Errorf("discord: %w", err)
	}
	return who.ID, nil
}

// SyncAccess makes who's product roles in the guild match products: every
// role of an entitled product is added, every other product role removed,
// so a role that another valid license grants is kept. Only differences
// are sent. A user who is not in the guild has nothing to sync (they get
// their roles when they rejoin). Errors for one role do not stop the
// others; a refused change (50013) is explained and reported to the admins
// at most once per AlertEvery per role.
func (b *Bot) SyncAccess(ctx context.Context, who identity.Identity, products []string) error {
	if len(b.allRoles) == 0 {
		return nil
	}
	user, err := discordUser(who)
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, p := range products {
		for _, r := range b.productRoles[p] {
			want[r] = true
		}
	}
	var m *discordgo.Member
	err = b.call(ctx, func(o ...discordgo.RequestOption) error {
		var err error
		m, err = b.s.GuildMember(b.guild, user, o...)
		return err
	})
	if apiCode(err) == codeUnknownMember {
		b.log.Debug("discord: sync access for a non-member skipped", "identity", who.String())
		return nil
	}
	if err != nil {
		return fmt.Errorf("discord: sync access for %s: get member: %w", who, err)
	}
	has := map[string]bool{}
	for _, r := range m.Roles {
		has[r] = true
	}
	var errs []error
	for _, role := range b.allRoles {
		var err error
		switch {
		case want[role] && !has[role]:
			err = b.call(ctx, func(o ...discordgo.RequestOption) error {
				return b.s.GuildMemberRoleAdd(b.guild, user, role, o...)
			})
			if err == nil {
				b.log.Info("discord: role granted", "identity", who.String(), "role", role)
			}
		case !want[role] && has[role]:
			err = b.call(ctx, func(o ...discordgo.RequestOption) error {
				return b.s.GuildMemberRoleRemove(b.guild, user, role, o...)
			})
			if err == nil {
				b.log.Info("discord: role removed", "identity", who.String(), "role", role)
			}
		}
		if err == nil {
			continue
		}
		if apiCode(err) == codeUnknownMember {
			// They left while we were syncing.
			return nil
		}
		errs = append(errs, b.roleError(ctx, role, err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("discord: sync access for %s: %w", who, err)
	}
	return nil
}

// roleError explains a failed role change and alerts the admins when the
// bot lacks the permission for it.
func (b *Bot) roleError(ctx context.Context, role string, err error) error {
	switch apiCode(err) {
	case codeMissingPermissions:
		if b.alerts.due(role, b.now(), b.alertEvery) {
			if aerr := b.alert(ctx, notify.Alert{Kind: notify.KindPermission, Text: fmt.Sprintf(commands.TextRolePermission, role, role)}); aerr != nil {
				b.log.Warn("discord: could not alert admins about role permissions", "role", role, "err", aerr)
			}
		}
		return fmt.Errorf("role %s: missing Manage Roles permission, or the bot's role is below the product role %s in Server Settings → Roles: %w (%v)", role, role, ErrRolePermission, err)
	case codeUnknownRole:
		return fmt.Errorf("role %s does not exist in guild %s (check products.discord_role_ids): %w", role, b.guild, err)
	}
	return fmt.Errorf("role %s: %w", role, err)
}

// onMemberAdd gives a member who (re)joins the guild the roles their
// licenses grant, at once (gateway mode; needs the Server Members intent).
func (b *Bot) onMemberAdd(_ *discordgo.Session, e *discordgo.GuildMemberAdd) {
	if e.Member == nil || e.User == nil || e.User.Bot || e.GuildID != b.guild || b.entitled == nil {
		return
	}
	if !b.inflight.Enter() {
		return
	}
	defer b.inflight.Exit()
	defer b.catchPanic("member add")
	ctx, cancel := context.WithTimeout(context.Background(), b.handlerTimeout)
	defer cancel()
	who := identity.DiscordUser(e.User.ID)
	products, err := b.entitled(ctx, who)
	if err != nil {
		b.log.Warn("discord: member joined; entitlements unavailable", "identity", who.String(), "err", err)
		return
	}
	if len(products) == 0 {
		return
	}
	if err := b.SyncAccess(ctx, who, products); err != nil {
		b.log.Warn("discord: member joined; roles not restored", "identity", who.String(), "err", err)
		return
	}
	b.log.Info("discord: member rejoined; roles restored", "identity", who.String(), "products", len(products))
}

// alertMemo paces permission alerts per role.
type alertMemo struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// due reports whether an alert about key may be sent now, and if so
// records it.
func (a *alertMemo) due(key string, now time.Time, every time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if last, ok := a.m[key]; ok && now.Sub(last) < every {
		return false
	}
	a.m[key] = now
	return true
}
