// Package etag owns the one reading of the conditional request headers
// If-Match and If-None-Match (RFC 9110 section 13.1) and their
// comparisons, for every interface that honours them.
package etag

import (
	"errors"
	"strings"
)

// Tag is one entity tag as a client sent it.
type Tag struct {
	Weak bool
	// Opaque is the tag's quoted string, quotes included, as ETag sends it.
	Opaque string
}

// List is a parsed If-Match or If-None-Match: "*" or a list of tags.
// The zero List is an absent header.
type List struct {
	Any  bool
	Tags []Tag
}

// ErrSyntax is a header that is neither "*" nor a list of entity tags.
var ErrSyntax = errors.New(`must be "*" or a comma-separated list of quoted entity tags`)

// Parse reads a header's field lines, which a client may split over many
// lines: RFC 9110 reads them as one list joined by commas. No line, or
// lines holding only empty list elements, is the zero List.
func Parse(lines ...string) (List, error) {
	var l List
	for _, line := range lines {
		s := line
		for {
			s = strings.TrimLeft(s, " \t")
			if s == "" {
				break
			}
			if s[0] == ',' { // an empty list element, which RFC 9110 section 5.6.1 tolerates
				s = s[1:]
				continue
			}
			var t Tag
			var star bool
			var err error
			if t, star, s, err = next(s); err != nil {
				return List{}, err
			}
			if star {
				l.Any = true
			} else {
				l.Tags = append(l.Tags, t)
			}
			s = strings.TrimLeft(s, " \t")
			if s != "" && s[0] != ',' {
				return List{}, ErrSyntax
			}
		}
	}
	if l.Any && len(l.Tags) > 0 {
		return List{}, ErrSyntax // "*" stands alone
	}
	return l, nil
}

// next reads one list element from s: "*" or an entity tag.
func next(s string) (t Tag, star bool, rest string, err error) {
	if s[0] == '*' {
		return Tag{}, true, s[1:], nil
	}
	if strings.HasPrefix(s, "W/") {
		t.Weak, s = true, s[2:]
	}
	if s == "" || s[0] != '"' {
		return Tag{}, false, "", ErrSyntax
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			t.Opaque = s[:i+1]
			return t, false, s[i+1:], nil
		case c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80: // etagc, obs-text included
		default:
			return Tag{}, false, "", ErrSyntax
		}
	}
	return Tag{}, false, "", ErrSyntax
}

// Empty reports whether the header was absent or held no tag.
func (l List) Empty() bool { return !l.Any && len(l.Tags) == 0 }

// MatchStrong reports whether l matches the strong tag current (its
// quoted form) by the strong comparison If-Match uses: "*" matches any
// current tag, a weak tag never matches.
func (l List) MatchStrong(current string) bool {
	if l.Any {
		return current != ""
	}
	for _, t := range l.Tags {
		if !t.Weak && t.Opaque == current {
			return true
		}
	}
	return false
}

// MatchWeak reports whether l matches current by the weak comparison
// If-None-Match uses: "*" matches any current tag, and a tag matches
// whether or not either side is weak.
func (l List) MatchWeak(current string) bool {
	if l.Any {
		return current != ""
	}
	current = strings.TrimPrefix(current, "W/")
	for _, t := range l.Tags {
		if t.Opaque == current {
			return true
		}
	}
	return false
}
