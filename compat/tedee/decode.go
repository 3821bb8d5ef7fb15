package tedee

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/membership"
)

// item is one requested organization user id: the number as sent (echoed
// back) and the member it names, or a Raw ref when it names none.
type item struct {
	raw json.Number
	ref membership.MemberRef
}

func invalid(format string, args ...any) error {
	return membership.Errorf(membership.CodeInvalid, format, args...)
}

// decodeBody reads {"organizationUserIds": [numbers]}. It stops at the
// (limit+1)th id, so an oversized request costs no more than reading its
// bounded body.
func decodeBody(body []byte, limit int) ([]item, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, invalid("A non-empty request body is required.")
	}
	errShape := invalid(`The request body must be a JSON object such as {"organizationUserIds":[12]}.`)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if !readDelim(dec, '{') {
		return nil, errShape
	}
	var items []item
	found := false
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, errShape
		}
		if !strings.EqualFold(key, "organizationUserIds") {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, errShape
			}
			continue
		}
		if found {
			return nil, invalid("organizationUserIds is given more than once.")
		}
		found = true
		if items, err = readIDs(dec, limit); err != nil {
			return nil, err
		}
	}
	if !readDelim(dec, '}') {
		return nil, errShape
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errShape
	}
	if len(items) == 0 {
		return nil, invalid("The organizationUserIds field is required and must list at least one organization user id.")
	}
	return items, nil
}

func readDelim(dec *json.Decoder, want json.Delim) bool {
	tok, err := dec.Token()
	d, ok := tok.(json.Delim)
	return err == nil && ok && d == want
}

// readIDs reads a list of numbers (null reads as no list).
func readIDs(dec *json.Decoder, limit int) ([]item, error) {
	errList := invalid("organizationUserIds must be a list of numbers.")
	tok, err := dec.Token()
	if err != nil {
		return nil, errList
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errList
	}
	var items []item
	for dec.More() {
		tok, err := dec.Token()
		n, ok := tok.(json.Number)
		if err != nil || !ok {
			return nil, errList
		}
		items = append(items, newItem(n))
		if len(items) > limit {
			return nil, invalid("At most %d organization users can be removed in one request.", limit)
		}
	}
	if !readDelim(dec, ']') {
		return nil, errList
	}
	return items, nil
}

// newItem reads one id: a positive integer names a member; any other
// number is kept raw so that it gets its own "invalid" result.
func newItem(n json.Number) item {
	if id, ok := ids.Positive(n.String()); ok {
		return item{raw: n, ref: membership.MemberRef{ID: id}}
	}
	return item{raw: n, ref: membership.MemberRef{Raw: n.String()}}
}
