package commands

import (
	"time"
)

// This file is the one table of user-facing chat text. Every sentence a
// buyer or admin can read comes from here, so wording is reviewed in one
// place and no raw error can slip into a reply.
//
// Text conventions: plain text; a span between backticks (`...`) is
// monospaced (keys, identities, commands) and adapters render it natively
// (Telegram <code>, Discord inline code). Strings that come from outside
// (config, Shop results) pass through plain() so they cannot open a span.

// Kind is the chat-level meaning of an error returned by the Shop. The core
// packages own their sentinel errors; the wiring code translates them into
// a Problem with Options.Classify, and this package turns the Problem into
// words. Keeping the translation outside means commands never imports the
// core, and keeping the words here means there is one message table.
type Kind int

const (
	// KindUnknown is any error Classify does not recognise: the user gets a
	// generic apology and the error is logged.
	KindUnknown Kind = iota
	// KindMalformedKey: the input is not shaped like a license key.
	KindMalformedKey
	// KindUnknownKey: a well-formed key this shop never issued.
	KindUnknownKey
	// KindInvalidKey: the license server does not know the key.
	KindInvalidKey
	// KindExpired: the license has expired.
	KindExpired
	// KindRevoked: the license was revoked.
	KindRevoked
	// KindSlotsFull: every slot of the key is taken (Problem.Slots).
	KindSlotsFull
	// KindBlocked: the license server refuses this key or account.
	KindBlocked
	// KindNoCredits: the seller's license account is out of credits.
	KindNoCredits
	// KindTooManyAttempts: the user hit the activation rate limit
	// (Problem.RetryAfter).
	KindTooManyAttempts
	// KindRateLimited: an upstream API throttled us (Problem.RetryAfter
	// optional).
	KindRateLimited
	// KindUnavailable: the license server cannot be reached.
	KindUnavailable
	// KindNotEntitled: no valid activation of the asked products.
	KindNotEntitled
	// KindUnknownProduct: the product id is not configured.
	KindUnknownProduct
	// KindPaymentUnavailable: the payment provider failed.
	KindPaymentUnavailable
	// KindNotFound: no license matches the key or user (admin commands).
	KindNotFound
	// KindNotHolder: the user neither owns nor activated the key.
	KindNotHolder
	// KindLifetime: a lifetime license cannot be extended.
	KindLifetime
	// KindInvalidArgument: an admin-supplied value is out of range.
	KindInvalidArgument
	// KindTransferLimit: the key was moved too often (Problem.Limit,
	// Problem.RetryAfter).
	KindTransferLimit
	// KindNotConfirmed: the change is done in the shop but the license
	// server did not confirm it; repeating is safe.
	KindNotConfirmed
	// KindUnknownEvent: no stored payment event has that id (/replay).
	KindUnknownEvent
	// KindNotReplayable: the event was handled successfully already.
	KindNotReplayable
	// KindReplayFailed: the replayed event failed again.
	KindReplayFailed
	// KindTermsNotAccepted: activation before the terms were accepted.
	KindTermsNotAccepted
	// KindPromotionCode: the promotion code given to /buy is unknown,
	// expired, used up or not valid for the product.
	KindPromotionCode
	// KindNoOutsideProduct: a key of the shop's app made outside the shop
	// whose label matches no product sold here.
	KindNoOutsideProduct
)

// Problem is what Options.Classify reports about an error: its Kind and the
// numbers some messages quote.
type Problem struct {
	Kind       Kind
	RetryAfter time.Duration
	// Slots is the key's slot count for KindSlotsFull.
	Slots int
	// Limit is the allowed count for KindTransferLimit.
	Limit int
}

// Texts adapters need for messages they build themselves (deliveries,
// invites). They live here so the wording stays in this one table.
const (
	// LabelActivate is the button on a delivered key.
	LabelActivate = "Activate"
	// LabelRenew labels the button of a reminder that buys the product
	// again.
	LabelRenew = "Renew"
	// TextAccessInvite introduces the invite links sent when a buyer gains
	// access to members-only chats.
	TextAccessInvite = "Your license gives you access to these members-only chats. Each link works once and expires in 24 hours."
	// LabelJoinChat labels an invite-link button.
	LabelJoinChat = "Join {product}"
	// LabelOpen labels a link button that came without a label.
	LabelOpen = "Open"
	// TextInternalError is the generic apology for failures the user can do
	// nothing about.
	TextInternalError = "Something went wrong on our side. Please try again in a minute."
	// TextSlowDown answers, at most once a minute, someone whose commands
	// come faster than their budget; the dropped ones get no answer.
	TextSlowDown = "You are sending commands faster than I can answer, so I skipped the last ones. Wait a few seconds, then try again."
	// TextBusy answers, at most once a minute, a command dropped because
	// the whole shop has as much work in progress as it takes.
	TextBusy = "The shop is very busy right now, so I skipped that. Please try again in a moment."
	// TextAdminAlertPrefix starts every admin alert.
	TextAdminAlertPrefix = "Admin alert: "
	// TextActivateInServer follows a key delivered by Discord direct
	// message, where there is no one-tap Activate button.
	TextActivateInServer = "To use it, run /activate in the server and paste this key."
	// TextActivateInChat follows a key delivered in Telegram, whose
	// message carries the Activate button.
	TextActivateInChat = "Tap Activate below, or send /activate with the key, to start using it."
	// TextRemovedNoLicense tells someone the bot took out of a members-only
	// chat or role they held without a license.
	TextRemovedNoLicense = "You were removed from the members-only space of {product} because you have no active license for it. To get in, buy with /buy {id} and activate your key: the bot then gives you access."
	// TextJoinDeclined answers a declined join request.
	TextJoinDeclined = "Your request to join the members-only chat of {product} was declined because you have no active license for it. Buy with /buy {id} and activate your key: the bot then sends you an invite link."
	// TextAccessRemovedAlert is the admin feed line of one removal: who,
	// from where, why.
	TextAccessRemovedAlert = "Removed %s from %s: %s."
	// TextAccessRemovedMore ends an alert that lists only the first
	// removals; %d is how many more there were.
	TextAccessRemovedMore = "…and %d more removals (see /audit)."
	// TextRolePermission is the admin alert when Discord refused a role
	// change (error 50013); both %s are the role id.
	TextRolePermission = "I could not give or remove the Discord role %s: missing Manage Roles permission, or the bot's role is below the product role %s in Server Settings → Roles. Give the bot's role Manage Roles and drag it above every product role."
	// Discord slash-command option descriptions.
	OptionProduct    = "The product to buy"
	OptionPromoCode  = "A promotion code, if you have one"
	OptionKey        = "Your license key"
	OptionTargetKey  = "License key, or a user written tg:123 or discord:456"
	OptionTargetUser = "The Discord user"
	OptionGrantUser  = "The Discord user who gets the license"
	OptionIdentity   = "Or any account, written tg:123 or discord:456"
	OptionGrantProd  = "The product to give"
	OptionAdminKey   = "The license key"
	OptionDuration   = "How much longer, e.g. 30d, 2w or 72h"
	OptionCount      = "How many entries to show (1-50, default 10)"
	OptionEvent      = "The payment event id (evt_... or tgpay:...), as /failed lists it"
	OptionMoveKey    = "The license key to move"
)

const (
	msgWelcome         = "Welcome! Here you can buy a license, activate it and use the members' commands."
	msgCatalog         = "Choose a product:"
	msgCatalogEmpty    = "Nothing is for sale right now. Please check back later."
	msgProductLine     = "• {product} — {description}"
	msgBuyIntro        = "{product}\nTap the button to pay securely. The link is valid for 30 minutes."
	msgPayButton       = "Pay for {product}"
	msgCodeApplied     = "Promotion code `{code}` applied: the payment page shows the discount."
	msgBuyCodeUsage    = "Name the product with the code, like `/buy PRODUCT CODE`. Products: {products}."
	msgGoPrivateBuy    = "Checkout links are only sent in our private chat. Tap the button to continue there."
	msgGoPrivate       = "Please use our private chat for that. Tap the button to open it."
	msgGoPrivateKey    = "Never post a license key in a group. I removed your message if I could. Send `/activate KEY` in our private chat instead."
	msgOpenPrivate     = "Open private chat"
	msgActivateUsage   = "Send your key like this: `/activate ABCD-EFGH-IJKL-MNOP`"
	msgActivated       = "Activated: {product}.\n{validity}\nAccounts: {used} of {slots} slots used."
	msgReactivated     = "Already active on this account: {product}.\n{validity}\nAccounts: {used} of {slots} slots used."
	msgValidUntil      = "Valid until {date}."
	msgLifetime        = "Lifetime license."
	msgNoLicenses      = "You have no licenses yet. Use /buy to get one."
	msgLicensesHeader  = "Your licenses:"
	msgLicenseLine     = "• {product} — {status}\n  Key: `{key}`\n  {validity}\n  Accounts: {used} of {slots} slots used."
	msgLicenseNotHere  = "  Not activated on this account yet."
	msgActivateButton  = "Activate {product}"
	msgNeeds           = "This command needs {products}. Buy it below."
	msgNeedsNoProduct  = "This command is not available right now."
	msgAdminOnly       = "This command is for admins."
	msgTargetUsage     = "Usage: `/%s KEY` or `/%s tg:123` (or `discord:456`)."
	msgBadTarget       = "That is neither a license key nor a user like `tg:123` or `discord:456`."
	msgRevokedHeader   = "Revoked %d license(s):"
	msgRevokedLine     = "• %s `%s`"
	msgRevokedFooter   = "Holders lost access and were told."
	msgNothingToRevoke = "Nothing to revoke for `%s`."
	msgLookupLine      = "`%s` — %s — %s\nOwner: %s\nHolders: %s (%d of %d slots)\n%s\nOrder: %s\nCreated: %s\nLicense server: %s"
	msgUnknownCommand  = "I don't know that command. Send /help to see what I can do."
	msgChatter         = "Send /help to see what I can do."
	msgStaleButton     = "That button is no longer valid. Send /help to start again."
	msgHelpHeader      = "What I can do:"
	msgHelpAdminHeader = "Admin commands:"
	msgHelpLine        = "/%s — %s"
	msgHelpArgsLine    = "/%s %s — %s"
	msgManageButton    = "Manage subscription: {product}"
	msgGoPrivateMove   = "Never post a license key in a group. I removed your message if I could. Send `/transfer KEY` in our private chat instead."
	msgUnavailable     = "This command is not available right now."

	msgTransferUsage  = "Send the key to move like this: `/transfer ABCD-EFGH-IJKL-MNOP`. It frees the key so you can activate it on another account."
	msgTransferred    = "Key `{key}` is free again: every account that used it, this one included, was signed out. Send `/activate KEY` from the account that should use it now."
	msgTransferLeft   = "You can move this key {count} more time(s) for now."
	msgTransferLast   = "That was the last move allowed for now; /transfer will tell you when the next one is possible."
	msgGrantUsage     = "Usage: `/grant USER PRODUCT`, USER written `tg:123` or `discord:456`. Products: %s."
	msgGrantNoProduct = "There is no product `%s`. Products: %s."
	msgGranted        = "Granted %s to %s: key `%s`. %s\nThe key was sent to them; they also see it with /license."
	msgExtendUsage    = "Usage: `/extend KEY DURATION`, e.g. `/extend ABCD-EFGH-IJKL-MNOP 30d`. DURATION is days (`30d`), weeks (`2w`) or hours and minutes (`72h`, `90m`), at most 100 years."
	msgExtended       = "Extended `%s` (%s) by %s. %s The owner was told."
	msgKeyUsage       = "Usage: `/%s KEY`."
	msgResetHWID      = "Every slot of `%s` (%s) is free again. Accounts that used it lost access, were told, and can activate again."
	msgCountUsage     = "Usage: `/%s` or `/%s N` with N from 1 to 50."
	msgStats          = "Shop figures:\nOrders: %d%s\nLicenses: %d active, %d revoked\nActivations: %d on %d account(s)\nPayment events: %d pending, %d failed\nLicense server: %d validation(s), %d heartbeat(s), about %s credit(s) spent"
	msgStatsRemovals  = "\nMembers-only access removed (no license): %d"
	msgStatsChat      = "\n%s since start: %d command(s) dropped, %d reply(ies) dropped, %d waiting to go out, %d rate-limit answer(s)"
	msgAuditEmpty     = "The audit log is empty."
	msgAuditHeader    = "Last %d audit entries, newest first:"
	msgAuditLine      = "• %s — `%s` %s%s"
	msgFailedEmpty    = "No failed payment events. Nothing to replay."
	msgFailedHeader   = "Failed payment events, newest first:"
	msgFailedLine     = "• `%s` %s — %d attempt(s), received %s\n  Last error: %s"
	msgFailedFooter   = "Fix the cause (e.g. the product in config.toml), then `/replay EVENT_ID`."
	msgReplayUsage    = "Usage: `/replay EVENT_ID`, e.g. `/replay evt_1ABC`. `/failed` lists the failed events."
	msgReplayed       = "Replayed `%s` (%s): it is no longer failed."
	msgReplayRetry    = "Replayed `%s` (%s), but it failed again: %s\nIt is retried automatically at %s."
	msgReplayFailed   = "Replayed `%s` (%s), but it failed again: %s\nFix the cause, then replay it once more."
	msgSynced         = "Synced roles and chat access of %d account(s)."
	msgSyncedPartly   = "Synced roles and chat access of %d account(s), but some changes failed; the logs name them. Check the bot's permissions and run /sync again."
)

// Descriptions used both in /help and in the platforms' command menus.
const (
	descStart    = "Start and show the catalog"
	descBuy      = "Buy a license"
	descActivate = "Activate a license key"
	descLicense  = "Show your licenses"
	descHelp     = "What this bot can do"
	descRevoke   = "Revoke a license (admins)"
	descLookup   = "Look up a license (admins)"
	descGated    = "Members only"
	descTransfer = "Move your license to another account"
	descGrant    = "Give a license without payment (admins)"
	descExtend   = "Extend a license (admins)"
	descReset    = "Free every slot of a license (admins)"
	descStats    = "Sales, licenses and credits spent (admins)"
	descAudit    = "Recent admin actions (admins)"
	descFailed   = "Payment events that failed (admins)"
	descReplay   = "Process a payment event again (admins)"
	descSync     = "Repair roles and chat access for everyone (admins)"
)

// SlowDownText is the notice for a dropped command: TextBusy when the
// whole shop was full, TextSlowDown when the sender was over budget.
func SlowDownText(shopFull bool) string {
	if shopFull {
		return TextBusy
	}
	return TextSlowDown
}

// helpArgs is the argument syntax /help shows after a command, "" for
// none.
func helpArgs(cmd string, discord bool) string {
	if discord {
		// Discord shows slash-command options by name.
		switch cmd {
		case "buy":
			return "[product:] [code:]"
		case "activate", "transfer", "resethwid":
			return "key:"
		case "extend":
			return "key: duration:"
		case "grant":
			return "user: product:"
		case "revoke", "lookup":
			return "key: | user:"
		case "audit", "failed":
			return "[n:]"
		case "replay":
			return "event:"
		}
		return ""
	}
	switch cmd {
	case "buy":
		return "[PRODUCT [CODE]]"
	case "activate", "transfer", "resethwid":
		return "KEY"
	case "extend":
		return "KEY DURATION"
	case "grant":
		return "tg:ID PRODUCT"
	case "revoke", "lookup":
		return "KEY|tg:ID"
	case "audit", "failed":
		return "[N]"
	case "replay":
		return "EVENT_ID"
	}
	return ""
}

// problemText is the English message for p (tests and callers without a
// reader); problemIn words it in the reader's language.
func problemText(p Problem) string { return problemIn(englishOnly(), p) }

// problemKeys maps each Kind to its message key. KindUnknown, and any Kind
// not listed, gets the generic apology.
var problemKeys = map[Kind]string{
	KindMalformedKey:       "problem.malformed_key",
	KindTermsNotAccepted:   "problem.terms_not_accepted",
	KindUnknownKey:         "problem.unknown_key",
	KindNoOutsideProduct:   "problem.no_outside_product",
	KindInvalidKey:         "problem.invalid_key",
	KindExpired:            "problem.expired",
	KindRevoked:            "problem.revoked",
	KindBlocked:            "problem.blocked",
	KindNoCredits:          "problem.no_credits",
	KindTooManyAttempts:    "problem.too_many_attempts",
	KindRateLimited:        "problem.rate_limited",
	KindUnavailable:        "problem.unavailable",
	KindNotEntitled:        "problem.not_entitled",
	KindUnknownProduct:     "problem.unknown_product",
	KindPaymentUnavailable: "problem.payment_unavailable",
	KindNotFound:           "problem.not_found",
	KindNotHolder:          "problem.not_holder",
	KindLifetime:           "problem.lifetime",
	KindInvalidArgument:    "problem.invalid_argument",
	KindTransferLimit:      "problem.transfer_limit",
	KindNotConfirmed:       "problem.not_confirmed",
	KindUnknownEvent:       "problem.unknown_event",
	KindNotReplayable:      "problem.not_replayable",
	KindPromotionCode:      "problem.promotion_code",
	KindReplayFailed:       "problem.replay_failed",
}

// problemIn is the message for p in the reader's language.
func problemIn(l reader, p Problem) string {
	if p.Kind == KindSlotsFull {
		if p.Slots > 0 {
			return l.say("problem.slots_full", "slots", p.Slots)
		}
		return l.say("problem.slots_full_plain")
	}
	key, ok := problemKeys[p.Kind]
	if !ok {
		return l.say("error.internal")
	}
	return l.say(key, "wait", waitIn(l, p.RetryAfter), "limit", p.Limit)
}

// waitText renders a retry delay the way a person would say it, in English.
func waitText(d time.Duration) string { return waitIn(englishOnly(), d) }

// waitIn renders a retry delay in the reader's language.
func waitIn(l reader, d time.Duration) string {
	switch {
	case d <= 0:
		return l.say("wait.few_minutes")
	case d < time.Minute:
		return l.say("wait.seconds", "n", int((d+time.Second-1)/time.Second))
	case d < 2*time.Minute:
		return l.say("wait.minute")
	case d < time.Hour:
		return l.say("wait.minutes", "n", int((d+time.Minute-1)/time.Minute))
	case d < 48*time.Hour:
		return l.say("wait.hours", "n", int((d+time.Hour-1)/time.Hour))
	}
	return l.say("wait.days", "n", int((d+24*time.Hour-1)/(24*time.Hour)))
}

// Broadcasts and mutes (issue 13.3).
const (
	msgBroadcastUsage   = "Send `/broadcast PRODUCT TEXT` (or `/broadcast all TEXT`) to announce TEXT to the current holders of the product (of any product with all)."
	msgBroadcastProduct = "There is no product %q. Use a product id from /buy, or all."
	msgBroadcastConfirm = "This announcement reaches %d buyer(s) holding %s:\n\n%s\n\nPress Send to start it."
	msgBroadcastNone    = "Nobody holding %s can be reached (no current holders, or all muted); nothing to send."
	msgBroadcastButton  = "Send to %d buyer(s)"
	msgBroadcastStarted = "Broadcast #%d started. I will report progress and the final count here."
	msgBroadcastTwice   = "That broadcast was already started, or its button is no longer valid. Send /broadcast again for a new one."
	msgBroadcastTooLong = "That announcement is %d characters long; keep it under %d."
	msgMuted            = "Shop announcements are muted. Reminders about your licenses still come. Send /unmute to hear announcements again."
	msgUnmuted          = "Shop announcements are on again. Send /mute to stop them."
	descBroadcast       = "Announce something to current license holders"
	descMute            = "Stop shop announcements"
	descUnmute          = "Hear shop announcements again"
	OptionBroadcastProd = "A product id, or all"
	OptionBroadcastText = "The announcement"
)

// Admin feed lines about the bot's rights (issue 13.1).
const (
	// TextChatRights: the bot is not an admin with the rights a
	// members-only Telegram chat needs (%d is the chat id).
	TextChatRights = "I am not an admin with the right to invite and ban users in the members-only Telegram chat %d, so buyers are not let in and strangers are not removed there. Make the bot an admin of that chat with those rights."
)

// Texts of the group /buy with a promotion code.
const (
	// msgGoPrivateBuyCode answers a group's /buy PRODUCT CODE whose code
	// cannot ride in the start link.
	msgGoPrivateBuyCode = "Checkout links are only sent in our private chat. Tap the button, then send `/buy {product} {code}` there to apply your code."
)

// Terms of sale (issue 13.5).
const (
	msgTermsAsk      = "Before your key is activated, please read and accept the terms of sale: {url}\nTap \"I accept\" to accept them and activate your key."
	msgTermsRead     = "Read the terms"
	msgTermsAccept   = "I accept"
	msgTermsAccepted = "Thank you: your acceptance of the terms is recorded."
	msgTermsStale    = "That button has expired, so nothing was activated. Send `/activate KEY` again and accept the terms to activate your key."
	// msgTermsRequired answers KindTermsNotAccepted.
	msgTermsRequired = "Your key was not activated: the terms of sale must be accepted first. Send `/activate KEY` and tap \"I accept\"."
)
