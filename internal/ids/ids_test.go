package ids

import (
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 1, true}, {"42", 42, true}, {"9223372036854775807", 1<<63 - 1, true},
		{"", 0, false}, {"+1", 0, false}, {"-1", 0, false}, {"-0", 0, false}, {"01", 0, false}, {"00", 0, false},
		{" 1", 0, false}, {"1 ", 0, false}, {"1e3", 0, false}, {"0x1", 0, false}, {"1_000", 0, false},
		{"9223372036854775808", 0, false}, {"99999999999999999999", 0, false}, {"١", 0, false}, {"1\x00", 0, false},
	} {
		got, ok := Parse(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Parse(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	if _, ok := Positive("0"); ok {
		t.Error(`Positive("0") accepted`)
	}
}

// FuzzParse holds Parse to its definition: it accepts exactly the strings
// that are the decimal form strconv writes for a non-negative int64.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "1", "+1", "-1", "007", "9223372036854775807", "9223372036854775808", " 1", "1\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := Parse(s)
		n, err := strconv.ParseInt(s, 10, 64)
		want := err == nil && n >= 0 && strconv.FormatInt(n, 10) == s
		if ok != want || (ok && id != n) {
			t.Fatalf("Parse(%q) = %d, %v; want ok=%v", s, id, ok, want)
		}
	})
}
