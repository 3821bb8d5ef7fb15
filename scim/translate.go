package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// This file turns a parsed filter into the core's neutral filter, which
// the store evaluates in SQL, applying RFC 7643's rules: attribute names
// compare case-insensitively, and strings compare as the attribute's
// caseExact says (userName, displayName, names: no; id, externalId: yes).

// Schema URNs.
const (
	schemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	msgList          = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	msgError         = "urn:ietf:params:scim:api:messages:2.0:Error"
	msgPatch         = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	msgBulkRequest   = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
	msgBulkResponse  = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
)

// everything and nothing are constant filters, for conditions on
// attributes whose value memberd knows without a lookup.
var (
	nothing    = &membership.Filter{Op: membership.FilterNothing}
	everything = &membership.Filter{Op: membership.FilterNot, Sub: []*membership.Filter{nothing}}
)

// resourceKind says which resource a filter or path is about.
type resourceKind int

const (
	kindUser resourceKind = iota
	kindGroup
)

// attrField is one filterable attribute: the core field and how it compares.
type attrField struct {
	f         membership.Field
	caseExact bool
}

// userAttrs maps a User attribute (lower-case, sub-attribute after a dot)
// to the core field it is stored in.
var userAttrs = map[string]attrField{
	"id":                {membership.FieldUUID, true},
	"username":          {membership.FieldEmail, false},
	"externalid":        {membership.FieldExternalID, true},
	"displayname":       {membership.FieldName, false},
	"name.formatted":    {membership.FieldName, false},
	"name.givenname":    {membership.FieldGivenName, false},
	"name.familyname":   {membership.FieldFamilyName, false},
	"active":            {membership.FieldActive, false},
	"emails":            {membership.FieldEmail, false},
	"emails.value":      {membership.FieldEmail, false},
	"groups":            {membership.FieldGroup, true},
	"groups.value":      {membership.FieldGroup, true},
	"meta.created":      {membership.FieldCreated, false},
	"meta.lastmodified": {membership.FieldUpdated, false},
}

var groupAttrs = map[string]attrField{
	"id":                {membership.FieldUUID, true},
	"displayname":       {membership.FieldGroupName, false},
	"externalid":        {membership.FieldExternalID, true},
	"members":           {membership.FieldMember, true},
	"members.value":     {membership.FieldMember, true},
	"meta.created":      {membership.FieldCreated, false},
	"meta.lastmodified": {membership.FieldUpdated, false},
}

// schemaOf is the core schema URN of kind.
func schemaOf(kind resourceKind) string {
	if kind == kindGroup {
		return schemaGroup
	}
	return schemaUser
}

// attrKey is p's lower-case lookup key, or an error if its URI is another
// core schema. Attributes of extension schemas answer stored false:
// memberd keeps none of them.
func attrKey(kind resourceKind, p attrPath) (key string, stored bool, err error) {
	uri := strings.ToLower(p.uri)
	switch {
	case uri == "" || uri == strings.ToLower(schemaOf(kind)):
	case isExtension(uri):
		return "", false, nil
	default:
		return "", false, fmt.Errorf("unknown schema %q", p.uri)
	}
	key = strings.ToLower(p.attr)
	if p.sub != "" {
		key += "." + strings.ToLower(p.sub)
	}
	return key, true, nil
}

// isExtension reports whether uri (or a path in it) names an extension
// schema: the enterprise one, or any other, such as the custom ones an
// Entra ID tenant's attribute mappings send on every update. Core schemas
// and SCIM's messages are not extensions.
func isExtension(uri string) bool {
	uri = strings.ToLower(uri)
	return strings.HasPrefix(uri, "urn:") && !strings.HasPrefix(uri, "urn:ietf:params:scim:schemas:core:") &&
		!strings.HasPrefix(uri, "urn:ietf:params:scim:api:")
}

// toCoreFilter translates e for kind.
func toCoreFilter(kind resourceKind, e *expr) (*membership.Filter, error) {
	switch e.op {
	case "and", "or":
		l, err := toCoreFilter(kind, e.sub[0])
		if err != nil {
			return nil, err
		}
		r, err := toCoreFilter(kind, e.sub[1])
		if err != nil {
			return nil, err
		}
		return &membership.Filter{Op: membership.FilterOp(e.op), Sub: []*membership.Filter{l, r}}, nil
	case "not":
		in, err := toCoreFilter(kind, e.sub[0])
		if err != nil {
			return nil, err
		}
		return &membership.Filter{Op: membership.FilterNot, Sub: []*membership.Filter{in}}, nil
	}
	if e.inner != nil {
		return valuePathFilter(kind, e)
	}
	return compareFilter(kind, e.path, e.op, e.value)
}

// valuePathFilter translates attr[inner] (and attr[inner].sub op value).
// A multi-valued attribute memberd derives has one value whose other
// sub-attributes are constants: a user's one e-mail is {type: work,
// primary: true}; a group member has only a value; a user's group is
// {type: direct}.
func valuePathFilter(kind resourceKind, e *expr) (*membership.Filter, error) {
	attr := strings.ToLower(e.path.attr)
	var inner *membership.Filter
	var err error
	switch {
	case kind == kindUser && attr == "emails":
		inner, err = emailFilter(e.inner)
	case kind == kindGroup && attr == "members":
		inner, err = memberFilter(e.inner)
	case kind == kindUser && attr == "groups":
		inner, err = userGroupFilter(e.inner)
	default:
		return nil, fmt.Errorf("attribute %q has no value filter", e.path.attr)
	}
	if err != nil {
		return nil, err
	}
	if e.op == "[]" {
		return inner, nil
	}
	outer, err := compareFilter(kind, e.path, e.op, e.value)
	if err != nil {
		return nil, err
	}
	return &membership.Filter{Op: membership.FilterAnd, Sub: []*membership.Filter{inner, outer}}, nil
}

func emailFilter(e *expr) (*membership.Filter, error) {
	return subFilter(e, func(sub string, op string, v any) (*membership.Filter, error) {
		switch sub {
		case "value":
			return compareFilter(kindUser, attrPath{attr: "emails"}, op, v)
		case "type":
			return constCompare("work", op, v)
		case "primary":
			return constCompare(true, op, v)
		case "display":
			return nothing, nil
		}
		return nil, fmt.Errorf("emails has no sub-attribute %q", sub)
	})
}

func memberFilter(e *expr) (*membership.Filter, error) {
	return subFilter(e, func(sub string, op string, v any) (*membership.Filter, error) {
		switch sub {
		case "value":
			return compareFilter(kindGroup, attrPath{attr: "members"}, op, v)
		case "type":
			return constCompare("User", op, v)
		}
		return nil, fmt.Errorf("members cannot be filtered by %q", sub)
	})
}

// userGroupFilter translates groups[…]: by value (eq), and by the type
// every group of a user has. display is refused rather than matched: it
// is the group's name, which a client finds at /Groups.
func userGroupFilter(e *expr) (*membership.Filter, error) {
	return subFilter(e, func(sub string, op string, v any) (*membership.Filter, error) {
		switch sub {
		case "value":
			return compareFilter(kindUser, attrPath{attr: "groups"}, op, v)
		case "type":
			return constCompare("direct", op, v)
		}
		return nil, fmt.Errorf("groups cannot be filtered by %q", sub)
	})
}

// subFilter translates a value filter whose attributes are sub-attributes.
func subFilter(e *expr, leaf func(sub, op string, v any) (*membership.Filter, error)) (*membership.Filter, error) {
	switch e.op {
	case "and", "or", "not":
		subs := make([]*membership.Filter, len(e.sub))
		for i, s := range e.sub {
			f, err := subFilter(s, leaf)
			if err != nil {
				return nil, err
			}
			subs[i] = f
		}
		return &membership.Filter{Op: membership.FilterOp(e.op), Sub: subs}, nil
	}
	if e.path.uri != "" || e.path.sub != "" {
		return nil, fmt.Errorf("%q is not a sub-attribute", e.path)
	}
	return leaf(strings.ToLower(e.path.attr), e.op, e.value)
}

// constCompare evaluates a comparison with a constant attribute now.
func constCompare(have any, op string, v any) (*membership.Filter, error) {
	if op == "pr" {
		return everything, nil
	}
	var match bool
	switch h := have.(type) {
	case string:
		s, ok := v.(string)
		if !ok {
			return nothing, nil
		}
		h, s = strings.ToLower(h), strings.ToLower(s)
		switch op {
		case "eq":
			match = h == s
		case "ne":
			match = h != s
		case "co":
			match = strings.Contains(h, s)
		case "sw":
			match = strings.HasPrefix(h, s)
		case "ew":
			match = strings.HasSuffix(h, s)
		default:
			match = (op == "gt" && h > s) || (op == "ge" && h >= s) || (op == "lt" && h < s) || (op == "le" && h <= s)
		}
	case bool:
		b, ok := v.(bool)
		if !ok || (op != "eq" && op != "ne") {
			return nil, fmt.Errorf("a boolean is compared with eq or ne and true or false")
		}
		match = (b == h) == (op == "eq")
	}
	if match {
		return everything, nil
	}
	return nothing, nil
}

// compareFilter translates "path op value".
func compareFilter(kind resourceKind, path attrPath, op string, v any) (*membership.Filter, error) {
	key, stored, err := attrKey(kind, path)
	if err != nil {
		return nil, err
	}
	attrs := userAttrs
	if kind == kindGroup {
		attrs = groupAttrs
	}
	fd, ok := attrs[key]
	if kind == kindUser && (key == "groups" || strings.HasPrefix(key, "groups.")) && (!ok || op != "eq" || v == nil) {
		// A user's groups are found by value alone, as a group's members
		// are: "groups.value eq", "groups eq" or groups[value eq …].
		return nil, fmt.Errorf("groups are filtered with eq on their value")
	}
	if !stored || (!ok && knownAttr(kind, key)) {
		// An attribute of the schema that memberd does not keep: it is
		// never present, so only "ne" and "not" can match.
		if op == "ne" {
			return everything, nil
		}
		return nothing, nil
	}
	if !ok {
		return nil, fmt.Errorf("unknown attribute %q", path)
	}
	if fd.f == membership.FieldMember && op != "eq" {
		// Checked before "pr" returns: the store cannot answer members pr,
		// and its refusal would not be a filter's (invalidFilter).
		return nil, fmt.Errorf("members are filtered with eq")
	}
	f := &membership.Filter{Op: membership.FilterOp(op), Field: fd.f, CaseExact: fd.caseExact}
	if op == "pr" {
		return f, nil
	}
	if v == nil { // "eq null" is "not present" (RFC 7644 §3.4.2.2 treats null as absent)
		pr := &membership.Filter{Op: membership.FilterPr, Field: fd.f}
		switch op {
		case "eq":
			return &membership.Filter{Op: membership.FilterNot, Sub: []*membership.Filter{pr}}, nil
		case "ne":
			return pr, nil
		}
		return nil, fmt.Errorf("null is compared with eq or ne")
	}
	switch fd.f {
	case membership.FieldActive:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("active is compared with true or false")
		}
		f.Value = b
	case membership.FieldCreated, membership.FieldUpdated:
		s, ok := v.(string)
		t, err := time.Parse(time.RFC3339Nano, s)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s is compared with an RFC 3339 date", path)
		}
		f.Value = t
	default:
		switch x := v.(type) {
		case string:
			f.Value = x
		case json.Number:
			f.Value = string(x)
		default:
			return nil, fmt.Errorf("%s is compared with a string", path)
		}
	}
	return f, nil
}

// knownAttr reports whether key is an attribute of kind's core schema that
// memberd does not keep (filters on it match nothing; writes are ignored).
func knownAttr(kind resourceKind, key string) bool {
	top, _, _ := strings.Cut(key, ".")
	if kind == kindGroup {
		return top == "members" || top == "meta"
	}
	switch top {
	case "name", "nickname", "profileurl", "title", "usertype", "preferredlanguage", "locale", "timezone",
		"password", "emails", "phonenumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles",
		"x509certificates", "meta":
		return true
	}
	return false
}
