package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Sentinel errors; the store wraps them with context, so test with errors.Is.
var (
	// ErrNotFound: no record with that id, key or identity.
	ErrNotFound = errors.New("not found")
	// ErrLocked: another process (or another DB in this one) holds the file.
	ErrLocked = errors.New("store file is locked")
	// ErrBadKey: the encryption key does not match the one the file was
	// made with, or the file's encryption state does not match the options.
	ErrBadKey = errors.New("wrong store encryption key")
	// ErrConflict: a write would contradict what is stored (a second
	// license for one order).
	ErrConflict = errors.New("conflict")
	// ErrUnclean: the store's journal holds events not yet in the file
	// (the shop was killed); Open adds them.
	ErrUnclean = errors.New("store was not closed cleanly")
)

// SchemaVersion is the layout this code reads and writes (see doc.go).
const SchemaVersion = 6

// DefaultLockTimeout is how long Open waits for the file lock.
const DefaultLockTimeout = 2 * time.Second

const (
	metaSchema   = "schema_version"
	metaKeyCheck = "key_check"
)

const (
	bucketMeta               = "meta"
	bucketEvents             = "events"
	bucketEventsSeq          = "events_seq"
	bucketEventsState        = "events_state"
	bucketEventsPayload      = "events_payload"
	bucketEventsDue          = "events_due"
	bucketEventsKey          = "events_key"
	bucketCounters           = "counters"
	bucketOrders             = "orders"
	bucketOrdersPI           = "orders_pi"
	bucketOrdersSub          = "orders_sub"
	bucketLicenses           = "licenses"
	bucketLicensesOwner      = "licenses_owner"
	bucketLicensesDue        = "licenses_due"
	bucketReminders          = "reminders"
	bucketActivations        = "activations"
	bucketActivationsKey     = "activations_key"
	bucketActivationsRefresh = "activations_refresh"
	bucketBroadcasts         = "broadcasts" // broadcast.go
	bucketMuted              = "muted"      // broadcast.go
	bucketLanguages          = "languages"  // languages.go
	bucketSessions           = "open_sessions"
	bucketSessionsID         = "open_sessions_id"
	bucketAudit              = "audit"
	bucketMembers            = "members"
	bucketTerms              = "terms_accepted" // terms.go
	bucketAccessLog          = "access_log"     // terms.go
	bucketSalesDaily         = "sales_daily"    // sales.go
	bucketPayments           = "payments"       // sales.go
)

// allBuckets is a function, not a var, to keep the package free of mutable
// globals.
func allBuckets() []string {
	return []string{
		bucketMeta, bucketEvents, bucketEventsSeq, bucketEventsState,
		bucketEventsPayload, bucketEventsDue, bucketEventsKey, bucketCounters,
		bucketOrders, bucketOrdersPI, bucketOrdersSub,
		bucketLicenses, bucketLicensesOwner, bucketLicensesDue, bucketReminders, bucketActivations, bucketActivationsKey, bucketActivationsRefresh,
		bucketSessions, bucketSessionsID, bucketAudit, bucketMembers,
		bucketBroadcasts, bucketMuted,
		bucketTerms, bucketAccessLog,
		bucketLanguages, bucketSalesDaily, bucketPayments,
	}
}

// sensitiveBuckets hold (sealed or plain) keys and tokens; a file with data
// in any of them cannot silently switch to encryption.
func sensitiveBuckets() []string {
	return []string{bucketOrders, bucketLicenses, bucketActivations}
}

// Options configure Open.
type Options struct {
	// Path of the bbolt file; its directory is created (0700) if missing.
	Path string
	// EncryptionKey is nil (plain store) or exactly 32 bytes.
	EncryptionKey []byte
	// LockTimeout bounds the wait for the file lock (default 2s, also
	// capped by the context's deadline).
	LockTimeout time.Duration
	// Logger receives the migration notes (default: discarded).
	Logger *slog.Logger
	// NoSync skips fsync on commit. Only for tests and benchmarks: a crash
	// can then lose acknowledged webhooks, so Open refuses it outside a
	// test binary (testing.Testing), whatever the caller's wiring says.
	NoSync bool
}

// DB is an open store. It is safe for concurrent use.
type DB struct {
	bolt  *bolt.DB
	path  string
	crypt *crypter
	now   func() time.Time

	// writes feed the committer (commit.go), the only writer; stopped is
	// closed when it has finished. closeMu guards closed and the send on
	// writes against Close.
	writes  chan *writeReq
	stopped chan struct{}
	closeMu sync.RWMutex
	closed  bool
	// in is the event journal (journal.go); nudged: a lazy nudge is
	// queued and not yet committed.
	in     *ingest
	nudged atomic.Bool
	log    *slog.Logger
	// deferred: meta values written with the next commit (DeferMeta).
	deferMu  sync.Mutex
	deferred map[string]func() string
	// holdJournal keeps journaled events out of bbolt: tests set it to
	// stand for a crash between the acknowledgement and the apply.
	holdJournal atomic.Bool
	// failCommit, when set (tests), fails every commit as a full disk
	// would.
	failCommit atomic.Pointer[error]
}

// Open opens or creates the store file, creating the buckets, checking the
// schema version and the encryption key.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Path == "" {
		return nil, errors.New("store: no path")
	}
	if opts.NoSync && !testing.Testing() {
		return nil, errors.New("store: NoSync is only for tests: without fsync a crash loses webhooks already acknowledged to Stripe")
	}
	crypt, err := newCrypter(opts.EncryptionKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create directory for %s: %w", opts.Path, err)
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(min(timeout, time.Until(dl)), time.Millisecond)
	}
	bdb, err := bolt.Open(opts.Path, 0o600, &bolt.Options{Timeout: timeout, NoSync: opts.NoSync, InitialMmapSize: initialMmap()})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is locked (waited %s); another shopbot process is probably using it: %w",
			opts.Path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Path, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	db := &DB{bolt: bdb, path: opts.Path, crypt: crypt, now: time.Now, log: log,
		writes: make(chan *writeReq, maxCommitBatch), stopped: make(chan struct{})}
	if err := bdb.Update(func(tx *bolt.Tx) error { return db.initTx(tx, log) }); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	file, err := db.recoverJournal(opts.Path+".journal", !opts.NoSync)
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	db.in = newIngest(file, db.nudge)
	go db.in.writer()
	go db.committer()
	return db, nil
}

// recoverJournal opens the event journal and copies into bbolt the events
// a crash left in it (acknowledged, not yet applied; those applied already
// are skipped by id), then starts it over.
func (db *DB) recoverJournal(path string, sync bool) (*journalFile, error) {
	file, evs, err := openJournal(path, sync)
	if err != nil {
		return nil, err
	}
	if len(evs) > 0 {
		added := 0
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			added = 0
			for _, ev := range evs {
				ok, err := putEventTx(tx, ev, db.now())
				if err != nil {
					return err
				}
				if ok {
					added++
				}
			}
			return nil
		})
		if err != nil {
			_ = file.close()
			return nil, fmt.Errorf("store: replay journal %s: %w", path, err)
		}
		db.log.Info("store: events replayed from the journal", "journaled", len(evs), "added", added)
	}
	if err := file.restart(); err != nil {
		_ = file.close()
		return nil, err
	}
	return file, nil
}

// initialMmap reserves address space for the file to grow into: when a
// commit outgrows bbolt's mapping it remaps, and every reader (each
// webhook's dedupe read among them) waits for that. 1 GiB on 64-bit
// systems, as etcd does with more; it costs address space, not memory. A
// 32-bit system keeps bbolt's default.
func initialMmap() int {
	if strconv.IntSize < 64 {
		return 0
	}
	return 1 << 30
}

// initTx creates missing buckets, migrates files of an older schema and
// refuses files this code cannot read: a newer schema (written by a newer
// shopbot) or a different key.
func (db *DB) initTx(tx *bolt.Tx, log *slog.Logger) error {
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("store: create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket([]byte(bucketMeta))
	if v := meta.Get([]byte(metaSchema)); v != nil {
		n, err := strconv.Atoi(string(v))
		switch {
		case err != nil || n < 1:
			return fmt.Errorf("store: %s has an unreadable schema version %q; is it a shopbot store?", db.path, v)
		case n > SchemaVersion:
			return fmt.Errorf("store: %s has schema version %d, newer than this shopbot supports (%d); run a newer shopbot or restore a backup",
				db.path, n, SchemaVersion)
		case n < SchemaVersion:
			if err := db.migrateTx(tx, n, log); err != nil {
				return err
			}
		}
	}
	if err := meta.Put([]byte(metaSchema), []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return fmt.Errorf("store: write schema version: %w", err)
	}
	return db.checkKeyTx(tx, meta)
}

func (db *DB) checkKeyTx(tx *bolt.Tx, meta *bolt.Bucket) error {
	stored := meta.Get([]byte(metaKeyCheck))
	switch {
	case stored != nil && db.crypt == nil:
		return fmt.Errorf("store: %s is encrypted; set store.encryption_key to the key it was created with: %w", db.path, ErrBadKey)
	case stored != nil && string(stored) != db.crypt.check:
		return fmt.Errorf("store: %s was encrypted with a different key: %w", db.path, ErrBadKey)
	case stored != nil || db.crypt == nil:
		return nil
	}
	for _, name := range sensitiveBuckets() {
		if k, _ := tx.Bucket([]byte(name)).Cursor().First(); k != nil {
			return fmt.Errorf("store: %s already holds unencrypted %s; it cannot be opened with an encryption key (start a new file or remove store.encryption_key): %w",
				db.path, name, ErrBadKey)
		}
	}
	return meta.Put([]byte(metaKeyCheck), []byte(db.crypt.check))
}

// Close releases the file lock. Writes already queued are committed first;
// later ones fail.
func (db *DB) Close() error {
	if !db.stopWriters() {
		return nil
	}
	// The committer's last commit applied everything journaled, unless
	// that commit failed: then the journal keeps the events for the next
	// Open.
	var errs []error
	if !db.in.unapplied() {
		if err := db.in.file.restart(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, db.in.file.close())
	if err := db.bolt.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close %s: %w", db.path, err))
	}
	return errors.Join(errs...)
}

// stopWriters refuses new writes, lets the journal's writer and then the
// committer finish what is queued, and reports whether this call stopped
// them (false: stopped before).
func (db *DB) stopWriters() bool {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return false
	}
	db.closed = true
	close(db.in.reqs)
	db.closeMu.Unlock()
	// The journal's writer nudges the committer, so it stops first.
	<-db.in.stopped
	close(db.writes)
	<-db.stopped
	return true
}

// Durable reports whether every commit is fsynced before it returns (false
// only with Options.NoSync, in tests).
func (db *DB) Durable() bool { return !db.bolt.NoSync }

// Path is the file the store was opened from.
func (db *DB) Path() string { return db.path }

// GetMeta reads a value stored with PutMeta (ErrNotFound when unset).
func (db *DB) GetMeta(ctx context.Context, key string) (string, error) {
	var v string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		raw := tx.Bucket([]byte(bucketMeta)).Get([]byte(key))
		if raw == nil {
			return fmt.Errorf("store: meta %q: %w", key, ErrNotFound)
		}
		v = string(raw)
		return nil
	})
	return v, err
}

// DeferMeta has the current value of key written with the next commit,
// whatever causes it, or within lazyDelay when none comes; it returns at
// once. value is called inside that commit, so a counter deferred many
// times is written once, with its latest value. For figures that may lag
// a crash by a few milliseconds (counts of outside calls), never for
// state a decision depends on.
func (db *DB) DeferMeta(key string, value func() string) error {
	if key == "" || key == metaSchema || key == metaKeyCheck {
		return fmt.Errorf("store: meta key %q is reserved", key)
	}
	db.deferMu.Lock()
	if db.deferred == nil {
		db.deferred = map[string]func() string{}
	}
	db.deferred[key] = value
	db.deferMu.Unlock()
	// After Close began, its last commit writes what was deferred before.
	db.nudgeSoon()
	return nil
}

// takeDeferred hands the deferred meta values to a commit.
func (db *DB) takeDeferred() map[string]func() string {
	db.deferMu.Lock()
	defer db.deferMu.Unlock()
	d := db.deferred
	db.deferred = nil
	return d
}

// restoreDeferred puts back values a failed commit did not write, unless
// they were deferred again meanwhile.
func (db *DB) restoreDeferred(d map[string]func() string) {
	db.deferMu.Lock()
	defer db.deferMu.Unlock()
	for k, v := range d {
		if _, again := db.deferred[k]; !again {
			if db.deferred == nil {
				db.deferred = map[string]func() string{}
			}
			db.deferred[k] = v
		}
	}
}

// PutMeta stores a small named value. The store's own bookkeeping keys are
// refused: overwriting them would make the file unreadable.
func (db *DB) PutMeta(ctx context.Context, key, value string) error {
	if key == "" || key == metaSchema || key == metaKeyCheck {
		return fmt.Errorf("store: meta key %q is reserved", key)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(key), []byte(value))
	})
}

// view and update (commit.go) are the only way in: they check ctx before
// starting, since a bbolt transaction itself cannot be cancelled.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

func bucket(tx *bolt.Tx, name string) *bolt.Bucket {
	b := tx.Bucket([]byte(name))
	switch name {
	case bucketEventsSeq, bucketAudit, bucketLicensesDue, bucketActivationsRefresh:
		// Keys only ever grow (sequence numbers), or nearly so (times
		// from now on: an expiry, a refresh), so a page that splits is
		// rarely written again: fill it, instead of bbolt's half.
		if b != nil && tx.Writable() {
			b.FillPercent = 0.95
		}
	}
	return b
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// join builds composite keys; parts never contain 0x00 (checked on write)
// except fixed-length HMAC ids, whose length keeps prefixes unambiguous.
func join(parts ...[]byte) []byte {
	var out []byte
	for i, p := range parts {
		if i > 0 {
			out = append(out, 0)
		}
		out = append(out, p...)
	}
	return out
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return b.Put(key, raw)
}

func checkID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("store: empty %s id", what)
	case len(id) > 1024:
		return fmt.Errorf("store: %s id longer than 1024 bytes", what)
	}
	return nil
}

// prefixScan calls fn for every key starting with prefix, in key order.
func prefixScan(b *bolt.Bucket, prefix []byte, fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
