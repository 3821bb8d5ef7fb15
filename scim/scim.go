// Package scim serves SCIM 2.0 (RFC 7643, RFC 7644) at /scim/v2, so that
// identity providers (Okta, Microsoft Entra ID) provision and deprovision
// memberd's members and groups. It is a thin adapter: each request is
// decoded here, answered by one core call, and encoded here.
//
// The mapping:
//   - A User is a member of the credential's organization: id is the
//     member's UUID, userName its e-mail (compared case-insensitively, shown
//     in the case the provider sent it), displayName
//     and name.formatted its name, name.givenName/familyName and
//     externalId kept beside it; emails is one work address, the userName.
//   - active:false is a memberd removal (the same offboarding every
//     interface makes, audited with interface "scim"); active:true
//     restores exactly what that removal took. A deactivated user stays
//     readable with active:false, and a POST of its userName is a
//     duplicate (409 uniqueness, RFC 7644 §3.3), as an active one's is.
//   - DELETE removes the member the same way, and from then on the user
//     answers 404 (RFC 7644 §3.6) while memberd keeps the membership and
//     its history. Creating the same userName later re-activates that
//     membership under the same id, keeping one history, as a new user:
//     role member, none of the spaces, groups or grants the removal took
//     (with e-mail reuse it may be another person), and no later
//     reactivation brings them back.
//   - A User's groups (read-only, RFC 7643 §4.1.2) are the groups it is an
//     active member of, as /Groups serves them (type "direct": groups hold
//     no groups), read for a whole page at once; a removed member has none.
//     Writes of groups are ignored; filters find users by groups.value eq.
//   - A Group is a group; removing a member from it takes only the access
//     that came through the group. A deactivated user named in an add
//     (Entra keeps disabled users in groups and batches adds) is skipped
//     and gets no access, while the others are added; reactivating it
//     later restores the groups its removal took, not the skipped one. DELETE empties the group that way and
//     hides it from providers. Members taken out of a group (PATCH remove
//     or replace, PUT, DELETE) are a removal like a native batch from the
//     group: logged for undo, and counted against the organization's
//     limits, above which nothing changes and the answer is 409 naming the
//     plan that holds those removals. A PATCH answers 204 (200 with the group
//     when attributes or excludedAttributes are given), and reads the
//     group's members only when an operation needs the whole set.
//
// Choices where the RFCs leave room, made for what Okta and Entra send:
// operation names and booleans ("True") are read case-insensitively; a
// replace without a path takes an object of attributes; remove of
// "members" with a value removes only the listed members; an empty
// Operations list changes nothing and answers the resource; attributes of
// the schemas that memberd does not keep (phoneNumbers, addresses, the
// enterprise extension and any other extension schema, such as an Entra
// ID tenant's custom one, in paths, URN-keyed objects, schemas and
// attributes) are accepted and ignored, and filters on them match
// nothing, while an unknown core attribute is a 400 invalidPath; a PUT without "active" leaves the state as it is, and
// so does "active": null anywhere in a body (RFC 7643 §2.5: null is
// unassigned; a POST's user is then active), while a replace with the
// path "active" and a null value is refused (400 invalidValue); "name":
// null clears the name's parts as leaving it out of a PUT does; a
// query POSTed to /Users/.search or /Groups/.search answers what the same
// query in a GET's URL answers, and the server-root /.search, which would
// mix resource types in one page, is not served; nor is /Me (RFC 7644
// §3.11: 501), as a credential acts for an organization, not as a user.
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names SCIM in the audit trail.
const Interface = "scim"

// Prefix is where the server mounts the handler.
const Prefix = "/scim/v2/"

// Advertised limits (ServiceProviderConfig).
const (
	MaxResults        = 1000    // filter.maxResults: the most resources one page holds
	MaxBulkOperations = 100     // bulk.maxOperations
	MaxPayloadSize    = 1 << 20 // bulk.maxPayloadSize, and every body's limit
	defaultCount      = 100
)

const contentType = "application/scim+json"

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler returns the SCIM handler for paths under Prefix.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	return respond.Recover(h, WriteError)
}

// WriteError answers err in SCIM's error schema, for refusals made before
// the handler runs (load shedding) as well as its own.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	writeAnswer(w, errorAnswer(r, err))
}

// request is one SCIM call, from HTTP or from a bulk operation.
type request struct {
	method   string
	resource string // "Users", "Groups", …
	id       string
	query    url.Values
	body     []byte
	ifMatch  string
	ifNone   string
	base     string // the absolute /scim/v2 URL, for locations
	http     *http.Request
	search   bool // a POST …/.search: the list's query is in the body
}

// answer is what a call says back.
type answer struct {
	status int
	body   any
	etag   string
	loc    string
	err    error // for the log and Retry-After
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
	rest = strings.Trim(rest, "/")
	parts := strings.Split(rest, "/")
	method := r.Method
	if method == http.MethodHead {
		// HEAD is GET without the body, which net/http leaves unsent.
		method = http.MethodGet
	}
	q := &request{method: method, resource: parts[0], query: r.URL.Query(),
		ifMatch: r.Header.Get("If-Match"), ifNone: r.Header.Get("If-None-Match"), base: baseURL(r), http: r}
	if len(parts) > 2 || (len(parts) == 2 && parts[1] == "") {
		writeAnswer(w, errorAnswer(r, &scimError{status: 404, detail: "no such endpoint"}))
		return
	}
	if len(parts) == 2 && parts[1] == searchPath && (q.resource == "Users" || q.resource == "Groups") {
		q.search = true
	} else if len(parts) == 2 {
		q.id = parts[1]
		if !validID(q.id) {
			writeAnswer(w, errorAnswer(r, &scimError{status: 404, detail: "no such resource"}))
			return
		}
	}
	if isDiscovery(q.resource) {
		writeAnswer(w, discovery(q))
		return
	}
	action, ok := actionOf(q)
	if !ok {
		writeAnswer(w, errorAnswer(r, routeError(q)))
		return
	}
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Action: action, Scope: membership.ScopeSCIM,
		Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		writeAnswer(w, errorAnswer(r, err))
		return
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		if ct := r.Header.Get("Content-Type"); ct != "" && !strings.Contains(strings.ToLower(ct), "json") {
			writeAnswer(w, errorAnswer(r, call.Refuse(membership.Errorf(membership.CodeUnsupportedMedia,
				"the body must be application/scim+json"))))
			return
		}
		if q.body, err = respond.ReadBody(r, MaxPayloadSize); err != nil {
			writeAnswer(w, errorAnswer(r, call.Refuse(err)))
			return
		}
	}
	a := h.exec(r.Context(), call, q)
	if a.err != nil && a.status >= 400 && !isCoreRefusal(a.err) {
		// The core audits its own refusals; this one was made here.
		_ = call.Refuse(a.err)
	}
	if a.err != nil {
		a = errorAnswer(r, a.err)
	}
	writeAnswer(w, a)
}

// isCoreRefusal reports whether err came from a core call, which audited
// it already.
func isCoreRefusal(err error) bool {
	var se *scimError
	return !errors.As(err, &se)
}

// baseURL is the absolute URL of /scim/v2 as the client reached it.
func baseURL(r *http.Request) string {
	return respond.BaseURL(r) + strings.TrimSuffix(Prefix, "/")
}

// actionOf names the audit action of a call, or reports that the path
// does not answer the method.
func actionOf(q *request) (string, bool) {
	var noun string
	switch q.resource {
	case "Users":
		noun = "users"
	case "Groups":
		noun = "groups"
	case "Bulk":
		return "scim.bulk", q.method == http.MethodPost && q.id == ""
	default:
		return "", false
	}
	switch {
	case q.search:
		return "scim." + noun + ".read", q.method == http.MethodPost
	case q.method == http.MethodGet:
		return "scim." + noun + ".read", true
	case q.method == http.MethodPost && q.id == "":
		return "scim." + noun + ".create", true
	case q.id != "" && (q.method == http.MethodPut || q.method == http.MethodPatch):
		return "scim." + noun + ".update", true
	case q.id != "" && q.method == http.MethodDelete:
		return "scim." + noun + ".delete", true
	}
	return "", false
}

func routeError(q *request) error {
	switch q.resource {
	case "Users", "Groups", "Bulk":
		return &scimError{status: 405, detail: "the endpoint does not answer " + q.method}
	case "Me":
		// RFC 7644 §3.11: a server without /Me answers 501. A credential
		// acts for an organization, not as a user a provider manages.
		return &scimError{status: http.StatusNotImplemented, detail: "/Me is not supported"}
	}
	return &scimError{status: 404, detail: "no such endpoint"}
}

// exec answers one authorized call.
func (h *handler) exec(ctx context.Context, c *auth.Call, q *request) *answer {
	a := c.Actor
	switch {
	case q.resource == "Bulk":
		return h.bulk(ctx, c, q)
	case q.search:
		query, err := searchQuery(q.body)
		if err != nil {
			return &answer{err: err}
		}
		q.query = query
		if q.resource == "Users" {
			return h.listUsers(ctx, a, q)
		}
		return h.listGroups(ctx, a, q)
	case q.resource == "Users" && q.id == "" && q.method == http.MethodGet:
		return h.listUsers(ctx, a, q)
	case q.resource == "Users" && q.id == "":
		return h.createUser(ctx, a, q)
	case q.resource == "Users" && q.method == http.MethodGet:
		return h.getUser(ctx, a, q)
	case q.resource == "Users" && q.method == http.MethodDelete:
		err := h.svc.DeleteUser(ctx, a, q.id, q.ifMatch != "", func(cur *membership.DirectoryUser) error {
			return checkIfMatch(q, userVersion(q.base, cur))
		})
		if err != nil {
			return &answer{err: err}
		}
		return &answer{status: http.StatusNoContent}
	case q.resource == "Users":
		return h.changeUser(ctx, a, q)
	case q.resource == "Groups" && q.id == "" && q.method == http.MethodGet:
		return h.listGroups(ctx, a, q)
	case q.resource == "Groups" && q.id == "":
		return h.createGroup(ctx, a, q)
	case q.resource == "Groups" && q.method == http.MethodGet:
		return h.getGroup(ctx, a, q)
	case q.resource == "Groups" && q.method == http.MethodDelete:
		err := h.svc.DeleteGroup(ctx, a, q.id, func(cur *membership.DirectoryGroup) error {
			return checkIfMatch(q, groupVersion(q.base, cur))
		})
		if err != nil {
			return &answer{err: err}
		}
		return &answer{status: http.StatusNoContent}
	}
	return h.changeGroup(ctx, a, q)
}

// checkIfMatch refuses a change whose If-Match names another version
// (RFC 7644 §3.14).
func checkIfMatch(q *request, version string) error {
	if q.ifMatch == "" || q.ifMatch == "*" {
		return nil
	}
	for _, v := range strings.Split(q.ifMatch, ",") {
		if strings.TrimPrefix(strings.TrimSpace(v), "W/") == strings.TrimPrefix(version, "W/") {
			return nil
		}
	}
	return &scimError{status: http.StatusPreconditionFailed, detail: "the resource has changed: its version is " + version}
}

// notModified reports whether If-None-Match names version.
func notModified(q *request, version string) bool {
	for _, v := range strings.Split(q.ifNone, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || (v != "" && strings.TrimPrefix(v, "W/") == strings.TrimPrefix(version, "W/")) {
			return true
		}
	}
	return false
}

// listParams reads filter, paging, sorting and projection.
type listParams struct {
	query membership.DirectoryQuery
	start int
	proj  *projection
}

func readList(kind resourceKind, q *request) (*listParams, error) {
	lp := &listParams{start: 1}
	lp.query.Limit = defaultCount
	if s := q.query.Get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest("invalidValue", "startIndex must be an integer")
		}
		lp.start = max(n, 1) // RFC 7644 §3.4.2.4: below 1 reads as 1
	}
	if s := q.query.Get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest("invalidValue", "count must be an integer")
		}
		lp.query.Limit = min(max(n, 0), MaxResults)
	}
	lp.query.Offset = lp.start - 1
	if f := q.query.Get("filter"); f != "" {
		e, err := parseFilter(f)
		if err != nil {
			return nil, badRequest("invalidFilter", "filter: %v", err)
		}
		if lp.query.Filter, err = toCoreFilter(kind, e); err != nil {
			return nil, badRequest("invalidFilter", "filter: %v", err)
		}
	}
	if s := q.query.Get("sortBy"); s != "" {
		ap, err := splitPath(s)
		if err != nil {
			return nil, badRequest("invalidValue", "sortBy: %v", err)
		}
		fd, err := compareFilter(kind, ap, "pr", nil)
		if err != nil || fd.Field == "" || fd.Field == membership.FieldMember {
			return nil, badRequest("invalidValue", "cannot sort by %q", s)
		}
		lp.query.SortBy = fd.Field
	}
	switch strings.ToLower(q.query.Get("sortOrder")) {
	case "", "ascending":
	case "descending":
		lp.query.Descending = true
	default:
		return nil, badRequest("invalidValue", "sortOrder must be ascending or descending")
	}
	var err error
	if lp.proj, err = parseProjection(kind, q.query.Get("attributes"), q.query.Get("excludedAttributes")); err != nil {
		return nil, badRequest("invalidValue", "attributes: %v", err)
	}
	return lp, nil
}

func listResponse(start int, total int, items []resource) map[string]any {
	if items == nil {
		items = []resource{}
	}
	return map[string]any{"schemas": []string{msgList}, "totalResults": total, "startIndex": start,
		"itemsPerPage": len(items), "Resources": items}
}

func (h *handler) listUsers(ctx context.Context, a membership.Actor, q *request) *answer {
	lp, err := readList(kindUser, q)
	if err != nil {
		return &answer{err: err}
	}
	page, err := h.svc.DirectoryUsers(ctx, a, lp.query, lp.proj.wantsGroups())
	if err != nil {
		return &answer{err: err}
	}
	items := make([]resource, len(page.Users))
	for i, u := range page.Users {
		items[i] = lp.proj.apply(userResource(q.base, u))
	}
	return &answer{status: http.StatusOK, body: listResponse(lp.start, page.Total, items)}
}

func (h *handler) getUser(ctx context.Context, a membership.Actor, q *request) *answer {
	proj, err := parseProjection(kindUser, q.query.Get("attributes"), q.query.Get("excludedAttributes"))
	if err != nil {
		return &answer{err: badRequest("invalidValue", "attributes: %v", err)}
	}
	u, err := h.svc.DirectoryUser(ctx, a, q.id)
	if err != nil {
		return &answer{err: err}
	}
	return projected(resourceAnswer(q, http.StatusOK, userResource(q.base, u)), proj)
}

// resourceAnswer answers one resource with its ETag, or 304 when the
// client's If-None-Match already names its version.
func resourceAnswer(q *request, status int, r resource) *answer {
	version := ""
	if m, ok := r["meta"].(map[string]any); ok {
		version, _ = m["version"].(string)
		if status == http.StatusCreated {
			loc, _ := m["location"].(string)
			return &answer{status: status, body: r, etag: version, loc: loc}
		}
	}
	if q.method == http.MethodGet && version != "" && notModified(q, version) {
		return &answer{status: http.StatusNotModified, etag: version}
	}
	return &answer{status: status, body: r, etag: version}
}

// projected applies proj to a's body after a's ETag and Location were
// taken from the whole resource, so that attributes leaving meta out do
// not take those headers with it.
func projected(a *answer, proj *projection) *answer {
	if r, ok := a.body.(resource); ok {
		a.body = proj.apply(r)
	}
	return a
}

// userInput reads a User body (POST, PUT) onto in, as a path-less replace.
func userInput(body []byte, in *membership.UserInput) error {
	obj, err := decodeObject(body)
	if err != nil {
		return err
	}
	if err := checkSchemas(obj, schemaUser); err != nil {
		return err
	}
	if raw, ok := field(obj, "userName"); !ok || isNull(raw) {
		return badRequest("invalidValue", "userName is required")
	}
	if err := (userTarget{in: in}).applyObject("replace", body); err != nil {
		return err
	}
	if in.Name == "" {
		// Okta's profile pushes often carry only given and family names:
		// the member's one name is made of them rather than left blank.
		in.Name = strings.TrimSpace(in.GivenName + " " + in.FamilyName)
	}
	return nil
}

func (h *handler) createUser(ctx context.Context, a membership.Actor, q *request) *answer {
	proj, err := parseProjection(kindUser, q.query.Get("attributes"), q.query.Get("excludedAttributes"))
	if err != nil {
		return &answer{err: badRequest("invalidValue", "attributes: %v", err)}
	}
	in := membership.UserInput{Active: true}
	if err := userInput(q.body, &in); err != nil {
		return &answer{err: err}
	}
	u, err := h.svc.ProvisionUser(ctx, a, in)
	if err != nil {
		return &answer{err: err}
	}
	return projected(resourceAnswer(q, http.StatusCreated, userResource(q.base, u)), proj)
}

func (h *handler) changeUser(ctx context.Context, a membership.Actor, q *request) *answer {
	proj, err := parseProjection(kindUser, q.query.Get("attributes"), q.query.Get("excludedAttributes"))
	if err != nil {
		return &answer{err: badRequest("invalidValue", "attributes: %v", err)}
	}
	var edit func(in *membership.UserInput) error
	if q.method == http.MethodPut {
		edit = func(in *membership.UserInput) error {
			// PUT replaces: what the body leaves out is cleared, except
			// active, whose absence must not deprovision anyone.
			*in = membership.UserInput{Active: in.Active}
			return userInput(q.body, in)
		}
	} else {
		ops, err := decodePatch(q.body)
		if err != nil {
			return &answer{err: err}
		}
		edit = func(in *membership.UserInput) error {
			t := userTarget{in: in}
			for _, op := range ops {
				if err := t.apply(op); err != nil {
					return err
				}
			}
			return nil
		}
		if err := edit(&membership.UserInput{}); err != nil { // refuse a bad body before any core call
			return &answer{err: err}
		}
	}
	// The current groups are read only to check a version: the answer's
	// are read after the change (none after a deactivation, which ended
	// them), so Okta's and Entra's deprovisioning reads no groups.
	u, err := h.svc.ChangeUser(ctx, a, q.id, q.ifMatch != "", func(cur *membership.DirectoryUser, in *membership.UserInput) error {
		if q.ifMatch != "" {
			if err := checkIfMatch(q, userVersion(q.base, cur)); err != nil {
				return err
			}
		}
		return edit(in)
	})
	if err != nil {
		return &answer{err: err}
	}
	return projected(resourceAnswer(q, http.StatusOK, userResource(q.base, u)), proj)
}

func (h *handler) listGroups(ctx context.Context, a membership.Actor, q *request) *answer {
	lp, err := readList(kindGroup, q)
	if err != nil {
		return &answer{err: err}
	}
	page, err := h.svc.DirectoryGroups(ctx, a, lp.query, lp.proj.wantsMembers())
	if err != nil {
		return &answer{err: err}
	}
	items := make([]resource, len(page.Groups))
	for i, g := range page.Groups {
		items[i] = lp.proj.apply(groupResource(q.base, g, lp.proj.wantsMembers()))
	}
	return &answer{status: http.StatusOK, body: listResponse(lp.start, page.Total, items)}
}

func (h *handler) getGroup(ctx context.Context, a membership.Actor, q *request) *answer {
	proj, err := parseProjection(kindGroup, q.query.Get("attributes"), q.query.Get("excludedAttributes"))
	if err != nil {
		return &answer{err: badRequest("invalidValue", "attributes: %v", err)}
	}
	// Members are always read: the version covers them.
	g, err := h.svc.DirectoryGroup(ctx, a, q.id, true)
	if err != nil {
		return &answer{err: err}
	}
	r := groupResource(q.base, g, proj.wantsMembers())
	r["meta"].(map[string]any)["version"] = groupVersion(q.base, g)
	return projected(resourceAnswer(q, http.StatusOK, r), proj)
}

// groupBody reads a Group body (POST, PUT) as a path-less replace.
func groupBody(body []byte, t *groupTarget) error {
	obj, err := decodeObject(body)
	if err != nil {
		return err
	}
	if err := checkSchemas(obj, schemaGroup); err != nil {
		return err
	}
	if raw, ok := field(obj, "displayName"); !ok || isNull(raw) {
		return badRequest("invalidValue", "displayName is required")
	}
	t.c.ExternalID, t.members = "", t.members[:0]
	return t.apply(patchOp{op: "replace", value: body})
}

func (h *handler) createGroup(ctx context.Context, a membership.Actor, q *request) *answer {
	var c membership.GroupChange
	t := newGroupTarget(nil, &c)
	if err := groupBody(q.body, t); err != nil {
		return &answer{err: err}
	}
	t.finish(nil)
	g, err := h.svc.ProvisionGroup(ctx, a, c)
	if err != nil {
		return &answer{err: err}
	}
	return resourceAnswer(q, http.StatusCreated, groupResource(q.base, g, true))
}

func (h *handler) changeGroup(ctx context.Context, a membership.Actor, q *request) *answer {
	proj, err := parseProjection(kindGroup, q.query.Get("attributes"), q.query.Get("excludedAttributes"))
	if err != nil {
		return &answer{err: badRequest("invalidValue", "attributes: %v", err)}
	}
	// A PATCH answers 204, as Okta's and Entra ID's references show, unless
	// the client asks for the resource with attributes or
	// excludedAttributes (RFC 7644 §3.5.2 allows either).
	body := q.method == http.MethodPut || q.query.Has("attributes") || q.query.Has("excludedAttributes")
	// The members are read only when something needs the whole set: a
	// version check, an answer listing them, or an operation on all of
	// them. Adding and removing named members then costs what it changes,
	// however large the group.
	full := q.method == http.MethodPut || q.ifMatch != "" || (body && proj.wantsMembers())
	var ops []patchOp
	if q.method == http.MethodPatch {
		if ops, err = decodePatch(q.body); err != nil {
			return &answer{err: err}
		}
		// Refuse a bad body before any core call.
		probe := newGroupTarget(nil, &membership.GroupChange{})
		for _, op := range ops {
			if err := probe.apply(op); err != nil {
				return &answer{err: err}
			}
			full = full || needsMembers(op)
		}
	} else if err := groupBody(q.body, newGroupTarget(nil, &membership.GroupChange{})); err != nil {
		return &answer{err: err}
	}
	g, err := h.svc.ChangeGroup(ctx, a, q.id, full, func(cur *membership.DirectoryGroup, c *membership.GroupChange) error {
		if q.ifMatch != "" {
			if err := checkIfMatch(q, groupVersion(q.base, cur)); err != nil {
				return err
			}
		}
		t := newGroupTarget(cur, c)
		t.delta = !full
		if q.method == http.MethodPut {
			if err := groupBody(q.body, t); err != nil {
				return err
			}
		}
		for _, op := range ops {
			if err := t.apply(op); err != nil {
				return err
			}
		}
		if full {
			t.finish(cur)
		}
		return nil
	})
	if err != nil {
		return &answer{err: err}
	}
	if !body {
		return &answer{status: http.StatusNoContent}
	}
	r := groupResource(q.base, g, full)
	if full {
		r["meta"].(map[string]any)["version"] = groupVersion(q.base, g)
	}
	return resourceAnswer(q, http.StatusOK, proj.apply(r))
}

// errorAnswer renders err in SCIM's error format (RFC 7644 §3.12).
func errorAnswer(r *http.Request, err error) *answer {
	body := map[string]any{"schemas": []string{msgError}}
	status := respond.Status(err)
	var se *scimError
	if errors.As(err, &se) {
		status = se.status
		body["detail"] = se.detail
		if se.scimType != "" {
			body["scimType"] = se.scimType
		}
	} else {
		body["detail"] = respond.Message(r, err)
		switch {
		case errors.Is(err, membership.ErrUserNameTaken) || errors.Is(err, membership.ErrUserNameDeactivated) ||
			errors.Is(err, membership.ErrGroupNameTaken):
			body["scimType"] = "uniqueness"
		case membership.ErrorCode(err) == membership.CodeInvalid:
			body["scimType"] = "invalidValue"
		}
	}
	body["status"] = strconv.Itoa(status)
	return &answer{status: status, body: body, err: err}
}

func writeAnswer(w http.ResponseWriter, a *answer) {
	if a.etag != "" {
		w.Header().Set("ETag", a.etag)
	}
	if a.loc != "" {
		w.Header().Set("Location", a.loc)
	}
	if a.err != nil {
		respond.SetRetryAfter(w, a.err)
		if a.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="memberd SCIM"`)
		}
	}
	if a.body == nil {
		w.WriteHeader(a.status)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(a.status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a.body) // the client is gone if this fails
}
