package checkout

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

// DefaultStripeTimeout bounds one Stripe API call made with a client from
// NewStripeClient when no HTTP client is given.
const DefaultStripeTimeout = 20 * time.Second

// StripeClientOptions configure NewStripeClient.
type StripeClientOptions struct {
	// Key is the Stripe secret key (sk_live_..., sk_test_...).
	Key string
	// APIURL replaces https://api.stripe.com (tests: stripe-mock).
	APIURL string
	// HTTPClient defaults to one with DefaultStripeTimeout.
	HTTPClient *http.Client
	// MaxNetworkRetries is stripe-go's own retry count for idempotent
	// failures (default 2; negative means none).
	MaxNetworkRetries int
	Logger            *slog.Logger
}

// NewStripeClient builds a stripe-go client with its own backends (no
// stripe-go globals are touched), logging through slog.
func NewStripeClient(opts StripeClientOptions) (*client.API, error) {
	if opts.Key == "" {
		return nil, fmt.Errorf("checkout: Stripe secret key is empty (stripe.secret_key)")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: DefaultStripeTimeout}
	}
	retries := int64(opts.MaxNetworkRetries)
	switch {
	case opts.MaxNetworkRetries == 0:
		retries = 2
	case opts.MaxNetworkRetries < 0:
		retries = 0
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        hc,
		LeveledLogger:     slogLeveled{log: log.With("component", "stripe-go")},
		MaxNetworkRetries: stripe.Int64(retries),
	}
	if opts.APIURL != "" {
		cfg.URL = stripe.String(strings.TrimRight(opts.APIURL, "/"))
	}
	return client.New(opts.Key, stripe.NewBackendsWithConfig(cfg)), nil
}

// slogLeveled adapts slog to stripe-go's leveled logger. stripe-go's info
// lines (every request) and its errors go to debug: each error it logs
// ("Request error from Stripe ...") is also returned to the caller, which
// logs it once, with what shopbot was doing. Its warnings (a retry) are
// info: worth seeing, but the caller reports how the call ended.
type slogLeveled struct{ log *slog.Logger }

func (l slogLeveled) Debugf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Infof(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Warnf(format string, v ...any)  { l.log.Info(fmt.Sprintf(format, v...)) }
func (l slogLeveled) Errorf(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
