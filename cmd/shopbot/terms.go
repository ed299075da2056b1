package main

import (
	"context"
	"errors"
	"time"

	"github.com/shopbot/shopbot/bots/commands"
	"github.com/shopbot/shopbot/checkout"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/accesslog"
	"github.com/shopbot/shopbot/internal/terms"
)

// accessFlushEvery is how often counted gated uses reach the store.
const accessFlushEvery = time.Minute

// wireTerms sets up the terms of sale and the access log on sh and returns
// what the chat commands ask the terms through (nil without [terms]).
func (a *app) wireTerms(sh *shop) (commands.Terms, error) {
	a.uses = accesslog.New(a.db, a.hooks.now, 0, a.log.With("part", "accesslog"))
	sh.uses = a.uses
	if a.cfg.Terms.URL == "" {
		return nil, nil
	}
	t, err := terms.New(terms.Options{Store: a.db, URL: a.cfg.Terms.URL, Version: a.cfg.Terms.Version, Clock: a.hooks.now})
	if err != nil {
		return nil, err
	}
	sh.terms = t
	return chatTerms{t}, nil
}

// evidence is the worker's dispute evidence setting, nil when off.
func (a *app) evidence() *checkout.Evidence {
	if !a.cfg.Stripe.SubmitDisputeEvidence || a.stripe == nil {
		return nil
	}
	version := a.cfg.Terms.Version
	if version == "" && a.cfg.Terms.URL != "" {
		version = "1"
	}
	return &checkout.Evidence{Stripe: a.stripe, TermsURL: a.cfg.Terms.URL, TermsVersion: version, Final: a.cfg.Stripe.DisputeEvidenceFinal}
}

// chatTerms gives the chat layer its own sentinel for a stale button.
type chatTerms struct{ *terms.Terms }

func (c chatTerms) Accept(ctx context.Context, who identity.Identity, token string) (string, error) {
	key, err := c.Terms.Accept(ctx, who, token)
	if errors.Is(err, terms.ErrStaleToken) {
		return "", commands.ErrTermsToken
	}
	return key, err
}
