package discord

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"
)

// rewriter sends discordgo's requests for https://discord.com to the
// configured API root, per Session, so the library's package-level
// Endpoint variables stay untouched. With a gateway override it also
// answers GET /api/v*/gateway itself, which is how discordgo learns the
// websocket URL.
type rewriter struct {
	base    http.RoundTripper
	api     *url.URL
	gateway string
}

func (rw *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != "discord.com" {
		return rw.transport().RoundTrip(req)
	}
	if rw.gateway != "" && req.Method == http.MethodGet && isGatewayPath(req.URL.Path) {
		body, _ := json.Marshal(map[string]string{"url": rw.gateway})
		if req.Body != nil {
			req.Body.Close()
		}
		return &http.Response{
			Status:        "200 OK",
			StatusCode:    http.StatusOK,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        http.Header{"Content-Type": {"application/json"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
			Request:       req,
		}, nil
	}
	if rw.api.Host == "discord.com" && rw.api.Scheme == "https" && rw.api.Path == "" {
		return rw.transport().RoundTrip(req)
	}
	out := req.Clone(req.Context())
	u := *req.URL
	u.Scheme = rw.api.Scheme
	u.Host = rw.api.Host
	u.Path = strings.TrimRight(rw.api.Path, "/") + req.URL.Path
	if req.URL.RawPath != "" {
		u.RawPath = strings.TrimRight(rw.api.EscapedPath(), "/") + req.URL.RawPath
	}
	out.URL = &u
	out.Host = ""
	return rw.transport().RoundTrip(out)
}

func (rw *rewriter) transport() http.RoundTripper {
	if rw.base != nil {
		return rw.base
	}
	return http.DefaultTransport
}

// isGatewayPath matches /api/v<N>/gateway.
func isGatewayPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/api/v")
	if !ok {
		return false
	}
	_, tail, ok := strings.Cut(rest, "/")
	return ok && tail == "gateway"
}

// maxRateLimitRetries bounds how often one call is retried after 429.
const maxRateLimitRetries = 5

// call runs one REST request with a timeout, retrying 429 answers after
// their retry_after. discordgo's own 429 retry is turned off for the
// request because it sleeps without regard to the context; the bucket
// bookkeeping (X-RateLimit-* headers) is still discordgo's.
func (b *Bot) call(ctx context.Context, fn func(opts ...discordgo.RequestOption) error) error {
	ctx, cancel := context.WithTimeout(ctx, b.callTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := fn(discordgo.WithContext(ctx), discordgo.WithRetryOnRatelimit(false))
		var rl *discordgo.RateLimitError
		if !errors.As(err, &rl) || rl.RateLimit == nil || rl.TooManyRequests == nil {
			return err
		}
		b.rateLimited.Add(1)
		wait := rl.RetryAfter
		if attempt >= maxRateLimitRetries {
			return fmt.Errorf("still rate limited after %d retries: %w", attempt, err)
		}
		if wait > b.maxRetryAfter {
			return fmt.Errorf("rate limited for %s, longer than the %s allowed: %w", wait, b.maxRetryAfter, err)
		}
		b.log.Info("discord: rate limited, waiting", "retry_after", wait, "bucket", rl.Bucket)
		if err := b.sleep(ctx, wait); err != nil {
			return fmt.Errorf("waiting out a rate limit: %w", err)
		}
	}
}

// Discord JSON error codes the adapter acts on.
const (
	codeUnknownMember      = 10007
	codeUnknownRole        = 10011
	codeUnknownUser        = 10013
	codeMissingAccess      = 50001
	codeCannotMessageUser  = 50007
	codeMissingPermissions = 50013
)

// apiCode is the JSON error code of a failed REST call, or 0.
func apiCode(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Message != nil {
		return re.Message.Code
	}
	return 0
}

// apiStatus is the HTTP status of a failed REST call, or 0.
func apiStatus(err error) int {
	var re *discordgo.RESTError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.StatusCode
	}
	return 0
}
