package scim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// resource is a SCIM resource as it goes on the wire. encoding/json writes
// a map's keys sorted, so answers are byte-stable for golden files.
type resource map[string]any

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// userResource renders a member as a SCIM User. Its groups are listed
// when u has them; an empty list is left out, as other empty attributes
// are (RFC 7643 §2.5). Its version covers them, so a membership change
// moves it.
func userResource(base string, u *membership.DirectoryUser) resource {
	m, p := u.Member, u.Profile
	r := resource{
		"schemas":     []string{schemaUser},
		"id":          m.UUID,
		"userName":    u.UserName(),
		"displayName": m.Name,
		"active":      m.Active(),
		"emails":      []map[string]any{{"value": u.UserName(), "type": "work", "primary": true}},
	}
	name := map[string]any{}
	if m.Name != "" {
		name["formatted"] = m.Name
	}
	if p.GivenName != "" {
		name["givenName"] = p.GivenName
	}
	if p.FamilyName != "" {
		name["familyName"] = p.FamilyName
	}
	if len(name) > 0 {
		r["name"] = name
	}
	if m.Name == "" {
		delete(r, "displayName")
	}
	if p.ExternalID != "" {
		r["externalId"] = p.ExternalID
	}
	if len(u.Groups) > 0 {
		// RFC 7643 §4.1.2: read-only, each a group as /Groups serves it.
		// Groups hold members only, never groups, so every one is direct.
		groups := make([]map[string]any, len(u.Groups))
		for i, g := range u.Groups {
			groups[i] = map[string]any{"value": g.UUID, "$ref": base + "/Groups/" + g.UUID, "display": g.Name, "type": "direct"}
		}
		r["groups"] = groups
	}
	r["meta"] = meta("User", base+"/Users/"+m.UUID, m.CreatedAt, m.UpdatedAt, r)
	return r
}

// groupResource renders a group as a SCIM Group; members only when loaded.
func groupResource(base string, g *membership.DirectoryGroup, withMembers bool) resource {
	r := resource{
		"schemas":     []string{schemaGroup},
		"id":          g.Group.UUID,
		"displayName": g.Group.Name,
	}
	if g.Profile.ExternalID != "" {
		r["externalId"] = g.Profile.ExternalID
	}
	if withMembers {
		members := make([]map[string]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = map[string]any{"value": m.UUID, "display": m.Email, "type": "User", "$ref": base + "/Users/" + m.UUID}
		}
		r["members"] = members
	}
	r["meta"] = meta("Group", base+"/Groups/"+g.Group.UUID, g.Group.CreatedAt, g.LastModified(), r)
	if !withMembers {
		// The version covers the members, which were not read.
		delete(r["meta"].(map[string]any), "version")
	}
	return r
}

// groupVersion is a group's version with its members, whether or not the
// answer lists them, so that If-Match covers membership changes.
func groupVersion(base string, g *membership.DirectoryGroup) string {
	return groupResource(base, g, true)["meta"].(map[string]any)["version"].(string)
}

func userVersion(base string, u *membership.DirectoryUser) string {
	return userResource(base, u)["meta"].(map[string]any)["version"].(string)
}

// meta builds a resource's meta. Its version is a digest of everything
// else the resource says, so any change a client could see changes it.
func meta(kind, location string, created, modified time.Time, r resource) map[string]any {
	data, _ := json.Marshal(r) // maps of strings, bools and slices: cannot fail
	sum := sha256.Sum256(data)
	return map[string]any{
		"resourceType": kind,
		"created":      stamp(created),
		"lastModified": stamp(modified),
		"location":     location,
		"version":      `W/"` + hex.EncodeToString(sum[:8]) + `"`,
	}
}

// projection is a request's attributes or excludedAttributes: lower-case
// "attr" or "attr.sub" paths, URIs of the resource's schema stripped.
type projection struct {
	include, exclude map[string]bool
}

func parseProjection(kind resourceKind, attributes, excluded string) (*projection, error) {
	p := &projection{}
	read := func(list string) (map[string]bool, error) {
		if strings.TrimSpace(list) == "" {
			return nil, nil
		}
		set := map[string]bool{}
		for _, item := range strings.Split(list, ",") {
			ap, err := splitPath(strings.TrimSpace(item))
			if err != nil {
				return nil, err
			}
			key, stored, err := attrKey(kind, ap)
			if err != nil {
				return nil, err
			}
			if stored {
				set[key] = true
			}
		}
		return set, nil
	}
	var err error
	if p.include, err = read(attributes); err != nil {
		return nil, err
	}
	if p.exclude, err = read(excluded); err != nil {
		return nil, err
	}
	return p, nil
}

// alwaysReturned are attributes no projection removes (RFC 7643 §7
// "returned: always").
var alwaysReturned = map[string]bool{"schemas": true, "id": true}

// apply removes what p leaves out of r.
func (p *projection) apply(r resource) resource {
	if p == nil || (p.include == nil && p.exclude == nil) {
		return r
	}
	out := resource{}
	for k, v := range r {
		key := strings.ToLower(k)
		if alwaysReturned[key] {
			out[k] = v
			continue
		}
		if p.exclude[key] {
			continue
		}
		if p.include != nil && !p.include[key] {
			// attributes=name.givenName keeps just that part of name
			if kept := subAttrs(v, func(sk string) bool { return p.include[key+"."+sk] }); kept != nil {
				out[k] = kept
			}
			continue
		}
		if p.exclude != nil {
			if kept := subAttrs(v, func(sk string) bool { return !p.exclude[key+"."+sk] }); kept != nil {
				out[k] = kept
				continue
			}
		}
		out[k] = v
	}
	return out
}

// subAttrs keeps the sub-attributes (lower-case names) keep admits of a
// complex value, or of each value of a multi-valued one; nil when v is
// neither or nothing is kept.
func subAttrs(v any, keep func(sub string) bool) any {
	pick := func(m map[string]any) map[string]any {
		kept := map[string]any{}
		for sk, sv := range m {
			if keep(strings.ToLower(sk)) {
				kept[sk] = sv
			}
		}
		return kept
	}
	switch x := v.(type) {
	case map[string]any:
		if kept := pick(x); len(kept) > 0 {
			return kept
		}
	case []map[string]any:
		var list []map[string]any
		for _, m := range x {
			if kept := pick(m); len(kept) > 0 {
				list = append(list, kept)
			}
		}
		if len(list) > 0 {
			return list
		}
	}
	return nil
}

// wantsGroups reports whether a user answer under p shows anything that
// depends on the user's groups: the groups themselves, or meta, whose
// version covers them. attributes=userName,active then reads no groups.
func (p *projection) wantsGroups() bool {
	return p.keeps("groups") || p.keeps("meta")
}

// keeps reports whether p leaves any part of attribute key in an answer.
func (p *projection) keeps(key string) bool {
	if p == nil {
		return true
	}
	if p.exclude[key] {
		return false
	}
	if p.include == nil {
		return true
	}
	for k := range p.include {
		if k == key || strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// wantsMembers reports whether a group answer under p lists members, so
// that excludedAttributes=members skips loading them.
func (p *projection) wantsMembers() bool {
	if p == nil {
		return true
	}
	if p.exclude["members"] {
		return false
	}
	return p.include == nil || p.include["members"] || p.include["members.value"] || p.include["members.display"]
}
