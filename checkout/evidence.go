package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/notify"
	"github.com/shopbot/shopbot/store"
)

// Dispute evidence (issue 13.5): on charge.dispute.created shopbot sends
// Stripe what it knows about the sale: the product, when the service
// started, the buyer's acceptance of the terms and the access log. The
// evidence is gathered before the dispute revokes the license (revoking
// drops the activations it describes) and kept in the store, so a retry
// sends the same evidence and a sent one is not sent again.

// Stripe's limits on dispute evidence text: 20,000 characters a field and
// 150,000 for all fields together, counted in UTF-16 code units.
const (
	EvidenceFieldLimit = 20000
	EvidenceTotalLimit = 150000
)

// truncatedNote ends a field cut to fit Stripe's limit.
const truncatedNote = "\n[truncated by shopbot to fit Stripe's limit; the full log is in the seller's records]"

// Evidence configures dispute evidence; nil WorkerOptions.Evidence sends
// none (stripe.submit_dispute_evidence false).
type Evidence struct {
	Stripe *client.API
	// TermsURL and TermsVersion are [terms]; empty when none are asked.
	TermsURL     string
	TermsVersion string
	// Final submits the evidence to the bank (Stripe's submit=true, no
	// later edit); false stages it for the seller to review in the
	// Dashboard (stripe.dispute_evidence_final).
	Final bool
}

// EvidenceFields is what is sent: Stripe's evidence field name → text.
type EvidenceFields map[string]string

func evidenceKey(disputeID string) string     { return "dispute_evidence:" + disputeID }
func evidenceSentKey(disputeID string) string { return "dispute_evidence_sent:" + disputeID }

// gatherEvidence builds and stores the evidence of dispute d about order,
// unless a previous attempt already did.
func (w *Worker) gatherEvidence(ctx context.Context, disputeID string, order store.Order) error {
	if _, err := w.store.GetMeta(ctx, evidenceKey(disputeID)); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read evidence of dispute %s: %w", disputeID, err)
	}
	fields, err := w.buildEvidence(ctx, order)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("encode evidence of dispute %s: %w", disputeID, err)
	}
	if err := w.store.PutMeta(ctx, evidenceKey(disputeID), string(raw)); err != nil {
		return fmt.Errorf("keep evidence of dispute %s: %w", disputeID, err)
	}
	return nil
}

func (w *Worker) buildEvidence(ctx context.Context, order store.Order) (EvidenceFields, error) {
	p := w.products[order.ProductID]
	name := p.Name
	if name == "" {
		name = order.ProductID
	}
	desc := fmt.Sprintf("Digital software license %q (product %s), delivered as a license key in the buyer's chat (%s) right after payment.",
		name, order.ProductID, order.Identity)
	if p.Description != "" {
		desc += " " + p.Description
	}
	f := EvidenceFields{"product_description": desc}

	var acts []store.Activation
	var uses []store.AccessUse
	if order.LicenseKey != "" {
		var err error
		if acts, err = w.store.ActivationsForKey(ctx, order.LicenseKey); err != nil {
			return nil, fmt.Errorf("activations of order %s: %w", order.ID, err)
		}
		if uses, err = w.store.AccessUses(ctx, order.LicenseKey); err != nil {
			return nil, fmt.Errorf("access log of order %s: %w", order.ID, err)
		}
	}
	service := order.CreatedAt
	for _, a := range acts {
		if service.IsZero() || a.ActivatedAt.Before(service) {
			service = a.ActivatedAt
		}
	}
	if !service.IsZero() {
		f["service_date"] = service.UTC().Format("2006-01-02")
	}

	var log strings.Builder
	fmt.Fprintf(&log, "License %s for %s, issued for order %s on %s to chat account %s.\n",
		authforge.MaskKey(order.LicenseKey), name, order.ID, stamp(order.CreatedAt), order.Identity)
	if len(acts) == 0 {
		log.WriteString("No chat account holds an activation of it now.\n")
	}
	for _, a := range acts {
		fmt.Fprintf(&log, "Activated by chat account %s on %s.\n", a.Identity, stamp(a.ActivatedAt))
	}
	for _, u := range uses {
		fmt.Fprintf(&log, "Chat account %s used the members' commands %d times; last use %s.\n", u.Identity, u.Uses, stamp(u.LastUse))
	}
	if len(uses) == 0 {
		log.WriteString("No use of the members' commands was recorded.\n")
	}
	f["access_activity_log"] = log.String()

	if w.evidence.TermsURL != "" {
		var terms strings.Builder
		fmt.Fprintf(&terms, "Before a license key is activated the buyer must accept the terms of sale (%s, current version %s) with an \"I accept\" button in the chat; the key is not bound without it.\n",
			w.evidence.TermsURL, w.evidence.TermsVersion)
		seen := map[string]bool{}
		for _, who := range append([]store.Activation{{Identity: order.Identity}}, acts...) {
			if seen[who.Identity.String()] {
				continue
			}
			seen[who.Identity.String()] = true
			a, err := w.store.TermsAccepted(ctx, who.Identity)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return nil, fmt.Errorf("terms acceptance of %s: %w", who.Identity, err)
			}
			fmt.Fprintf(&terms, "Chat account %s accepted version %s of the terms (%s) on %s.\n", a.Identity, a.Version, a.URL, stamp(a.AcceptedAt))
		}
		f["refund_policy_disclosure"] = terms.String()
	}
	fitEvidence(f)
	return f, nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(unknown time)"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// utf16Len is the length Stripe counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// cut shortens s to at most limit UTF-16 units, ending on a line when it
// can, followed by truncatedNote.
func cut(s string, limit int) string {
	if utf16Len(s) <= limit {
		return s
	}
	budget := limit - utf16Len(truncatedNote)
	n, end := 0, 0
	for i, r := range s {
		if n+utf16.RuneLen(r) > budget {
			break
		}
		n += utf16.RuneLen(r)
		end = i + len(string(r))
	}
	kept := s[:end]
	if nl := strings.LastIndexByte(kept, '\n'); nl > 0 {
		kept = kept[:nl]
	}
	return kept + truncatedNote
}

// fitEvidence keeps every field within EvidenceFieldLimit and all of them
// within EvidenceTotalLimit, cutting the access log first (the longest),
// then the other fields in name order.
func fitEvidence(f EvidenceFields) {
	total := 0
	names := make([]string, 0, len(f))
	for k, v := range f {
		f[k] = cut(v, EvidenceFieldLimit)
		total += utf16Len(f[k])
		if k != "access_activity_log" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range append([]string{"access_activity_log"}, names...) {
		over := total - EvidenceTotalLimit
		if over <= 0 {
			return
		}
		v, ok := f[k]
		if !ok {
			continue
		}
		n := utf16Len(v)
		f[k] = cut(v, max(n-over, utf16Len(truncatedNote)))
		total += utf16Len(f[k]) - n
	}
}

// sendEvidence submits the stored evidence of disputeID once.
func (w *Worker) sendEvidence(ctx context.Context, disputeID string) error {
	if _, err := w.store.GetMeta(ctx, evidenceSentKey(disputeID)); err == nil {
		return nil
	}
	raw, err := w.store.GetMeta(ctx, evidenceKey(disputeID))
	if errors.Is(err, store.ErrNotFound) {
		return nil // no order: nothing to tell Stripe
	}
	if err != nil {
		return fmt.Errorf("read evidence of dispute %s: %w", disputeID, err)
	}
	var f EvidenceFields
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return fmt.Errorf("decode evidence of dispute %s: %w", disputeID, err)
	}
	ev := &stripe.DisputeEvidenceParams{}
	set := map[string]**string{
		"product_description":      &ev.ProductDescription,
		"service_date":             &ev.ServiceDate,
		"access_activity_log":      &ev.AccessActivityLog,
		"refund_policy_disclosure": &ev.RefundPolicyDisclosure,
	}
	for k, v := range f {
		if dst, ok := set[k]; ok && v != "" {
			*dst = stripe.String(v)
		}
	}
	// Stripe submits when submit is omitted: always say which.
	params := &stripe.DisputeParams{Evidence: ev, Submit: stripe.Bool(w.evidence.Final)}
	params.Context = ctx
	if _, err := w.evidence.Stripe.Disputes.Update(disputeID, params); err != nil {
		// A refusal (the dispute closed, evidence already submitted, a
		// field Stripe rejects) is the same on every retry: fail the event
		// now, with the reason, so the admins see it in /failed.
		var se *stripe.Error
		if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 && se.HTTPStatusCode != http.StatusTooManyRequests {
			return permanent("Stripe refused the evidence for dispute %s (HTTP %d: %s); add it in the Stripe Dashboard", disputeID, se.HTTPStatusCode, se.Msg)
		}
		return stripeError("dispute evidence "+disputeID, err)
	}
	if err := w.store.PutMeta(ctx, evidenceSentKey(disputeID), w.now().UTC().Format(time.RFC3339)); err != nil {
		return fmt.Errorf("record evidence of dispute %s sent: %w", disputeID, err)
	}
	how := "staged on the dispute for you to review and submit in the Stripe Dashboard"
	if w.evidence.Final {
		how = "submitted to the bank"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Dispute %s: evidence %s.", disputeID, how)
	for _, k := range []string{"product_description", "service_date", "refund_policy_disclosure", "access_activity_log"} {
		if v := f[k]; v != "" {
			fmt.Fprintf(&b, "\n%s: %s", k, cut(v, 500))
		}
	}
	w.alert(ctx, notify.KindDispute, b.String())
	return nil
}
