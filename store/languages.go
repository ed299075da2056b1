package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/shopbot/shopbot/identity"
)

// Languages: the last chat language seen per identity, so notices sent
// later (a delivery after payment, a reminder, a revocation) speak it. A
// new bucket, no schema change. Callers write only when the language
// changes; the write is lazy (it rides along with the next commit), since
// losing it in a crash only means one English notice.

// maxLanguageLen bounds a stored language tag (BCP 47 tags are short).
const maxLanguageLen = 35

// SetLanguage records lang as who's language; "" forgets it.
func (db *DB) SetLanguage(ctx context.Context, who identity.Identity, lang string) error {
	if err := who.Validate(); err != nil {
		return fmt.Errorf("store: language: %w", err)
	}
	if len(lang) > maxLanguageLen {
		return fmt.Errorf("store: language of %s: %d bytes is not a language tag", who, len(lang))
	}
	return db.write(ctx, func(tx *bolt.Tx) error {
		bk := bucket(tx, bucketLanguages)
		if lang == "" {
			return bk.Delete([]byte(who.String()))
		}
		return bk.Put([]byte(who.String()), []byte(lang))
	}, true)
}

// Language is who's recorded language, "" when none is known.
func (db *DB) Language(ctx context.Context, who identity.Identity) (string, error) {
	var lang string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		lang = string(bucket(tx, bucketLanguages).Get([]byte(who.String())))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: language of %s: %w", who, err)
	}
	return lang, nil
}
