package licensing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// IssueRequest describes one license to create.
type IssueRequest struct {
	ProductID string
	Owner     identity.Identity
	// OrderID links the license to a paid order. When set, Issue does not
	// write the license: the caller stores it together with the order with
	// store.AttachLicense, in one transaction.
	OrderID string
	// Label is the AuthForge label (at most 128 characters), the only way
	// to find a license again after a crash: fulfillment uses
	// "shopbot:<checkout session id>". Empty gets a random
	// "shopbot:<source>:<hex>" label.
	Label string
	// ExpiresAt is the license end; zero is a lifetime license.
	ExpiresAt time.Time
	// Reconcile looks for a license with Label before creating one, so a
	// retry after a timeout or crash does not create a second license.
	Reconcile bool
	// Source records where the license came from ("order", "grant", ...).
	Source string
}

// maxLabel is AuthForge's limit on label length.
const maxLabel = 128

// Issue creates (or, with Reconcile, finds) the AuthForge license for req
// and returns it as a store record with the product's HWID slots.
//
// With req.OrderID empty (admin grants) the license is also written with
// store.PutLicense. With an order the license is returned unwritten and the
// caller attaches it to the order with store.AttachLicense.
//
// AuthForge failures are returned wrapping both a licensing sentinel
// (ErrUnavailable, ErrNoCredits, ErrRateLimited) and the authforge error. A
// timeout or 5xx from CreateLicense means the license may exist: retry with
// Reconcile.
func (s *Service) Issue(ctx context.Context, req IssueRequest) (store.License, error) {
	p, ok := s.products[req.ProductID]
	if !ok {
		return store.License{}, fmt.Errorf("%w %q", ErrUnknownProduct, req.ProductID)
	}
	if err := req.Owner.Validate(); err != nil {
		return store.License{}, fmt.Errorf("licensing: issue: owner: %w", err)
	}
	if req.Source == "" {
		req.Source = "order"
	}
	if req.Label == "" {
		req.Label = "shopbot:" + req.Source + ":" + randomHex(8)
	}
	if len(req.Label) > maxLabel {
		return store.License{}, fmt.Errorf("%w: label longer than %d characters", ErrInvalidArgument, maxLabel)
	}
	remote, found, err := s.findByLabel(ctx, req)
	if err != nil {
		return store.License{}, err
	}
	if !found {
		params := authforge.CreateParams{MaxHWIDSlots: p.MaxHWIDSlots, Label: req.Label}
		if !req.ExpiresAt.IsZero() {
			t := req.ExpiresAt.UTC()
			params.ExpiresAt = &t
		}
		remote, err = s.af.CreateLicense(ctx, params)
		if err != nil {
			s.log.Warn("license not created", "product", p.ID, "label", req.Label, "err", err)
			return store.License{}, fmt.Errorf("licensing: create license: %w", s.authError(ctx, err, p.MaxHWIDSlots))
		}
		s.log.Info("license created", "product", p.ID, "key", authforge.MaskKey(remote.Key), "label", req.Label, "owner", req.Owner.String())
	}
	lic := s.licenseRecord(req, p.MaxHWIDSlots, remote)
	if req.OrderID == "" {
		if err := s.store.PutLicense(ctx, lic); err != nil {
			return store.License{}, fmt.Errorf("licensing: store license %s: %w", authforge.MaskKey(lic.Key), err)
		}
	}
	return lic, nil
}

// findByLabel looks for an earlier license of req when asked to reconcile.
func (s *Service) findByLabel(ctx context.Context, req IssueRequest) (authforge.License, bool, error) {
	if !req.Reconcile {
		return authforge.License{}, false, nil
	}
	remote, err := s.af.FindByLabel(ctx, req.Label)
	switch {
	case err == nil:
		s.log.Info("license reconciled by label", "key", authforge.MaskKey(remote.Key), "label", req.Label)
		return remote, true, nil
	case errors.Is(err, authforge.ErrNotFound):
		return authforge.License{}, false, nil
	default:
		return authforge.License{}, false, fmt.Errorf("licensing: find license by label: %w", s.authError(ctx, err, 0))
	}
}

// licenseRecord turns AuthForge's license into the store record, trusting
// AuthForge for what it reports and the request for the rest.
func (s *Service) licenseRecord(req IssueRequest, slots int, remote authforge.License) store.License {
	lic := store.License{
		Key:       remote.Key,
		ProductID: req.ProductID,
		Owner:     req.Owner,
		OrderID:   req.OrderID,
		Status:    store.LicenseActive,
		ExpiresAt: req.ExpiresAt,
		MaxSlots:  slots,
		Label:     req.Label,
		Source:    req.Source,
		CreatedAt: remote.CreatedAt,
	}
	if remote.ExpiresAt != nil {
		lic.ExpiresAt = *remote.ExpiresAt
	}
	if remote.MaxHWIDSlots > 0 {
		lic.MaxSlots = remote.MaxHWIDSlots
	}
	if remote.Status == "revoked" {
		lic.Status = store.LicenseRevoked
		lic.RevokedAt = s.now()
	}
	if lic.CreatedAt.IsZero() {
		lic.CreatedAt = s.now()
	}
	return lic
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	return hex.EncodeToString(b)
}
