package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/shopbot/shopbot/config"
)

const usage = `shopbot sells software licenses in Telegram and Discord.

Usage:
  shopbot run     [-config config.toml]            run the shop
  shopbot check   [-config config.toml] [--online] validate the config (and reach each service)
  shopbot setup   stripe|telegram|discord [-config config.toml]
  shopbot backup  [-config config.toml] -o FILE     write a consistent snapshot of the store (also while running)
  shopbot restore [-config config.toml] FILE        put a snapshot back (shopbot must be stopped)
  shopbot rebuild [-config config.toml]             make a new store from AuthForge and Stripe (no backup)
  shopbot demo    [--listen 127.0.0.1:8080] [--store PATH]  the whole shop on this machine, in a browser
  shopbot messages                                  print every buyer-facing text as a messages file ([en])
  shopbot version                                   print the version

The config path defaults to $SHOPBOT_CONFIG, then config.toml.
`

// lookupEnv is os.LookupEnv, injectable so tests never touch the real
// environment.
type lookupEnv func(string) (string, bool)

// run is the whole program behind main; it returns the exit code.
func run(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer) int {
	return runWith(ctx, args, env, stdout, stderr, hooks{})
}

// runWith is run with test hooks; the zero hooks are production.
func runWith(ctx context.Context, args []string, env lookupEnv, stdout, stderr io.Writer, h hooks) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = cmdRun(ctx, rest, env, stdout, stderr, h)
	case "check":
		err = cmdCheck(ctx, rest, env, stdout, stderr, h)
	case "setup":
		err = cmdSetup(ctx, rest, env, stdout, stderr, h)
	case "demo":
		err = cmdDemo(ctx, rest, env, stdout, stderr, h)
	case "backup":
		err = cmdBackup(ctx, rest, env, stdout, stderr, h)
	case "restore":
		err = cmdRestore(ctx, rest, env, stdout, stderr, h)
	case "rebuild":
		err = cmdRebuild(ctx, rest, env, stdout, stderr, h)
	case "messages":
		err = cmdMessages(rest, stdout)
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "shopbot %s\n", version)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "shopbot: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "shopbot %s: %v\n", cmd, err)
		return 2
	}
	fmt.Fprintf(stderr, "shopbot %s: %v\n", cmd, err)
	return 1
}

// usageError marks mistakes in the command line rather than in the world.
type usageError struct{ error }

// commonFlags parses -config (and subcommand flags added by the caller).
func parseFlags(fs *flag.FlagSet, args []string, env lookupEnv, stderr io.Writer) (string, error) {
	def := "config.toml"
	if v, ok := env("SHOPBOT_CONFIG"); ok && v != "" {
		def = v
	}
	path := fs.String("config", def, "path to config.toml")
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", usageError{err}
	}
	return *path, nil
}

// loadConfig reads and validates the config; every problem is reported, each
// with the key to fix. Problems of the keys in waived are not: `setup
// stripe` runs before the webhook secret it prints exists.
func loadConfig(path string, env lookupEnv, waived ...string) (config.Config, error) {
	cfg, err := config.Load(path, env)
	if err != nil {
		return config.Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if err := waive(cfg.Validate(), waived); err != nil {
		return config.Config{}, fmt.Errorf("config %s has problems:\n%w", path, err)
	}
	return cfg, nil
}

// waive drops the problems of the waived keys from Validate's joined error.
func waive(err error, keys []string) error {
	if err == nil || len(keys) == 0 {
		return err
	}
	all := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		all = joined.Unwrap()
	}
	var kept []error
	for _, e := range all {
		var p *config.Problem
		if errors.As(e, &p) && slices.Contains(keys, p.Key) {
			continue
		}
		kept = append(kept, e)
	}
	return errors.Join(kept...)
}

// newLogger configures log/slog once from the [log] table; the
// environment (SHOPBOT_LOG=debug|info|warn|error, SHOPBOT_LOG_FORMAT=json|text)
// overrides it for one run without editing the config.
func newLogger(w io.Writer, env lookupEnv, lc config.Log) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(lc.Level))
	if v, ok := env("SHOPBOT_LOG"); ok {
		_ = level.UnmarshalText([]byte(strings.TrimSpace(v)))
	}
	format := lc.Format
	if v, ok := env("SHOPBOT_LOG_FORMAT"); ok && strings.TrimSpace(v) != "" {
		format = strings.TrimSpace(v)
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// noArgs refuses words left after a subcommand's flags.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
