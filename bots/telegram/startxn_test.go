package telegram

import (
	"encoding/json"
	"testing"
)

// FuzzStarTransaction feeds hostile getStarTransactions entries to the
// decoder: it must not panic, and only an invoice payment with a user
// (or its refund) may name a user.
func FuzzStarTransaction(f *testing.F) {
	f.Add(`{"id":"c1","amount":5,"date":1,"source":{"type":"user","transaction_type":"invoice_payment","user":{"id":7},"invoice_payload":"p","subscription_period":2592000}}`)
	f.Add(`{"id":"c1","amount":5,"date":1,"receiver":{"type":"user","transaction_type":"invoice_payment","user":{"id":7}}}`)
	f.Add(`{"id":"w","amount":5,"date":1,"receiver":{"type":"fragment","withdrawal_state":{"type":"pending"}}}`)
	f.Add(`{"id":"g","amount":5,"date":1,"receiver":{"type":"user","transaction_type":"gift_purchase","user":{"id":7}}}`)
	f.Add(`{"source":{"type":"user"},"receiver":null}`)
	f.Add(`{"source":{"type":"chat","user":{"id":7},"invoice_payload":"x"}}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var w wireStarTransaction
		if json.Unmarshal([]byte(raw), &w) != nil {
			return
		}
		got := w.transaction()
		if got.UserID == 0 {
			if got.Refund || got.Payload != "" || got.SubscriptionPeriod != 0 {
				t.Fatalf("%s: no user but %+v", raw, got)
			}
			return
		}
		p := w.Source
		if got.Refund {
			p = w.Receiver
		}
		if p == nil || p.Type != "user" || p.User == nil || p.User.ID != got.UserID ||
			p.TransactionType != "" && p.TransactionType != "invoice_payment" {
			t.Fatalf("%s: user %d from partner %+v", raw, got.UserID, p)
		}
	})
}
