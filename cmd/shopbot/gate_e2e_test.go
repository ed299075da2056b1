package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/shopbot/shopbot/bots/discord/discordtest"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/checkout/stripetest"
)

// The members-only gate (issue 16) through the real wiring.

const gatedChat = -1001500

var (
	chatOwner  = telegramtest.User{ID: 6001, FirstName: "Olga"}
	stranger   = telegramtest.User{ID: 7001, FirstName: "Sam"}
	exemptUser = telegramtest.User{ID: 7002, FirstName: "Eve"}
	chatAdmin  = telegramtest.User{ID: 7003, FirstName: "Max"}
)

// gatedWorld is a shop whose "pro" product grants gatedChat, where the
// bot is an admin and chatOwner the owner, exempting exemptUser.
func gatedWorld(t *testing.T) *world {
	w := newWorld(t)
	w.productExtra = fmt.Sprintf("telegram_chat_ids = [%d]\ntelegram_exempt_user_ids = [%d]\n", gatedChat, exemptUser.ID)
	w.tg.AddChat(gatedChat, "Pro members")
	w.tg.SetMember(gatedChat, chatOwner.ID, telegramtest.StatusCreator)
	w.start()
	w.say(w.admin, "/start") // so the admin feed reaches them
	return w
}

// lastID is the id of the last message in chat (0: none).
func (w *world) lastID(chat int64) int {
	ms := w.tg.Messages(chat)
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].MessageID
}

// bansOf lists the banChatMember calls for user.
func (w *world) bansOf(user int64) int {
	n := 0
	for _, c := range w.tg.CallsTo("banChatMember") {
		if c.Params["user_id"] == fmt.Sprint(user) {
			n++
		}
	}
	return n
}

// waitLog waits until the shop's log holds text.
func (w *world) waitLog(text string) {
	w.t.Helper()
	w.waitUntil("log line "+text, func() bool { return strings.Contains(w.logs.String(), text) })
}

// activatedBuyer buys "pro" for u and activates the key.
func (w *world) activatedBuyer(u telegramtest.User, n string) {
	w.t.Helper()
	w.say(u, "/start")
	after := w.lastID(u.ID)
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_gate_" + n, SessionID: "cs_test_gate_" + n, Product: "pro", Identity: fmt.Sprintf("tg:%d", u.ID)})
	w.postEvent(event)
	key := w.wait(u.ID, after, func(m telegramtest.SentMessage) bool { return len(m.Code()) > 0 }, "key delivery").Code()[0]
	sent := w.tg.SendText(u, u.ID, "/activate "+key)
	w.wait(u.ID, sent, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "Pro") }, "/activate reply")
}

func TestGroupStrangerAddedByOwnerIsRemovedAndTold(t *testing.T) {
	w := gatedWorld(t)
	w.say(stranger, "/start") // so the bot can message them
	after, adminAfter := w.lastID(stranger.ID), w.lastID(w.admin.ID)

	if err := w.tg.AddMember(gatedChat, chatOwner, stranger); err != nil {
		t.Fatal(err)
	}
	told := w.wait(stranger.ID, after, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "/buy pro") }, "removal notice")
	if !strings.Contains(told.Text, "removed") {
		t.Errorf("notice = %q", told.Text)
	}
	// Removed without a lasting ban: they can come back after buying.
	if st := w.tg.Status(gatedChat, stranger.ID); st != telegramtest.StatusLeft {
		t.Fatalf("stranger's status = %s, want left", st)
	}
	if w.bansOf(stranger.ID) != 1 {
		t.Errorf("%d bans of the stranger, want 1", w.bansOf(stranger.ID))
	}
	// The admin feed has one line, the audit log the entry, /stats the count.
	w.wait(w.admin.ID, adminAfter, func(m telegramtest.SentMessage) bool {
		return strings.Contains(m.Text, "Removed tg:7001 from Telegram chat -1001500")
	}, "admin feed line")
	if r := w.say(w.admin, "/audit 5"); !strings.Contains(r.Text, "access_removed") || !strings.Contains(r.Text, "tg:7001") {
		t.Errorf("/audit = %q", r.Text)
	}
	if r := w.say(w.admin, "/stats"); !strings.Contains(r.Text, "removed (no license): 1") {
		t.Errorf("/stats = %q", r.Text)
	}
	// The join was reported twice (chat_member and the service message);
	// still one removal and one notice.
	w.waitUntil("both join reports handled", func() bool { return w.tg.Pending() == 0 })
	if n := len(slices.DeleteFunc(w.tg.BotMessages(stranger.ID), func(m telegramtest.SentMessage) bool { return !strings.Contains(m.Text, "/buy pro") })); n != 1 {
		t.Errorf("stranger told %d times, want once", n)
	}
}

func TestGroupExemptAndChatAdminStay(t *testing.T) {
	w := gatedWorld(t)
	if err := w.tg.AddMember(gatedChat, chatOwner, exemptUser); err != nil {
		t.Fatal(err)
	}
	if err := w.tg.Promote(gatedChat, chatOwner, chatAdmin.ID); err != nil {
		t.Fatal(err)
	}
	w.waitLog("identity=tg:7002 reason=telegram_exempt_user_ids")
	w.waitLog(`identity=tg:7003 reason="chat admin"`)
	// A stranger added afterwards is removed: the gate was working.
	if err := w.tg.AddMember(gatedChat, chatOwner, stranger); err != nil {
		t.Fatal(err)
	}
	w.waitUntil("stranger removed", func() bool { return w.tg.Status(gatedChat, stranger.ID) == telegramtest.StatusLeft })
	if st := w.tg.Status(gatedChat, exemptUser.ID); st != telegramtest.StatusMember {
		t.Errorf("exempt user's status = %s", st)
	}
	if st := w.tg.Status(gatedChat, chatAdmin.ID); st != telegramtest.StatusAdministrator {
		t.Errorf("chat admin's status = %s", st)
	}
	if w.bansOf(exemptUser.ID)+w.bansOf(chatAdmin.ID) != 0 {
		t.Error("the exempt user or the chat admin was banned")
	}
}

func TestGroupEntitledBuyerJoinsAndStays(t *testing.T) {
	w := gatedWorld(t)
	after := w.lastID(w.buyer.ID)
	w.activatedBuyer(w.buyer, "stay")
	invite := w.wait(w.buyer.ID, after, func(m telegramtest.SentMessage) bool {
		return slices.ContainsFunc(m.Buttons(), func(b telegramtest.Button) bool { return strings.HasPrefix(b.URL, "https://t.me/+") })
	}, "invite link")
	var link string
	for _, b := range invite.Buttons() {
		if strings.HasPrefix(b.URL, "https://t.me/+") {
			link = b.URL
		}
	}
	if err := w.tg.UseInvite(w.buyer.ID, link); err != nil {
		t.Fatal(err)
	}
	w.waitLog("identity=tg:5001 reason=entitled")
	if st := w.tg.Status(gatedChat, w.buyer.ID); st != telegramtest.StatusMember || w.bansOf(w.buyer.ID) != 0 {
		t.Fatalf("buyer's status = %s, bans %d", st, w.bansOf(w.buyer.ID))
	}
	// /sync re-checks remembered members: the buyer, still entitled, stays.
	if r := w.say(w.admin, "/sync"); !strings.Contains(r.Text, "1") {
		t.Errorf("/sync = %q", r.Text)
	}
	if st := w.tg.Status(gatedChat, w.buyer.ID); st != telegramtest.StatusMember {
		t.Fatalf("buyer removed at /sync: %s", st)
	}
}

func TestGroupJoinRequests(t *testing.T) {
	w := gatedWorld(t)
	w.activatedBuyer(w.buyer, "request")
	if err := w.tg.RequestJoin(stranger, gatedChat); err != nil {
		t.Fatal(err)
	}
	if err := w.tg.RequestJoin(w.buyer, gatedChat); err != nil {
		t.Fatal(err)
	}
	w.waitUntil("both requests answered", func() bool {
		return w.tg.JoinRequest(gatedChat, stranger.ID) != telegramtest.RequestPending && w.tg.JoinRequest(gatedChat, w.buyer.ID) != telegramtest.RequestPending
	})
	if got := w.tg.JoinRequest(gatedChat, stranger.ID); got != telegramtest.RequestDeclined {
		t.Errorf("stranger's request %s, want declined", got)
	}
	if got := w.tg.JoinRequest(gatedChat, w.buyer.ID); got != telegramtest.RequestApproved {
		t.Errorf("buyer's request %s, want approved", got)
	}
	w.wait(stranger.ID, 0, func(m telegramtest.SentMessage) bool { return strings.Contains(m.Text, "declined") }, "decline notice")
	w.waitLog("identity=tg:5001 reason=entitled") // the approved join itself is checked
	if st := w.tg.Status(gatedChat, w.buyer.ID); st != telegramtest.StatusMember {
		t.Errorf("approved buyer's status = %s", st)
	}
	if st := w.tg.Status(gatedChat, stranger.ID); st != telegramtest.StatusLeft {
		t.Errorf("declined stranger's status = %s", st)
	}
}

// Discord members of the role-gate tests.
const (
	discordStranger = "400000000000000077"
	discordExempt   = "400000000000000078"
)

// roleWorld is a Discord shop in mode with a licensed buyer holding the
// product role, and an exempt member.
func roleWorld(t *testing.T, mode string) *world {
	w := newWorld(t)
	w.withDiscord(mode)
	w.productExtra = fmt.Sprintf("discord_exempt_user_ids = [%q]\n", discordExempt)
	w.dc.AddMember(discordStranger)
	w.dc.AddMember(discordExempt, testRoleID)
	w.dc.AddMember(discordAdmin.ID, testRoleID)
	w.start()
	event := stripetest.CheckoutCompleted(stripetest.EventParams{ID: "evt_role_" + mode, SessionID: "cs_test_role_" + mode, Product: "pro", Identity: "discord:" + discordBuyer.ID})
	w.postEvent(event)
	key := w.waitDMKey(discordBuyer.ID)
	w.slash(discordBuyer, "activate", discordtest.StringOption("key", key))
	w.waitUntil("buyer's role", func() bool { return slices.Contains(w.dc.Roles(discordBuyer.ID), testRoleID) })
	return w
}

func TestDiscordHandGivenRoleTakenBackAtSync(t *testing.T) {
	w := roleWorld(t, "http")
	// More members than one page of GET /guilds/{id}/members, with the
	// stranger on the second page.
	for i := range 1100 {
		w.dc.AddMember(fmt.Sprintf("3%017d", i))
	}
	if err := w.dc.GiveRole(discordStranger, testRoleID); err != nil && !errors.Is(err, discordtest.ErrNoGateway) {
		t.Fatal(err)
	}
	w.slash(discordAdmin, "sync")
	if slices.Contains(w.dc.Roles(discordStranger), testRoleID) {
		t.Fatalf("hand-given role kept after /sync:\n%s", w.logs)
	}
	for _, id := range []string{discordBuyer.ID, discordExempt, discordAdmin.ID} {
		if !slices.Contains(w.dc.Roles(id), testRoleID) {
			t.Errorf("%s lost the role", id)
		}
	}
	if pages := len(w.dc.Calls("/guilds/" + w.dc.GuildID() + "/members")); pages < 2 {
		t.Errorf("%d member list calls, want at least 2 pages", pages)
	}
	if !slices.ContainsFunc(w.dc.DMs(discordStranger), func(m discordtest.Message) bool { return strings.Contains(m.Content, "/buy pro") }) {
		t.Errorf("stranger not told: %+v", w.dc.DMs(discordStranger))
	}
	if r := w.slash(discordAdmin, "stats"); !strings.Contains(r.Content, "removed (no license): 1") {
		t.Errorf("/stats = %q", r.Content)
	}
}

func TestDiscordHandGivenRoleTakenBackOnMemberUpdate(t *testing.T) {
	w := roleWorld(t, "gateway")
	if err := w.dc.GiveRole(discordStranger, testRoleID); err != nil {
		t.Fatal(err)
	}
	w.waitUntil("hand-given role taken back", func() bool { return !slices.Contains(w.dc.Roles(discordStranger), testRoleID) })
	// The exempt member and the admin get a member update too: kept.
	if err := w.dc.GiveRole(discordExempt, testRoleID); err != nil {
		t.Fatal(err)
	}
	if err := w.dc.GiveRole(discordAdmin.ID, testRoleID); err != nil {
		t.Fatal(err)
	}
	// A second stranger's removal shows the updates before it were handled.
	const second = "400000000000000079"
	w.dc.AddMember(second)
	if err := w.dc.GiveRole(second, testRoleID); err != nil {
		t.Fatal(err)
	}
	w.waitUntil("second stranger's role taken back", func() bool { return !slices.Contains(w.dc.Roles(second), testRoleID) })
	for _, id := range []string{discordBuyer.ID, discordExempt, discordAdmin.ID} {
		if !slices.Contains(w.dc.Roles(id), testRoleID) {
			t.Errorf("%s lost the role", id)
		}
	}
}
