package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// RestoreOptions say which snapshot goes where.
type RestoreOptions struct {
	// Path is the store file shopbot runs on (store.path).
	Path string
	// Snapshot is the backup file to put in its place; it is copied, not
	// moved, so the backup stays as it was.
	Snapshot string
	// EncryptionKey is the configured key (nil: none); the snapshot must
	// open with it.
	EncryptionKey []byte
	// Now is the restore time recorded in the file (see RecoveredAt).
	Now time.Time
}

// RestoreResult tells what Restore did.
type RestoreResult struct {
	Snapshot Info
	// Aside is where the previous store file was moved ("" when there was
	// none).
	Aside string
}

// Restore puts a snapshot in place of the store file. It checks
// everything before it touches anything: the snapshot opens with the
// configured key and a schema this code reads, and no process holds the
// current file. The current file is kept as <path>.before-restore-<time>;
// the snapshot is copied next to path and renamed over it, so path is
// never a partial file. The restored file records the restore time, so
// the worker reconciles by label any payment made before it.
func Restore(ctx context.Context, opts RestoreOptions) (RestoreResult, error) {
	info, err := Inspect(ctx, opts.Snapshot, opts.EncryptionKey)
	if err != nil {
		return RestoreResult{}, fmt.Errorf("snapshot %s refused: %w", opts.Snapshot, err)
	}
	res := RestoreResult{Snapshot: info}
	_, statErr := os.Stat(opts.Path)
	exists := statErr == nil
	if statErr != nil && !errors.Is(statErr, os.ErrNotExist) {
		return res, fmt.Errorf("store: %w", statErr)
	}
	if exists {
		if err := checkUnlocked(opts.Path); err != nil {
			return res, err
		}
	}
	src, err := os.Open(opts.Snapshot)
	if err != nil {
		return res, fmt.Errorf("store: %w", err)
	}
	defer src.Close()
	// The copy is written under a temporary name first: a crash while
	// copying leaves the current file untouched.
	tmp := opts.Path + ".restoring"
	if err := WriteFileAtomic(tmp, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	}); err != nil {
		return res, fmt.Errorf("store: copy %s: %w", opts.Snapshot, err)
	}
	if exists {
		res.Aside = opts.Path + ".before-restore-" + opts.Now.UTC().Format("20060102T150405Z")
		if err := os.Rename(opts.Path, res.Aside); err != nil {
			os.Remove(tmp)
			return res, fmt.Errorf("store: move %s aside: %w", opts.Path, err)
		}
	}
	if err := os.Rename(tmp, opts.Path); err != nil {
		return res, fmt.Errorf("store: put the snapshot in place (the previous file is %s): %w", res.Aside, err)
	}
	if err := SyncDir(filepath.Dir(opts.Path)); err != nil {
		return res, err
	}
	db, err := Open(ctx, Options{Path: opts.Path, EncryptionKey: opts.EncryptionKey})
	if err != nil {
		return res, fmt.Errorf("open the restored store: %w", err)
	}
	defer db.Close()
	if err := db.MarkRecovered(ctx, opts.Now); err != nil {
		return res, err
	}
	return res, db.Close()
}

// checkUnlocked fails with ErrLocked while another process (a running
// shopbot) holds path. A file too damaged to open is not in use: it is
// what a restore replaces.
func checkUnlocked(path string) (err error) {
	defer func() {
		if recover() != nil {
			err = nil // damaged beyond opening, so nobody has it open
		}
	}()
	bdb, err := openReadOnly(path, 500*time.Millisecond)
	if errors.Is(err, ErrLocked) {
		return fmt.Errorf("store: %s is in use; stop shopbot before restoring: %w", path, ErrLocked)
	}
	if err == nil {
		return bdb.Close()
	}
	return nil
}
