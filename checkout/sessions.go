package checkout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/internal/keylock"
	"github.com/shopbot/shopbot/store"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// SessionTTL is how long a Checkout session stays open: the 30 minutes the
// buyer is promised, plus a margin because Stripe refuses an expires_at
// less than 30 minutes after it creates the session, and request latency or
// a clock a little ahead of ours would otherwise cross that line.
const SessionTTL = 30*time.Minute + 2*time.Minute

// reuseMargin is the least time an open session must have left to be handed
// out again; a link that dies while the buyer types their card is no use.
const reuseMargin = 2 * time.Minute

// SessionsOptions configure NewSessions. Stripe and Store are required, and
// so are SuccessURL and CancelURL.
type SessionsOptions struct {
	// Stripe is a client whose backend points at Stripe (or stripe-mock);
	// see NewStripeClient.
	Stripe     *client.API
	Store      *store.DB
	Products   []config.Product
	SuccessURL string
	CancelURL  string
	// Clock defaults to time.Now.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Sessions opens Stripe Checkout sessions for buyers. It is safe for
// concurrent use.
type Sessions struct {
	stripe     *client.API
	store      *store.DB
	products   map[string]config.Product
	successURL string
	cancelURL  string
	now        func() time.Time
	log        *slog.Logger
	locks      keylock.Map // one buyer and product at a time
}

// NewSessions checks opts and builds a Sessions.
func NewSessions(opts SessionsOptions) (*Sessions, error) {
	switch {
	case opts.Stripe == nil:
		return nil, errors.New("checkout: SessionsOptions.Stripe is required")
	case opts.Store == nil:
		return nil, errors.New("checkout: SessionsOptions.Store is required")
	case opts.SuccessURL == "" || opts.CancelURL == "":
		return nil, errors.New("checkout: success and cancel URLs are required (stripe.success_url, stripe.cancel_url or server.public_url)")
	}
	products, err := productMap(opts.Products)
	if err != nil {
		return nil, err
	}
	s := &Sessions{
		stripe:     opts.Stripe,
		store:      opts.Store,
		products:   products,
		successURL: opts.SuccessURL,
		cancelURL:  opts.CancelURL,
		now:        opts.Clock,
		log:        opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Link returns the Checkout URL where who pays for productID. A session of
// the same buyer and product that is still open is returned again instead
// of opening a second one. A non-empty code is a Stripe promotion code the
// buyer typed: it is looked up and applied to a new session, or refused
// with ErrPromotionCode and no session opened. Errors match
// ErrUnknownProduct, ErrInvalidIdentity, ErrPromotionCode, ErrRateLimited
// or ErrStripe; the Stripe calls honour ctx's deadline.
//
// Sessions with a code are never reused nor offered for reuse: the open
// session record has no room for the code, and a plain /buy must not hand
// out a discounted page, nor /buy CODE a page without the discount. Such
// sessions are rare and each costs one Stripe call, which the chat's
// command budget already bounds.
func (s *Sessions) Link(ctx context.Context, who identity.Identity, productID, code string) (string, error) {
	p, ok := s.products[productID]
	if !ok {
		return "", fmt.Errorf("%w %q", ErrUnknownProduct, productID)
	}
	if err := who.Validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidIdentity, err)
	}
	unlock := s.locks.Lock(who.String() + "|" + p.ID)
	defer unlock()

	now := s.now()
	var promo string
	if code != "" {
		var err error
		if promo, err = s.promotionCode(ctx, code); err != nil {
			s.log.Info("promotion code refused", "identity", who.String(), "product", p.ID, "err", err)
			return "", err
		}
	} else {
		open, err := s.store.GetOpenSession(ctx, who, p.ID)
		switch {
		case err == nil && open.URL != "" && open.ExpiresAt.After(now.Add(reuseMargin)):
			s.log.Debug("checkout session reused", "identity", who.String(), "product", p.ID, "session", open.SessionID)
			return open.URL, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return "", fmt.Errorf("checkout: read open session: %w", err)
		}
	}

	expires := now.Add(SessionTTL).Truncate(time.Second)
	params := s.sessionParams(who, p, expires, promo)
	params.Context = ctx
	sess, err := s.stripe.CheckoutSessions.New(params)
	if err != nil {
		s.log.Warn("checkout session not created", "identity", who.String(), "product", p.ID, "promotion_code", promo, "err", err)
		if promo != "" && refusedDiscount(err) {
			return "", fmt.Errorf("%w: Stripe refused it for %s: %w", ErrPromotionCode, p.ID, err)
		}
		return "", stripeError("create checkout session", err)
	}
	if sess.URL == "" {
		return "", fmt.Errorf("%w: checkout session %s has no URL", ErrStripe, sess.ID)
	}
	if promo == "" {
		rec := store.OpenSession{Identity: who, ProductID: p.ID, SessionID: sess.ID, URL: sess.URL, ExpiresAt: expires}
		if err := s.store.PutOpenSession(ctx, rec); err != nil {
			// The link works; only its reuse is lost.
			s.log.Warn("open checkout session not stored", "session", sess.ID, "err", err)
		}
	}
	s.log.Info("checkout session created", "identity", who.String(), "product", p.ID, "session", sess.ID, "mode", p.Mode, "promotion_code", promo)
	return sess.URL, nil
}

// sessionParams builds the session of p for who. promo (promo_...) is
// applied as a discount; without it the page shows the code field when
// the product allows codes. Stripe refuses both at once.
func (s *Sessions) sessionParams(who identity.Identity, p config.Product, expires time.Time, promo string) *stripe.CheckoutSessionParams {
	meta := map[string]string{MetaProduct: p.ID, MetaIdentity: who.String()}
	mode := p.Mode
	if mode == "" {
		mode = config.ModePayment
	}
	params := &stripe.CheckoutSessionParams{
		Mode:              stripe.String(mode),
		ClientReferenceID: stripe.String(who.String()),
		LineItems: []*stripe.CheckoutSessionLineItemParams{
			{Price: stripe.String(p.PriceID), Quantity: stripe.Int64(1)},
		},
		Metadata:   meta,
		ExpiresAt:  stripe.Int64(expires.Unix()),
		SuccessURL: stripe.String(s.successURL),
		CancelURL:  stripe.String(s.cancelURL),
	}
	switch {
	case promo != "":
		params.Discounts = []*stripe.CheckoutSessionDiscountParams{{PromotionCode: stripe.String(promo)}}
	case p.AllowPromotionCodes:
		params.AllowPromotionCodes = stripe.Bool(true)
	}
	if mode == config.ModeSubscription {
		params.SubscriptionData = &stripe.CheckoutSessionSubscriptionDataParams{
			Metadata: map[string]string{MetaProduct: p.ID, MetaIdentity: who.String()},
		}
		if p.TrialDays > 0 {
			params.SubscriptionData.TrialPeriodDays = stripe.Int64(int64(p.TrialDays))
		}
	} else {
		// The payment intent carries the metadata too, so a refund or
		// dispute names its buyer even without the Checkout session.
		params.PaymentIntentData = &stripe.CheckoutSessionPaymentIntentDataParams{
			Metadata: map[string]string{MetaProduct: p.ID, MetaIdentity: who.String()},
		}
	}
	return params
}

func productMap(list []config.Product) (map[string]config.Product, error) {
	m := make(map[string]config.Product, len(list))
	for _, p := range list {
		if p.ID == "" {
			return nil, errors.New("checkout: product without id")
		}
		if _, dup := m[p.ID]; dup {
			return nil, fmt.Errorf("checkout: product %q configured twice", p.ID)
		}
		m[p.ID] = p
	}
	return m, nil
}
