package uuidform

import "testing"

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"3f2504e0-4f89-41d3-9a0c-0305e82c3301", true},
		{"3F2504E0-4F89-41D3-9A0C-0305E82C3301", true},
		{"3F2504e0-4f89-41D3-9a0c-0305E82C3301", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"3f2504e04f8941d39a0c0305e82c3301", false},
		{"{3f2504e0-4f89-41d3-9a0c-0305e82c3301}", false},
		{"urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301", false},
		{"3f2504e0-4f89-41d3-9a0c-0305e82c330", false},
		{"3f2504e0-4f89-41d3-9a0c-0305e82c33011", false},
		{"3f2504e0_4f89-41d3-9a0c-0305e82c3301", false},
		{"3f2504e0-4f8941d3-9a0c-0305e82c3301-", false},
		{"3g2504e0-4f89-41d3-9a0c-0305e82c3301", false},
		{" 3f2504e0-4f89-41d3-9a0c-0305e82c330", false},
		{"3f2504e0-4f89-41d3-9a0c-0305e82c330\n", false},
		{"３f2504e0-4f89-41d3-9a0c-0305e82c33", false},
	} {
		if got := Canonical(tc.in); got != tc.want {
			t.Errorf("Canonical(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzCanonical holds Canonical to the hand-written check every interface
// used before it: 36 bytes, hyphens at 8, 13, 18 and 23, hex digits elsewhere.
func FuzzCanonical(f *testing.F) {
	f.Add("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	f.Add("{3f2504e0-4f89-41d3-9a0c-0305e82c3301}")
	f.Add("urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Canonical(s), handWritten(s); got != want {
			t.Errorf("Canonical(%q) = %v, the old check %v", s, got, want)
		}
	})
}

func handWritten(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
