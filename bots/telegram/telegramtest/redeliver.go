package telegramtest

import "fmt"

// RedeliverPayment sends the successful_payment message of chargeID to
// the bot again under a new update id, as Telegram does with an update
// whose delivery it did not see confirmed (a crash before the offset
// moved on, a lost webhook answer). The charge is not made again: the
// shop must not give a second license for it.
func (s *Server) RedeliverPayment(chargeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.messages {
		if m.SuccessfulPayment == nil || m.SuccessfulPayment.TelegramPaymentChargeID != chargeID {
			continue
		}
		msg := m.Message
		s.nextUpdate++
		s.queueLocked(Update{UpdateID: s.nextUpdate, Message: &msg})
		return nil
	}
	return fmt.Errorf("telegramtest: no successful_payment with charge %q", chargeID)
}
