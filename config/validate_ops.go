package config

import "time"

// Validation of the operator's keys: automatic snapshots and logging.

// minBackupInterval keeps snapshots from becoming a constant full read of
// the store.
const minBackupInterval = time.Minute

func (c *Config) validateBackups(p *problems) {
	s := c.Store
	if s.BackupDir == "" {
		return
	}
	if s.BackupInterval.Duration < minBackupInterval {
		p.add("store.backup_interval", "%s is too short; use at least 1m (default 24h)", s.BackupInterval.Duration)
	}
	if s.BackupKeep < 1 || s.BackupKeep > 10_000 {
		p.add("store.backup_keep", "%d is out of range; keep 1 to 10000 snapshots (default 7)", s.BackupKeep)
	}
}

func (c *Config) validateLog(p *problems) {
	switch c.Log.Level {
	case LogDebug, LogInfo, LogWarn, LogError:
	default:
		p.add("log.level", `%q is not a level; use "debug", "info", "warn" or "error" (default "info")`, c.Log.Level)
	}
	switch c.Log.Format {
	case LogText, LogJSON:
	default:
		p.add("log.format", `%q is not a format; use "text" or "json" (default "text")`, c.Log.Format)
	}
}
