package commands

import (
	"context"

	"github.com/shopbot/shopbot/words"
)

// Messages is this package's part of the message catalog: every
// buyer-facing text with its key and English default. To make one more
// message replaceable, add one line here, {"area.name", msgConstant}, and
// send it with reader.say(key, "placeholder", value, ...). Texts use named
// placeholders ({product}); `shopbot check` holds translations to them.
//
// Admin-only replies (/revoke, /lookup, /grant, /extend, /stats, /audit,
// /failed, /replay, /sync, /broadcast) stay English and are not listed.
func Messages() []words.Message {
	return []words.Message{
		{Key: "start.welcome", Text: msgWelcome},
		{Key: "buy.catalog", Text: msgCatalog},
		{Key: "buy.catalog_empty", Text: msgCatalogEmpty},
		{Key: "buy.product_line", Text: msgProductLine},
		{Key: "buy.intro", Text: msgBuyIntro},
		{Key: "buy.intro_stars", Text: "{product}\nTap the button to pay with Telegram Stars."},
		{Key: "buy.intro_both", Text: "{product}\nPay with Telegram Stars, or by card (the card link is valid for 30 minutes)."},
		{Key: "buy.pay_button", Text: msgPayButton},
		{Key: "buy.stars_button", Text: "Pay {stars} ⭐ for {product}"},
		{Key: "buy.card_button", Text: "Pay by card for {product}"},
		{Key: "buy.code_not_stars", Text: "The code {code} applies to card payments only."},
		{Key: "license.cancel_button", Text: "Cancel {product} subscription"},
		{Key: "license.sub_ends", Text: "Subscription canceled: it ends with the paid period."},
		{Key: "license.sub_canceled", Text: "Your {product} subscription is canceled: it will not renew, and your license stays valid {validity}."},
		{Key: "buy.code_applied", Text: msgCodeApplied},
		{Key: "buy.code_usage", Text: msgBuyCodeUsage},
		{Key: "private.buy", Text: msgGoPrivateBuy},
		{Key: "private.buy_code", Text: msgGoPrivateBuyCode},
		{Key: "private.go", Text: msgGoPrivate},
		{Key: "private.key_exposed", Text: msgGoPrivateKey},
		{Key: "private.move_exposed", Text: msgGoPrivateMove},
		{Key: "private.open_button", Text: msgOpenPrivate},
		{Key: "activate.usage", Text: msgActivateUsage},
		{Key: "activate.done", Text: msgActivated},
		{Key: "activate.again", Text: msgReactivated},
		{Key: "license.valid_until", Text: msgValidUntil},
		{Key: "license.lifetime", Text: msgLifetime},
		{Key: "license.none", Text: msgNoLicenses},
		{Key: "license.header", Text: msgLicensesHeader},
		{Key: "license.line", Text: msgLicenseLine},
		{Key: "license.not_here", Text: msgLicenseNotHere},
		{Key: "license.activate_button", Text: msgActivateButton},
		{Key: "license.manage_button", Text: msgManageButton},
		{Key: "license.status_active", Text: "active"},
		{Key: "license.status_expired", Text: "expired"},
		{Key: "license.status_revoked", Text: "revoked"},
		{Key: "license.status_unknown", Text: "unknown"},
		{Key: "gate.needs", Text: msgNeeds},
		{Key: "gate.no_product", Text: msgNeedsNoProduct},
		{Key: "list.or", Text: "{first} or {last}"},
		{Key: "chat.unknown_command", Text: msgUnknownCommand},
		{Key: "chat.chatter", Text: msgChatter},
		{Key: "chat.stale_button", Text: msgStaleButton},
		{Key: "chat.unavailable", Text: msgUnavailable},
		{Key: "help.header", Text: msgHelpHeader},
		{Key: "help.buy", Text: descBuy},
		{Key: "help.activate", Text: descActivate},
		{Key: "help.license", Text: descLicense},
		{Key: "help.gated", Text: descGated},
		{Key: "help.transfer", Text: descTransfer},
		{Key: "help.help", Text: descHelp},
		{Key: "help.mute", Text: descMute},
		{Key: "help.unmute", Text: descUnmute},
		{Key: "transfer.usage", Text: msgTransferUsage},
		{Key: "transfer.done", Text: msgTransferred},
		{Key: "transfer.left", Text: msgTransferLeft},
		{Key: "transfer.last", Text: msgTransferLast},
		{Key: "mute.on", Text: msgMuted},
		{Key: "mute.off", Text: msgUnmuted},
		{Key: "error.internal", Text: TextInternalError},
		{Key: "chat.slow_down", Text: TextSlowDown},
		{Key: "chat.busy", Text: TextBusy},
		{Key: "problem.terms_not_accepted", Text: msgTermsRequired},
		{Key: "terms.ask", Text: msgTermsAsk},
		{Key: "terms.read_button", Text: msgTermsRead},
		{Key: "terms.accept_button", Text: msgTermsAccept},
		{Key: "terms.accepted", Text: msgTermsAccepted},
		{Key: "terms.stale", Text: msgTermsStale},
		{Key: "problem.malformed_key", Text: "That doesn't look like a license key. Copy the whole key, for example `ABCD-EFGH-IJKL-MNOP`."},
		{Key: "problem.unknown_key", Text: "This key was not issued by this shop. Please check it and try again."},
		{Key: "problem.no_outside_product", Text: "This key was not sold through this shop, and it does not match any product here, so I cannot activate it. Please contact the seller."},
		{Key: "problem.invalid_key", Text: "This license key is not valid. Please check it and try again."},
		{Key: "problem.expired", Text: "This license has expired. Use /buy to get a new one."},
		{Key: "problem.revoked", Text: "This license has been revoked. Contact the seller if you think this is a mistake."},
		{Key: "problem.slots_full", Text: "This key is already active on all {slots} account(s) it allows. Free a slot with the account that holds it, or buy another license."},
		{Key: "problem.slots_full_plain", Text: "This key is already active on all the accounts it allows."},
		{Key: "problem.blocked", Text: "This key can't be activated. Please contact the seller."},
		{Key: "problem.no_credits", Text: "Activation is temporarily unavailable. The seller has been told; please try again later."},
		{Key: "problem.too_many_attempts", Text: "Too many activation attempts. Please try again {wait}."},
		{Key: "problem.rate_limited", Text: "We're receiving too many requests right now. Please try again {wait}."},
		{Key: "problem.unavailable", Text: "The license server can't be reached right now. Please try again in a few minutes."},
		{Key: "problem.not_entitled", Text: "You don't have a license for this yet. Use /buy to get one."},
		{Key: "problem.unknown_product", Text: "There is no product with that name. Use /buy to see the catalog."},
		{Key: "problem.payment_unavailable", Text: "Payments are unavailable right now. Please try again in a few minutes."},
		{Key: "problem.not_found", Text: "No license matches that key or user."},
		{Key: "problem.not_holder", Text: "This key is not yours or not activated on this account."},
		{Key: "problem.lifetime", Text: "This is a lifetime license; it does not need extending."},
		{Key: "problem.invalid_argument", Text: "One of the values is out of range. Please check the command."},
		{Key: "problem.transfer_limit", Text: "This key was moved {limit} time(s) recently, the most allowed. Please try again {wait}."},
		{Key: "problem.not_confirmed", Text: "Done here, but the license server has not confirmed it yet. Running the command again is safe."},
		{Key: "problem.unknown_event", Text: "No payment event with that id is stored. `/failed` lists the failed ones."},
		{Key: "problem.not_replayable", Text: "That event was already handled successfully; there is nothing to replay."},
		{Key: "problem.promotion_code", Text: "That promotion code is unknown or has expired, or does not apply to this product, so no payment link was made. Check the code, or send /buy with the product alone to pay the full price."},
		{Key: "problem.replay_failed", Text: "The event failed again. `/failed` shows why; fix the cause, then replay it once more."},
		{Key: "notice.activate_in_chat", Text: TextActivateInChat},
		{Key: "notice.activate_in_server", Text: TextActivateInServer},
		{Key: "notice.activate_button", Text: LabelActivate},
		{Key: "notice.renew_button", Text: LabelRenew},
		{Key: "access.invite", Text: TextAccessInvite},
		{Key: "access.join_button", Text: LabelJoinChat},
		{Key: "access.removed", Text: TextRemovedNoLicense},
		{Key: "access.join_declined", Text: TextJoinDeclined},
		{Key: "wait.few_minutes", Text: "in a few minutes"},
		{Key: "wait.seconds", Text: "in {n} seconds"},
		{Key: "wait.minute", Text: "in a minute"},
		{Key: "wait.minutes", Text: "in {n} minutes"},
		{Key: "wait.hours", Text: "in {n} hours"},
		{Key: "wait.days", Text: "in {n} days"},
	}
}

// Say renders key in lang with c, or in the built-in English when c is
// nil: adapters use it for the texts they add to notices.
func Say(c *words.Catalog, lang, key string, args ...any) string {
	if c == nil {
		return englishOnly().say(key, args...)
	}
	return c.Render(lang, key, args...)
}

// SlowDownIn is SlowDownText in lang (c nil: English).
func SlowDownIn(c *words.Catalog, lang string, shopFull bool) string {
	if shopFull {
		return Say(c, lang, "chat.busy")
	}
	return Say(c, lang, "chat.slow_down")
}

// reader is the catalog seen in one reader's language.
type reader struct {
	c    *words.Catalog
	lang string
}

// say renders key in the reader's language; args are name, value pairs.
func (r reader) say(key string, args ...any) string { return r.c.Render(r.lang, key, args...) }

// englishOnly is a reader of the built-in texts, for code paths with no
// reader (and tests that compare with the English default).
func englishOnly() reader {
	c, err := words.New(Messages())
	if err != nil {
		panic(err) // the built-in table is malformed: a programming error caught by every test
	}
	return reader{c: c, lang: words.English}
}

// adminWords is the reader of admin-only replies, which stay English.
func (h *Handler) adminWords() reader { return reader{c: h.words, lang: words.English} }

func (h *Handler) heard(ctx context.Context, req Request) {
	if h.langs != nil && req.Lang != "" && !req.Who.IsZero() {
		h.langs.Heard(ctx, req.Who, req.Lang)
	}
}

// to is the reader of req's author.
func (h *Handler) to(req Request) reader { return reader{c: h.words, lang: req.Lang} }
