// Package ids owns the one textual form of a numeric id that every
// interface accepts: ASCII digits, no sign, no leading zero unless the id
// is 0, within int64. strconv.ParseInt alone also takes "+1" and "007",
// so two spellings would name one entity and a client could reach an
// organization through an id it never saw written that way.
package ids

import "strconv"

// maxLen is the length of the largest int64, 9223372036854775807.
const maxLen = 19

// Parse reads s as an id in its canonical form and reports whether it is
// one. "0" is canonical; callers that need a positive id check id > 0.
func Parse(s string) (int64, bool) {
	if s == "" || len(s) > maxLen || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return id, true
}

// Positive is Parse for the ids memberd hands out, which start at 1.
func Positive(s string) (int64, bool) {
	id, ok := Parse(s)
	return id, ok && id > 0
}
