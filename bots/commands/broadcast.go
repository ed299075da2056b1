package commands

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopbot/shopbot/identity"
)

// Announcer drafts, starts and mutes shop announcements; *broadcast.Service
// satisfies it.
type Announcer interface {
	// Draft stores an unconfirmed broadcast to product ("" for all) and
	// says how many buyers it reaches now.
	Draft(ctx context.Context, admin identity.Identity, product, text string) (id uint64, reach int, err error)
	// Confirm starts the draft; a second Confirm fails.
	Confirm(ctx context.Context, admin identity.Identity, id uint64) error
	SetMuted(ctx context.Context, who identity.Identity, muted bool) error
}

// dataBroadcast is the payload of a draft's Send button.
const dataBroadcast = "bc:"

// maxBroadcastRunes keeps an announcement inside one chat message on
// both platforms, with room for the footer.
const maxBroadcastRunes = 1800

// broadcast is /broadcast PRODUCT|all TEXT: a draft with a Send button.
func (h *Handler) broadcast(ctx context.Context, req Request) Reply {
	if r, refused := h.refuse(ctx, req, "broadcast"); refused {
		return r
	}
	if h.announcer == nil || len(req.Args) < 2 {
		return Reply{Text: msgBroadcastUsage, Ephemeral: true}
	}
	product, label := req.Args[0], "any product"
	if strings.EqualFold(product, "all") {
		product = ""
	} else if p, ok := h.byID[product]; ok {
		label = productName(p)
	} else {
		return Reply{Text: fmt.Sprintf(msgBroadcastProduct, product), Ephemeral: true}
	}
	text := strings.TrimSpace(strings.Join(req.Args[1:], " "))
	if req.Raw != "" {
		// As typed, past the product word: every word and line break.
		text = strings.TrimSpace(strings.TrimLeftFunc(strings.TrimPrefix(req.Raw, req.Args[0]), unicode.IsSpace))
	}
	if n := utf8.RuneCountInString(text); n > maxBroadcastRunes {
		return Reply{Text: fmt.Sprintf(msgBroadcastTooLong, n, maxBroadcastRunes), Ephemeral: true}
	}
	id, reach, err := h.announcer.Draft(ctx, req.Who, product, text)
	if err != nil {
		return h.fail(ctx, req, "broadcast", err)
	}
	if reach == 0 {
		return Reply{Text: fmt.Sprintf(msgBroadcastNone, label), Ephemeral: true}
	}
	return Reply{
		Text:      fmt.Sprintf(msgBroadcastConfirm, reach, label, text),
		Buttons:   [][]Button{{{Label: fmt.Sprintf(msgBroadcastButton, reach), Data: dataBroadcast + strconv.FormatUint(id, 10)}}},
		Ephemeral: true,
	}
}

// confirmBroadcast answers the Send button of a draft.
func (h *Handler) confirmBroadcast(ctx context.Context, req Request, data string) Reply {
	if r, refused := h.refuse(ctx, req, "broadcast"); refused {
		return r
	}
	id, err := strconv.ParseUint(data, 10, 64)
	if err != nil || h.announcer == nil {
		return Reply{Text: msgStaleButton, Ephemeral: true}
	}
	if err := h.announcer.Confirm(ctx, req.Who, id); err != nil {
		var p Problem
		if p = h.problem(err); p.Kind == KindUnknown && !errors.Is(err, context.Canceled) {
			// A used or foreign draft is the expected refusal here.
			return Reply{Text: msgBroadcastTwice, Ephemeral: true}
		}
		return h.fail(ctx, req, "broadcast confirm", err)
	}
	return Reply{Text: fmt.Sprintf(msgBroadcastStarted, id), Ephemeral: true}
}

// mute is /mute and /unmute: anyone, for themselves.
func (h *Handler) mute(ctx context.Context, req Request, muted bool) Reply {
	if h.announcer == nil {
		return Reply{Text: msgUnknownCommand, Ephemeral: true}
	}
	if err := h.announcer.SetMuted(ctx, req.Who, muted); err != nil {
		return h.fail(ctx, req, "mute", err)
	}
	if muted {
		return Reply{Text: h.to(req).say("mute.on"), Ephemeral: true}
	}
	return Reply{Text: h.to(req).say("mute.off"), Ephemeral: true}
}
