package telegram_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/bots/telegram"
	"github.com/shopbot/shopbot/bots/telegram/telegramtest"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/notify"
)

func TestStartShowsCatalogAndMenu(t *testing.T) {
	e := start(t, telegram.ModePolling)
	m := e.say(t, buyer, buyer.ID, "/start")
	var data []string
	for _, b := range m.Buttons() {
		data = append(data, b.CallbackData)
	}
	if !slices.Equal(data, []string{"buy:pro-monthly", "buy:lifetime"}) {
		t.Fatalf("catalog buttons = %q", data)
	}
	if !strings.HasPrefix(m.Text, "Welcome!") || m.ParseMode != "HTML" {
		t.Errorf("reply = %q (%s)", m.Text, m.ParseMode)
	}
	var menu []string
	for _, c := range e.tg.MyCommands("default") {
		menu = append(menu, c.Command)
	}
	if !slices.Equal(menu, []string{"buy", "activate", "license", "premium", "transfer", "help"}) {
		t.Errorf("menu = %q", menu)
	}
}

// TestAdminMenu: an admin who opened the bot gets the admin commands in
// their chat's menu; everyone else's menu stays without them.
func TestAdminMenu(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.say(t, admin, admin.ID, "/help")
	if err := e.bot.Setup(waitCtx(t)); err != nil {
		t.Fatal(err)
	}
	var menu []string
	for _, c := range e.tg.MyCommands("chat:7") {
		menu = append(menu, c.Command)
	}
	want := []string{"buy", "activate", "license", "premium", "transfer", "help",
		"revoke", "lookup", "grant", "extend", "resethwid", "stats", "audit", "failed", "replay", "sync"}
	if !slices.Equal(menu, want) {
		t.Errorf("admin menu = %q", menu)
	}
	for _, c := range e.tg.MyCommands("default") {
		if c.Command == "grant" || c.Command == "sync" {
			t.Errorf("default menu has /%s", c.Command)
		}
	}
	// The shop behind this bot offers no admin operations: the command is
	// known, refused for members, and unavailable for admins.
	if m := e.say(t, buyer, buyer.ID, "/stats"); m.Text != "This command is for admins." {
		t.Errorf("member /stats = %q", m.Text)
	}
	if m := e.say(t, admin, admin.ID, "/stats"); m.Text != "This command is not available right now." {
		t.Errorf("admin /stats without operations = %q", m.Text)
	}
}

func TestBuyDeepLinkCommandAndButton(t *testing.T) {
	e := start(t, telegram.ModePolling)
	for _, text := range []string{"/start buy_pro-monthly", "/buy pro-monthly", "/buy@shopbot_test_bot pro-monthly"} {
		b := e.say(t, buyer, buyer.ID, text).Buttons()
		if len(b) != 1 || b[0].URL != "https://checkout.example/pro-monthly" {
			t.Fatalf("%s: buttons = %+v", text, b)
		}
	}
	catalog := e.say(t, buyer, buyer.ID, "/buy")
	if _, err := e.tg.Press(buyer, catalog.MessageID, "buy:lifetime"); err != nil {
		t.Fatal(err)
	}
	m, err := e.tg.WaitMessage(waitCtx(t), buyer.ID, catalog.MessageID, nil)
	if err != nil || m.Buttons()[0].URL != "https://checkout.example/lifetime" {
		t.Fatalf("button buy = %+v, %v", m, err)
	}
	if n := len(e.shop.Calls()); n != 4 {
		t.Errorf("shop calls = %q", e.shop.Calls())
	}
	// A command for another bot is not ours to answer.
	e.tg.SendText(buyer, buyer.ID, "/buy@other_bot pro-monthly")
	e.say(t, buyer, buyer.ID, "/help")
	if n := len(e.shop.Calls()); n != 4 {
		t.Errorf("command for another bot reached the shop: %q", e.shop.Calls())
	}
}

func TestBuyInGroupOpensPrivateChat(t *testing.T) {
	e := start(t, telegram.ModePolling)
	m := e.say(t, buyer, groupChat, "/buy pro-monthly")
	b := m.Buttons()
	if len(b) != 1 || b[0].URL != "https://t.me/shopbot_test_bot?start=buy_pro-monthly" {
		t.Fatalf("group buy buttons = %+v", b)
	}
	if len(e.shop.Calls()) != 0 {
		t.Errorf("checkout link made for a group: %q", e.shop.Calls())
	}
}

func TestActivateInGroupDeletesTheKey(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.tg.AddChat(groupChat, "Chatter")
	id := e.tg.SendText(buyer, groupChat, "/activate "+key)
	m, err := e.tg.WaitMessage(waitCtx(t), groupChat, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "private chat") || strings.Contains(m.Text, key) {
		t.Errorf("reply = %q", m.Text)
	}
	if orig, _ := e.tg.Message(id); !orig.Deleted {
		t.Error("the message with the key was not deleted")
	}
	if len(e.shop.Calls()) != 0 {
		t.Errorf("key activated from a group: %q", e.shop.Calls())
	}
}

func TestActivateInPrivateAndDeliveredButton(t *testing.T) {
	e := start(t, telegram.ModePolling)
	m := e.say(t, buyer, buyer.ID, "/activate "+key)
	if !strings.HasPrefix(m.Text, "Activated: Pro (monthly).") {
		t.Errorf("reply = %q", m.Text)
	}
	who := identity.TelegramUser(buyer.ID)
	err := e.bot.Notify(waitCtx(t), who, notify.Notice{Text: "Thanks! Your key: " + key, ActivateKey: key})
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.tg.BotMessages(buyer.ID)
	delivered := msgs[len(msgs)-1]
	if code := delivered.Code(); len(code) != 1 || code[0] != key {
		t.Errorf("key not monospaced: %q in %q", code, delivered.Raw)
	}
	b := delivered.Buttons()
	if len(b) != 1 || b[0].Text != commands.LabelActivate || b[0].CallbackData != "act:"+key {
		t.Fatalf("delivery buttons = %+v", b)
	}
	q, err := e.tg.Press(buyer, delivered.MessageID, b[0].CallbackData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tg.WaitMessage(waitCtx(t), buyer.ID, delivered.MessageID, nil); err != nil {
		t.Fatal(err)
	}
	if !e.tg.Answered(q) {
		t.Error("callback query not answered")
	}
	want := []string{"activate tg:42 " + key, "activate tg:42 " + key}
	if !slices.Equal(e.shop.Calls(), want) {
		t.Errorf("shop calls = %q", e.shop.Calls())
	}
}

func TestGatedCommand(t *testing.T) {
	e := start(t, telegram.ModePolling)
	m := e.say(t, buyer, buyer.ID, "/premium")
	if !strings.Contains(m.Text, "needs Pro (monthly)") || len(m.Buttons()) != 1 || m.Buttons()[0].CallbackData != "buy:pro-monthly" {
		t.Errorf("denied = %q %+v", m.Text, m.Buttons())
	}
	e.shop.setEntitled("pro-monthly")
	if m := e.say(t, buyer, buyer.ID, "/premium"); m.Text != "the secret" {
		t.Errorf("allowed = %q", m.Text)
	}
}

func TestAdminCommands(t *testing.T) {
	e := start(t, telegram.ModePolling)
	if m := e.say(t, buyer, buyer.ID, "/revoke "+key); m.Text != "This command is for admins." {
		t.Errorf("non-admin revoke = %q", m.Text)
	}
	if len(e.shop.Calls()) != 0 {
		t.Fatalf("non-admin reached the shop: %q", e.shop.Calls())
	}
	m := e.say(t, admin, admin.ID, "/revoke "+key)
	if !strings.Contains(m.Text, "Revoked 1 license(s)") || strings.Contains(m.Text, key) {
		t.Errorf("admin revoke = %q", m.Text)
	}
	if !slices.Equal(e.shop.Calls(), []string{"revoke tg:7 " + key}) {
		t.Errorf("shop calls = %q", e.shop.Calls())
	}
}

func TestWebhookMode(t *testing.T) {
	e := start(t, telegram.ModeWebhook)
	if u, s := e.tg.Webhook(); u != e.hookURL || s != secret {
		t.Fatalf("webhook = %q %q", u, s)
	}
	// Delivered by the fake through the webhook, with the right secret.
	m := e.say(t, buyer, buyer.ID, "/buy pro-monthly")
	if b := m.Buttons(); len(b) != 1 || b[0].URL == "" {
		t.Fatalf("webhook reply buttons = %+v", b)
	}
	before := len(e.tg.CallsTo("sendMessage"))
	upd := e.tg.TextUpdate(buyer, buyer.ID, "/start")
	for _, bad := range []string{"", "wrong", secret + "x"} {
		status, err := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, bad, upd)
		if err != nil || status != 401 {
			t.Errorf("secret %q: status %d, %v", bad, status, err)
		}
	}
	if got := len(e.tg.CallsTo("sendMessage")); got != before {
		t.Errorf("an update with a wrong secret was processed")
	}
	status, err := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, secret, upd)
	if err != nil || status != 200 {
		t.Fatalf("good secret: %d %v", status, err)
	}
	// The reply is queued in the outbox, so it may land just after the
	// webhook's answer.
	if _, err := e.tg.WaitMessage(waitCtx(t), buyer.ID, upd.Message.MessageID, nil); err != nil {
		t.Fatalf("no reply to a webhook update: %v", err)
	}
	if got := len(e.tg.CallsTo("sendMessage")); got != before+1 {
		t.Errorf("sendMessage calls = %d, want %d", got, before+1)
	}
	// Telegram redelivering the same update is ignored.
	if status, _ := e.tg.DeliverWebhook(waitCtx(t), e.hookURL, secret, upd); status != 200 || len(e.tg.CallsTo("sendMessage")) != before+1 {
		t.Error("a redelivered update was handled twice")
	}
	e.stop()
	if status, _ := e.tg.DeliverWebhook(context.Background(), e.hookURL, secret, e.tg.TextUpdate(buyer, buyer.ID, "/help")); status != 503 {
		t.Errorf("after shutdown: status %d, want 503", status)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.tg.FailNext("sendMessage", 429, "", 5)
	e.say(t, buyer, buyer.ID, "/help")
	var statuses []int
	for _, c := range e.tg.CallsTo("sendMessage") {
		statuses = append(statuses, c.Status)
	}
	if !slices.Equal(statuses, []int{429, 200}) {
		t.Errorf("sendMessage statuses = %v", statuses)
	}
	if !slices.Contains(e.clock.Sleeps(), 5*time.Second) {
		t.Errorf("sleeps = %v, want a 5s retry_after wait", e.clock.Sleeps())
	}
}

func TestPacingPerChat(t *testing.T) {
	e := start(t, telegram.ModePolling)
	who := identity.TelegramUser(buyer.ID)
	e.say(t, buyer, buyer.ID, "/help")
	t0 := e.clock.Now()
	for range 5 {
		if err := e.bot.Notify(waitCtx(t), who, notify.Notice{Text: "hi"}); err != nil {
			t.Fatal(err)
		}
	}
	// The /help reply and two notices use the burst of 3; the other
	// three go one a second.
	if d := e.clock.Now().Sub(t0); d < 3*time.Second {
		t.Errorf("6 messages to one chat took %v of clock; want ≥ 3s (burst 3, then 1/s)", d)
	}
}

func TestNotifyUndeliverable(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.say(t, buyer, buyer.ID, "/start")
	e.tg.BlockBot(buyer.ID)
	err := e.bot.Notify(waitCtx(t), identity.TelegramUser(buyer.ID), notify.Notice{Text: "your key", ActivateKey: key})
	if !errors.Is(err, notify.ErrUndeliverable) {
		t.Errorf("blocked: err = %v", err)
	}
	err = e.bot.Notify(waitCtx(t), identity.TelegramUser(999), notify.Notice{Text: "hello"})
	if !errors.Is(err, notify.ErrUndeliverable) {
		t.Errorf("never started: err = %v", err)
	}
	if err := e.bot.Notify(waitCtx(t), identity.DiscordUser("5"), notify.Notice{Text: "x"}); err == nil {
		t.Error("a Discord identity was accepted")
	}
}

func TestAlertAdmins(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.say(t, admin, admin.ID, "/help")
	if err := e.bot.AlertAdmins(waitCtx(t), "credits <low> & falling"); err != nil {
		t.Fatal(err)
	}
	msgs := e.tg.BotMessages(admin.ID)
	if got := msgs[len(msgs)-1].Text; got != commands.TextAdminAlertPrefix+"credits <low> & falling" {
		t.Errorf("alert = %q", got)
	}
	e.tg.BlockBot(admin.ID)
	if err := e.bot.AlertAdmins(waitCtx(t), "x"); err == nil {
		t.Error("an alert no admin received reported success")
	}
}

func TestSyncAccessInvitesAndRemoves(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.tg.AddChat(membersChat, "Members")
	e.tg.SetMember(membersChat, 1, telegramtest.StatusCreator)
	e.say(t, buyer, buyer.ID, "/start")
	who := identity.TelegramUser(buyer.ID)
	ctx := waitCtx(t)

	if err := e.bot.SyncAccess(ctx, who, []string{"pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	msgs := e.tg.BotMessages(buyer.ID)
	invite := msgs[len(msgs)-1]
	b := invite.Buttons()
	if invite.Text != commands.TextAccessInvite || len(b) != 1 || b[0].Text != "Join Pro (monthly)" {
		t.Fatalf("invite = %q %+v", invite.Text, b)
	}
	if inv := e.tg.Invites(membersChat); len(inv) != 1 || inv[0].MemberLimit != 1 || inv[0].ExpireDate.IsZero() {
		t.Errorf("invites = %+v", inv)
	}
	// A second sync before the link is used sends nothing new.
	if err := e.bot.SyncAccess(ctx, who, []string{"pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.tg.Invites(membersChat)); n != 1 {
		t.Errorf("%d invites after a repeated sync", n)
	}
	if err := e.tg.UseInvite(buyer.ID, b[0].URL); err != nil {
		t.Fatal(err)
	}
	if err := e.tg.UseInvite(99, b[0].URL); err == nil {
		t.Error("a one-use invite let a second user in")
	}
	if err := e.bot.SyncAccess(ctx, who, []string{"pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.tg.Invites(membersChat)); n != 1 {
		t.Errorf("a member was invited again")
	}

	if err := e.bot.SyncAccess(ctx, who, nil); err != nil {
		t.Fatal(err)
	}
	if st := e.tg.Status(membersChat, buyer.ID); st != telegramtest.StatusLeft {
		t.Errorf("after losing access: status %q, want left (removed, not banned)", st)
	}
	if err := e.bot.SyncAccess(ctx, identity.TelegramUser(1), nil); err != nil {
		t.Fatal(err)
	}
	if st := e.tg.Status(membersChat, 1); st != telegramtest.StatusCreator {
		t.Errorf("the chat owner was removed: %q", st)
	}
}

func TestShutdownConfirmsHandledUpdates(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.say(t, buyer, buyer.ID, "/help")
	e.stop()
	if n := e.tg.Pending(); n != 0 {
		t.Errorf("%d handled updates left unconfirmed; a restart would answer them again", n)
	}
}

func TestWebhookRejectsBadRequests(t *testing.T) {
	e := start(t, telegram.ModeWebhook)
	big := strings.NewReader(`{"update_id":1,"message":{"text":"` + strings.Repeat("x", 2<<20) + `"}}`)
	req, _ := http.NewRequest(http.MethodPost, e.hookURL, big)
	req.Header.Set("X-Telegram-Bot-Api-Secret-Token", secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", resp.StatusCode)
	}
	resp, err = http.Get(e.hookURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestActivateInGroupWithoutDeleteRight(t *testing.T) {
	e := start(t, telegram.ModePolling)
	// The bot is a plain member of this group: it cannot delete, but it
	// still warns and still does not activate.
	m := e.say(t, buyer, groupChat, "/activate "+key)
	if !strings.Contains(m.Text, "private chat") {
		t.Errorf("reply = %q", m.Text)
	}
	if len(e.shop.Calls()) != 0 {
		t.Errorf("key activated from a group: %q", e.shop.Calls())
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	h, err := commands.New(commands.Options{Shop: &shop{}})
	if err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]telegram.Options{
		"no token":          {Commands: h},
		"no commands":       {Token: "1:x"},
		"bad mode":          {Token: "1:x", Commands: h, Mode: "push"},
		"webhook no secret": {Token: "1:x", Commands: h, Mode: telegram.ModeWebhook, PublicURL: "https://x"},
		"webhook bad secret": {Token: "1:x", Commands: h, Mode: telegram.ModeWebhook, PublicURL: "https://x",
			WebhookSecret: "has space"},
		"webhook no url": {Token: "1:x", Commands: h, Mode: telegram.ModeWebhook, WebhookSecret: "abc"},
	} {
		if _, err := telegram.New(context.Background(), o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tg := telegramtest.New(telegramtest.Options{})
	defer tg.Close()
	_, err = telegram.New(context.Background(), telegram.Options{Token: "1:wrong", APIURL: tg.URL(), Commands: h})
	if err == nil || strings.Contains(err.Error(), "1:wrong") {
		t.Errorf("wrong token: %v", err)
	}
}

// A reminder's Renew button buys the product again: pressing it answers
// with the checkout link.
func TestNotifyRenewButton(t *testing.T) {
	e := start(t, telegram.ModePolling)
	e.say(t, buyer, buyer.ID, "/start")
	if err := e.bot.Notify(waitCtx(t), identity.TelegramUser(buyer.ID), notify.Notice{Text: "runs out soon", Renew: "pro-monthly"}); err != nil {
		t.Fatal(err)
	}
	msgs := e.tg.BotMessages(buyer.ID)
	m := msgs[len(msgs)-1]
	b := m.Buttons()
	if len(b) != 1 || b[0].Text != "Renew" || b[0].CallbackData != "buy:pro-monthly" {
		t.Fatalf("buttons = %+v; want Renew with buy:pro-monthly", b)
	}
	if _, err := e.tg.Press(buyer, m.MessageID, b[0].CallbackData); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tg.WaitMessage(waitCtx(t), buyer.ID, m.MessageID, func(s telegramtest.SentMessage) bool {
		return len(s.Buttons()) > 0 && s.Buttons()[0].URL != ""
	}); err != nil {
		t.Fatalf("no checkout link after Renew: %v", err)
	}
}
