package discord

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/bwmarrin/discordgo"
)

// maxSignatureAge is how old (or how far ahead) X-Signature-Timestamp may
// be; older requests are replays.
const maxSignatureAge = 5 * time.Minute

// InteractionsHandler serves POST /discord/interactions for http mode:
// the body is size-limited, the Ed25519 signature over timestamp+body is
// verified with the application's public key (401 otherwise, which is
// also what Discord's endpoint check expects), PING is answered PONG, and
// everything else gets its first response in the HTTP answer; a deferred
// interaction is completed in the background and Run waits for it on
// shutdown.
func (b *Bot) InteractionsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		if !b.verify(r.Header, body) {
			b.log.Warn("discord: interaction with a bad or stale signature refused", "remote", r.RemoteAddr)
			http.Error(w, "invalid request signature", http.StatusUnauthorized)
			return
		}
		var i discordgo.Interaction
		if err := json.Unmarshal(body, &i); err != nil {
			http.Error(w, "malformed interaction", http.StatusBadRequest)
			return
		}
		if i.Type == discordgo.InteractionPing {
			writeJSON(w, &discordgo.InteractionResponse{Type: discordgo.InteractionResponsePong})
			return
		}
		if !b.inflight.Enter() {
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), b.handlerTimeout)
		handedOff := false
		defer func() {
			if !handedOff {
				cancel()
				b.inflight.Exit()
			}
		}()
		p := b.respondHTTP(ctx, w, &i)
		if p.later == nil {
			p.ticket.Done()
			return
		}
		handedOff = true
		go func() {
			defer b.inflight.Exit()
			defer cancel()
			defer p.ticket.Done()
			defer b.catchPanic("interaction")
			b.finish(ctx, &i, p.later)
		}()
	})
}

// respondHTTP writes the first response into the HTTP answer.
func (b *Bot) respondHTTP(ctx context.Context, w http.ResponseWriter, i *discordgo.Interaction) plan {
	p := b.plan(ctx, i)
	if p.now == nil {
		// A bot or an interaction without a user: nothing to say, but
		// Discord still wants an answer.
		http.Error(w, "unsupported interaction", http.StatusBadRequest)
		return plan{}
	}
	writeJSON(w, p.now)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return p
}

// verify checks X-Signature-Ed25519 over X-Signature-Timestamp + body and
// that the timestamp is recent.
func (b *Bot) verify(h http.Header, body []byte) bool {
	sig, err := hex.DecodeString(h.Get("X-Signature-Ed25519"))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	ts := h.Get("X-Signature-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	age := b.now().Sub(time.Unix(sec, 0))
	if age > maxSignatureAge || age < -maxSignatureAge {
		return false
	}
	msg := make([]byte, 0, len(ts)+len(body))
	msg = append(msg, ts...)
	msg = append(msg, body...)
	return ed25519.Verify(b.pub, msg, sig)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}
