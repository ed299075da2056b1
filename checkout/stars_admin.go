package checkout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/store"
)

// Refunds, cancellations and recovery of the Stars rail.

// Errors of Refund and CancelSubscription, for the chat's answers.
var (
	// ErrNotStars: the order was paid with Stripe (refund it there).
	ErrNotStars = errors.New("checkout: order not paid with Telegram Stars")
	// ErrNotStarsSubscription: nothing to cancel.
	ErrNotStarsSubscription = errors.New("checkout: not a Star subscription")
	// ErrAlreadyRefunded: Telegram says the charge was refunded before
	// (StarsAPI.RefundStarPayment wraps it then).
	ErrAlreadyRefunded = errors.New("checkout: payment already refunded")
)

// Refund gives a Stars order's latest payment back (refundStarPayment)
// and stores the refund as an event, so the worker revokes the license
// whether or not Telegram's refunded_payment update arrives. A charge
// Telegram already refunded is still revoked, and reported as
// ErrAlreadyRefunded.
func (s *Stars) Refund(ctx context.Context, order store.Order) error {
	if order.OrderRail() != store.RailStars {
		return fmt.Errorf("%w: order %s", ErrNotStars, order.ID)
	}
	charge := orString(order.LastChargeID, order.ChargeID)
	uid, err := strconv.ParseInt(order.Identity.ID, 10, 64)
	if err != nil || charge == "" || order.Identity.Platform != identity.Telegram {
		return fmt.Errorf("checkout: order %s has no Telegram charge to refund", order.ID)
	}
	apiErr := s.api.RefundStarPayment(ctx, uid, charge)
	already := errors.Is(apiErr, ErrAlreadyRefunded)
	if apiErr != nil && !already {
		return fmt.Errorf("checkout: refund Stars charge of order %s: %w", order.ID, apiErr)
	}
	refund := StarsPayment{UserID: uid, Currency: CurrencyStars, TotalAmount: int(order.Amount),
		Payload: s.payloadOf(order, uid), ChargeID: charge, Date: s.now().UTC()}
	if err := s.store1(ctx, refund, EventStarsRefunded, SourceTelegram); err != nil {
		return err
	}
	if already {
		return fmt.Errorf("%w: order %s (its license is revoked now)", ErrAlreadyRefunded, order.ID)
	}
	return nil
}

// RefundCharge gives one Stars charge back; a charge refunded before is
// reported as ErrAlreadyRefunded.
func (s *Stars) RefundCharge(ctx context.Context, userID int64, chargeID string) error {
	return s.api.RefundStarPayment(ctx, userID, chargeID)
}

// CancelCharge cancels the Star subscription chargeID belongs to; a
// subscription canceled before is canceled again without error.
func (s *Stars) CancelCharge(ctx context.Context, userID int64, chargeID string) error {
	if err := s.api.EditStarSubscription(ctx, userID, chargeID, true); err != nil {
		return fmt.Errorf("checkout: cancel Star subscription of charge %s: %w", chargeID, err)
	}
	return nil
}

// payloadOf rebuilds the payload an order's invoice had, so the refund
// event finds its order like Telegram's own update would.
func (s *Stars) payloadOf(o store.Order, uid int64) string {
	nonce, ok := strings.CutPrefix(o.ID, "stars_")
	if !ok {
		return ""
	}
	return starsPayload{Product: o.ProductID, UserID: uid, Nonce: nonce}.String()
}

// CancelSubscription stops a Star subscription from renewing
// (editUserStarSubscription); its license runs to the end of the paid
// period. Canceling twice is not an error.
func (s *Stars) CancelSubscription(ctx context.Context, order store.Order) (store.Order, error) {
	if order.OrderRail() != store.RailStars || order.Mode != config.ModeSubscription || order.ChargeID == "" {
		return order, fmt.Errorf("%w: order %s", ErrNotStarsSubscription, order.ID)
	}
	if order.Canceled || order.Ended {
		return order, nil
	}
	uid, err := strconv.ParseInt(order.Identity.ID, 10, 64)
	if err != nil {
		return order, fmt.Errorf("checkout: order %s: %w", order.ID, err)
	}
	if err := s.api.EditStarSubscription(ctx, uid, order.ChargeID, true); err != nil {
		return order, fmt.Errorf("checkout: cancel Star subscription of order %s: %w", order.ID, err)
	}
	out, err := s.store.UpsertOrder(ctx, order.ID, func(o *store.Order, _ bool) error {
		o.Canceled = true
		return nil
	})
	if err != nil {
		return order, fmt.Errorf("checkout: record cancellation of order %s: %w", order.ID, err)
	}
	s.log.Info("star subscription canceled", "order", order.ID, "identity", order.Identity.String())
	return out, nil
}

// catchUpOffset is the store meta key of how many star transactions have
// been read: the history only grows, in order, so each pass starts there.
const catchUpOffset = "stars_transactions_read"

// Pages of getStarTransactions read per CatchUp call at most (100 each).
const (
	starsPage         = 100
	starsPagesPerPass = 50
)

// CatchUp stores the Stars payments and refunds Telegram's history has
// that no update brought (shopbot down longer than Telegram keeps
// updates, or a crash between taking an update and storing it). Events
// keep the ids the updates would have had, so nothing is handled twice.
// It reads only transactions it has not read before, at most
// starsPagesPerPass pages a call, and returns how many events it stored.
func (s *Stars) CatchUp(ctx context.Context) (int, error) {
	raw, err := s.store.GetMeta(ctx, catchUpOffset)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("checkout: stars catch-up offset: %w", err)
	}
	offset, _ := strconv.Atoi(raw)
	stored := 0
	for page := 0; page < starsPagesPerPass; page++ {
		txs, err := s.api.StarTransactions(ctx, offset, starsPage)
		if err != nil {
			return stored, fmt.Errorf("checkout: getStarTransactions at %d: %w", offset, err)
		}
		for _, tx := range txs {
			ok, err := s.recover1(ctx, tx)
			if err != nil {
				return stored, err
			}
			if ok {
				stored++
			}
		}
		offset += len(txs)
		if err := s.store.PutMeta(ctx, catchUpOffset, strconv.Itoa(offset)); err != nil {
			return stored, fmt.Errorf("checkout: stars catch-up offset: %w", err)
		}
		if len(txs) < starsPage {
			break
		}
	}
	if stored > 0 {
		s.log.Warn("stars payments recovered from getStarTransactions", "events", stored)
	}
	return stored, nil
}

// recover1 stores one transaction as the event its update would have
// been; transactions that are not shopbot's invoices are skipped.
func (s *Stars) recover1(ctx context.Context, tx StarTransaction) (bool, error) {
	if tx.UserID == 0 || tx.ID == "" {
		return false, nil
	}
	if _, err := parseStarsPayload(tx.Payload); err != nil && !tx.Refund {
		return false, nil
	}
	p := StarsPayment{UserID: tx.UserID, Currency: CurrencyStars, TotalAmount: tx.Amount,
		Payload: tx.Payload, ChargeID: tx.ID, Date: tx.Date}
	typ := EventStarsPaid
	if tx.Refund {
		typ = EventStarsRefunded
	} else if tx.SubscriptionPeriod > 0 {
		p.IsRecurring = true
		p.SubscriptionExpiration = tx.Date.Add(tx.SubscriptionPeriod)
	}
	_, known := s.store.GetEvent(ctx, starsEventID(typ, tx.ID))
	if known == nil {
		return false, nil
	}
	if !errors.Is(known, store.ErrNotFound) {
		return false, fmt.Errorf("checkout: read event of charge %s: %w", tx.ID, known)
	}
	if err := s.store1(ctx, p, typ, SourceStarsCatchUp); err != nil {
		return false, err
	}
	return true, nil
}

// RunCatchUp calls CatchUp now and then every interval until ctx ends.
func (s *Stars) RunCatchUp(ctx context.Context, interval time.Duration) {
	for {
		if _, err := s.CatchUp(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("stars catch-up failed; trying again later", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
