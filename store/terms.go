package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// Terms acceptances and the access log are the seller's evidence in a
// dispute: who accepted which terms when, and how often they used what
// they bought. Both buckets are new without a schema bump (Open creates
// missing buckets).

// TermsAcceptance is one identity's acceptance of the shop's terms.
type TermsAcceptance struct {
	Identity   identity.Identity `json:"identity"`
	Version    string            `json:"version"`
	URL        string            `json:"url"`
	AcceptedAt time.Time         `json:"accepted_at"`
}

// AccessUse is the gated use of one license by one identity.
type AccessUse struct {
	Identity identity.Identity `json:"identity"`
	Uses     int64             `json:"uses"`
	LastUse  time.Time         `json:"last_use"`
}

// AccessCount is a batch entry for AddAccessUses.
type AccessCount struct {
	Identity identity.Identity
	Key      string
	Uses     int64
	LastUse  time.Time
}

// AcceptTerms records who's acceptance, replacing an older one.
func (db *DB) AcceptTerms(ctx context.Context, a TermsAcceptance) error {
	if err := a.Identity.Validate(); err != nil {
		return fmt.Errorf("store: accept terms: %w", err)
	}
	if a.Version == "" {
		return errors.New("store: accept terms: empty version")
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(bucket(tx, bucketTerms), []byte(a.Identity.String()), a)
	})
}

// TermsAccepted is who's latest acceptance, or ErrNotFound.
func (db *DB) TermsAccepted(ctx context.Context, who identity.Identity) (TermsAcceptance, error) {
	var a TermsAcceptance
	err := db.view(ctx, func(tx *bolt.Tx) error {
		raw := bucket(tx, bucketTerms).Get([]byte(who.String()))
		if raw == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("store: terms acceptance of %s: %w", who, err)
		}
		return nil
	})
	return a, err
}

// accessKey indexes by the key's lookup id, so an encrypted store keeps no
// license key in clear here either.
func (db *DB) accessKey(who identity.Identity, key string) []byte {
	return join(db.crypt.kid(key), []byte(who.String()))
}

// AddAccessUses adds a batch of counted uses in one transaction; the gate
// counts in memory and flushes here, never one write per command.
func (db *DB) AddAccessUses(ctx context.Context, batch []AccessCount) error {
	for _, c := range batch {
		if err := checkActivation(c.Identity, c.Key); err != nil {
			return err
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketAccessLog)
		for _, c := range batch {
			k := db.accessKey(c.Identity, c.Key)
			u := AccessUse{Identity: c.Identity}
			if raw := b.Get(k); raw != nil {
				if err := json.Unmarshal(raw, &u); err != nil {
					return fmt.Errorf("store: access log of %s: %w", c.Identity, err)
				}
			}
			u.Uses += c.Uses
			if c.LastUse.After(u.LastUse) {
				u.LastUse = c.LastUse
			}
			if err := putJSON(b, k, u); err != nil {
				return err
			}
		}
		return nil
	})
}

// AccessUses is every identity's use of key, in identity order.
func (db *DB) AccessUses(ctx context.Context, key string) ([]AccessUse, error) {
	if err := checkLicenseKey(key); err != nil {
		return nil, err
	}
	var out []AccessUse
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return prefixScan(bucket(tx, bucketAccessLog), join(db.crypt.kid(key), nil), func(_, v []byte) error {
			var u AccessUse
			if err := json.Unmarshal(v, &u); err != nil {
				return fmt.Errorf("store: access log: %w", err)
			}
			out = append(out, u)
			return nil
		})
	})
	return out, err
}
