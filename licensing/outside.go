package licensing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// SourceImport is the store.License Source of a key made outside shopbot
// and imported on its first activation.
const SourceImport = "import"

// outsideLicense looks up a key shopbot did not issue with the Developer API
// (which costs no validate credit) and returns the license it would import:
// owned by who, as the first product whose outside_key_labels match the
// key's AuthForge label. Nothing is stored here; importLicense does that
// once validate succeeded. The caller holds the key's lock and has already
// counted the attempt against who's activation limit, so a guesser gets no
// more lookups than activation attempts.
//
// A key AuthForge does not know, or one of another app (AuthForge answers
// 404 or 403 for those; a 200 naming another appId is refused too), is
// ErrUnknownKey, as with accept_outside_keys off. A revoked or expired key is
// ErrRevoked or ErrExpired; a label no product matches is
// ErrNoOutsideProduct.
func (s *Service) outsideLicense(ctx context.Context, who identity.Identity, key string, now time.Time) (store.License, error) {
	masked := authforge.MaskKey(key)
	al, err := s.af.GetLicense(ctx, key)
	if err != nil {
		var apiErr *authforge.APIError
		if errors.Is(err, authforge.ErrNotFound) || (errors.As(err, &apiErr) && apiErr.Status == http.StatusForbidden) {
			s.log.Info("outside key refused: not a key of this app", "identity", who.String(), "key", masked, "err", err)
			return store.License{}, ErrUnknownKey
		}
		// 401 (a wrong api_key), 429 and 5xx: the seller's problem or a
		// passing one, never the buyer's key.
		mapped := s.authError(ctx, err, 0)
		s.log.Warn("outside key not looked up", "identity", who.String(), "key", masked, "err", err)
		return store.License{}, mapped
	}
	if al.AppID != s.af.AppID() || (al.Key != "" && al.Key != key) {
		s.log.Warn("outside key refused: AuthForge reports another app", "identity", who.String(), "key", masked, "app", al.AppID)
		return store.License{}, ErrUnknownKey
	}
	switch {
	case al.Status == "revoked":
		s.log.Info("outside key refused: revoked", "identity", who.String(), "key", masked)
		return store.License{}, ErrRevoked
	case al.Status != "active":
		s.log.Warn("outside key refused: unknown status", "identity", who.String(), "key", masked, "status", al.Status)
		return store.License{}, fmt.Errorf("%w: AuthForge reports status %q", ErrInvalidKey, al.Status)
	case al.ExpiresAt != nil && !now.Before(*al.ExpiresAt):
		s.log.Info("outside key refused: expired", "identity", who.String(), "key", masked)
		return store.License{}, ErrExpired
	}
	p, ok := s.outsideProduct(al.Label)
	if !ok {
		s.log.Info("outside key refused: label matches no product", "identity", who.String(), "key", masked, "label", al.Label)
		return store.License{}, fmt.Errorf("%w: label %q", ErrNoOutsideProduct, al.Label)
	}
	lic := store.License{
		Key:       key,
		ProductID: p.ID,
		Owner:     who, // not bought here: the one who brings it owns it (no OrderID)
		Status:    store.LicenseActive,
		MaxSlots:  al.MaxHWIDSlots,
		Label:     al.Label,
		Source:    SourceImport,
		CreatedAt: now,
	}
	if al.ExpiresAt != nil {
		lic.ExpiresAt = al.ExpiresAt.UTC()
	}
	return lic, nil
}

// outsideProduct is the first product, in config order, with a pattern
// matching label. Overlapping patterns are allowed (config check cannot
// decide overlap of globs cheaply), so order is the documented tie-break.
func (s *Service) outsideProduct(label string) (config.Product, bool) {
	for _, p := range s.outside {
		for _, pat := range p.OutsideKeyLabels {
			// Patterns were checked by config; a bad one simply never matches.
			if ok, err := path.Match(pat, label); err == nil && ok {
				return p, true
			}
		}
	}
	return config.Product{}, false
}

// importLicense stores an outside key found by outsideLicense, after its
// validate verified, and audits the import.
func (s *Service) importLicense(ctx context.Context, who identity.Identity, lic store.License) error {
	if err := s.store.PutLicense(ctx, lic); err != nil {
		return fmt.Errorf("licensing: activate: import outside key: %w", err)
	}
	s.audit(ctx, who.String(), "import", authforge.MaskKey(lic.Key),
		fmt.Sprintf("outside key with label %q imported as %s for %s", lic.Label, lic.ProductID, who))
	s.log.Info("outside key imported", "identity", who.String(), "key", authforge.MaskKey(lic.Key), "product", lic.ProductID)
	return nil
}
