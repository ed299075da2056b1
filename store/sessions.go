package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// OpenSession is a Stripe Checkout session handed to a buyer and not yet
// completed or expired, remembered so that asking again for the same
// product returns the same link instead of a second session.
type OpenSession struct {
	Identity  identity.Identity `json:"identity"`
	ProductID string            `json:"product_id"`
	SessionID string            `json:"session_id"`
	URL       string            `json:"url"`
	ExpiresAt time.Time         `json:"expires_at"`
}

func sessionKey(who identity.Identity, productID string) []byte {
	return join([]byte(who.String()), []byte(productID))
}

func checkSessionKey(who identity.Identity, productID string) error {
	if err := who.Validate(); err != nil {
		return fmt.Errorf("store: open session: %w", err)
	}
	if err := checkID("product", productID); err != nil {
		return err
	}
	if strings.IndexByte(productID, 0) >= 0 {
		return fmt.Errorf("store: product id %q contains a NUL byte", productID)
	}
	return nil
}

// GetOpenSession returns who's open session for the product (ErrNotFound
// when none). It is returned even when ExpiresAt has passed: the caller has
// the clock and decides.
func (db *DB) GetOpenSession(ctx context.Context, who identity.Identity, productID string) (OpenSession, error) {
	if err := checkSessionKey(who, productID); err != nil {
		return OpenSession{}, err
	}
	var s OpenSession
	err := db.view(ctx, func(tx *bolt.Tx) error {
		raw := bucket(tx, bucketSessions).Get(sessionKey(who, productID))
		if raw == nil {
			return fmt.Errorf("store: open session of %s for %s: %w", who, productID, ErrNotFound)
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("store: decode open session of %s for %s: %w", who, productID, err)
		}
		return nil
	})
	return s, err
}

// PutOpenSession stores s, replacing who's previous session for the
// product.
func (db *DB) PutOpenSession(ctx context.Context, s OpenSession) error {
	if err := checkSessionKey(s.Identity, s.ProductID); err != nil {
		return err
	}
	if err := checkID("checkout session", s.SessionID); err != nil {
		return err
	}
	key := sessionKey(s.Identity, s.ProductID)
	return db.update(ctx, func(tx *bolt.Tx) error {
		if err := deleteSessionTx(tx, key); err != nil {
			return err
		}
		if err := putJSON(bucket(tx, bucketSessions), key, s); err != nil {
			return err
		}
		return bucket(tx, bucketSessionsID).Put([]byte(s.SessionID), key)
	})
}

// DeleteOpenSession forgets who's open session for the product; none is
// not an error.
func (db *DB) DeleteOpenSession(ctx context.Context, who identity.Identity, productID string) error {
	if err := checkSessionKey(who, productID); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return deleteSessionTx(tx, sessionKey(who, productID))
	})
}

// DeleteOpenSessionByID forgets the open session with that Checkout session
// id (the webhook knows only the id); none is not an error.
func (db *DB) DeleteOpenSessionByID(ctx context.Context, sessionID string) error {
	if sessionID == "" {
		return nil
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		key := bucket(tx, bucketSessionsID).Get([]byte(sessionID))
		if key == nil {
			return nil
		}
		return deleteSessionTx(tx, append([]byte(nil), key...))
	})
}

// deleteSessionTx removes the session at key and its id index entry.
func deleteSessionTx(tx *bolt.Tx, key []byte) error {
	b := bucket(tx, bucketSessions)
	raw := b.Get(key)
	if raw == nil {
		return nil
	}
	var old OpenSession
	if err := json.Unmarshal(raw, &old); err == nil && old.SessionID != "" {
		if err := bucket(tx, bucketSessionsID).Delete([]byte(old.SessionID)); err != nil {
			return err
		}
	}
	return b.Delete(key)
}
