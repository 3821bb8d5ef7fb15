package scim

import (
	"net/http"
	"strings"
)

// This file serves the discovery endpoints (RFC 7644 §4): what memberd
// supports, exactly. They hold nothing of any organization, so they answer
// without a credential, as RFC 7644 §4 allows.

func isDiscovery(resource string) bool {
	switch resource {
	case "ServiceProviderConfig", "ResourceTypes", "Schemas":
		return true
	}
	return false
}

func discovery(q *request) *answer {
	if q.method != http.MethodGet {
		return errorAnswer(q.http, &scimError{status: 405, detail: "the endpoint does not answer " + q.method})
	}
	if q.query.Has("filter") {
		// RFC 7644 §4: discovery endpoints take no filter, and a server
		// answers one with 403.
		return errorAnswer(q.http, &scimError{status: http.StatusForbidden, detail: "the discovery endpoints take no filter"})
	}
	notFound := errorAnswer(q.http, &scimError{status: 404, detail: "no such " + strings.TrimSuffix(q.resource, "s")})
	switch q.resource {
	case "ServiceProviderConfig":
		if q.id != "" {
			return notFound
		}
		return &answer{status: http.StatusOK, body: serviceProviderConfig(q.base)}
	case "ResourceTypes":
		types := resourceTypes(q.base)
		if q.id == "" {
			return &answer{status: http.StatusOK, body: listResponse(1, len(types), types)}
		}
		for _, t := range types {
			if t["id"] == q.id {
				return &answer{status: http.StatusOK, body: t}
			}
		}
		return notFound
	}
	schemas := schemaDocs(q.base)
	if q.id == "" {
		return &answer{status: http.StatusOK, body: listResponse(1, len(schemas), schemas)}
	}
	for _, s := range schemas {
		if strings.EqualFold(s["id"].(string), q.id) {
			return &answer{status: http.StatusOK, body: s}
		}
	}
	return notFound
}

func serviceProviderConfig(base string) resource {
	return resource{
		"schemas":          []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"},
		"documentationUri": "https://github.com/memberd/memberd#scim-20-connecting-okta-and-microsoft-entra-id",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": MaxBulkOperations, "maxPayloadSize": MaxPayloadSize},
		"filter":           map[string]any{"supported": true, "maxResults": MaxResults},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A memberd credential with the scim scope, sent as Authorization: Bearer <secret>.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}

func resourceTypes(base string) []resource {
	return []resource{
		{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "User", "name": "User", "endpoint": "/Users", "description": "A member of the organization",
			"schema":           schemaUser,
			"schemaExtensions": []map[string]any{{"schema": schemaEnterprise, "required": false}},
			"meta":             map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"},
		},
		{
			"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:ResourceType"},
			"id":      "Group", "name": "Group", "endpoint": "/Groups", "description": "A group of members",
			"schema": schemaGroup,
			"meta":   map[string]any{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"},
		},
	}
}

// attr describes one attribute for /Schemas (RFC 7643 §7).
func attr(name, typ string, opts ...string) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": false, "required": false, "caseExact": false,
		"mutability": "readWrite", "returned": "default", "uniqueness": "none", "description": ""}
	for _, o := range opts {
		switch {
		case o == "multi":
			a["multiValued"] = true
		case o == "required":
			a["required"] = true
		case o == "caseExact":
			a["caseExact"] = true
		case o == "server":
			a["uniqueness"] = "server"
		case o == "readOnly" || o == "immutable":
			a["mutability"] = o
		case o == "always":
			a["returned"] = "always"
		case strings.HasPrefix(o, "desc:"):
			a["description"] = strings.TrimPrefix(o, "desc:")
		}
	}
	return a
}

func complexAttr(name string, subs []map[string]any, opts ...string) map[string]any {
	a := attr(name, "complex", opts...)
	a["subAttributes"] = subs
	return a
}

// userGroupsAttr is RFC 7643 §4.1.2's groups as memberd serves it: the
// groups the member is active in, found by value in filters. memberd's
// groups hold members only, so each is direct and refers to a Group.
func userGroupsAttr() map[string]any {
	ref := attr("$ref", "reference", "readOnly", "desc:The group's URI at /Groups.")
	ref["referenceTypes"] = []string{"Group"}
	typ := attr("type", "string", "readOnly", "desc:Always direct: groups do not contain groups.")
	typ["canonicalValues"] = []string{"direct", "indirect"}
	return complexAttr("groups", []map[string]any{
		attr("value", "string", "readOnly", "caseExact", "desc:The group's id."), ref,
		attr("display", "string", "readOnly", "desc:The group's displayName."), typ,
	}, "multi", "readOnly", "desc:The groups the member is in, changed only through /Groups; "+
		"writes of it are ignored. Filtered with eq on value.")
}

func schemaDocs(base string) []resource {
	doc := func(id, name, desc string, attrs []map[string]any) resource {
		return resource{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Schema"}, "id": id, "name": name,
			"description": desc, "attributes": attrs,
			"meta": map[string]any{"resourceType": "Schema", "location": base + "/Schemas/" + id}}
	}
	user := []map[string]any{
		attr("userName", "string", "required", "server", "desc:The member's e-mail address; unique, case-insensitive."),
		complexAttr("name", []map[string]any{
			attr("formatted", "string", "desc:The member's name (the same value as displayName)."),
			attr("givenName", "string"), attr("familyName", "string"),
		}),
		attr("displayName", "string", "desc:The member's name."),
		attr("active", "boolean", "desc:false removes the member (offboarding); true restores what the removal took."),
		complexAttr("emails", []map[string]any{
			attr("value", "string", "readOnly"), attr("type", "string", "readOnly"), attr("primary", "boolean", "readOnly"),
		}, "multi", "readOnly", "desc:The userName as the one work address."),
		attr("externalId", "string", "caseExact", "desc:The identity provider's id for the member."),
		userGroupsAttr(),
	}
	group := []map[string]any{
		attr("displayName", "string", "required", "server"),
		complexAttr("members", []map[string]any{
			attr("value", "string", "immutable", "caseExact"), attr("display", "string", "readOnly"),
			attr("type", "string", "immutable"), attr("$ref", "reference", "immutable"),
		}, "multi", "desc:Removing a member takes only the access that came through this group."),
		attr("externalId", "string", "caseExact"),
	}
	enterprise := []map[string]any{
		attr("employeeNumber", "string"), attr("costCenter", "string"), attr("organization", "string"),
		attr("division", "string"), attr("department", "string"),
		complexAttr("manager", []map[string]any{attr("value", "string"), attr("displayName", "string", "readOnly")}),
	}
	return []resource{
		doc(schemaUser, "User", "A member of the organization", user),
		doc(schemaGroup, "Group", "A group of members", group),
		doc(schemaEnterprise, "EnterpriseUser", "Accepted for compatibility; memberd does not keep these attributes.", enterprise),
	}
}
