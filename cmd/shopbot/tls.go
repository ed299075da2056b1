package main

import (
	"crypto/tls"
	"path/filepath"

	"golang.org/x/crypto/acme/autocert"

	"github.com/shopbot/shopbot/config"
)

// autocertTLS serves HTTPS with Let's Encrypt certificates for the
// configured domains. The TLS-ALPN challenge is answered on the same
// listener, so no port 80 is needed; certificates are cached beside the
// store so restarts do not hit ACME rate limits.
func autocertTLS(cfg config.Config) *tls.Config {
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		HostPolicy: autocert.HostWhitelist(cfg.Server.TLSAutocertDomains...),
		Cache:      autocert.DirCache(filepath.Join(filepath.Dir(cfg.Store.Path), "autocert")),
	}
	return m.TLSConfig()
}
