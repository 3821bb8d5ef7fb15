package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/internal/uuidform"
	"github.com/memberd/memberd/membership"
)

// parseMemberRef reads a member the way clients name one: a numeric id, a
// UUID or an e-mail address. Anything else keeps what was sent in Raw, so
// the core refuses it with its own message (or, in a batch, that one item).
func parseMemberRef(s string) membership.MemberRef {
	if id, ok := ids.Positive(s); ok {
		return membership.MemberRef{ID: id}
	}
	if uuidform.Canonical(s) {
		return membership.MemberRef{UUID: strings.ToLower(s)}
	}
	if strings.Contains(s, "@") {
		return membership.MemberRef{Email: s}
	}
	if s == "" {
		s = `""`
	}
	return membership.MemberRef{Raw: s}
}

// parseRef reads a space, group or resource id: numeric or a UUID.
func parseRef(s string) (membership.Ref, bool) {
	if id, ok := ids.Positive(s); ok {
		return membership.Ref{ID: id}, true
	}
	if uuidform.Canonical(s) {
		return membership.Ref{UUID: strings.ToLower(s)}, true
	}
	return membership.Ref{}, false
}

// pathRef reads a path's space, group or resource id. An id of no valid
// form names nothing, so it is not found, like an absent one.
func pathRef(what, s string) (membership.Ref, error) {
	ref, ok := parseRef(s)
	if !ok {
		return ref, membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	return ref, nil
}

// memberRef is a member named in a body: a numeric id, or a string holding
// a numeric id, a UUID or an e-mail address.
type memberRef struct{ membership.MemberRef }

func (m *memberRef) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	var s string
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	} else {
		// A number: kept as written so an id too large for int64 becomes
		// an invalid reference instead of a rounded one.
		s = string(data)
	}
	m.MemberRef = parseMemberRef(s)
	return nil
}

// Schema documents memberRef (huma.SchemaProvider).
func (memberRef) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Description: "A member: numeric id, or a string holding a numeric id, a UUID or an e-mail address.",
		OneOf: []*huma.Schema{
			{Type: huma.TypeInteger, Format: "int64"},
			{Type: huma.TypeString, MaxLength: ptr(320)},
		},
	}
}

// ref is a space, group or resource named in a body: a numeric id, or a
// string holding a numeric id or a UUID.
type ref struct{ membership.Ref }

func (r *ref) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	s := string(data)
	if len(data) > 0 && data[0] == '"' {
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
	}
	v, ok := parseRef(s)
	if !ok {
		return fmt.Errorf("%s is not a numeric id or a UUID", strconv.Quote(s))
	}
	r.Ref = v
	return nil
}

// Schema documents ref (huma.SchemaProvider).
func (ref) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{
		Description: "Numeric id, or a string holding a numeric id or a UUID.",
		OneOf: []*huma.Schema{
			{Type: huma.TypeInteger, Format: "int64", Minimum: ptr(1.0)},
			{Type: huma.TypeString, MaxLength: ptr(36)},
		},
	}
}

// resourceKind is a resource kind; the schema lists the core's kinds.
type resourceKind string

// Schema documents resourceKind (huma.SchemaProvider).
func (resourceKind) Schema(huma.Registry) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString, Description: "What the resource is."}
	for _, k := range membership.ResourceKinds {
		s.Enum = append(s.Enum, k)
	}
	return s
}

// scopeName is a credential scope; the schema lists the core's scopes.
type scopeName string

// Schema documents scopeName (huma.SchemaProvider).
func (scopeName) Schema(huma.Registry) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString}
	for _, sc := range membership.AllScopes() {
		s.Enum = append(s.Enum, sc)
	}
	return s
}

func ptr[T any](v T) *T { return &v }
