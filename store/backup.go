package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrCorrupt: a file is not a readable shopbot store (torn copy, wrong
// file, damaged pages).
var ErrCorrupt = errors.New("not a readable shopbot store")

// metaRecovered records when the file was put back by a restore or made by
// a rebuild (see RecoveredAt).
const metaRecovered = "recovered_at"

// Snapshot writes a consistent copy of the whole store to w while writes go
// on: one read transaction sees the file as of its start, and bbolt never
// overwrites pages a reader still sees. size, when not nil, is told the
// copy's length before the first byte is written. The bytes are the file's
// own, so an encrypted store's snapshot stays encrypted.
func (db *DB) Snapshot(ctx context.Context, w io.Writer, size func(int64)) (int64, error) {
	var n int64
	err := db.viewEvents(ctx, func(tx *bolt.Tx) error {
		if size != nil {
			size(tx.Size())
		}
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("store: snapshot of %s: %w", db.path, err)
	}
	return n, nil
}

// SnapshotFile writes a snapshot to path atomically: a reader of path sees
// either the previous file or the whole new one, never a torn copy.
func (db *DB) SnapshotFile(ctx context.Context, path string) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := db.Snapshot(ctx, w, nil)
		return err
	})
}

// SnapshotClosed copies the store file at src to dst atomically when no
// shopbot runs on it. It takes bbolt's shared lock, so it fails with
// ErrLocked while a running shop holds the file: back up through the shop
// then. It fails with ErrUnclean when the shop was killed with events
// still only in the journal: a copy of the file alone would lack events
// Stripe was told are stored.
func SnapshotClosed(ctx context.Context, src, dst string, lockTimeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	bdb, err := openReadOnly(src, lockTimeout)
	if err != nil {
		return err
	}
	defer bdb.Close()
	n, err := journaledEvents(src + ".journal")
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("store: shopbot did not stop cleanly: %d acknowledged events are only in %s.journal; start shopbot once (it adds them to the store at start) and back up again: %w",
			n, src, ErrUnclean)
	}
	return WriteFileAtomic(dst, func(w io.Writer) error {
		return bdb.View(func(tx *bolt.Tx) error {
			_, err := tx.WriteTo(w)
			return err
		})
	})
}

// WriteFileAtomic writes a file through write into a temporary file next to
// path, fsyncs it, renames it over path and fsyncs the directory, so after
// a crash path holds either its old content or all of the new.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory, so a rename or new file in it survives a
// crash.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Info describes a store file as Inspect found it.
type Info struct {
	Path        string
	Size        int64
	Schema      int
	Encrypted   bool
	Events      int
	Orders      int
	Licenses    int
	Activations int
	// CatchUpSince is the Stripe catch-up watermark the file holds ("" when
	// catch-up never ran on it).
	CatchUpSince string
}

// Inspect opens the store file at path read-only and checks, without
// changing it, that this shopbot can use it with key: a bbolt file whose
// pages are all consistent, a schema this code reads (older ones are
// migrated on the next Open), and the encryption key it was made with.
func Inspect(ctx context.Context, path string, key []byte) (info Info, err error) {
	if err := ctx.Err(); err != nil {
		return Info{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return Info{}, fmt.Errorf("store: %w", err)
	}
	if !st.Mode().IsRegular() || st.Size() == 0 {
		return Info{}, fmt.Errorf("store: %s is empty or not a regular file: %w", path, ErrCorrupt)
	}
	crypt, err := newCrypter(key)
	if err != nil {
		return Info{}, err
	}
	// A damaged file can make bbolt panic while it reads pages.
	defer func() {
		if r := recover(); r != nil {
			info, err = Info{}, fmt.Errorf("store: %s has damaged pages (%v): %w", path, r, ErrCorrupt)
		}
	}()
	bdb, err := openReadOnly(path, time.Second)
	if err != nil {
		return Info{}, err
	}
	defer bdb.Close()
	info = Info{Path: path, Size: st.Size()}
	err = bdb.View(func(tx *bolt.Tx) error {
		// The check runs in its own goroutine until it closes the
		// channel, so it is drained before the transaction ends.
		var first error
		for cerr := range tx.Check() {
			if first == nil {
				first = cerr
			}
		}
		if first != nil {
			return fmt.Errorf("store: %s fails bbolt's consistency check (%v): %w", path, first, ErrCorrupt)
		}
		meta := tx.Bucket([]byte(bucketMeta))
		if meta == nil {
			return fmt.Errorf("store: %s is a bbolt file but has no shopbot meta bucket: %w", path, ErrCorrupt)
		}
		n, err := strconv.Atoi(string(meta.Get([]byte(metaSchema))))
		switch {
		case err != nil || n < 1:
			return fmt.Errorf("store: %s has no readable schema version: %w", path, ErrCorrupt)
		case n > SchemaVersion:
			return fmt.Errorf("store: %s has schema version %d, newer than this shopbot supports (%d); use a newer shopbot",
				path, n, SchemaVersion)
		}
		info.Schema = n
		stored := meta.Get([]byte(metaKeyCheck))
		info.Encrypted = stored != nil
		switch {
		case stored != nil && crypt == nil:
			return fmt.Errorf("store: %s is encrypted but store.encryption_key is not set: %w", path, ErrBadKey)
		case stored != nil && string(stored) != crypt.check:
			return fmt.Errorf("store: %s was encrypted with a different key than store.encryption_key: %w", path, ErrBadKey)
		}
		info.Events = keyCount(tx, bucketEvents)
		info.Orders = keyCount(tx, bucketOrders)
		info.Licenses = keyCount(tx, bucketLicenses)
		info.Activations = keyCount(tx, bucketActivations)
		if stored == nil && crypt != nil && info.Orders+info.Licenses+info.Activations > 0 {
			return fmt.Errorf("store: %s is not encrypted but store.encryption_key is set: %w", path, ErrBadKey)
		}
		info.CatchUpSince = string(meta.Get([]byte("stripe_catchup_since")))
		return nil
	})
	return info, err
}

func keyCount(tx *bolt.Tx, name string) int {
	if b := tx.Bucket([]byte(name)); b != nil {
		return b.Stats().KeyN
	}
	return 0
}

// openReadOnly opens a bbolt file with the shared lock; a running shop's
// exclusive lock makes it fail with ErrLocked after timeout.
func openReadOnly(path string, timeout time.Duration) (*bolt.DB, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if err := checkLength(path, st.Size()); err != nil {
		return nil, err
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: timeout})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("store: %s is locked; shopbot is probably running on it: %w", path, ErrLocked)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrChecksum):
		return nil, fmt.Errorf("store: %s is not a bbolt database (%v): %w", path, err, ErrCorrupt)
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w: %w", path, err, ErrCorrupt)
	}
	return bdb, nil
}

// RecoveredAt is when the file was last put back by Restore or made by a
// rebuild (ErrNotFound: never). Events created before it may already have
// licenses at AuthForge that the file does not know of.
func (db *DB) RecoveredAt(ctx context.Context) (time.Time, error) {
	v, err := db.GetMeta(ctx, metaRecovered)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: meta %s %q: %w", metaRecovered, v, err)
	}
	return t, nil
}

// MarkRecovered records t as the time of a restore or rebuild.
func (db *DB) MarkRecovered(ctx context.Context, t time.Time) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket([]byte(bucketMeta)).Put([]byte(metaRecovered), []byte(t.UTC().Format(time.RFC3339Nano)))
	})
}

// checkLength refuses a file shorter than the pages its own header
// claims (a copy cut short): bbolt maps the file into memory, and reading
// a page past its end would kill the process with SIGBUS rather than
// return an error. It reads the newest valid meta page the way bbolt
// does: magic, checksum, highest transaction id.
func checkLength(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	const (
		pageHeader = 16
		metaLen    = 64
		magic      = 0xED0CDAED
	)
	var best struct {
		ok         bool
		txid, high uint64
		pageSize   uint32
	}
	head := make([]byte, pageHeader+metaLen)
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("store: %s is too short to be a bbolt database: %w", path, ErrCorrupt)
	}
	pageSize := binary.LittleEndian.Uint32(head[pageHeader+8:])
	for i := range int64(2) {
		buf := make([]byte, pageHeader+metaLen)
		if i == 1 && (pageSize < 512 || pageSize > 1<<20) {
			break
		}
		if _, err := f.ReadAt(buf, i*int64(pageSize)); err != nil {
			continue
		}
		m := buf[pageHeader:]
		h := fnv.New64a()
		h.Write(m[:56])
		if binary.LittleEndian.Uint32(m[0:]) != magic || h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			continue
		}
		txid := binary.LittleEndian.Uint64(m[48:])
		if !best.ok || txid > best.txid {
			best.ok, best.txid = true, txid
			best.high, best.pageSize = binary.LittleEndian.Uint64(m[40:]), binary.LittleEndian.Uint32(m[8:])
		}
	}
	if !best.ok {
		return fmt.Errorf("store: %s has no valid bbolt header: %w", path, ErrCorrupt)
	}
	if need := int64(best.high) * int64(best.pageSize); need > size {
		return fmt.Errorf("store: %s is cut short (%d bytes, its pages need %d); it is a torn or partial copy: %w",
			path, size, need, ErrCorrupt)
	}
	return nil
}
