package jicoo

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/membership"
)

// Limits of the organization-user endpoints.
const (
	DefaultPerPage = 20 // what Jicoo's list examples show
	MaxPerPage     = 100
	maxPage        = 1_000_000 // keeps (page-1)*perPage far from overflowing
	maxNameLen     = 200       // the core's bound on names
)

// patch is a decoded Update Organization User body; nil/empty fields stay.
type patch struct {
	Name *string
	Role membership.Role
}

// decodePatch reads a PATCH body. A body that cannot be read as a JSON
// object naming name or role is CodeInvalid (400); values that are well
// formed but unusable are CodeUnprocessable (422); a body that is not JSON
// at all by its Content-Type is CodeUnsupportedMedia (415).
func decodePatch(contentType string, body []byte) (*patch, error) {
	if !isJSON(contentType) {
		return nil, membership.Errorf(membership.CodeUnsupportedMedia, "Content-Type must be application/json")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, membership.Errorf(membership.CodeInvalid, "the request body must be a JSON object with name or role")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var fields map[string]json.RawMessage
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return nil, membership.Errorf(membership.CodeInvalid, "the request body must be a JSON object with name or role")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, membership.Errorf(membership.CodeInvalid, "the request body must hold one JSON object")
	}
	p := &patch{}
	name, err := stringField(fields, "name")
	if err != nil {
		return nil, err
	}
	role, err := stringField(fields, "role")
	if err != nil {
		return nil, err
	}
	if name == nil && role == nil {
		return nil, membership.Errorf(membership.CodeInvalid, "name or role is required")
	}
	if name != nil {
		if strings.TrimSpace(*name) == "" {
			return nil, membership.Errorf(membership.CodeUnprocessable, "name can't be blank")
		}
		if strings.ContainsRune(*name, 0) {
			// PostgreSQL's text cannot hold NUL; refuse it on every engine.
			return nil, membership.Errorf(membership.CodeUnprocessable, "name can't contain null characters")
		}
		if len(*name) > maxNameLen {
			return nil, membership.Errorf(membership.CodeUnprocessable, "name is too long (maximum is %d characters)", maxNameLen)
		}
		p.Name = name
	}
	if role != nil {
		p.Role = membership.Role(*role)
		if !p.Role.Valid() {
			return nil, membership.Errorf(membership.CodeUnprocessable, "role is not included in the list (owner, admin, member)")
		}
	}
	return p, nil
}

// stringField returns fields[key] as a string; absent and null are nil.
func stringField(fields map[string]json.RawMessage, key string) (*string, error) {
	raw, ok := fields[key]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, membership.Errorf(membership.CodeInvalid, "%s must be a string", key)
	}
	return &s, nil
}

// isJSON accepts no Content-Type (curl --data-raw with a JSON body and a
// forgotten header) and any JSON media type.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "" || mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// pageParams reads page and perPage; absent or empty means the default.
func pageParams(q url.Values) (page, perPage int, err error) {
	page, perPage = 1, DefaultPerPage
	if s := q.Get("page"); s != "" {
		if page, err = positive(s, maxPage); err != nil {
			return 0, 0, membership.Errorf(membership.CodeInvalid, "page must be an integer between 1 and %d", maxPage)
		}
	}
	if s := q.Get("perPage"); s != "" {
		if perPage, err = positive(s, MaxPerPage); err != nil {
			return 0, 0, membership.Errorf(membership.CodeInvalid, "perPage must be an integer between 1 and %d", MaxPerPage)
		}
	}
	return page, perPage, nil
}

func positive(s string, limit int) (int, error) {
	if !digits(s) || len(s) > 9 {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		return 0, strconv.ErrRange
	}
	return n, nil
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// memberRef reads a userId: a member's numeric id or its UUID.
func memberRef(userID string) membership.MemberRef {
	if id, ok := ids.Positive(userID); ok {
		return membership.MemberRef{ID: id}
	}
	return membership.MemberRef{UUID: strings.ToLower(userID)}
}
