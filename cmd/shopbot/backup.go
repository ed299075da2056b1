package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopbot/shopbot/config"
	"github.com/shopbot/shopbot/store"
)

// BackupPath serves a snapshot of the live store to `shopbot backup`.
const BackupPath = "/api/v1/backup"

// backupWriteTimeout replaces the server's write timeout for one snapshot
// download: a large store takes longer than a normal answer.
const backupWriteTimeout = 30 * time.Minute

// backupHandler streams a consistent snapshot of the store. The snapshot
// holds every order and key (sealed when the store is encrypted), so it
// needs the API token like /metrics, and is off without one.
func (a *app) backupHandler(token string) http.HandlerFunc {
	return requireBearer(token, func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(backupWriteTimeout))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", `attachment; filename="shopbot-backup.db"`)
		n, err := a.db.Snapshot(r.Context(), w, func(size int64) {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		})
		if err != nil {
			// Headers are gone already when bytes were written; the
			// short body (Content-Length) tells the client it failed.
			a.log.Error("backup download failed", "bytes", n, "err", err)
			if n == 0 {
				http.Error(w, "snapshot failed", http.StatusInternalServerError)
			}
			return
		}
		a.log.Info("backup downloaded", "bytes", n, "remote", r.RemoteAddr)
	})
}

// cmdBackup writes a snapshot to -o: from the store file when no shopbot
// runs on it, else through the running shop's backup endpoint. The result
// is checked (it opens, with the configured key) before it replaces -o.
func cmdBackup(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	out := fs.String("o", "", "file to write the snapshot to (required)")
	server := fs.String("server", "", "base URL of the running shop (default: from server.listen)")
	path, err := parseFlags(fs, args, env, stderr)
	if err != nil {
		return err
	}
	if *out == "" {
		return usageError{errors.New("-o FILE is required")}
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	key, err := cfg.StoreKey()
	if err != nil {
		return fmt.Errorf("store.encryption_key: %w", err)
	}
	tmp := *out + ".incomplete"
	defer os.Remove(tmp)
	how := "from the store file " + cfg.Store.Path
	err = store.SnapshotClosed(ctx, cfg.Store.Path, tmp, time.Second)
	if errors.Is(err, store.ErrLocked) {
		base := *server
		if base == "" {
			base = shopURL(cfg)
		}
		how = "through the running shop at " + base
		err = downloadBackup(ctx, cfg, base, tmp, h.httpClient)
	}
	if err != nil {
		return err
	}
	info, err := store.Inspect(ctx, tmp, key)
	if err != nil {
		return fmt.Errorf("the snapshot written is not usable, %s kept as it was: %w", *out, err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return fmt.Errorf("put the snapshot at %s: %w", *out, err)
	}
	if err := store.SyncDir(filepath.Dir(*out)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "snapshot written to %s %s: %s\n", *out, how, describe(info))
	return nil
}

// downloadBackup fetches GET /api/v1/backup into path (atomically).
func downloadBackup(ctx context.Context, cfg config.Config, base, path string, hc *http.Client) error {
	if cfg.Server.APIToken == "" {
		return fmt.Errorf("%s is locked by a running shopbot, and server.api_token is not set: set it (and restart) so `shopbot backup` can ask the shop for a snapshot", cfg.Store.Path)
	}
	if hc == nil {
		hc = &http.Client{Timeout: backupWriteTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+BackupPath, nil)
	if err != nil {
		return fmt.Errorf("backup URL %q: %w", base, err)
	}
	req.Header.Set("Authorization", "Bearer "+cfg.Server.APIToken)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s is locked by a running shopbot, which did not answer at %s (pass -server URL if it listens elsewhere): %w", cfg.Store.Path, base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("the running shop refused the backup: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return store.WriteFileAtomic(path, func(w io.Writer) error {
		n, err := io.Copy(w, resp.Body)
		if err != nil {
			return fmt.Errorf("download the snapshot: %w", err)
		}
		if resp.ContentLength >= 0 && n != resp.ContentLength {
			return fmt.Errorf("download the snapshot: got %d of %d bytes", n, resp.ContentLength)
		}
		return nil
	})
}

// shopURL is the running shop's address as seen from this machine.
func shopURL(cfg config.Config) string {
	if len(cfg.Server.TLSAutocertDomains) > 0 {
		return cfg.Server.PublicURL
	}
	host, port, err := net.SplitHostPort(cfg.Server.Listen)
	if err != nil {
		return "http://" + cfg.Server.Listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func describe(info store.Info) string {
	enc := "not encrypted"
	if info.Encrypted {
		enc = "encrypted"
	}
	since := info.CatchUpSince
	if since == "" {
		since = "never"
	}
	return fmt.Sprintf("%d bytes, schema %d, %s; %d orders, %d licenses, %d activations, %d Stripe events; Stripe catch-up watermark %s",
		info.Size, info.Schema, enc, info.Orders, info.Licenses, info.Activations, info.Events, since)
}

// cmdRestore puts a snapshot back in place of store.path. Everything is
// checked before anything changes; the previous file is kept.
func cmdRestore(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	path, err := parseFlags(fs, args, env, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{errors.New("give the snapshot file: shopbot restore -config config.toml FILE")}
	}
	snap := fs.Arg(0)
	cfg, err := loadConfig(path, env)
	if err != nil {
		return err
	}
	key, err := cfg.StoreKey()
	if err != nil {
		return fmt.Errorf("store.encryption_key: %w", err)
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	res, err := store.Restore(ctx, store.RestoreOptions{Path: cfg.Store.Path, Snapshot: snap, EncryptionKey: key, Now: now()})
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("shopbot is running on %s; stop it, then restore (nothing was changed): %w", cfg.Store.Path, err)
	case errors.Is(err, store.ErrBadKey):
		return fmt.Errorf("%s does not open with store.encryption_key of %s (nothing was changed): %w", snap, path, err)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("%s is not a usable snapshot (nothing was changed): %w", snap, err)
	case err != nil:
		return err
	}
	fmt.Fprintf(stdout, "restored %s from %s: %s\n", cfg.Store.Path, snap, describe(res.Snapshot))
	if res.Aside != "" {
		fmt.Fprintf(stdout, "the previous store file is kept at %s\n", res.Aside)
	}
	fmt.Fprintln(stdout, "on the next start, shopbot re-reads Stripe's events since the snapshot's watermark "+
		"(Stripe keeps them 30 days) and finds licenses AuthForge already holds by their label, so no paid order is lost or licensed twice")
	return nil
}

// runBackups writes a snapshot to store.backup_dir at start and every
// backup_interval, then deletes all but the newest backup_keep. A failure
// is logged and alerts no one: the shop keeps selling; the next tick
// tries again.
func (a *app) runBackups(ctx context.Context) {
	tick := time.NewTicker(a.cfg.Store.BackupInterval.Duration)
	defer tick.Stop()
	for {
		if err := a.backupOnce(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("automatic snapshot failed", "dir", a.cfg.Store.BackupDir, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Automatic snapshot names sort by time: shopbot-20060102T150405Z.db.
const (
	snapPrefix = "shopbot-"
	snapSuffix = ".db"
	snapLayout = "20060102T150405Z"
)

func (a *app) backupOnce(ctx context.Context) error {
	dir := a.cfg.Store.BackupDir
	name := filepath.Join(dir, snapPrefix+a.hooks.now().UTC().Format(snapLayout)+snapSuffix)
	if err := a.db.SnapshotFile(ctx, name); err != nil {
		return err
	}
	a.log.Info("automatic snapshot written", "file", name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var snaps []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, snapPrefix) || !strings.HasSuffix(n, snapSuffix) {
			continue
		}
		if _, err := time.Parse(snapLayout, strings.TrimSuffix(strings.TrimPrefix(n, snapPrefix), snapSuffix)); err == nil {
			snaps = append(snaps, n)
		}
	}
	slices.Sort(snaps)
	for len(snaps) > a.cfg.Store.BackupKeep {
		old := filepath.Join(dir, snaps[0])
		if err := os.Remove(old); err != nil {
			return fmt.Errorf("prune old snapshot: %w", err)
		}
		a.log.Info("old snapshot deleted", "file", old, "keep", a.cfg.Store.BackupKeep)
		snaps = snaps[1:]
	}
	return nil
}
