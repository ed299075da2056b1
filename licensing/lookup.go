package licensing

import (
	"context"
	"errors"
	"fmt"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// Info is everything known about one license, for /lookup and /license.
type Info struct {
	License store.License
	Product config.Product
	// Holders are the identities that activated the key, with their
	// session data; SessionToken is blanked (it is a credential).
	Holders []store.Activation
	// Order is the paid order the license came from, if any.
	Order *store.Order
	// Remote is AuthForge's view of the license (Lookup and LookupIdentity
	// only); when it could not be read, RemoteError says why.
	Remote      *authforge.License
	RemoteError string
}

// Lookup describes key for an admin, including AuthForge's view of it.
func (s *Service) Lookup(ctx context.Context, rawKey string) (Info, error) {
	_, lic, err := s.resolve(ctx, rawKey)
	if err != nil {
		return Info{}, err
	}
	return s.info(ctx, lic, true)
}

// LookupIdentity describes, for an admin, every license who owns or has
// activated, newest first, including AuthForge's view of each.
func (s *Service) LookupIdentity(ctx context.Context, who identity.Identity) ([]Info, error) {
	return s.infos(ctx, who, true)
}

// Licenses lists the licenses who owns or has activated, newest first, from
// the store only: the buyer's /license.
func (s *Service) Licenses(ctx context.Context, who identity.Identity) ([]Info, error) {
	return s.infos(ctx, who, false)
}

func (s *Service) infos(ctx context.Context, who identity.Identity, remote bool) ([]Info, error) {
	if err := who.Validate(); err != nil {
		return nil, fmt.Errorf("licensing: %w", err)
	}
	lics, err := s.licensesOf(ctx, who)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(lics))
	for _, l := range lics {
		info, err := s.info(ctx, l, remote)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func (s *Service) info(ctx context.Context, lic store.License, remote bool) (Info, error) {
	info := Info{License: lic, Product: s.productOrStub(lic.ProductID)}
	holders, err := s.store.ActivationsForKey(ctx, lic.Key)
	if err != nil {
		return Info{}, fmt.Errorf("licensing: holders of %s: %w", authforge.MaskKey(lic.Key), err)
	}
	for i := range holders {
		holders[i].SessionToken = ""
	}
	info.Holders = holders
	if lic.OrderID != "" {
		o, err := s.store.GetOrder(ctx, lic.OrderID)
		switch {
		case err == nil:
			info.Order = &o
		case !errors.Is(err, store.ErrNotFound):
			return Info{}, fmt.Errorf("licensing: order of %s: %w", authforge.MaskKey(lic.Key), err)
		}
	}
	if remote {
		r, err := s.af.GetLicense(ctx, lic.Key)
		if err != nil {
			info.RemoteError = err.Error()
			s.log.Warn("AuthForge lookup failed", "key", authforge.MaskKey(lic.Key), "err", err)
		} else {
			info.Remote = &r
		}
	}
	return info, nil
}

// Stats are the figures behind /stats.
type Stats struct {
	ActiveLicenses  int
	RevokedLicenses int
	// Activations counts identity-key bindings; Holders distinct
	// identities; ActivationsByProduct splits Activations by product.
	Activations          int
	Holders              int
	ActivationsByProduct map[string]int
	// Validations and Heartbeats count successful AuthForge calls since
	// the store was created; CreditsEstimate is what they cost (1 credit
	// per validate, 1 per 10 heartbeats).
	Validations     int64
	Heartbeats      int64
	CreditsEstimate float64
}

// Stats counts licenses and activations and estimates credits spent.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	active, revoked, err := s.store.CountLicenses(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("licensing: count licenses: %w", err)
	}
	byProduct, holders, err := s.store.ActivationCounts(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("licensing: count activations: %w", err)
	}
	st := Stats{
		ActiveLicenses:       active,
		RevokedLicenses:      revoked,
		ActivationsByProduct: byProduct,
		Holders:              holders,
		Validations:          s.validations.Load(),
		Heartbeats:           s.heartbeats.Load(),
	}
	for _, n := range byProduct {
		st.Activations += n
	}
	st.CreditsEstimate = float64(st.Validations) + float64(st.Heartbeats)/10
	return st, nil
}
