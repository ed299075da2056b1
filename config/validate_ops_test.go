package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateBackupsAndLog(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
		want   string
	}{
		{"interval too short", func(c *Config) {
			c.Store.BackupDir, c.Store.BackupInterval = "/var/backups/shopbot", Duration{30 * time.Second}
		}, "store.backup_interval", "at least 1m"},
		{"keep zero", func(c *Config) { c.Store.BackupDir, c.Store.BackupKeep = "/var/backups/shopbot", 0 }, "store.backup_keep", "out of range"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", `"verbose" is not a level`},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", `use "text" or "json"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(&c)
			err := c.Validate()
			var found bool
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var p *Problem
				if errors.As(e, &p) && p.Key == tc.key && strings.Contains(p.Message, tc.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no problem %s ~ %q in:\n%v", tc.key, tc.want, err)
			}
		})
	}
	c := validConfig()
	c.Store.BackupKeep = 0 // no backup_dir: the backup keys are not used
	if err := c.Validate(); err != nil {
		t.Fatalf("backup keys checked without backup_dir: %v", err)
	}
}
