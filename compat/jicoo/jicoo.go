// Package jicoo serves Jicoo's organization-user API wire-compatibly
// (Jicoo Developer Portal, "User" API reference): DELETE
// /v1/organization_users/{userId} with an X-Jicoo-Api-Key header removes
// the user from the key's organization at once, with everything that
// hangs on the membership (the core's RemoveMember), and answers 204 No
// Content with an empty body. The seed's navigation names the sibling
// calls, served here too: GET /v1/organization_users (List Organization
// Users), GET and PATCH /v1/organization_users/{userId} (Get and Update
// Organization User).
//
// The seed shows only the DELETE. Everything else follows Jicoo's public
// API conventions (camelCase fields, {"data": ...} envelopes, page/perPage
// paging, the statuses of its Errors page), and these choices:
//
//   - userId is the member's UUID (the "id" every answer shows) or,
//     as a memberd extension, its numeric membership id (the id the
//     HighQ and Tedee dialects use). Anything else matches no one: 404.
//     An empty userId (the seed's own curl line, DELETE
//     /v1/organization_users/) is 400.
//   - A removed user is no longer in the organization: GET and PATCH
//     answer 404, the list leaves them out, and a second DELETE answers
//     404 (the removal itself is not repeated). Removing or demoting the
//     last owner is 422: the request is understood but cannot be carried
//     out (Jicoo lists no 409).
//   - A user is {"id", "name", "email", "role" (owner, admin or member),
//     "createdAt", "updatedAt"}, times in UTC with milliseconds
//     ("2024-03-01T20:00:00.000Z"). GET and PATCH answer {"data": user}.
//   - The list pages by number as Jicoo's List Bookings does: page
//     (default 1) and perPage (default 20, at most 100), oldest member
//     first, answering {"data": [...], "pagination": {"totalCount",
//     "count", "currentPage", "nextPage" (null on the last page),
//     "numberOfPages"}}. A bad page or perPage is 400.
//   - PATCH takes a JSON object with name and/or role (absent or null
//     fields stay, unknown fields are ignored). Not JSON by its
//     Content-Type (none is taken as JSON): 415. Not a JSON object, a
//     field of the wrong type, or neither field: 400. A blank or too long
//     name (over 200 bytes), one with a NUL character (PostgreSQL cannot
//     store it), or an unknown role: 422. Who may change whom
//     is the core's rule (owners anyone, admins non-owners, members only
//     their own name).
//   - Errors answer {"errors": {"code": "<status in snake case>",
//     "message": "..."}}: the seed's navigation lists an Errors page that
//     is not included, and Jicoo's response schemas name an "errors"
//     object. 401, 403, 404 and 429 carry the Errors page's wording ("No
//     valid API key provided.", ...); 400, 405, 413, 415 and 422 say what
//     was wrong. 429 also sets Retry-After. A wrong method on a known path
//     is 405 with Allow.
//   - Every request under /v1/ needs a valid key first (401), then the
//     path (404) and method (405), then the key's scope (403): members:read
//     for GETs, members:write for PATCH and DELETE. Another organization's
//     users do not exist for a key: 404, never 403.
//   - Bodies are read up to MaxBody bytes (413 beyond). Answers are compact
//     JSON, Content-Type application/json; charset=utf-8.
//   - Every refused request changes nothing and leaves a refused event in
//     the audit trail: the core records refusals of its calls and of
//     credentials; this package records the rest (method, scope, body,
//     query, throttling, unknown paths, failed reads).
package jicoo

import (
	"net/http"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names this dialect in the audit trail.
const Interface = "jicoo"

// Prefix is where Jicoo's API lives; mount the handler there.
const Prefix = "/v1/"

// MaxBody bounds a request body.
const MaxBody = 64 << 10

const (
	usersPath  = "/v1/organization_users"
	allowList  = "GET"
	allowUser  = "GET, PATCH, DELETE"
	actionRead = membership.ActionMemberRead
)

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler returns Jicoo's organization-user API; mount it at Prefix.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	mux := http.NewServeMux()
	mux.HandleFunc(usersPath, h.users)
	mux.HandleFunc(usersPath+"/{$}", h.user) // the seed's curl: an empty userId
	mux.HandleFunc(usersPath+"/{userId}", h.user)
	mux.HandleFunc(Prefix, h.unknownPath)
	return respond.Recover(mux, writeError)
}

// authorize authenticates the request and checks need.Scope through
// auth.Authorize, which audits every refusal (throttling included: every
// refused request leaves an event). On failure it has answered and
// returns nil.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, need auth.Need) *auth.Call {
	need.Interface, need.Schemes, need.AuditThrottling = Interface, []auth.Scheme{auth.JicooKey}, true
	call, err := h.authn.Authorize(r, need)
	if err != nil {
		writeError(w, r, err)
		return nil
	}
	return call
}

// methodNeed is what a method this package does not serve needs: a valid
// key, so that its 405 is audited as a request of the key's organization.
var methodNeed = auth.Need{Action: membership.ActionRequestRouted}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, call *auth.Call, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, r, call.Refuse(membership.Errorf(membership.CodeMethodNotAllowed, "method %s is not allowed on this resource", r.Method)))
}

// users is List Organization Users.
func (h *handler) users(w http.ResponseWriter, r *http.Request) {
	allowed := r.Method == http.MethodGet || r.Method == http.MethodHead
	need := methodNeed
	if allowed {
		need = auth.Need{Action: actionRead, Scope: membership.ScopeMembersRead}
	}
	call := h.authorize(w, r, need)
	if call == nil {
		return
	}
	if !allowed {
		methodNotAllowed(w, r, call, allowList)
		return
	}
	page, perPage, err := pageParams(r.URL.Query())
	if err != nil {
		writeError(w, r, call.Refuse(err))
		return
	}
	pg, err := h.svc.MemberPageOf(r.Context(), call.Actor, membership.MemberListParams{
		Status: membership.StatusActive, Limit: perPage, Offset: (page - 1) * perPage})
	if err != nil {
		readFailed(w, r, call, err)
		return
	}
	out := list{Data: make([]user, 0, len(pg.Members)), Pagination: pagination{
		TotalCount: pg.Total, Count: len(pg.Members), CurrentPage: page,
		NumberOfPages: (pg.Total + perPage - 1) / perPage,
	}}
	for _, m := range pg.Members {
		out.Data = append(out.Data, userOf(m))
	}
	if page < out.Pagination.NumberOfPages {
		next := page + 1
		out.Pagination.NextPage = &next
	}
	writeJSON(w, http.StatusOK, out)
}

// readFailed answers a failed read; a read refused (not found) is audited
// like any other refusal.
func readFailed(w http.ResponseWriter, r *http.Request, call *auth.Call, err error) {
	if c := membership.ErrorCode(err); c != membership.CodeInternal && c != membership.CodeUnavailable {
		err = call.RefuseAs(actionRead, err)
	}
	writeError(w, r, err)
}

// userNeeds is what each method on a user needs.
var userNeeds = map[string]auth.Need{
	http.MethodGet:    {Action: actionRead, Scope: membership.ScopeMembersRead},
	http.MethodHead:   {Action: actionRead, Scope: membership.ScopeMembersRead},
	http.MethodPatch:  {Action: membership.ActionMemberUpdated, Scope: membership.ScopeMembersWrite},
	http.MethodDelete: {Action: membership.ActionMemberRemoved, Scope: membership.ScopeMembersWrite},
}

// user is Get, Update and Delete Organization User.
func (h *handler) user(w http.ResponseWriter, r *http.Request) {
	need, allowed := userNeeds[r.Method]
	if !allowed {
		need = methodNeed
	}
	if r.Method == http.MethodDelete && r.PathValue("userId") != "" {
		// Nothing refuses the request between authentication and the
		// removal, whose locking statement confirms a cached key: one
		// statement fewer a removal.
		r = r.WithContext(membership.WithDeferredAuthentication(r.Context()))
	}
	call := h.authorize(w, r, need)
	if call == nil {
		return
	}
	if !allowed {
		methodNotAllowed(w, r, call, allowUser)
		return
	}
	userID := r.PathValue("userId")
	if userID == "" {
		writeError(w, r, call.Refuse(membership.Errorf(membership.CodeInvalid, "the userId path parameter is required")))
		return
	}
	ref := memberRef(userID)
	switch r.Method {
	case http.MethodPatch:
		h.update(w, r, call, ref)
	case http.MethodDelete:
		h.remove(w, r, call, ref)
	default:
		m, err := h.svc.Member(r.Context(), call.Actor, ref)
		if err == nil && !m.Active() {
			err = membership.ErrMemberNotFound
		}
		if err != nil {
			readFailed(w, r, call, err)
			return
		}
		writeJSON(w, http.StatusOK, one{Data: userOf(m)})
	}
}

func (h *handler) update(w http.ResponseWriter, r *http.Request, call *auth.Call, ref membership.MemberRef) {
	body, err := respond.ReadBody(r, MaxBody)
	if err != nil {
		writeError(w, r, call.Refuse(err))
		return
	}
	p, err := decodePatch(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeError(w, r, call.Refuse(err))
		return
	}
	m, err := h.svc.UpdateMember(r.Context(), call.Actor, membership.UpdateMemberRequest{
		Member: ref, Name: p.Name, Role: p.Role, ActiveOnly: true})
	if err != nil {
		coreFailed(w, r, call, err)
		return
	}
	writeJSON(w, http.StatusOK, one{Data: userOf(m)})
}

func (h *handler) remove(w http.ResponseWriter, r *http.Request, call *auth.Call, ref membership.MemberRef) {
	if _, err := h.svc.RemoveMember(membership.WithReportDiscarded(r.Context()), call.Actor, membership.RemoveMemberRequest{Member: ref}); err != nil {
		coreFailed(w, r, call, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// coreFailed answers a failed core change. The core has audited its
// refusals; a key whose member was removed meanwhile it has not.
func coreFailed(w http.ResponseWriter, r *http.Request, call *auth.Call, err error) {
	if membership.ErrorCode(err) == membership.CodeUnauthorized {
		err = call.Refuse(err)
	}
	writeError(w, r, err)
}

func (h *handler) unknownPath(w http.ResponseWriter, r *http.Request) {
	if call := h.authorize(w, r, auth.Need{Action: membership.ActionRequestRouted}); call != nil {
		writeError(w, r, call.Refuse(membership.Errorf(membership.CodeNotFound, "no such path")))
	}
}
