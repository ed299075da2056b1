package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// Activation binds a license key to a chat identity (one AuthForge HWID
// slot) and keeps the last verified AuthForge session, which lets the gate
// answer without a network call while it is unexpired.
type Activation struct {
	Identity  identity.Identity `json:"identity" rec:"1"`
	Key       string            `json:"key" rec:"2"`
	ProductID string            `json:"product_id" rec:"3"`
	// SessionToken and Payload (whose JSON carries the token) are sealed at
	// rest in an encrypted store; so is Key.
	SessionToken     string    `json:"session_token,omitempty" rec:"4"`
	SessionExpiresAt time.Time `json:"session_expires_at,omitzero" rec:"5"`
	Payload          string    `json:"payload,omitempty" rec:"6"`
	Signature        string    `json:"signature,omitempty" rec:"7"`
	KeyID            string    `json:"key_id,omitempty" rec:"8"`
	LicenseExpiresAt time.Time `json:"license_expires_at,omitzero" rec:"9"`
	HWIDCount        int       `json:"hwid_count,omitempty" rec:"10"`
	MaxSlots         int       `json:"max_slots,omitempty" rec:"11"`
	ActivatedAt      time.Time `json:"activated_at" rec:"12"`
	RefreshedAt      time.Time `json:"refreshed_at,omitzero" rec:"13"`
}

// forEachPage is how many activations ForEachActivation reads per
// transaction.
const forEachPage = 256

func activationKey(who identity.Identity, kid []byte) []byte {
	return join([]byte(who.String()), kid)
}

func checkActivation(who identity.Identity, key string) error {
	if err := who.Validate(); err != nil {
		return fmt.Errorf("store: activation of %s: %w", mask(key), err)
	}
	return checkLicenseKey(key)
}

// PutActivation stores a, replacing the activation of the same identity
// and key.
func (db *DB) PutActivation(ctx context.Context, a Activation) error {
	if err := checkActivation(a.Identity, a.Key); err != nil {
		return err
	}
	kid := db.crypt.kid(a.Key)
	rec := packSession(a)
	rec.Key = db.crypt.seal(aadActKey, a.Key)
	rec.SessionToken = db.crypt.seal(aadActToken, rec.SessionToken)
	rec.Payload = db.crypt.seal(aadActPayload, rec.Payload)
	return db.update(ctx, func(tx *bolt.Tx) error {
		acts := bucket(tx, bucketActivations)
		k := activationKey(a.Identity, kid)
		old := acts.Get(k)
		was, err := activationProduct(old)
		if err != nil {
			return err
		}
		if err := reindexRefreshTx(tx, k, old, refreshedAt(a), false); err != nil {
			return err
		}
		if was == "" && !hasActivations(acts, a.Identity) {
			if err := addCount(tx, holdersCounter, 1); err != nil {
				return err
			}
		}
		if err := putRecord(acts, k, rec); err != nil {
			return err
		}
		if err := moveCount(tx, activationCounterOf(was), activationPrefix+a.ProductID); err != nil {
			return err
		}
		return bucket(tx, bucketActivationsKey).Put(join(kid, []byte(a.Identity.String())), nil)
	})
}

// activationProduct reads the product of a stored activation record
// (never sealed); "" when raw is nil.
func activationProduct(raw []byte) (string, error) {
	if raw == nil {
		return "", nil
	}
	var p struct {
		ProductID string `json:"product_id" rec:"3"`
	}
	if err := decodeRecord(raw, &p); err != nil {
		return "", fmt.Errorf("store: decode activation: %w", err)
	}
	// A record always counts somewhere, even one without a product.
	if p.ProductID == "" {
		p.ProductID = "-"
	}
	return p.ProductID, nil
}

func activationCounterOf(product string) string {
	if product == "" {
		return ""
	}
	return activationPrefix + product
}

// hasActivations reports whether who holds any activation: one seek.
func hasActivations(acts *bolt.Bucket, who identity.Identity) bool {
	prefix := join([]byte(who.String()), nil)
	k, _ := acts.Cursor().Seek(prefix)
	return k != nil && bytes.HasPrefix(k, prefix)
}

// ActivationCounts is the number of activations by product and of
// identities holding at least one, from counters kept with the records.
func (db *DB) ActivationCounts(ctx context.Context) (byProduct map[string]int, holders int, err error) {
	err = db.view(ctx, func(tx *bolt.Tx) error {
		byProduct, holders = activationCountsTx(tx)
		return nil
	})
	return byProduct, holders, err
}

func activationCountsTx(tx *bolt.Tx) (map[string]int, int) {
	out := map[string]int{}
	c := bucket(tx, bucketCounters).Cursor()
	prefix := []byte(activationPrefix)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if n := getCount(tx, string(k)); n != 0 {
			out[string(k[len(prefix):])] = int(n)
		}
	}
	return out, int(getCount(tx, holdersCounter))
}

func (db *DB) decodeActivation(raw []byte) (Activation, error) {
	var a Activation
	if err := decodeRecord(raw, &a); err != nil {
		return Activation{}, fmt.Errorf("store: decode activation: %w", err)
	}
	var err error
	if a.Key, err = db.crypt.open(aadActKey, a.Key); err != nil {
		return Activation{}, fmt.Errorf("store: activation of %s: %w", a.Identity, err)
	}
	if a.SessionToken, err = db.crypt.open(aadActToken, a.SessionToken); err != nil {
		return Activation{}, fmt.Errorf("store: activation %s/%s: %w", a.Identity, mask(a.Key), err)
	}
	if a.Payload, err = db.crypt.open(aadActPayload, a.Payload); err != nil {
		return Activation{}, fmt.Errorf("store: activation %s/%s: %w", a.Identity, mask(a.Key), err)
	}
	unpackSession(&a)
	return a, nil
}

// ActivationsFor returns who's activations, oldest first; none is not an
// error.
func (db *DB) ActivationsFor(ctx context.Context, who identity.Identity) ([]Activation, error) {
	if who.IsZero() {
		return nil, nil
	}
	return db.readActivations(ctx, func(tx *bolt.Tx, add func(raw []byte) error) error {
		return prefixScan(bucket(tx, bucketActivations), join([]byte(who.String()), nil), func(_, v []byte) error {
			return add(v)
		})
	})
}

// ActivationsForKey returns every identity's activation of key, oldest
// first; none is not an error.
func (db *DB) ActivationsForKey(ctx context.Context, key string) ([]Activation, error) {
	if err := checkLicenseKey(key); err != nil {
		return nil, err
	}
	kid := db.crypt.kid(key)
	prefix := join(kid, nil)
	return db.readActivations(ctx, func(tx *bolt.Tx, add func(raw []byte) error) error {
		acts := bucket(tx, bucketActivations)
		return prefixScan(bucket(tx, bucketActivationsKey), prefix, func(k, _ []byte) error {
			raw := acts.Get(join(k[len(prefix):], kid))
			if raw == nil {
				return fmt.Errorf("store: activation index of %s points at nothing", mask(key))
			}
			return add(raw)
		})
	})
}

// readActivations runs scan in one read transaction, decodes every record
// scan hands to add and returns them oldest first. The first error, from
// scan or from decoding, ends the read and is returned alone.
func (db *DB) readActivations(ctx context.Context, scan func(tx *bolt.Tx, add func(raw []byte) error) error) ([]Activation, error) {
	var out []Activation
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, func(raw []byte) error {
			a, err := db.decodeActivation(raw)
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	sortActivations(out)
	return out, nil
}

// DeleteActivation removes who's activation of key; a missing one is not an
// error, so callers can retire access idempotently.
func (db *DB) DeleteActivation(ctx context.Context, who identity.Identity, key string) error {
	if err := checkActivation(who, key); err != nil {
		return err
	}
	kid := db.crypt.kid(key)
	return db.update(ctx, func(tx *bolt.Tx) error {
		acts := bucket(tx, bucketActivations)
		k := activationKey(who, kid)
		old := acts.Get(k)
		was, err := activationProduct(old)
		if err != nil || was == "" {
			return err
		}
		if err := reindexRefreshTx(tx, k, old, time.Time{}, true); err != nil {
			return err
		}
		if err := acts.Delete(k); err != nil {
			return err
		}
		if err := moveCount(tx, activationCounterOf(was), ""); err != nil {
			return err
		}
		if !hasActivations(acts, who) {
			if err := addCount(tx, holdersCounter, -1); err != nil {
				return err
			}
		}
		return bucket(tx, bucketActivationsKey).Delete(join(kid, []byte(who.String())))
	})
}

// ForEachActivation calls fn for every activation until fn returns an
// error, which it returns. It reads in pages and calls fn outside any
// transaction, so fn may use the DB (the sweeper deletes as it goes) and a
// slow fn never blocks writers; the price is that the walk is not one
// snapshot: changes made meanwhile may or may not be seen.
func (db *DB) ForEachActivation(ctx context.Context, fn func(Activation) error) error {
	var after []byte
	for {
		page := make([]Activation, 0, forEachPage)
		var last []byte
		err := db.view(ctx, func(tx *bolt.Tx) error {
			c := bucket(tx, bucketActivations).Cursor()
			k, v := c.First()
			if after != nil {
				if k, v = c.Seek(after); k != nil && string(k) == string(after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(page) < forEachPage; k, v = c.Next() {
				a, err := db.decodeActivation(v)
				if err != nil {
					return err
				}
				page = append(page, a)
				last = append(last[:0], k...)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, a := range page {
			if err := fn(a); err != nil {
				return err
			}
		}
		if len(page) < forEachPage {
			return nil
		}
		after = last
	}
}

func sortActivations(as []Activation) {
	slices.SortStableFunc(as, func(a, b Activation) int {
		return cmp.Or(a.ActivatedAt.Compare(b.ActivatedAt), cmp.Compare(a.Identity.String(), b.Identity.String()), cmp.Compare(a.Key, b.Key))
	})
}
