package authforge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// License is a license as the Developer API reports it.
type License struct {
	Key          string
	AppID        string
	Status       string     // "active" or "revoked"
	ExpiresAt    *time.Time // nil: lifetime
	MaxHWIDSlots int
	HWIDList     []string // bound HWIDs (chat identities)
	Label        string
	CreatedAt    time.Time
}

// CreateParams describes a license to create.
type CreateParams struct {
	ExpiresAt    *time.Time // nil: lifetime
	MaxHWIDSlots int        // 1..16; 0 means 1
	Label        string     // at most 128 characters; how a caller finds the license again
}

// Developer API limits.
const (
	maxLabelLen  = 128
	maxSlots     = 16
	maxListLimit = 200
	// devAttempts caps the attempts of a rate limited Developer API call.
	devAttempts = 4
	// devBackoff is the first backoff after a 429; it doubles each time.
	devBackoff = 500 * time.Millisecond
	// maxRetryWait is the longest Retry-After the client waits out; a
	// longer one is returned to the caller.
	maxRetryWait = 30 * time.Second
	// maxPages bounds FindByLabel's walk.
	maxPages = 1000
)

// CreateLicense creates one license (quantity 1). It is retried only when
// AuthForge certainly did not act on it (HTTP 429, or a connection that
// failed before the request was written). A 5xx, a timeout or a connection
// lost after the request was written return an error matching ErrUnavailable
// (and ErrServer for a 5xx): the license may exist, and the caller reconciles
// with FindByLabel.
func (c *Client) CreateLicense(ctx context.Context, p CreateParams) (License, error) {
	if p.MaxHWIDSlots == 0 {
		p.MaxHWIDSlots = 1
	}
	if p.MaxHWIDSlots < 1 || p.MaxHWIDSlots > maxSlots {
		return License{}, fmt.Errorf("authforge: create license: %w: max HWID slots %d outside 1..%d", ErrBadRequest, p.MaxHWIDSlots, maxSlots)
	}
	if len(p.Label) > maxLabelLen {
		return License{}, fmt.Errorf("authforge: create license: %w: label longer than %d characters", ErrBadRequest, maxLabelLen)
	}
	body := map[string]any{
		"appId":        c.appID,
		"quantity":     1,
		"expiresAt":    nil,
		"maxHwidSlots": p.MaxHWIDSlots,
		"label":        p.Label,
	}
	if p.ExpiresAt != nil {
		body["expiresAt"] = formatTime(*p.ExpiresAt)
	}
	var out struct {
		Licenses []licenseJSON `json:"licenses"`
	}
	const op = "create license"
	if err := c.dev(ctx, op, http.MethodPost, "/v1/licenses", body, true, &out); err != nil {
		return License{}, err
	}
	if len(out.Licenses) == 0 || out.Licenses[0].Key == "" {
		return License{}, fmt.Errorf("authforge: %s: %w: %w: answer lists no license", op, ErrUnavailable, ErrServer)
	}
	l := out.Licenses[0].license()
	c.log.Debug("authforge license created", "key", MaskKey(l.Key), "label", l.Label)
	return l, nil
}

// GetLicense reads one license with its HWID bindings. An unknown key
// matches ErrNotFound.
func (c *Client) GetLicense(ctx context.Context, key string) (License, error) {
	var out struct {
		licenseJSON
		License *licenseJSON `json:"license"`
	}
	op := "get license " + MaskKey(key)
	if err := c.dev(ctx, op, http.MethodGet, licensePath(key), nil, false, &out); err != nil {
		return License{}, err
	}
	if out.License != nil {
		return out.License.license(), nil
	}
	return out.licenseJSON.license(), nil
}

// ListLicenses returns one page of the app's licenses (limit 1..200; 0
// means 200) starting at cursor ("" for the first page), and the cursor of
// the next page ("" at the end).
func (c *Client) ListLicenses(ctx context.Context, cursor string, limit int) ([]License, string, error) {
	if limit <= 0 || limit > maxListLimit {
		limit = maxListLimit
	}
	q := url.Values{"appId": {c.appID}, "limit": {strconv.Itoa(limit)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	var out struct {
		Licenses []licenseJSON `json:"licenses"`
		Cursor   *string       `json:"cursor"`
	}
	if err := c.dev(ctx, "list licenses", http.MethodGet, "/v1/licenses?"+q.Encode(), nil, false, &out); err != nil {
		return nil, "", err
	}
	ls := make([]License, 0, len(out.Licenses))
	for _, l := range out.Licenses {
		ls = append(ls, l.license())
	}
	next := ""
	if out.Cursor != nil {
		next = *out.Cursor
	}
	return ls, next, nil
}

// FindByLabel walks the app's licenses (pages of 200) and returns the first
// whose label is label; ErrNotFound when none has it.
func (c *Client) FindByLabel(ctx context.Context, label string) (License, error) {
	if label == "" {
		return License{}, fmt.Errorf("authforge: find by label: %w: empty label", ErrBadRequest)
	}
	cursor := ""
	seen := map[string]bool{}
	for range maxPages {
		page, next, err := c.ListLicenses(ctx, cursor, maxListLimit)
		if err != nil {
			return License{}, err
		}
		for _, l := range page {
			if l.Label == label {
				return l, nil
			}
		}
		if next == "" || seen[next] {
			return License{}, fmt.Errorf("authforge: find by label %q: %w", label, ErrNotFound)
		}
		seen[next] = true
		cursor = next
	}
	// Not ErrNotFound: a caller that took this for "never created" would
	// create a second license for one payment.
	return License{}, fmt.Errorf("authforge: find by label %q: gave up after %d pages of licenses without reaching the end; cannot tell whether it exists", label, maxPages)
}

// RevokeLicense revokes key.
func (c *Client) RevokeLicense(ctx context.Context, key string) error {
	return c.update(ctx, "revoke", key, map[string]any{"action": "revoke"})
}

// ExtendLicense sets key's expiry to until.
func (c *Client) ExtendLicense(ctx context.Context, key string, until time.Time) error {
	return c.update(ctx, "extend", key, map[string]any{"action": "extend", "expiresAt": formatTime(until)})
}

// ResetHWID frees every HWID slot bound to key.
func (c *Client) ResetHWID(ctx context.Context, key string) error {
	return c.update(ctx, "reset-hwid", key, map[string]any{"action": "reset-hwid"})
}

func (c *Client) update(ctx context.Context, action, key string, body map[string]any) error {
	op := action + " license " + MaskKey(key)
	return c.dev(ctx, op, http.MethodPut, licensePath(key), body, false, nil)
}

func licensePath(key string) string {
	return "/v1/licenses/" + url.PathEscape(key)
}

// dev performs a Developer API call and decodes a 2xx JSON answer into out
// (when non-nil). create selects CreateLicense's retry policy.
func (c *Client) dev(ctx context.Context, op, method, path string, body any, create bool, out any) error {
	netRetried := false
	for attempt := 1; ; attempt++ {
		res, sent, err := c.send(ctx, op, method, c.apiURL+path, body, true)
		if err != nil {
			switch {
			case ctx.Err() != nil, netRetried:
				return err
			case create && sent:
				c.log.Warn("authforge create failed after the request was sent; not retried", "err", err)
				return err
			}
			netRetried = true
			c.log.Info("authforge request failed; retrying once", "op", op, "err", err)
			continue
		}
		if res.status >= 200 && res.status < 300 {
			if out == nil || len(res.body) == 0 {
				return nil
			}
			if err := json.Unmarshal(res.body, out); err != nil {
				if create {
					return fmt.Errorf("authforge: %s: %w: %w: malformed answer: %v", op, ErrUnavailable, ErrServer, err)
				}
				return fmt.Errorf("authforge: %s: %w: malformed answer: %v", op, ErrServer, err)
			}
			return nil
		}
		apiErr := c.apiError(res)
		if apiErr.rateLimited() && attempt < devAttempts {
			wait := devBackoff << (attempt - 1)
			wait = max(wait, apiErr.RetryAfter)
			if wait <= maxRetryWait {
				c.log.Info("authforge rate limited; backing off", "op", op, "wait", wait, "attempt", attempt)
				if err := c.sleep(ctx, wait); err != nil {
					return fmt.Errorf("authforge: %s: %w: %w", op, apiErr, err)
				}
				continue
			}
		}
		if create && res.status >= 500 {
			return fmt.Errorf("authforge: %s: outcome unknown: %w: %w", op, ErrUnavailable, apiErr)
		}
		return fmt.Errorf("authforge: %s: %w", op, apiErr)
	}
}

// licenseJSON is the wire form of a license.
type licenseJSON struct {
	Key          string          `json:"licenseKey"`
	AppID        string          `json:"appId"`
	Status       string          `json:"status"`
	ExpiresAt    json.RawMessage `json:"expiresAt"`
	MaxHWIDSlots json.RawMessage `json:"maxHwidSlots"`
	HWIDList     json.RawMessage `json:"hwidList"`
	Label        string          `json:"label"`
	CreatedAt    json.RawMessage `json:"createdAt"`
}

func (j licenseJSON) license() License {
	l := License{Key: j.Key, AppID: j.AppID, Status: j.Status, Label: j.Label}
	if t, ok := parseTime(j.ExpiresAt); ok {
		l.ExpiresAt = &t
	}
	l.MaxHWIDSlots, _ = parseInt(j.MaxHWIDSlots)
	l.HWIDList = parseHWIDs(j.HWIDList)
	l.CreatedAt, _ = parseTime(j.CreatedAt)
	return l
}
