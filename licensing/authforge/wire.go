package authforge

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
)

// formatTime is the ISO 8601 form AuthForge takes: UTC, millisecond
// precision.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// parseTime reads a time sent as an ISO 8601 string, as unix seconds (a
// number or numeric string; values above 1e11 are taken as milliseconds),
// or null (false).
func parseTime(raw json.RawMessage) (time.Time, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, false
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05", time.DateOnly} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC(), true
			}
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, false
		}
		return unixTime(f)
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil {
		return time.Time{}, false
	}
	return unixTime(f)
}

func unixTime(f float64) (time.Time, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f >= 1e15 {
		return time.Time{}, false
	}
	if f > 1e11 {
		f /= 1000
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true
}

// parseInt reads an integer sent as a number or a numeric string.
func parseInt(raw json.RawMessage) (int, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		raw = []byte(strings.TrimSpace(s))
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsNaN(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int(f), true
}

// parseHWIDs reads a hwidList: strings, or binding objects naming the HWID
// in "hwid" (or "value"/"id").
func parseHWIDs(raw json.RawMessage) []string {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		var s string
		if json.Unmarshal(it, &s) == nil {
			out = append(out, s)
			continue
		}
		var obj struct {
			HWID  string `json:"hwid"`
			Value string `json:"value"`
			ID    string `json:"id"`
		}
		if json.Unmarshal(it, &obj) != nil {
			continue
		}
		switch {
		case obj.HWID != "":
			out = append(out, obj.HWID)
		case obj.Value != "":
			out = append(out, obj.Value)
		case obj.ID != "":
			out = append(out, obj.ID)
		}
	}
	return out
}
