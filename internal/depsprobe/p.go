package depsprobe

import (
	_ "github.com/BurntSushi/toml"
	_ "github.com/bwmarrin/discordgo"
	_ "github.com/go-telegram/bot"
	_ "github.com/stripe/stripe-go/v76"
	_ "github.com/stripe/stripe-go/v76/checkout/session"
	_ "github.com/stripe/stripe-go/v76/client"
	_ "github.com/stripe/stripe-go/v76/webhook"
	_ "github.com/stripe/stripe-mock/embedded"
	_ "github.com/stripe/stripe-mock/server"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/chacha20poly1305"
	_ "golang.org/x/crypto/acme/autocert"
	_ "golang.org/x/crypto/hkdf"
)
