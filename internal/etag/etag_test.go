package etag

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  List
		err   bool
	}{
		{"Absent", nil, List{}, false},
		{"Empty", []string{""}, List{}, false},
		{"OnlyCommas", []string{" , ,"}, List{}, false},
		{"Star", []string{"*"}, List{Any: true}, false},
		{"StarSpaced", []string{" * "}, List{Any: true}, false},
		{"One", []string{`"abc"`}, List{Tags: []Tag{{Opaque: `"abc"`}}}, false},
		{"EmptyTag", []string{`""`}, List{Tags: []Tag{{Opaque: `""`}}}, false},
		{"Weak", []string{`W/"abc"`}, List{Tags: []Tag{{Weak: true, Opaque: `"abc"`}}}, false},
		{"List", []string{`"a", W/"b" ,"c"`}, List{Tags: []Tag{{Opaque: `"a"`}, {Weak: true, Opaque: `"b"`}, {Opaque: `"c"`}}}, false},
		{"EmptyElements", []string{`,"a",,"b",`}, List{Tags: []Tag{{Opaque: `"a"`}, {Opaque: `"b"`}}}, false},
		{"Lines", []string{`"a"`, `"b"`}, List{Tags: []Tag{{Opaque: `"a"`}, {Opaque: `"b"`}}}, false},
		{"CommaInsideIsNotAllowed", []string{`"a,b"`}, List{Tags: []Tag{{Opaque: `"a,b"`}}}, false},
		{"ObsText", []string{"\"caf\xc3\xa9\""}, List{Tags: []Tag{{Opaque: "\"caf\xc3\xa9\""}}}, false},
		{"Unquoted", []string{"abc"}, List{}, true},
		{"Unterminated", []string{`"abc`}, List{}, true},
		{"LowerWeak", []string{`w/"abc"`}, List{}, true},
		{"SpaceInside", []string{`"a b"`}, List{}, true},
		{"NoComma", []string{`"a" "b"`}, List{}, true},
		{"StarWithTags", []string{`*, "a"`}, List{}, true},
		{"StarOverLines", []string{`*`, `"a"`}, List{}, true},
		{"WeakStar", []string{`W/*`}, List{}, true},
		{"Control", []string{"\"a\x01\""}, List{}, true},
		{"DEL", []string{"\"a\x7f\""}, List{}, true},
		{"Trailing", []string{`"a"x`}, List{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.lines...)
			if (err != nil) != tc.err {
				t.Fatalf("Parse(%q): error %v, want error %v", tc.lines, err, tc.err)
			}
			if err != nil && !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q): error %v, want ErrSyntax", tc.lines, err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Parse(%q) (-got +want):\n%s", tc.lines, diff)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	const cur = `"v1"`
	tests := []struct {
		header         string
		strong, weak   bool
		currentMissing bool
	}{
		{header: "", strong: false, weak: false},
		{header: "*", strong: true, weak: true},
		{header: "*", currentMissing: true},
		{header: `"v1"`, strong: true, weak: true},
		{header: `"v0", "v1"`, strong: true, weak: true},
		{header: `W/"v1"`, strong: false, weak: true},
		{header: `"v2"`, strong: false, weak: false},
		{header: `"V1"`, strong: false, weak: false},
	}
	for _, tc := range tests {
		l, err := Parse(tc.header)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.header, err)
		}
		current := cur
		if tc.currentMissing {
			current = ""
		}
		if got := l.MatchStrong(current); got != tc.strong {
			t.Errorf("%q MatchStrong(%q): got %v, want %v", tc.header, current, got, tc.strong)
		}
		if got := l.MatchWeak(current); got != tc.weak {
			t.Errorf("%q MatchWeak(%q): got %v, want %v", tc.header, current, got, tc.weak)
		}
	}
	if l, _ := Parse(`"v1"`); !l.MatchWeak(`W/"v1"`) {
		t.Error(`"v1" does not match W/"v1" weakly`)
	}
}

// FuzzParse holds Parse to its grammar: whatever it accepts, written back
// as a list, parses to the same List, and every tag it returns is quoted
// and holds only etagc.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "*", `"a"`, `W/"a", "b"`, `,,"a",`, `"a" "b"`, `*,"a"`, "\"\x80\"", `W/`, `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			if !l.Empty() {
				t.Fatalf("Parse(%q) failed but returned %+v", s, l)
			}
			return
		}
		var parts []string
		if l.Any {
			parts = append(parts, "*")
		}
		for _, tag := range l.Tags {
			o := tag.Opaque
			if len(o) < 2 || o[0] != '"' || o[len(o)-1] != '"' || strings.ContainsFunc(o[1:len(o)-1], notEtagc) {
				t.Fatalf("Parse(%q): tag %q is not an opaque-tag", s, o)
			}
			if tag.Weak {
				o = "W/" + o
			}
			parts = append(parts, o)
		}
		again, err := Parse(strings.Join(parts, ", "))
		if err != nil || !cmp.Equal(again, l) {
			t.Fatalf("Parse(%q) = %+v, which written back parses to %+v, %v", s, l, again, err)
		}
	})
}

// notEtagc reports a character RFC 9110 does not allow inside an entity
// tag: DQUOTE, controls, space and DEL (obs-text is allowed).
func notEtagc(r rune) bool { return r == '"' || r <= ' ' || r == 0x7f }
