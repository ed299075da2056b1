package licensing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shopbot/shopbot/identity"
	"github.com/shopbot/shopbot/licensing/authforge"
	"github.com/shopbot/shopbot/store"
)

// Transfer lets a holder (or the owner) of key free all its HWID slots to
// activate it on another account: AuthForge reset-hwid, then every
// activation of the key is removed. At most TransferLimit times per
// TransferWindow per key (*TransferLimitError). It returns how many more
// transfers the window allows.
func (s *Service) Transfer(ctx context.Context, who identity.Identity, rawKey string) (remaining int, err error) {
	key, lic, err := s.resolve(ctx, rawKey)
	if err != nil {
		return 0, err
	}
	switch {
	case lic.Status == store.LicenseRevoked:
		return 0, ErrRevoked
	case expired(lic, s.now()):
		return 0, ErrExpired
	}
	holders, err := s.holdersOf(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("licensing: transfer: %w", err)
	}
	if lic.Owner != who && !slices.Contains(holders, who) {
		return 0, ErrNotHolder
	}

	s.transferMu.Lock()
	defer s.transferMu.Unlock()
	now := s.now()
	times, err := s.transfers(ctx, key, now)
	if err != nil {
		return 0, err
	}
	if len(times) >= s.transferLimit {
		return 0, &TransferLimitError{Limit: s.transferLimit, RetryAfter: times[0].Add(s.transferWindow).Sub(now)}
	}
	f, err := s.release(ctx, lic)
	if err != nil {
		return 0, err
	}
	f.tell = slices.DeleteFunc(f.tell, func(i identity.Identity) bool { return i == who })
	s.settle(ctx, f)
	times = append(times, now)
	if err := s.store.PutMeta(ctx, transferMetaKey(key), formatTimes(times)); err != nil {
		s.log.Error("transfer not counted", "key", authforge.MaskKey(key), "err", err)
	}
	s.audit(ctx, who.String(), "transfer", authforge.MaskKey(key), fmt.Sprintf("%d activation(s) released", len(f.removed)))
	return s.transferLimit - len(times), nil
}

// transfers reads the times key was transferred within the window ending at
// now, oldest first.
func (s *Service) transfers(ctx context.Context, key string, now time.Time) ([]time.Time, error) {
	raw, err := s.store.GetMeta(ctx, transferMetaKey(key))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("licensing: read transfers: %w", err)
	}
	var out []time.Time
	start := now.Add(-s.transferWindow)
	for _, f := range strings.Split(raw, ",") {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			continue
		}
		if t := time.Unix(n, 0); t.After(start) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	return out, nil
}

// transferMetaKey names the meta entry of key's transfers by a hash, so the
// key itself is not written unencrypted.
func transferMetaKey(key string) string {
	sum := sha256.Sum256([]byte("shopbot-transfer:" + key))
	return "licensing.transfers." + hex.EncodeToString(sum[:16])
}

func formatTimes(ts []time.Time) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = strconv.FormatInt(t.Unix(), 10)
	}
	return strings.Join(parts, ",")
}
