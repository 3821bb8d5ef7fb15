package membership

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
)

func TestValidEmail(t *testing.T) {
	for _, ok := range []string{
		"bob@acme.test", "bob.smith+tag@mail.acme.test", "o'neil@acme.co.uk", "x@a-b.example", "jürgen@bücher.de",
		"a@b.io", strings.Repeat("l", 64) + "@acme.test",
	} {
		if err := ValidEmail(ok); err != nil {
			t.Errorf("ValidEmail(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{
		"", "bob", "bob@", "@acme.test", "bob@localhost", "bob@acme", "bob@acme.", "bob@.acme.test", "bob@acme..test",
		"bob@-acme.test", "bob@acme-.test", "bob@127.0.0.1", "bob@[127.0.0.1]", "bob@acme.123", "bob@acme_x.test",
		"Bob <bob@acme.test>", "<bob@acme.test>", "bob@acme.test (Bob)", `"bob smith"@acme.test`, `"bob"@acme.test`,
		"bob @acme.test", "bob\t@acme.test", "bob@acme.test\n", "bob\x00@acme.test", "bob\x7f@acme.test",
		"bob\u202e@acme.test", "evil\u202etset.emca@acme.test", "bob@acme\u202a.test", "bob\u2066@acme.test", "bob\u2069@acme.test",
		"bo\u200bb@acme.test", "bob\u200d@acme.test", "bob\ufeff@acme.test", "bob\u2060@acme.test", "bob\u00ad@acme.test",
		"bob\u2028@acme.test", "bob\u00a0@acme.test", "bob\ue000@acme.test", "bob\xff@acme.test",
		strings.Repeat("l", 65) + "@acme.test", "bob@" + strings.Repeat("d", 64) + ".test",
		"a@" + strings.Repeat("d.", 130) + "test",
	} {
		if err := ValidEmail(bad); ErrorCode(err) != CodeInvalid {
			t.Errorf("ValidEmail(%q) = %v, want CodeInvalid", bad, err)
		}
	}
}

// FuzzValidEmail holds ValidEmail to its contract: an address it accepts
// is one plain address that net/mail reads back as itself, within the
// length limits, with no control, format, space or private-use character,
// and a dot-qualified domain; everything else is CodeInvalid, never a panic.
func FuzzValidEmail(f *testing.F) {
	for _, s := range []string{"bob@acme.test", "bob@localhost", "bob\u202e@acme.test", `"a b"@acme.test`,
		"Bob <bob@acme.test>", "jürgen@bücher.de", "bob@127.0.0.1", "bo\u200bb@acme.test", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidEmail(s)
		if err != nil {
			if ErrorCode(err) != CodeInvalid {
				t.Fatalf("ValidEmail(%q) = %v, want CodeInvalid", s, err)
			}
			return
		}
		a, perr := mail.ParseAddress(s)
		if perr != nil || a.Address != s || len(s) > 254 {
			t.Fatalf("accepted %q, which is not one plain address", s)
		}
		for _, r := range s {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Z) || unicode.IsSpace(r) {
				t.Fatalf("accepted %q, which holds %U", s, r)
			}
		}
		domain := s[strings.LastIndexByte(s, '@')+1:]
		if !strings.Contains(domain, ".") || strings.HasPrefix(domain, "[") {
			t.Fatalf("accepted %q, whose domain is not dot-qualified", s)
		}
		if NormalizeEmail(s) != strings.ToLower(s) {
			t.Fatalf("accepted %q, which normalizing trims", s)
		}
	})
}
