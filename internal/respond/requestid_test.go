package respond

import (
	"strings"
	"testing"
	"time"
)

// TestNewRequestIDOrdered checks that generated request ids keep their
// 24-hex-digit form, sort by the time they were made (so the audit trail's
// request index grows at its end) and differ within one millisecond.
func TestNewRequestIDOrdered(t *testing.T) {
	start := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	prev := ""
	seen := map[string]bool{}
	for i := range 2000 {
		id := newRequestID(start.Add(time.Duration(i/4) * time.Millisecond))
		if len(id) != 24 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("id %q is not 24 hex digits", id)
		}
		if i%4 == 0 && id <= prev {
			t.Fatalf("id %q made a millisecond later sorts before %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("id %q made twice", id)
		}
		seen[id] = true
		prev = id
	}
}
