package telegram

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

// inviteTTL is how long an invite link works; a buyer is not sent a new
// one while the last is still valid.
const inviteTTL = 24 * time.Hour

// Notify sends n to the user's private chat (its id is the user id).
func (b *Bot) Notify(ctx context.Context, to identity.Identity, n notify.Notice) error {
	chat, err := userChat(to)
	if err != nil {
		return err
	}
	_, err = b.send(ctx, chat, n.Priority, b.renderNotice(n), b.noticeKeyboard(n), 0)
	if err != nil {
		return b.sendError("notify", to.String(), err)
	}
	return nil
}

// AlertAdmins tells every configured admin. It fails only when no admin
// could be told, so one admin who blocked the bot does not count as a
// failed alert.
func (b *Bot) AlertAdmins(ctx context.Context, text string) error {
	if len(b.adminIDs) == 0 {
		b.log.Warn("telegram: no admins configured; alert not sent", "alert", text)
		return nil
	}
	var errs []error
	for _, id := range b.adminIDs {
		if _, err := b.send(ctx, id, notify.Urgent, escape(truncate(commands.TextAdminAlertPrefix+text)), nil, 0); err != nil {
			errs = append(errs, b.sendError("alert admin", fmt.Sprint(id), err))
		}
	}
	if len(errs) == len(b.adminIDs) {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		b.log.Warn("telegram: admin alert not delivered", "err", b.redact(err))
	}
	return nil
}

// sendError wraps a failed send; refusals that retrying cannot fix match
// notify.ErrUndeliverable.
func (b *Bot) sendError(op, to string, err error) error {
	if undeliverable(err) {
		return fmt.Errorf("telegram: %s %s: %w (%s)", op, to, notify.ErrUndeliverable, b.redact(err))
	}
	return fmt.Errorf("telegram: %s %s: %w", op, to, err)
}

// undeliverable: 403 is always final for a private chat (blocked,
// deactivated, never started the bot); "chat not found" means the user
// never opened the chat.
func undeliverable(err error) bool {
	if errors.Is(err, bot.ErrorForbidden) {
		return true
	}
	return errors.Is(err, bot.ErrorBadRequest) && strings.Contains(strings.ToLower(err.Error()), "chat not found")
}

func userChat(who identity.Identity) (int64, error) {
	if who.Platform != identity.Telegram {
		return 0, fmt.Errorf("telegram: %s is not a Telegram identity", who)
	}
	id, err := who.Int64()
	if err != nil {
		return 0, fmt.Errorf("telegram: %s: %w", who, err)
	}
	return id, nil
}

// SyncAccess makes who's membership of the members-only chats match
// products: a non-member entitled to a chat gets a one-use invite link by
// direct message; a member no longer entitled is removed (ban, then
// unban, so they can come back after buying again). Chat owners and
// admins are never removed. Errors for one chat do not stop the others.
func (b *Bot) SyncAccess(ctx context.Context, who identity.Identity, products []string) error {
	if len(b.chatIDs) == 0 {
		return nil
	}
	user, err := userChat(who)
	if err != nil {
		return err
	}
	entitled := map[string]bool{}
	for _, p := range products {
		entitled[p] = true
	}
	var links []notify.Link
	var invited [][2]int64
	var errs []error
	for _, chat := range b.chatIDs {
		grant := grantingProduct(b.chats[chat], entitled)
		member, err := b.member(ctx, chat, user)
		if err != nil {
			errs = append(errs, fmt.Errorf("chat %d: %w", chat, err))
			continue
		}
		switch {
		case grant != nil && isMember(member):
			b.invites.forget(chat, user)
			b.remember(ctx, chat, who)
		case grant != nil:
			link, err := b.invite(ctx, chat, user, who, member)
			if err != nil {
				errs = append(errs, fmt.Errorf("chat %d: %w", chat, err))
			} else if link != "" {
				links = append(links, notify.Link{Label: b.say(ctx, who, "access.join_button", "product", productName(*grant)), URL: link})
				invited = append(invited, [2]int64{chat, user})
			}
		case isMember(member) && member.Type != models.ChatMemberTypeOwner && member.Type != models.ChatMemberTypeAdministrator:
			if err := b.remove(ctx, chat, user); err != nil {
				errs = append(errs, fmt.Errorf("chat %d: %w", chat, err))
			} else {
				b.forget(ctx, chat, who)
				b.log.Info("telegram: removed from members-only chat", "identity", who.String(), "chat", chat)
			}
		}
	}
	if len(links) > 0 {
		if err := b.Notify(ctx, who, notify.Notice{Text: b.say(ctx, who, "access.invite"), Links: links}); err != nil {
			// Forget the links so the next sync makes and sends new ones.
			for _, k := range invited {
				b.invites.forget(k[0], k[1])
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telegram: sync access for %s: %w", who, err)
	}
	return nil
}

// grantingProduct is the first product of a chat the buyer is entitled to.
func grantingProduct(ps []config.Product, entitled map[string]bool) *config.Product {
	for i := range ps {
		if entitled[ps[i].ID] {
			return &ps[i]
		}
	}
	return nil
}

func productName(p config.Product) string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

func isMember(m *models.ChatMember) bool {
	switch m.Type {
	case models.ChatMemberTypeOwner, models.ChatMemberTypeAdministrator, models.ChatMemberTypeMember:
		return true
	case models.ChatMemberTypeRestricted:
		return m.Restricted != nil && m.Restricted.IsMember
	}
	return false
}

func (b *Bot) member(ctx context.Context, chat, user int64) (*models.ChatMember, error) {
	var m *models.ChatMember
	err := b.do(ctx, chat, func(ctx context.Context) error {
		var err error
		m, err = b.api.GetChatMember(ctx, &bot.GetChatMemberParams{ChatID: chat, UserID: user})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("getChatMember: %s", b.redact(err))
	}
	return m, nil
}

// invite returns a fresh one-use link, or "" when a still-valid link was
// sent recently. A user left banned by an interrupted removal is unbanned
// first, or the link would not let them in.
func (b *Bot) invite(ctx context.Context, chat, user int64, who identity.Identity, m *models.ChatMember) (string, error) {
	now := b.now()
	if b.invites.recent(chat, user, now) {
		return "", nil
	}
	if m.Type == models.ChatMemberTypeBanned {
		if err := b.unban(ctx, chat, user); err != nil {
			return "", err
		}
	}
	var link string
	err := b.do(ctx, chat, func(ctx context.Context) error {
		l, err := b.api.CreateChatInviteLink(ctx, &bot.CreateChatInviteLinkParams{
			ChatID:      chat,
			Name:        limit("shopbot "+who.String(), 32),
			ExpireDate:  int(now.Add(inviteTTL).Unix()),
			MemberLimit: 1,
		})
		if err == nil {
			link = l.InviteLink
		}
		return err
	})
	if err != nil {
		b.lacksRights(ctx, chat, err)
		return "", fmt.Errorf("createChatInviteLink (is the bot an admin with the invite right?): %s", b.redact(err))
	}
	b.invites.remember(chat, user, now.Add(inviteTTL))
	return link, nil
}

// remove takes user out of chat without a lasting ban.
func (b *Bot) remove(ctx context.Context, chat, user int64) error {
	err := b.do(ctx, chat, func(ctx context.Context) error {
		_, err := b.api.BanChatMember(ctx, &bot.BanChatMemberParams{ChatID: chat, UserID: user})
		return err
	})
	if err != nil {
		b.lacksRights(ctx, chat, err)
		return fmt.Errorf("banChatMember (is the bot an admin with the ban right?): %s", b.redact(err))
	}
	return b.unban(ctx, chat, user)
}

func (b *Bot) unban(ctx context.Context, chat, user int64) error {
	err := b.do(ctx, chat, func(ctx context.Context) error {
		_, err := b.api.UnbanChatMember(ctx, &bot.UnbanChatMemberParams{ChatID: chat, UserID: user, OnlyIfBanned: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("unbanChatMember: %s", b.redact(err))
	}
	return nil
}

func limit(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// inviteMemo remembers which (chat, user) pairs hold a valid invite, so a
// sync that runs again soon does not send a second link.
type inviteMemo struct {
	mu sync.Mutex
	m  map[[2]int64]time.Time
}

func (im *inviteMemo) recent(chat, user int64, now time.Time) bool {
	im.mu.Lock()
	defer im.mu.Unlock()
	for k, exp := range im.m {
		if !now.Before(exp) {
			delete(im.m, k)
		}
	}
	_, ok := im.m[[2]int64{chat, user}]
	return ok
}

func (im *inviteMemo) remember(chat, user int64, until time.Time) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.m[[2]int64{chat, user}] = until
}

func (im *inviteMemo) forget(chat, user int64) {
	im.mu.Lock()
	defer im.mu.Unlock()
	delete(im.m, [2]int64{chat, user})
}
