package membership

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// A removal receipt's uuid is a version 7 UUID that sorts by time, so
// that receipts are added at the right edge of their unique index.
func TestNewTimeUUID(t *testing.T) {
	form := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	at := time.Date(2026, 12, 6, 15, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := range 1000 {
		u := NewTimeUUID(at.Add(time.Duration(i) * time.Millisecond))
		if !form.MatchString(u) {
			t.Fatalf("%q is not a version 7 UUID", u)
		}
		if u <= prev {
			t.Fatalf("%q sorts before %q, made a millisecond earlier", u, prev)
		}
		prev = u
		for range 3 {
			u := NewTimeUUID(at)
			if seen[u] {
				t.Fatalf("%q made twice", u)
			}
			seen[u] = true
		}
	}
	if got, want := NewTimeUUID(at)[:13], "01a24bde-7580"; got != want {
		t.Errorf("time field %q, want %q (Unix milliseconds)", got, want)
	}
}

// formatUUID writes the same text as the fmt form it replaced.
func TestFormatUUID(t *testing.T) {
	for i := range 256 {
		var b [16]byte
		for j := range b {
			b[j] = byte(i*31 + j*17)
		}
		c := b
		c[6] = c[6]&0x0f | 0x40
		c[8] = c[8]&0x3f | 0x80
		want := fmt.Sprintf("%x-%x-%x-%x-%x", c[0:4], c[4:6], c[6:8], c[8:10], c[10:16])
		if got := formatUUID(b, 0x40); got != want {
			t.Fatalf("formatUUID(%x) = %q, want %q", b, got, want)
		}
	}
}
