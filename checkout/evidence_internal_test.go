package checkout

import (
	"strings"
	"testing"
)

func TestFitEvidenceLimits(t *testing.T) {
	line := strings.Repeat("é", 99) + "\n" // 100 UTF-16 units
	f := EvidenceFields{
		"access_activity_log":      strings.Repeat(line, 300), // 30,000
		"product_description":      "short",
		"refund_policy_disclosure": strings.Repeat("😀", 15000), // 30,000 units, 15,000 runes
	}
	fitEvidence(f)
	total := 0
	for k, v := range f {
		if n := utf16Len(v); n > EvidenceFieldLimit {
			t.Errorf("%s: %d UTF-16 units", k, n)
		}
		total += utf16Len(f[k])
	}
	if total > EvidenceTotalLimit {
		t.Errorf("total %d", total)
	}
	log := f["access_activity_log"]
	if !strings.HasSuffix(log, truncatedNote) || !strings.HasSuffix(strings.TrimSuffix(log, truncatedNote), "é") {
		t.Errorf("log not cut at a line end with the note: ...%q", log[len(log)-120:])
	}
	if f["product_description"] != "short" {
		t.Errorf("short field changed: %q", f["product_description"])
	}
	if !strings.HasSuffix(f["refund_policy_disclosure"], truncatedNote) {
		t.Error("no note on the cut field")
	}
}

func TestFitEvidenceTotal(t *testing.T) {
	f := EvidenceFields{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		f[k] = strings.Repeat("x", EvidenceFieldLimit)
	}
	f["access_activity_log"] = strings.Repeat("y\n", EvidenceFieldLimit/2)
	fitEvidence(f)
	total := 0
	for _, v := range f {
		total += utf16Len(v)
	}
	if total > EvidenceTotalLimit {
		t.Fatalf("total %d > %d", total, EvidenceTotalLimit)
	}
	if !strings.HasSuffix(f["access_activity_log"], truncatedNote) {
		t.Fatal("access log not cut to fit the total")
	}
}
