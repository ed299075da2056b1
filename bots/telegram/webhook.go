package telegram

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/go-telegram/bot/models"
)

// secretHeader carries the secret_token given to setWebhook on every
// delivery; it is how the handler knows a request comes from Telegram.
const secretHeader = "X-Telegram-Bot-Api-Secret-Token"

// WebhookHandler receives updates in webhook mode; mount it at
// WebhookPath. Unlike the library's handler it rejects a wrong secret
// with 401 (compared in constant time), limits the body, and handles the
// update before answering: Telegram redelivers anything not answered
// 2xx, so a crash mid-update loses no command. The reply itself is queued
// in the outbox and may go out just after the answer (a crash in between
// loses that chat reply, never a payment or a key delivery, which the
// worker retries). A payment Payments could not store is answered 500,
// so Telegram delivers it again. During shutdown it answers 503 and
// Telegram retries later.
func (b *Bot) WebhookHandler() http.Handler {
	// Hashing first makes the comparison constant-time in the length too.
	want := sha256.Sum256([]byte(b.secret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		got := sha256.Sum256([]byte(r.Header.Get(secretHeader)))
		if b.secret == "" || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			b.log.Warn("telegram webhook: wrong secret token", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var upd models.Update
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, b.maxBody)).Decode(&upd); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			// Answering 400 drops the update at Telegram; retrying a body
			// we cannot read would never succeed.
			b.log.Warn("telegram webhook: unreadable update", "err", err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if !b.inflight.Enter() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer b.inflight.Exit()
		if err := b.process(r.Context(), &upd, false); err != nil {
			// Not stored: Telegram delivers it again after a 5xx.
			b.log.Error("telegram webhook: payment not stored; asking Telegram to deliver it again", "update_id", upd.ID, "err", err)
			http.Error(w, "payment not stored", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
}
