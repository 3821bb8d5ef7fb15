package scim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/memberd/memberd/membership"
)

// This file reads PATCH bodies (RFC 7644 §3.5.2) and resource bodies, and
// applies them to the core's writable view of a user or group. Operation
// names are case-insensitive (Entra ID sends "Add", "Replace", "Remove"),
// booleans may come as the strings "True"/"False" (Entra ID), a replace
// may carry no path and an object of attributes (Okta's deactivation), and
// "remove" of "members" with a value removes only the listed members.

// maxOperations bounds the operations of one PATCH.
const maxOperations = 1000

// scimError is a refusal in SCIM's terms: status and scimType.
type scimError struct {
	status   int
	scimType string
	detail   string
}

func (e *scimError) Error() string { return e.detail }

func badRequest(scimType, format string, args ...any) *scimError {
	return &scimError{status: 400, scimType: scimType, detail: fmt.Sprintf(format, args...)}
}

// patchOp is one decoded operation.
type patchOp struct {
	op    string // add, replace or remove
	path  *patchPath
	value json.RawMessage
}

// decodeObject decodes a JSON object with its keys as sent.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, badRequest("invalidSyntax", "the body must be a JSON object")
	}
	if dec.More() {
		return nil, badRequest("invalidSyntax", "the body holds data after the JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return nil, badRequest("invalidSyntax", "the body holds data after the JSON object")
	}
	return obj, nil
}

// field finds key in obj case-insensitively (RFC 7643 §2.1).
func field(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

// checkSchemas refuses a body whose "schemas" does not name want. A body
// without "schemas" is accepted: several IdPs leave it out.
func checkSchemas(obj map[string]json.RawMessage, want string) error {
	raw, ok := field(obj, "schemas")
	if !ok || isNull(raw) {
		return nil
	}
	var schemas []string
	if err := json.Unmarshal(raw, &schemas); err != nil {
		return badRequest("invalidSyntax", "schemas must be a list of URIs")
	}
	for _, s := range schemas {
		if strings.EqualFold(s, want) {
			return nil
		}
	}
	return badRequest("invalidSyntax", "schemas must include %s", want)
}

func isNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// decodePatch reads a PatchOp body.
func decodePatch(data []byte) ([]patchOp, error) {
	obj, err := decodeObject(data)
	if err != nil {
		return nil, err
	}
	if err := checkSchemas(obj, msgPatch); err != nil {
		return nil, err
	}
	raw, ok := field(obj, "Operations")
	if !ok {
		return nil, badRequest("invalidSyntax", "Operations is required")
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, badRequest("invalidSyntax", "Operations must be a list")
	}
	if len(list) > maxOperations {
		return nil, badRequest("tooMany", "at most %d operations per request", maxOperations)
	}
	ops := make([]patchOp, 0, len(list))
	for i, item := range list {
		o, err := decodeObject(item)
		if err != nil {
			return nil, badRequest("invalidSyntax", "operation %d must be an object", i)
		}
		var po patchOp
		rawOp, _ := field(o, "op")
		if err := json.Unmarshal(rawOp, &po.op); err != nil {
			return nil, badRequest("invalidSyntax", "operation %d: op must be add, replace or remove", i)
		}
		po.op = strings.ToLower(po.op)
		if po.op != "add" && po.op != "replace" && po.op != "remove" {
			return nil, badRequest("invalidSyntax", "operation %d: op must be add, replace or remove", i)
		}
		if rawPath, ok := field(o, "path"); ok && !isNull(rawPath) {
			var path string
			if err := json.Unmarshal(rawPath, &path); err != nil {
				return nil, badRequest("invalidPath", "operation %d: path must be a string", i)
			}
			if strings.TrimSpace(path) != "" {
				if po.path, err = parsePath(path); err != nil {
					return nil, badRequest("invalidPath", "operation %d: path %q: %v", i, path, err)
				}
			}
		}
		po.value, _ = field(o, "value")
		if po.op == "remove" && po.path == nil {
			return nil, badRequest("noTarget", "operation %d: remove needs a path", i)
		}
		if po.op != "remove" && isNull(po.value) {
			return nil, badRequest("invalidValue", "operation %d: %s needs a value", i, po.op)
		}
		ops = append(ops, po)
	}
	return ops, nil
}

// readString reads a string value; null reads as "".
func readString(raw json.RawMessage, what string) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("invalidValue", "%s must be a string", what)
	}
	return s, nil
}

// validID reports whether id could be a resource id: short text without
// control characters (PostgreSQL text cannot even hold NUL).
func validID(id string) bool {
	return id != "" && len(id) <= 128 && utf8.ValidString(id) && !strings.ContainsFunc(id, unicode.IsControl)
}

// readBool reads a boolean, also from the strings "true" and "false" in
// any case, which Entra ID sends. null is neither: encoding/json would
// leave a bool false for it, and a false active deprovisions.
func readBool(raw json.RawMessage, what string) (bool, error) {
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil && !isNull(raw) {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, badRequest("invalidValue", "%s must be true or false", what)
}

// userTarget is what a user operation can change.
type userTarget struct {
	in *membership.UserInput
}

// apply applies one operation to the user.
func (u userTarget) apply(op patchOp) error {
	if op.path == nil {
		return u.applyObject(op.op, op.value)
	}
	return u.set(op.op, op.path, op.value)
}

// applyObject applies a path-less add or replace: each key of the value
// is a path (RFC 7644 §3.5.2.1, .3).
func (u userTarget) applyObject(opName string, value json.RawMessage) error {
	obj, err := decodeObject(value)
	if err != nil {
		return badRequest("invalidValue", "a %s without a path needs an object value", opName)
	}
	for k, v := range obj {
		if isExtension(k) {
			continue // an extension's attributes, which memberd does not keep
		}
		p, err := parsePath(k)
		if err != nil {
			return badRequest("invalidPath", "attribute %q: %v", k, err)
		}
		if err := u.set(opName, p, v); err != nil {
			return err
		}
	}
	return nil
}

// set applies op to the attribute at p.
func (u userTarget) set(opName string, p *patchPath, v json.RawMessage) error {
	key, stored, err := attrKey(kindUser, p.attrPath)
	if err != nil {
		return badRequest("invalidPath", "%v", err)
	}
	if !stored {
		return nil // extension attributes are accepted and not kept
	}
	remove := opName == "remove"
	in := u.in
	str := func(dst *string, what string) error {
		if remove {
			*dst = ""
			return nil
		}
		s, err := readString(v, what)
		*dst = s
		return err
	}
	if p.filter != nil && key != "emails" && !strings.HasPrefix(key, "emails.") {
		if knownAttr(kindUser, key) {
			return nil // phoneNumbers[type eq "work"].value and the like: not kept
		}
		return badRequest("invalidPath", "attribute %q has no value filter", p.attr)
	}
	switch key {
	case "username":
		if remove {
			return badRequest("mutability", "userName is required and cannot be removed")
		}
		return str(&in.Email, "userName")
	case "active":
		if remove {
			return badRequest("mutability", "active cannot be removed")
		}
		if isNull(v) {
			// RFC 7643 §2.5: null is unassigned, and an unassigned active
			// must not deprovision anyone (a PUT leaving it out keeps it).
			return nil
		}
		b, err := readBool(v, "active")
		in.Active = b
		return err
	case "externalid":
		return str(&in.ExternalID, "externalId")
	case "displayname", "name.formatted":
		return str(&in.Name, p.String())
	case "name.givenname":
		return str(&in.GivenName, "name.givenName")
	case "name.familyname":
		return str(&in.FamilyName, "name.familyName")
	case "name":
		if remove || isNull(v) {
			// null is unassigned (RFC 7643 §2.5): the same as a PUT
			// leaving name out, or a remove of it.
			in.GivenName, in.FamilyName = "", ""
			return nil
		}
		obj, err := decodeObject(v)
		if err != nil {
			return badRequest("invalidValue", "name must be an object")
		}
		for k, sv := range obj {
			if err := u.set(opName, &patchPath{attrPath: attrPath{attr: "name", sub: k}}, sv); err != nil {
				return err
			}
		}
		return nil
	case "id", "schemas", "meta", "groups", "password":
		return nil // read-only or write-only: ignored (RFC 7643 §7)
	}
	if key == "emails" || strings.HasPrefix(key, "emails.") || knownAttr(kindUser, key) || strings.HasPrefix(key, "meta.") || strings.HasPrefix(key, "name.") {
		// The e-mail is the userName: emails is its read-only reflection.
		return nil
	}
	return badRequest("invalidPath", "User has no attribute %q", p.String())
}

// groupTarget is what a group operation can change: its attributes and
// the set of member UUIDs, starting from the current members.
type groupTarget struct {
	c       *membership.GroupChange
	members []string          // current set, in order
	display map[string]string // member UUID → e-mail, for filters on display
	// delta records adds and removes of named members straight into c,
	// without the current set (see needsMembers).
	delta bool
}

// needsMembers reports whether op can be applied only knowing the whole
// current member set: a replace of the members, a remove of them all, a
// value filter, or a path-less value naming members.
func needsMembers(op patchOp) bool {
	if op.path == nil {
		obj, err := decodeObject(op.value)
		if err != nil {
			return true
		}
		_, ok := field(obj, "members")
		return ok
	}
	key := strings.ToLower(op.path.attr)
	if key != "members" {
		return false
	}
	return op.path.filter != nil || op.op == "replace" || (op.op == "remove" && isNull(op.value))
}

// record moves id into to and out of from, so that an add and a remove of
// the same member within one PATCH leave what the last one said.
func record(to, from *[]string, id string) {
	*from = slices.DeleteFunc(*from, func(x string) bool { return x == id })
	if !slices.Contains(*to, id) {
		*to = append(*to, id)
	}
}

func newGroupTarget(cur *membership.DirectoryGroup, c *membership.GroupChange) *groupTarget {
	g := &groupTarget{c: c, display: map[string]string{}}
	if cur != nil {
		for _, m := range cur.Members {
			g.members = append(g.members, m.UUID)
			g.display[m.UUID] = m.Email
		}
	}
	return g
}

func (g *groupTarget) has(id string) bool {
	for _, m := range g.members {
		if m == id {
			return true
		}
	}
	return false
}

func (g *groupTarget) add(id string) {
	if !g.has(id) {
		g.members = append(g.members, id)
	}
}

func (g *groupTarget) drop(keep func(id string) bool) {
	kept := g.members[:0]
	for _, m := range g.members {
		if keep(m) {
			kept = append(kept, m)
		}
	}
	g.members = kept
}

// readMembers reads a members value: a list of {"value": id}, or one.
func readMembers(v json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if err := json.Unmarshal(v, &list); err != nil {
		list = []json.RawMessage{v}
	}
	ids := make([]string, 0, len(list))
	for _, item := range list {
		obj, err := decodeObject(item)
		if err != nil {
			return nil, badRequest("invalidValue", `each member must be an object with a "value"`)
		}
		raw, _ := field(obj, "value")
		id, err := readString(raw, "members.value")
		if err != nil || !validID(id) {
			return nil, badRequest("invalidValue", `each member needs a "value" holding a user id`)
		}
		ids = append(ids, strings.ToLower(id))
	}
	return ids, nil
}

func (g *groupTarget) apply(op patchOp) error {
	if op.path == nil {
		obj, err := decodeObject(op.value)
		if err != nil {
			return badRequest("invalidValue", "a %s without a path needs an object value", op.op)
		}
		for k, v := range obj {
			if isExtension(k) {
				continue // an extension's attributes, which memberd does not keep
			}
			p, err := parsePath(k)
			if err != nil {
				return badRequest("invalidPath", "attribute %q: %v", k, err)
			}
			if err := g.set(op.op, p, v); err != nil {
				return err
			}
		}
		return nil
	}
	return g.set(op.op, op.path, op.value)
}

func (g *groupTarget) set(opName string, p *patchPath, v json.RawMessage) error {
	key, stored, err := attrKey(kindGroup, p.attrPath)
	if err != nil {
		return badRequest("invalidPath", "%v", err)
	}
	if !stored {
		return nil // extension attributes are accepted and not kept
	}
	switch {
	case key == "displayname":
		if opName == "remove" {
			return badRequest("mutability", "displayName is required and cannot be removed")
		}
		s, err := readString(v, "displayName")
		g.c.Name = s
		return err
	case key == "externalid":
		if opName == "remove" {
			g.c.ExternalID = ""
			return nil
		}
		s, err := readString(v, "externalId")
		g.c.ExternalID = s
		return err
	case key == "id" || key == "schemas" || key == "meta" || strings.HasPrefix(key, "meta."):
		return nil // read-only: Okta's displayName PATCH carries the id
	case key == "members" || key == "members.value":
		return g.setMembers(opName, p, v)
	}
	return badRequest("invalidPath", "Group has no attribute %q", p.String())
}

func (g *groupTarget) setMembers(opName string, p *patchPath, v json.RawMessage) error {
	if p.filter != nil {
		if opName != "remove" {
			return badRequest("invalidPath", "a members value filter is supported with remove")
		}
		// Okta: remove with members[value eq "id"]: only what matches.
		var ferr error
		g.drop(func(id string) bool {
			ok, err := evalMember(p.filter, id, g.display[id])
			if err != nil {
				ferr = err
			}
			return !ok
		})
		return ferr
	}
	if g.delta {
		ids, err := readMembers(v)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if opName == "add" {
				record(&g.c.Add, &g.c.Remove, id)
			} else {
				record(&g.c.Remove, &g.c.Add, id)
			}
		}
		return nil
	}
	switch opName {
	case "remove":
		if isNull(v) {
			g.members = g.members[:0] // RFC 7644 §3.5.2.2: no value removes them all
			return nil
		}
		// Entra ID: a value lists the members to remove, and only those.
		ids, err := readMembers(v)
		if err != nil {
			return err
		}
		gone := map[string]bool{}
		for _, id := range ids {
			gone[id] = true
		}
		g.drop(func(id string) bool { return !gone[id] })
	case "add":
		ids, err := readMembers(v)
		if err != nil {
			return err
		}
		for _, id := range ids {
			g.add(id)
		}
	case "replace":
		ids, err := readMembers(v)
		if err != nil {
			return err
		}
		g.members = g.members[:0]
		for _, id := range ids {
			g.add(id)
		}
	}
	return nil
}

// finish turns the final member set into the core's additions and
// removals against the members cur had.
func (g *groupTarget) finish(cur *membership.DirectoryGroup) {
	before := map[string]bool{}
	if cur != nil {
		for _, m := range cur.Members {
			before[m.UUID] = true
		}
	}
	after := map[string]bool{}
	for _, id := range g.members {
		after[id] = true
		if !before[id] {
			g.c.Add = append(g.c.Add, id)
		}
	}
	if cur != nil {
		for _, m := range cur.Members {
			if !after[m.UUID] {
				g.c.Remove = append(g.c.Remove, m.UUID)
			}
		}
	}
}

// evalMember evaluates a members value filter on one member.
func evalMember(e *expr, id, display string) (bool, error) {
	switch e.op {
	case "and", "or":
		l, err := evalMember(e.sub[0], id, display)
		if err != nil {
			return false, err
		}
		r, err := evalMember(e.sub[1], id, display)
		if err != nil {
			return false, err
		}
		if e.op == "and" {
			return l && r, nil
		}
		return l || r, nil
	case "not":
		in, err := evalMember(e.sub[0], id, display)
		return !in, err
	}
	if e.path.uri != "" || e.path.sub != "" || e.inner != nil {
		return false, badRequest("invalidFilter", "%q is not a member sub-attribute", e.path)
	}
	var have string
	switch strings.ToLower(e.path.attr) {
	case "value":
		have = id
	case "display":
		have = display
	case "type":
		have = "User"
	default:
		return false, badRequest("invalidFilter", "members cannot be filtered by %q", e.path.attr)
	}
	f, err := constCompare(have, e.op, e.value)
	if err != nil {
		return false, badRequest("invalidFilter", "%v", err)
	}
	return f == everything, nil
}
