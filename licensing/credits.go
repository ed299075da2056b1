package licensing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// AuthForge has no balance endpoint, so "credits running low" is worked
// out here: the seller states the balance they have (CreditsBalance), the
// shop remembers how many credits it had spent when that figure was first
// seen, and from then on the balance left is the stated one minus what the
// shop has spent since. Stating a new figure (after a top-up) starts over.
// The alert goes out once per stated balance, when what is left falls to
// LowCredits.

const (
	metaCreditsRef     = "licensing.credits_ref"     // "<balance> <spent then>"
	metaCreditsAlerted = "licensing.credits_alerted" // the balance alerted about
)

// creditsSpent is the estimate of credits spent since the store was made:
// one per validation, one per ten heartbeats.
func (s *Service) creditsSpent() float64 {
	return float64(s.validations.Load()) + float64(s.heartbeats.Load())/10
}

// loadCreditsRef reads, or records for a newly stated balance, the spending
// the stated balance counts from.
func (s *Service) loadCreditsRef(ctx context.Context) {
	if s.creditsBalance <= 0 {
		return
	}
	if raw, err := s.store.GetMeta(ctx, metaCreditsRef); err == nil {
		b, spent, ok := strings.Cut(raw, " ")
		if bal, err := strconv.ParseInt(b, 10, 64); ok && err == nil && bal == s.creditsBalance {
			if f, err := strconv.ParseFloat(spent, 64); err == nil {
				s.creditsRef = f
				return
			}
		}
	}
	s.creditsRef = s.creditsSpent()
	ref := fmt.Sprintf("%d %g", s.creditsBalance, s.creditsRef)
	if err := s.store.PutMeta(ctx, metaCreditsRef, ref); err != nil {
		s.log.Warn("credit balance reference not saved", "err", err)
	}
}

// CreditsLeft estimates the credits left of the stated balance; ok is false
// when no balance is configured.
func (s *Service) CreditsLeft() (left float64, ok bool) {
	if s.creditsBalance <= 0 {
		return 0, false
	}
	return float64(s.creditsBalance) - (s.creditsSpent() - s.creditsRef), true
}

// checkCredits alerts the admins, once per stated balance, when the
// estimate of what is left reaches the low mark. Called after each call
// that costs credits, with countersMu held.
func (s *Service) checkCredits(ctx context.Context) {
	left, ok := s.CreditsLeft()
	if !ok || left > float64(s.lowCredits) || s.creditsAlerted {
		return
	}
	s.creditsAlerted = true
	if err := s.store.PutMeta(ctx, metaCreditsAlerted, strconv.FormatInt(s.creditsBalance, 10)); err != nil {
		s.log.Warn("credit alert mark not saved", "err", err)
	}
	text := fmt.Sprintf("AuthForge credits are running low: about %.0f left of the %d stated in alerts.credits_balance. "+
		"Top up in the AuthForge dashboard, then set alerts.credits_balance to the new balance.", max(left, 0), s.creditsBalance)
	s.alertOnce(ctx, "credits-low", text)
}

// loadCreditsAlerted remembers across restarts that this balance was
// alerted about already.
func (s *Service) loadCreditsAlerted(ctx context.Context) {
	if s.creditsBalance <= 0 {
		return
	}
	raw, err := s.store.GetMeta(ctx, metaCreditsAlerted)
	s.creditsAlerted = err == nil && raw == strconv.FormatInt(s.creditsBalance, 10)
}
