package commands

import (
	"context"
	"errors"
	"fmt"

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
	ok, err := h.terms.Accepted(ctx, req.Who)
	if err != nil {
		return h.fail(ctx, "terms of "+req.Who.String(), err), true
	}
	if ok {
		return Reply{}, false
	}
	token, err := h.terms.Ask(req.Who, key)
	if err != nil {
		return h.fail(ctx, "terms of "+req.Who.String(), err), true
	}
	return Reply{
		Text: fmt.Sprintf(msgTermsAsk, h.terms.URL()),
		Buttons: [][]Button{
			{{Label: msgTermsRead, URL: h.terms.URL()}},
			{{Label: msgTermsAccept, Data: dataTerms + token}},
		},
		Ephemeral: true,
	}, true
}

// acceptTerms is the "I accept" button: record, then activate.
func (h *Handler) acceptTerms(ctx context.Context, req Request, token string) Reply {
	if h.terms == nil {
		return Reply{Text: msgStaleButton, Ephemeral: true}
	}
	key, err := h.terms.Accept(ctx, req.Who, token)
	if errors.Is(err, ErrTermsToken) {
		return Reply{Text: msgTermsStale, Ephemeral: true}
	}
	if err != nil {
		return h.fail(ctx, "accept terms", err)
	}
	r := h.bind(ctx, req, key)
	r.Text = msgTermsAccepted + "\n" + r.Text
	return r
}
