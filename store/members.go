package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// Members of members-only places (a Telegram chat) that the bot has seen,
// so that /sync and the sweeper can re-check them later: Telegram has no
// way to list a group's members. A place is a free-form name chosen by the
// adapter ("telegram:-1001234"). The bucket is new in schema 2 files
// without a migration: Open creates missing buckets.

// Member is one remembered member of a place.
type Member struct {
	Identity identity.Identity `json:"identity"`
	SeenAt   time.Time         `json:"seen_at"`
}

// MaxMembersPage bounds one Members call.
const MaxMembersPage = 1000

// counterAccessRemovals counts RecordAccessRemoval calls.
const counterAccessRemovals = "access_removals"

func checkPlace(place string) error {
	if err := checkID("place", place); err != nil {
		return err
	}
	if strings.IndexByte(place, 0) >= 0 {
		return fmt.Errorf("store: place %q contains a NUL byte", place)
	}
	return nil
}

func memberKey(place string, who identity.Identity) []byte {
	return join([]byte(place), []byte(who.String()))
}

// RememberMember records that who is in place now.
func (db *DB) RememberMember(ctx context.Context, place string, who identity.Identity) error {
	if err := checkPlace(place); err != nil {
		return err
	}
	if err := who.Validate(); err != nil {
		return fmt.Errorf("store: remember member: %w", err)
	}
	m := Member{Identity: who, SeenAt: db.now()}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return putJSON(bucket(tx, bucketMembers), memberKey(place, who), m)
	})
}

// ForgetMember removes who from place; not remembered is not an error.
func (db *DB) ForgetMember(ctx context.Context, place string, who identity.Identity) error {
	if err := checkPlace(place); err != nil {
		return err
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketMembers).Delete(memberKey(place, who))
	})
}

// Members returns up to limit (at most MaxMembersPage) members of place
// whose identity sorts after the identity string after ("" starts at the
// beginning), in order: pass the last one's String() to read the next page.
func (db *DB) Members(ctx context.Context, place, after string, limit int) ([]identity.Identity, error) {
	if err := checkPlace(place); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxMembersPage {
		limit = MaxMembersPage
	}
	prefix := append([]byte(place), 0)
	var out []identity.Identity
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketMembers).Cursor()
		start := append(bytes.Clone(prefix), after...)
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Next() {
			if after != "" && string(k[len(prefix):]) == after {
				continue
			}
			var m Member
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("store: decode member of %s: %w", place, err)
			}
			out = append(out, m.Identity)
		}
		return nil
	})
	return out, err
}

// RecordAccessRemoval writes the audit entry of access taken from someone
// not entitled to it and counts it for /stats, in one transaction.
func (db *DB) RecordAccessRemoval(ctx context.Context, e AuditEntry) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		if err := db.auditTx(tx, e); err != nil {
			return err
		}
		return addCount(tx, counterAccessRemovals, 1)
	})
}
