package scim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// show renders a core filter compactly for comparison.
func show(f *membership.Filter) string {
	switch f.Op {
	case membership.FilterAnd, membership.FilterOr:
		return "(" + show(f.Sub[0]) + " " + string(f.Op) + " " + show(f.Sub[1]) + ")"
	case membership.FilterNot:
		if f.Sub[0] == nothing {
			return "TRUE"
		}
		return "not(" + show(f.Sub[0]) + ")"
	case membership.FilterNothing:
		return "FALSE"
	case membership.FilterPr:
		return string(f.Field) + " pr"
	}
	exact := ""
	if f.CaseExact {
		exact = "!"
	}
	return fmt.Sprintf("%s %s%s %v", f.Field, f.Op, exact, f.Value)
}

// TestFilterCorpus parses the filters of RFC 7644 §3.4.2.2's examples and
// those Okta and Entra ID send, and translates them for Users.
func TestFilterCorpus(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Okta: before every create
		{`userName eq "bjensen@example.com"`, `email eq bjensen@example.com`},
		// Entra ID
		{`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`, `external_id eq! 0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef`},
		{`emails[type eq "work"].value eq "x@example.com"`, `(TRUE and email eq x@example.com)`},
		{`emails[type eq "home"].value eq "x@example.com"`, `(FALSE and email eq x@example.com)`},
		// RFC 7644 §3.4.2.2 examples
		{`name.familyName co "O'Malley"`, `family_name co O'Malley`},
		{`userName sw "J"`, `email sw J`},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"`, `email sw J`},
		{`title pr`, `FALSE`},
		// an extension memberd does not keep: its attributes are never present
		{`urn:example:foo:bar eq "x"`, `FALSE`},
		{`meta.lastModified gt "2011-05-13T04:42:34Z"`, `updated gt 2011-05-13 04:42:34 +0000 UTC`},
		{`meta.lastModified ge "2011-05-13T04:42:34Z"`, `updated ge 2011-05-13 04:42:34 +0000 UTC`},
		{`title pr and userType eq "Employee"`, `(FALSE and FALSE)`},
		{`userName eq "a" or userName eq "b" and active eq true`, `(email eq a or (email eq b and active eq true))`},
		{`(userName eq "a" or userName eq "b") and active eq false`, `((email eq a or email eq b) and active eq false)`},
		{`userType eq "Employee" and not (emails co "example.com" or emails.value co "example.org")`,
			`(FALSE and not((email co example.com or email co example.org)))`},
		{`emails[type eq "work" and value co "@example.com"]`, `(TRUE and email co @example.com)`},
		{`USERNAME EQ "A"`, `email eq A`},
		{`userName eq bare@example.com`, `email eq bare@example.com`},
		{`displayName ne "x"`, `name ne x`},
		{`externalId eq null`, `not(external_id pr)`},
		{`name.givenName ew "n" and name.formatted pr`, `(given_name ew n and name pr)`},
		{`userName eq "with \"quote\""`, `email eq with "quote"`},
		// A user's groups (RFC 7643 §4.1.2), found by value as a group's members are
		{`groups.value eq "g"`, `group eq! g`},
		{`groups eq "g"`, `group eq! g`},
		{`groups[value eq "g" and type eq "direct"]`, `(group eq! g and TRUE)`},
		{`groups[type eq "indirect"]`, `FALSE`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			e, err := parseFilter(tc.in)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			f, err := toCoreFilter(kindUser, e)
			if err != nil {
				t.Fatalf("translate: %v", err)
			}
			if got := show(f); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestFilterRejects checks that malformed filters are refused, not guessed.
func TestFilterRejects(t *testing.T) {
	for _, in := range []string{
		``, `userName`, `userName eq`, `userName xx "a"`, `(userName eq "a"`, `userName eq "a")`,
		`userName eq "a" and`, `not userName eq "a"`, `emails[type eq "work"`, `emails[value eq "a"]]`,
		`userName eq "unterminated`, `1abc eq "a"`, `a..b eq "x"`, `emails[type eq "work"].1x eq "a"`,
		`emails[members[value eq "a"]]`, `userName eq "a" userName eq "b"`, strings.Repeat("(", 30) + `userName pr` + strings.Repeat(")", 30),
		`nosuch eq "a"`, `active eq "yes"`, `meta.created gt "yesterday"`, `urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"`,
		`groups.display eq "x"`, `groups[display eq "x"]`, `groups.value sw "g"`, `groups pr`, `groups.value eq null`,
		`groups.$ref eq "x"`, `groups[value eq "g"].display eq "x"`,
	} {
		e, err := parseFilter(in)
		if err == nil {
			_, err = toCoreFilter(kindUser, e)
		}
		if err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func TestGroupFilters(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`displayName eq "Engineering"`, `group_name eq Engineering`},
		{`id eq "g" and members[value eq "u"]`, `(uuid eq! g and member eq! u)`},
		{`members.value eq "u"`, `member eq! u`},
	} {
		e, err := parseFilter(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		f, err := toCoreFilter(kindGroup, e)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if got := show(f); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`members`, `members`},
		{`members[value eq "2819c223"]`, `members[]`},
		{`emails[type eq "work"].value`, `emails.value[]`},
		{`name.givenName`, `name.givenName`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`, `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`},
	} {
		p, err := parsePath(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		got := p.String()
		if p.filter != nil {
			got += "[]"
		}
		if got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, in := range []string{``, `members[`, `members]`, `a b`, `members[value eq "x"] junk`, `name.givenName[value eq "x"]`} {
		if _, err := parsePath(in); err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

// FuzzFilter checks that no filter makes the parser or the translation
// panic, and that a parsed filter always translates or refuses cleanly.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "a"`, `emails[type eq "work"].value eq "x"`, `not (a pr) or b eq 1`,
		`members[value eq "u" or display co "x"]`, `meta.created gt "2011-05-13T04:42:34Z"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseFilter(s)
		if err != nil {
			return
		}
		_, _ = toCoreFilter(kindUser, e)
		_, _ = toCoreFilter(kindGroup, e)
	})
}

// FuzzPath checks the PATCH path parser the same way.
func FuzzPath(f *testing.F) {
	for _, s := range []string{`members[value eq "x"]`, `emails[type eq "work"].value`, `name.givenName`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePath(s)
		if err != nil {
			return
		}
		in := &membership.UserInput{}
		_ = userTarget{in: in}.set("replace", p, []byte(`"v"`))
		g := newGroupTarget(nil, &membership.GroupChange{})
		_ = g.set("remove", p, nil)
	})
}

// FuzzPatchBody checks that any PATCH body is decoded and applied to a
// user and a group without a panic.
func FuzzPatchBody(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`,
		`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
		`{"Operations":[{"op":"Remove","path":"members","value":[{"value":"a"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]}`,
		`{"Operations":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodePatch(body)
		if err != nil {
			return
		}
		in := &membership.UserInput{}
		g := newGroupTarget(&membership.DirectoryGroup{Members: []*membership.Member{{UUID: "a", Email: "a@x"}}}, &membership.GroupChange{})
		delta := newGroupTarget(nil, &membership.GroupChange{})
		delta.delta = true
		for _, op := range ops {
			_ = userTarget{in: in}.apply(op)
			_ = g.apply(op)
			if !needsMembers(op) {
				_ = delta.apply(op)
			}
		}
		g.finish(&membership.DirectoryGroup{Members: []*membership.Member{{UUID: "a"}}})
	})
}
