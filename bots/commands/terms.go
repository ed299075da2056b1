package commands

import (
	"context"
	"errors"

	"github.com/shopbot/shopbot/identity"
)

// dataTerms prefixes the "I accept" button's payload: a short token, never
// the key (Telegram's callback_data holds 64 bytes).
const dataTerms = "terms:"

// ErrTermsToken is returned by Terms.Accept for an unknown, expired or
// foreign token.
var ErrTermsToken = errors.New("commands: terms button expired")

// Terms is the shop's terms of sale, accepted once per version.
type Terms interface {
	URL() string
	Accepted(ctx context.Context, who identity.Identity) (bool, error)
	// Ask keeps key pending until who accepts and returns the token.
	Ask(who identity.Identity, key string) (token string, err error)
	// Accept records the acceptance and returns the pending key; an
	// error that errors.Is ErrTermsToken when the token is stale.
	Accept(ctx context.Context, who identity.Identity, token string) (key string, err error)
}

// askTerms answers with the terms and an "I accept" button when who has
// not accepted the current version; ask is false when activation may go on.
func (h *Handler) askTerms(ctx context.Context, req Request, key string) (r Reply, ask bool) {
	if h.terms == nil {
		return Reply{}, false
	}
	l := h.to(req)
	ok, err := h.terms.Accepted(ctx, req.Who)
	if err != nil {
		return h.fail(ctx, req, "terms of "+req.Who.String(), err), true
	}
	if ok {
		return Reply{}, false
	}
	token, err := h.terms.Ask(req.Who, key)
	if err != nil {
		return h.fail(ctx, req, "terms of "+req.Who.String(), err), true
	}
	return Reply{
		Text: l.say("terms.ask", "url", h.terms.URL()),
		Buttons: [][]Button{
			{{Label: l.say("terms.read_button"), URL: h.terms.URL()}},
			{{Label: l.say("terms.accept_button"), Data: dataTerms + token}},
		},
		Ephemeral: true,
	}, true
}

// acceptTerms is the "I accept" button: record, then activate.
func (h *Handler) acceptTerms(ctx context.Context, req Request, token string) Reply {
	l := h.to(req)
	if h.terms == nil {
		return Reply{Text: l.say("chat.stale_button"), Ephemeral: true}
	}
	key, err := h.terms.Accept(ctx, req.Who, token)
	if errors.Is(err, ErrTermsToken) {
		return Reply{Text: l.say("terms.stale"), Ephemeral: true}
	}
	if err != nil {
		return h.fail(ctx, req, "accept terms", err)
	}
	r := h.bind(ctx, req, key)
	r.Text = l.say("terms.accepted") + "\n" + r.Text
	return r
}
