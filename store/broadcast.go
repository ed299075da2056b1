package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// Broadcasts (announcements from the admins to current license holders)
// and buyers' mutes. Two buckets, new without a schema change: Open
// creates missing buckets. Recipients are never loaded at once: Holders
// walks the owner and activation indexes (both ordered by identity) a
// page at a time, and a job keeps the identity it reached as its cursor.

// Broadcast states.
const (
	BroadcastDraft   = "draft"   // shown to the admin, not confirmed
	BroadcastRunning = "running" // confirmed; being sent
	BroadcastDone    = "done"
)

// Broadcast is one announcement job.
type Broadcast struct {
	ID uint64 `json:"id"`
	// Product is a product id, or "" for the holders of any product.
	Product string            `json:"product,omitempty"`
	Text    string            `json:"text"`
	Admin   identity.Identity `json:"admin"`
	State   string            `json:"state"`
	// Cursor is the last identity handled; the job resumes after it.
	Cursor  string `json:"cursor,omitempty"`
	Sent    int    `json:"sent"`
	Blocked int    `json:"blocked"`
	Failed  int    `json:"failed"`
	Muted   int    `json:"muted"`
	// Reported is Sent+Blocked+Failed at the last progress message.
	Reported   int       `json:"reported"`
	CreatedAt  time.Time `json:"created_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Holder is one current license holder.
type Holder struct {
	Who   identity.Identity
	Muted bool
}

// MaxHoldersPage bounds the identities one Holders call examines.
const MaxHoldersPage = 1000

// PutBroadcast stores a new job (its ID is assigned) and returns it.
func (db *DB) PutBroadcast(ctx context.Context, b Broadcast) (Broadcast, error) {
	if err := b.Admin.Validate(); err != nil {
		return Broadcast{}, fmt.Errorf("store: broadcast admin: %w", err)
	}
	if b.State == "" {
		b.State = BroadcastDraft
	}
	if b.CreatedAt.IsZero() {
		b.CreatedAt = db.now()
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		bk := bucket(tx, bucketBroadcasts)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		b.ID = seq
		return putJSON(bk, u64(seq), b)
	})
	if err != nil {
		return Broadcast{}, fmt.Errorf("store: put broadcast: %w", err)
	}
	return b, nil
}

// GetBroadcast reads a job (ErrNotFound when there is none).
func (db *DB) GetBroadcast(ctx context.Context, id uint64) (Broadcast, error) {
	var b Broadcast
	err := db.view(ctx, func(tx *bolt.Tx) error {
		raw := bucket(tx, bucketBroadcasts).Get(u64(id))
		if raw == nil {
			return ErrNotFound
		}
		return json.Unmarshal(raw, &b)
	})
	if err != nil {
		return Broadcast{}, fmt.Errorf("store: broadcast %d: %w", id, err)
	}
	return b, nil
}

// UpdateBroadcast changes a job with fn in one transaction; fn's error
// aborts and is returned as is.
func (db *DB) UpdateBroadcast(ctx context.Context, id uint64, fn func(*Broadcast) error) (Broadcast, error) {
	var b Broadcast
	err := db.update(ctx, func(tx *bolt.Tx) error {
		bk := bucket(tx, bucketBroadcasts)
		raw := bk.Get(u64(id))
		if raw == nil {
			return fmt.Errorf("store: broadcast %d: %w", id, ErrNotFound)
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return fmt.Errorf("store: broadcast %d: %w", id, err)
		}
		if err := fn(&b); err != nil {
			return err
		}
		b.ID = id
		return putJSON(bk, u64(id), b)
	})
	return b, err
}

// RunningBroadcasts lists the confirmed jobs not finished yet, oldest
// first (a handful at most: the bucket holds one record per broadcast).
func (db *DB) RunningBroadcasts(ctx context.Context) ([]Broadcast, error) {
	var out []Broadcast
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketBroadcasts).ForEach(func(_, raw []byte) error {
			var b Broadcast
			if err := json.Unmarshal(raw, &b); err != nil {
				return err
			}
			if b.State == BroadcastRunning {
				out = append(out, b)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: running broadcasts: %w", err)
	}
	return out, nil
}

// SetMuted records whether who has muted shop announcements.
func (db *DB) SetMuted(ctx context.Context, who identity.Identity, muted bool) error {
	if err := who.Validate(); err != nil {
		return fmt.Errorf("store: mute: %w", err)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		bk := bucket(tx, bucketMuted)
		if !muted {
			return bk.Delete([]byte(who.String()))
		}
		return bk.Put([]byte(who.String()), []byte(db.now().UTC().Format(time.RFC3339)))
	})
}

// Holders lists the current holders of product ("" for any product):
// owners and activated identities of active, unexpired licenses, each
// identity once, in identity order, starting after the identity after
// ("" from the start). It examines at most limit identities (capped at
// MaxHoldersPage) and returns next, the cursor to pass on, "" when the
// walk is over.
func (db *DB) Holders(ctx context.Context, product, after string, limit int) (out []Holder, next string, err error) {
	if limit <= 0 || limit > MaxHoldersPage {
		limit = MaxHoldersPage
	}
	now := db.now()
	err = db.view(ctx, func(tx *bolt.Tx) error {
		lics, muted := bucket(tx, bucketLicenses), bucket(tx, bucketMuted)
		holds := func(kid []byte) (bool, error) {
			l, err := db.decodeLicense(lics.Get(kid))
			if errors.Is(err, ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return l.Status == LicenseActive && (l.ExpiresAt.IsZero() || l.ExpiresAt.After(now)) &&
				(product == "" || l.ProductID == product), nil
		}
		owners, acts := bucket(tx, bucketLicensesOwner).Cursor(), bucket(tx, bucketActivations).Cursor()
		from := []byte{}
		if after != "" {
			from = append([]byte(after), 1) // past every "after\x00kid" key
		}
		ok, ak := seekKey(owners, from), seekKey(acts, from)
		for examined := 0; ok != nil || ak != nil; examined++ {
			if examined == limit {
				return nil
			}
			who := minIdentity(ok, ak)
			prefix := join(who, nil)
			holder := false
			for _, c := range []struct {
				cur *bolt.Cursor
				k   *[]byte
			}{{owners, &ok}, {acts, &ak}} {
				for ; *c.k != nil && bytes.HasPrefix(*c.k, prefix); *c.k, _ = c.cur.Next() {
					if holder {
						continue
					}
					h, err := holds((*c.k)[len(prefix):])
					if err != nil {
						return fmt.Errorf("license held by %s: %w", who, err)
					}
					holder = h
				}
			}
			next = string(who)
			if holder {
				id, err := identity.Parse(string(who))
				if err != nil {
					return fmt.Errorf("holder %q: %w", who, err)
				}
				out = append(out, Holder{Who: id, Muted: muted.Get(who) != nil})
			}
		}
		next = "" // both indexes are exhausted
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("store: holders of %q: %w", product, err)
	}
	return out, next, nil
}

func seekKey(c *bolt.Cursor, from []byte) []byte {
	k, _ := c.Seek(from)
	return k
}

// minIdentity is the smaller identity of two index keys (identity\x00kid);
// a nil key has none.
func minIdentity(a, b []byte) []byte {
	ida, idb := identityOf(a), identityOf(b)
	switch {
	case a == nil:
		return idb
	case b == nil:
		return ida
	case bytes.Compare(ida, idb) <= 0:
		return ida
	}
	return idb
}

func identityOf(k []byte) []byte {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return k[:i]
	}
	return k
}
