package config

import (
	"crypto/ed25519"
	"fmt"
	"slices"
)

// AuthForgePublicKeys decodes authforge.public_keys; any of them may have
// signed a response (key rotation).
func (c Config) AuthForgePublicKeys() ([]ed25519.PublicKey, error) {
	keys := make([]ed25519.PublicKey, 0, len(c.AuthForge.PublicKeys))
	for i, s := range c.AuthForge.PublicKeys {
		b, err := decodeKey32(s)
		if err != nil {
			return nil, &Problem{Key: fmt.Sprintf("authforge.public_keys[%d]", i), Message: err.Error()}
		}
		keys = append(keys, ed25519.PublicKey(b))
	}
	return keys, nil
}

// StoreKey decodes store.encryption_key: 32 bytes, or nil when the key is
// empty and secrets are stored unencrypted.
func (c Config) StoreKey() ([]byte, error) {
	if c.Store.EncryptionKey == "" {
		return nil, nil
	}
	b, err := decodeKey32(c.Store.EncryptionKey)
	if err != nil {
		return nil, &Problem{Key: "store.encryption_key", Message: err.Error()}
	}
	return b, nil
}

// TelegramEnabled reports whether the Telegram bot is configured.
func (c Config) TelegramEnabled() bool { return c.Telegram.Token != "" }

// DiscordEnabled reports whether the Discord bot is configured.
func (c Config) DiscordEnabled() bool { return c.Discord.Token != "" }

// IsTelegramAdmin reports whether the Telegram user id is in telegram.admins.
func (c Config) IsTelegramAdmin(id int64) bool {
	return id > 0 && slices.Contains(c.Telegram.Admins, id)
}

// IsDiscordAdmin reports whether a Discord user, with the given roles in
// discord.guild_id, is in discord.admin_user_ids or holds one of
// discord.admin_role_ids.
func (c Config) IsDiscordAdmin(userID string, roleIDs []string) bool {
	if userID != "" && slices.Contains(c.Discord.AdminUserIDs, userID) {
		return true
	}
	for _, r := range roleIDs {
		if r != "" && slices.Contains(c.Discord.AdminRoleIDs, r) {
			return true
		}
	}
	return false
}
