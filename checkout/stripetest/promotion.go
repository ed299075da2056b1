package stripetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// stripe-mock answers GET /v1/promotion_codes with its one fixture
// whatever the code filter says, so it cannot tell a known code from an
// unknown one. After SetPromotionCodes the mock serves that endpoint
// itself, applying the code (case-insensitive, as Stripe does) and active
// filters.

// PromotionCode is a promotion code served by SetPromotionCodes.
type PromotionCode struct {
	ID     string // promo_...
	Code   string // what the customer types
	Active bool
	// ExpiresAt zero: never.
	ExpiresAt      time.Time
	MaxRedemptions int64
	TimesRedeemed  int64
	// PercentOff of its coupon (default 20).
	PercentOff float64
}

// SetPromotionCodes makes GET /v1/promotion_codes list these codes; with
// none, stripe-mock answers that endpoint again.
func (m *Mock) SetPromotionCodes(codes ...PromotionCode) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.promos = nil
	if len(codes) > 0 {
		m.promos = append([]PromotionCode{}, codes...)
	}
}

func (m *Mock) listPromotionCodes(w http.ResponseWriter, q url.Values) {
	m.mu.Lock()
	codes := append([]PromotionCode(nil), m.promos...)
	m.mu.Unlock()
	data := []map[string]any{}
	for _, pc := range codes {
		if c := q.Get("code"); c != "" && !strings.EqualFold(c, pc.Code) {
			continue
		}
		if a := q.Get("active"); a != "" && (a == "true") != pc.Active {
			continue
		}
		data = append(data, pc.object())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"object": "list", "url": "/v1/promotion_codes", "has_more": false, "data": data})
}

func (pc PromotionCode) object() map[string]any {
	off := pc.PercentOff
	if off == 0 {
		off = 20
	}
	var expires any
	if !pc.ExpiresAt.IsZero() {
		expires = pc.ExpiresAt.Unix()
	}
	var maxRed any
	if pc.MaxRedemptions > 0 {
		maxRed = pc.MaxRedemptions
	}
	return map[string]any{
		"id": pc.ID, "object": "promotion_code", "active": pc.Active, "code": pc.Code,
		"created": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), "customer": nil,
		"expires_at": expires, "livemode": false, "max_redemptions": maxRed, "metadata": map[string]string{},
		"times_redeemed": pc.TimesRedeemed,
		"restrictions":   map[string]any{"first_time_transaction": false, "minimum_amount": nil, "minimum_amount_currency": nil},
		"coupon": map[string]any{
			"id": "co_" + pc.ID, "object": "coupon", "percent_off": off, "amount_off": nil, "currency": nil,
			"duration": "once", "valid": true, "livemode": false, "metadata": map[string]string{},
			"times_redeemed": pc.TimesRedeemed, "created": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
		},
	}
}
