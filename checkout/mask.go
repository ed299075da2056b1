package checkout

import "strings"

// maskKey shortens a license key for logs and admin texts: "ABCD-…-WXYZ".
// A whole key never reaches a log.
func maskKey(key string) string {
	key = strings.TrimSpace(key)
	if len(key) <= 8 {
		return "…"
	}
	return key[:4] + "-…-" + key[len(key)-4:]
}
