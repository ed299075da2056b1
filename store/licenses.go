package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// LicenseStatus is a license's state as shopbot knows it.
type LicenseStatus string

const (
	LicenseActive  LicenseStatus = "active"
	LicenseRevoked LicenseStatus = "revoked"
)

// License is shopbot's copy of an AuthForge license.
type License struct {
	// Key is sealed at rest in an encrypted store.
	Key       string            `json:"key" rec:"1"`
	ProductID string            `json:"product_id" rec:"2"`
	Owner     identity.Identity `json:"owner,omitzero" rec:"3"`
	OrderID   string            `json:"order_id,omitempty" rec:"4"`
	Status    LicenseStatus     `json:"status" rec:"5"`
	// ExpiresAt zero means a lifetime license.
	ExpiresAt time.Time `json:"expires_at,omitzero" rec:"6"`
	MaxSlots  int       `json:"max_slots,omitempty" rec:"7"`
	Label     string    `json:"label,omitempty" rec:"8"`
	Source    string    `json:"source,omitempty" rec:"9"`
	CreatedAt time.Time `json:"created_at" rec:"10"`
	RevokedAt time.Time `json:"revoked_at,omitzero" rec:"11"`
}

// PutLicense stores l, replacing any record with the same key, so a retry
// after a crash writes the same result again.
func (db *DB) PutLicense(ctx context.Context, l License) error {
	if err := checkLicenseKey(l.Key); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error { return db.putLicenseTx(tx, l) })
}

func (db *DB) putLicenseTx(tx *bolt.Tx, l License) error {
	kid := db.crypt.kid(l.Key)
	old, exists, err := db.getLicenseTx(tx, l.Key)
	if err != nil && exists {
		return err
	}
	if l.Status == "" {
		l.Status = LicenseActive
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = db.now()
		if exists && !old.CreatedAt.IsZero() {
			l.CreatedAt = old.CreatedAt
		}
	}
	owners := bucket(tx, bucketLicensesOwner)
	if exists && old.Owner != l.Owner && !old.Owner.IsZero() {
		if err := owners.Delete(join([]byte(old.Owner.String()), kid)); err != nil {
			return err
		}
	}
	if !l.Owner.IsZero() {
		if err := l.Owner.Validate(); err != nil {
			return fmt.Errorf("store: license %s: owner: %w", mask(l.Key), err)
		}
		if err := owners.Put(join([]byte(l.Owner.String()), kid), nil); err != nil {
			return err
		}
	}
	rec := l
	rec.Key = db.crypt.seal(aadLicenseKey, l.Key)
	if err := putRecord(bucket(tx, bucketLicenses), kid, rec); err != nil {
		return err
	}
	if err := reindexDueTx(tx, kid, old, exists, l); err != nil {
		return err
	}
	was := ""
	if exists {
		was = licenseCounter(old.Status)
	}
	return moveCount(tx, was, licenseCounter(l.Status))
}

// GetLicense returns the license with that key.
func (db *DB) GetLicense(ctx context.Context, key string) (License, error) {
	var l License
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		l, _, err = db.getLicenseTx(tx, key)
		return err
	})
	return l, err
}

func (db *DB) getLicenseTx(tx *bolt.Tx, key string) (License, bool, error) {
	l, err := db.decodeLicense(bucket(tx, bucketLicenses).Get(db.crypt.kid(key)))
	if errors.Is(err, ErrNotFound) {
		return License{}, false, fmt.Errorf("store: license %s: %w", mask(key), ErrNotFound)
	}
	if err != nil {
		return License{}, true, fmt.Errorf("store: license %s: %w", mask(key), err)
	}
	return l, true, nil
}

func (db *DB) decodeLicense(raw []byte) (License, error) {
	if raw == nil {
		return License{}, ErrNotFound
	}
	var l License
	if err := decodeRecord(raw, &l); err != nil {
		return License{}, fmt.Errorf("decode: %w", err)
	}
	var err error
	if l.Key, err = db.crypt.open(aadLicenseKey, l.Key); err != nil {
		return License{}, err
	}
	return l, nil
}

// LicensesByOwner returns the licenses owned by who, oldest first.
func (db *DB) LicensesByOwner(ctx context.Context, who identity.Identity) ([]License, error) {
	var out []License
	if who.IsZero() {
		return nil, nil
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		prefix := join([]byte(who.String()), nil)
		lics := bucket(tx, bucketLicenses)
		return prefixScan(bucket(tx, bucketLicensesOwner), prefix, func(k, _ []byte) error {
			l, err := db.decodeLicense(lics.Get(k[len(prefix):]))
			if err != nil {
				return fmt.Errorf("store: license of %s: %w", who, err)
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortLicenses(out)
	return out, nil
}

// UpdateLicense changes the stored license with fn in one transaction. An
// error from fn aborts and is returned as is; fn may not change the key
// (it is the record's identity) and must not call the DB.
func (db *DB) UpdateLicense(ctx context.Context, key string, fn func(*License) error) (License, error) {
	var out License
	err := db.update(ctx, func(tx *bolt.Tx) error {
		l, _, err := db.getLicenseTx(tx, key)
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(&l); err != nil {
				return err
			}
		}
		if l.Key != key {
			return fmt.Errorf("store: license %s: UpdateLicense cannot change the key", mask(key))
		}
		if err := db.putLicenseTx(tx, l); err != nil {
			return err
		}
		out = l
		return nil
	})
	if err != nil {
		return License{}, err
	}
	return out, nil
}

// CountLicenses counts stored licenses by status (from counters).
func (db *DB) CountLicenses(ctx context.Context) (active, revoked int, err error) {
	err = db.view(ctx, func(tx *bolt.Tx) error {
		active, revoked = countLicensesTx(tx)
		return nil
	})
	return active, revoked, err
}

func countLicensesTx(tx *bolt.Tx) (active, revoked int) {
	return int(getCount(tx, licenseCounter(LicenseActive))), int(getCount(tx, licenseCounter(LicenseRevoked)))
}

// scanLicenseCountsTx counts from the records, reading only the status
// (no decryption): for the migration that builds the counters.
func scanLicenseCountsTx(tx *bolt.Tx) (active, revoked int, err error) {
	err = bucket(tx, bucketLicenses).ForEach(func(_, v []byte) error {
		var s struct {
			Status LicenseStatus `json:"status" rec:"5"`
		}
		if err := decodeRecord(v, &s); err != nil {
			return fmt.Errorf("store: decode license: %w", err)
		}
		switch s.Status {
		case LicenseRevoked:
			revoked++
		default:
			active++
		}
		return nil
	})
	return active, revoked, err
}

// ListLicenses returns every stored license, oldest first (for the sweeper
// and admin views; a shop holds thousands, not millions).
func (db *DB) ListLicenses(ctx context.Context) ([]License, error) {
	var out []License
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketLicenses).ForEach(func(_, v []byte) error {
			l, err := db.decodeLicense(v)
			if err != nil {
				return fmt.Errorf("store: license: %w", err)
			}
			out = append(out, l)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortLicenses(out)
	return out, nil
}

// sortLicenses orders by creation so results do not depend on the index
// order, which in an encrypted store is the order of HMACs.
func sortLicenses(ls []License) {
	slices.SortStableFunc(ls, func(a, b License) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
}
