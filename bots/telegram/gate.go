package telegram

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

// The gate keeps the members-only chats for the entitled: whoever joins
// (a leaked link, added by a member or an admin) and holds no license of
// one of the chat's products is removed and told how to buy; join
// requests are approved for the entitled only. Members seen are
// remembered (MemberStore) so /sync and the periodic sweep can re-check
// them: Telegram cannot list a group's members. Chat admins and the
// owner, bots, shop admins and the products' telegram_exempt_user_ids are
// never removed. None of this spends the command budget: it is not a
// command.

// MemberStore remembers who was seen in which members-only chat;
// *store.DB satisfies it.
type MemberStore interface {
	RememberMember(ctx context.Context, place string, who identity.Identity) error
	ForgetMember(ctx context.Context, place string, who identity.Identity) error
	Members(ctx context.Context, place, after string, limit int) ([]identity.Identity, error)
}

// Reasons given with a removal.
const (
	reasonJoined = "joined without a license"
	reasonSweep  = "no license at a member check"
)

// memberPage is how many remembered members one store read returns.
const memberPage = 200

func place(chat int64) string { return "telegram:" + strconv.FormatInt(chat, 10) }

// gated reports whether the bot guards chat.
func (b *Bot) gated(chat int64) bool { return b.entitled != nil && len(b.chats[chat]) > 0 }

// exempt names why u is never removed from chat, or "".
func (b *Bot) exempt(chat int64, u models.User) string {
	switch {
	case u.IsBot:
		return "bot"
	case b.admins[u.ID]:
		return "shop admin"
	case b.exempts[chat][u.ID]:
		return "telegram_exempt_user_ids"
	}
	return ""
}

// allowed reports whether who holds a license of one of chat's products.
func (b *Bot) allowed(ctx context.Context, chat int64, who identity.Identity) (bool, error) {
	products, err := b.entitled(ctx, who)
	if err != nil {
		return false, err
	}
	entitled := map[string]bool{}
	for _, p := range products {
		entitled[p] = true
	}
	return grantingProduct(b.chats[chat], entitled) != nil, nil
}

// enforce checks one member of a gated chat and removes them when nothing
// entitles them to stay; it reports whether it removed them. When the
// entitlements cannot be read nobody is removed: a store hiccup must not
// empty a paid group.
func (b *Bot) enforce(ctx context.Context, chat int64, u models.User, reason string) bool {
	who := identity.TelegramUser(u.ID)
	if why := b.exempt(chat, u); why != "" {
		b.log.Info("telegram: member of a members-only chat kept", "chat", chat, "identity", who.String(), "reason", why)
		return false
	}
	unlock := b.gateLocks.Lock(place(chat) + "/" + who.String())
	defer unlock()
	ok, err := b.allowed(ctx, chat, who)
	if err != nil {
		b.log.Warn("telegram: member not checked: entitlements unreadable", "chat", chat, "identity", who.String(), "err", err)
		return false
	}
	if ok {
		if reason != reasonSweep {
			// A swept member is remembered already: no write per check.
			b.remember(ctx, chat, who)
		}
		b.log.Info("telegram: member of a members-only chat kept", "chat", chat, "identity", who.String(), "reason", "entitled")
		return false
	}
	m, err := b.member(ctx, chat, u.ID)
	if err != nil {
		b.log.Warn("telegram: member not checked", "chat", chat, "identity", who.String(), "err", err)
		return false
	}
	switch {
	case !isMember(m):
		// Gone already (a second report of the same join, or they left).
		b.forget(ctx, chat, who)
		return false
	case m.Type == models.ChatMemberTypeOwner || m.Type == models.ChatMemberTypeAdministrator:
		b.log.Info("telegram: member of a members-only chat kept", "chat", chat, "identity", who.String(), "reason", "chat admin")
		return false
	}
	if err := b.remove(ctx, chat, u.ID); err != nil {
		b.log.Error("telegram: could not remove a member without a license", "chat", chat, "identity", who.String(), "err", err)
		return false
	}
	b.forget(ctx, chat, who)
	b.log.Info("telegram: removed from members-only chat without a license", "chat", chat, "identity", who.String(), "reason", reason)
	if b.onRemoval != nil {
		b.onRemoval(ctx, notify.Removal{Who: who, Place: fmt.Sprintf("Telegram chat %d", chat), Reason: reason})
	}
	b.tell(ctx, who, "access.removed", chat)
	return true
}

// tell explains to who, privately, how to get into chat; it works only
// when they have opened the bot (or just asked to join).
func (b *Bot) tell(ctx context.Context, who identity.Identity, key string, chat int64) {
	p := b.chats[chat][0]
	n := notify.Notice{Text: b.say(ctx, who, key, "product", productName(p), "id", p.ID), Priority: notify.Normal}
	user, err := userChat(who)
	if err != nil {
		return
	}
	// Queued, not awaited: this runs on the input path, where a raid of
	// joins must not hold a worker per stranger.
	b.post(user, escape(truncate(n.Text)), b.noticeKeyboard(n), 0)
}

func (b *Bot) remember(ctx context.Context, chat int64, who identity.Identity) {
	if b.members == nil {
		return
	}
	if err := b.members.RememberMember(ctx, place(chat), who); err != nil {
		b.log.Warn("telegram: member not remembered", "chat", chat, "identity", who.String(), "err", err)
	}
}

func (b *Bot) forget(ctx context.Context, chat int64, who identity.Identity) {
	if b.members == nil {
		return
	}
	if err := b.members.ForgetMember(ctx, place(chat), who); err != nil {
		b.log.Warn("telegram: member not forgotten", "chat", chat, "identity", who.String(), "err", err)
	}
}

// memberUser is the user a ChatMember describes.
func memberUser(m models.ChatMember) *models.User {
	switch m.Type {
	case models.ChatMemberTypeOwner:
		return m.Owner.User
	case models.ChatMemberTypeAdministrator:
		return &m.Administrator.User
	case models.ChatMemberTypeMember:
		return m.Member.User
	case models.ChatMemberTypeRestricted:
		return m.Restricted.User
	case models.ChatMemberTypeLeft:
		return m.Left.User
	case models.ChatMemberTypeBanned:
		return m.Banned.User
	}
	return nil
}

// onChatMember handles a chat_member update: someone joined (checked),
// or left or was removed (forgotten). Promotions need nothing: admins
// stay.
func (b *Bot) onChatMember(ctx context.Context, u *models.ChatMemberUpdated) {
	chat := u.Chat.ID
	user := memberUser(u.NewChatMember)
	if user == nil || !b.gated(chat) {
		return
	}
	switch nm := u.NewChatMember; {
	case nm.Type == models.ChatMemberTypeOwner || nm.Type == models.ChatMemberTypeAdministrator:
	case isMember(&nm):
		b.enforce(ctx, chat, *user, reasonJoined)
	default:
		b.forget(ctx, chat, identity.TelegramUser(user.ID))
	}
}

// onServiceMessage handles "new members" and "member left" messages: the
// fallback when chat_member updates do not come (the bot was not an admin
// when they happened). A join reported both ways is checked twice; the
// second check finds the stranger gone.
func (b *Bot) onServiceMessage(ctx context.Context, m *models.Message) {
	if !b.gated(m.Chat.ID) {
		return
	}
	for _, u := range m.NewChatMembers {
		b.enforce(ctx, m.Chat.ID, u, reasonJoined)
	}
	if l := m.LeftChatMember; l != nil && !l.IsBot {
		b.forget(ctx, m.Chat.ID, identity.TelegramUser(l.ID))
	}
}

// onJoinRequest approves a request to join a gated chat from an entitled
// (or exempt) user and declines the others, telling them how to buy.
func (b *Bot) onJoinRequest(ctx context.Context, r *models.ChatJoinRequest) {
	chat := r.Chat.ID
	if !b.gated(chat) {
		return
	}
	who := identity.TelegramUser(r.From.ID)
	approve := b.exempt(chat, r.From) != ""
	if !approve {
		ok, err := b.allowed(ctx, chat, who)
		if err != nil {
			// Left pending: an admin can still decide, or a later
			// request gets a fresh answer.
			b.log.Warn("telegram: join request left pending: entitlements unreadable", "chat", chat, "identity", who.String(), "err", err)
			return
		}
		approve = ok
	}
	err := b.do(ctx, chat, func(ctx context.Context) error {
		var err error
		if approve {
			_, err = b.api.ApproveChatJoinRequest(ctx, &bot.ApproveChatJoinRequestParams{ChatID: chat, UserID: r.From.ID})
		} else {
			_, err = b.api.DeclineChatJoinRequest(ctx, &bot.DeclineChatJoinRequestParams{ChatID: chat, UserID: r.From.ID})
		}
		return err
	})
	if err != nil {
		b.log.Warn("telegram: join request not answered (is the bot an admin with the invite right?)", "chat", chat, "identity", who.String(), "approve", approve, "err", b.redact(err))
		return
	}
	b.log.Info("telegram: join request answered", "chat", chat, "identity", who.String(), "approved", approve)
	if approve {
		b.remember(ctx, chat, who)
		return
	}
	b.tell(ctx, who, "access.join_declined", chat)
}

// SweepMembers re-checks the remembered members of the gated chats and
// removes those no longer entitled. With limit > 0 it checks at most
// limit members and the next call continues where this one stopped (the
// periodic sweep, bounded per tick); with limit 0 it checks everyone
// (admin /sync). Store reads are paged. It returns how many it removed.
func (b *Bot) SweepMembers(ctx context.Context, limit int) (int, error) {
	if b.entitled == nil || b.members == nil || len(b.chatIDs) == 0 {
		return 0, nil
	}
	if limit <= 0 {
		var cur sweepCursor
		return b.sweep(ctx, &cur, 0)
	}
	b.cursorMu.Lock()
	defer b.cursorMu.Unlock()
	return b.sweep(ctx, &b.cursor, limit)
}

// sweepCursor is where a bounded sweep stopped.
type sweepCursor struct {
	chat  int    // index into chatIDs
	after string // last identity checked in that chat
}

func (b *Bot) sweep(ctx context.Context, cur *sweepCursor, limit int) (int, error) {
	removed, checked := 0, 0
	for cur.chat < len(b.chatIDs) && (limit == 0 || checked < limit) {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		chat := b.chatIDs[cur.chat]
		n := memberPage
		if limit > 0 {
			n = min(n, limit-checked)
		}
		page, err := b.members.Members(ctx, place(chat), cur.after, n)
		if err != nil {
			return removed, fmt.Errorf("telegram: members of chat %d: %w", chat, err)
		}
		for _, who := range page {
			if id, err := who.Int64(); err == nil && who.Platform == identity.Telegram {
				if b.enforce(ctx, chat, models.User{ID: id}, reasonSweep) {
					removed++
				}
			}
			checked++
		}
		if len(page) < n {
			cur.chat, cur.after = cur.chat+1, ""
		} else {
			cur.after = page[len(page)-1].String()
		}
	}
	if cur.chat >= len(b.chatIDs) {
		*cur = sweepCursor{}
	}
	return removed, nil
}
