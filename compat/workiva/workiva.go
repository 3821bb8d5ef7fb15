// Package workiva is memberd's Workiva dialect: the asynchronous, atomic
// role revocation of Workiva's API reference
// ("Revoke roles for a Workspace Membership"), and the operation it
// returns to poll, wire-compatible with Workiva's admin and platform APIs.
//
//	POST /prototype/admin/organizations/{organizationId}/workspaces/{workspaceId}/memberships/{workspaceMembershipId}/roles/revocation
//	GET  /prototype/platform/operations/{operationId}
//	GET  /prototype/admin/organizations/{organizationId}/workspaces/{workspaceId}/memberships/{workspaceMembershipId}
//
// The last is the resourceUrl of a completed revocation: the workspace
// membership as it is now.
//
// The revocation is validated before it is accepted: the X-Version, the
// Bearer token (401), its "organization:read" scope and the caller being an
// owner or admin of the organization (403), the organization, workspace and
// membership (404), the body (400) and a revocation already pending on the
// membership (409) are all answered at once. Accepted, it answers 202 with
// Location (the operation) and Retry-After, and runs on the job queue
// (package jobs) through membership.Service.RunOperation: all roles are
// revoked or none, and a role not held fails the operation with details.
//
// Where the seed is silent, memberd follows Workiva's published
// conventions and chooses as follows:
//   - Errors are {"code": "<status><Reason>", "message": ...} with the
//     seed's exact message for each status it lists (400, 401, 403, 404,
//     409, 429, 500, 503). Statuses it does not list use the same shape:
//     405MethodNotAllowed, 410Gone, 413PayloadTooLarge, 415UnsupportedMediaType
//     with memberd's own message.
//   - organizationId must be a UUID (string(uuid) in the seed); anything
//     else is 400. Another organization's UUID is 404, never 403.
//   - workspaceId is the space's numeric id or UUID; workspaceMembershipId
//     is the space membership's numeric id. The membership must belong to
//     the workspace; otherwise 404.
//   - The body is a JSON array of role names (WorkspaceRolesModification),
//     at least one, at most 100, each a non-empty string. Repeats count once.
//     A missing Content-Type is accepted as JSON; another one is 415.
//   - Operation statuses map memberd's to Workiva's enumeration: scheduled
//     and queued are "queued", running is "started", succeeded is
//     "completed", failed "failed", cancelled "cancelled" ("acknowledged"
//     is not used: an accepted revocation is queued at once).
//   - created/updated carry dateTime (RFC 3339, UTC, seconds) and user.id
//     (the UUID of the member who asked). originalRequest is the request
//     id (a UUID) that started the operation. resourceUrl, once completed,
//     is the workspace membership's URL in Workiva's admin API. details,
//     on failure, is one {code, message, target} naming what failed.
//   - The workspace membership (the resourceUrl) answers Workiva's
//     WorkspaceMembership shape: {id, workspace: {id, name}, user: {id,
//     email, username, displayName}, roles: [{id, name}], created:
//     {dateTime, user}}. ids are strings: the membership's and workspace's
//     numeric ids as in the URL, the user's memberd UUID. A role's id is
//     its name, the value the revocation body takes. Reading needs the
//     token's "organization:read" scope like the revocation, but not an
//     owner or admin. A membership that was removed, or that belongs to
//     another workspace, is 404: Workiva has no removed memberships.
//   - Location and resourceUrl are absolute URLs on the request's host.
//     Retry-After is Config.RetryAfter seconds (1 by default: memberd's
//     revocations take milliseconds) on the 202 and on every poll of an
//     unfinished operation.
//   - Polling needs a valid Bearer token of the same organization and no
//     particular scope (Workiva: "No OAuth scopes are required"); another
//     organization's operation is 404.
//   - Every response carries Deprecation: @1770854400 (RFC 9745, the
//     seed's 2026-02-12), Sunset: Sun, 31 Jan 2027 00:00:00 GMT (RFC 8594,
//     the seed's 2027-01-31) and Link to the native successor with
//     rel="successor-version". From the sunset on, the endpoints answer
//     410 Gone unless Config.ServeAfterSunset is set.
package workiva

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/internal/uuidform"
	"github.com/memberd/memberd/membership"
)

// Interface names this dialect in the audit trail.
const Interface = "workiva"

// Version is the one X-Version the seed documents; a request without the
// header gets it too.
const Version = "2022-01-01"

// The seed's dates.
var (
	// Deprecated is when the endpoint was deprecated (2026-02-12).
	Deprecated = time.Date(2026, 2, 12, 0, 0, 0, 0, time.UTC)
	// Sunset is when the endpoint goes away (2027-01-31).
	Sunset = time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC)
)

// MaxBody bounds a revocation's body: 100 roles of 200 bytes fit.
const MaxBody = 64 << 10

// The seed's exact message for each status it documents.
var messages = map[int]string{
	http.StatusBadRequest:          "The request was unacceptable, often due to a missing or invalid parameter",
	http.StatusUnauthorized:        "No valid API token provided",
	http.StatusForbidden:           "The API token does not have permissions to perform the request",
	http.StatusNotFound:            "The requested resource could not be found",
	http.StatusConflict:            "The request conflicts with another request",
	http.StatusTooManyRequests:     "Too many requests have been made against the API in too short a time",
	http.StatusInternalServerError: "The server encountered an unexpected condition that prevented it from fulfilling the request",
	http.StatusServiceUnavailable:  "The server cannot handle the request due to a temporary overload or scheduled maintenance",
}

// Config holds the dialect's optional settings.
type Config struct {
	// Now is the clock the sunset is judged by; tests inject one.
	Now func() time.Time
	// ServeAfterSunset keeps the endpoints working after the sunset date.
	ServeAfterSunset bool
	// RetryAfter is the polling interval the responses suggest.
	RetryAfter time.Duration
}

// DefaultConfig returns the settings memberd runs with unless told otherwise.
func DefaultConfig() Config { return Config{Now: time.Now, RetryAfter: time.Second} }

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
	cfg   Config
}

const (
	membershipPath = "/prototype/admin/organizations/{organizationId}/workspaces/{workspaceId}/memberships/{workspaceMembershipId}"
	revocationPath = membershipPath + "/roles/revocation"
	operationsPath = "/prototype/platform/operations/"
)

// NewHandler serves the dialect's three endpoints. Mount it at
// "/prototype/" of the server's mux.
func NewHandler(svc *membership.Service, authn *auth.Authenticator, cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	h := &handler{svc: svc, authn: authn, cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+revocationPath, h.revoke)
	mux.HandleFunc(revocationPath, h.wrongMethod)
	mux.HandleFunc("GET "+operationsPath+"{operationId}", h.operation)
	mux.HandleFunc(operationsPath+"{operationId}", h.wrongMethod)
	mux.HandleFunc("GET "+membershipPath, h.membership)
	mux.HandleFunc(membershipPath, h.wrongMethod)
	mux.HandleFunc("/", h.notFound)
	return respond.Recover(h.common(mux), writeError)
}

// common sets the deprecation headers on every response and turns every
// request away once the endpoint's sunset has passed.
func (h *handler) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Deprecation", "@"+strconv.FormatInt(Deprecated.Unix(), 10))
		hd.Set("Sunset", Sunset.Format(http.TimeFormat))
		hd.Set("Link", "<"+successor(r)+`>; rel="successor-version"`)
		if !h.cfg.ServeAfterSunset && !h.cfg.Now().Before(Sunset) {
			writeError(w, r, membership.Errorf(membership.CodeGone, "This endpoint was removed at its sunset on %s", Sunset.Format("2006-01-02")))
			return
		}
		if v, ok := r.Header["X-Version"]; ok && (len(v) != 1 || v[0] != Version) {
			writeError(w, r, membership.Errorf(membership.CodeInvalid, "unsupported X-Version %q", strings.Join(v, ", ")))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// successor is the native API's equivalent of the request's endpoint.
func successor(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 4 && strings.HasPrefix(r.URL.Path, operationsPath):
		return "/api/v1/operations/" + url.PathEscape(parts[3])
	case len(parts) == 10 && parts[1] == "admin" && parts[6] == "memberships":
		return "/api/v1/space-memberships/" + url.PathEscape(parts[7]) + "/roles/revocation"
	case len(parts) == 8 && parts[1] == "admin" && parts[6] == "memberships":
		return "/api/v1/space-memberships/" + url.PathEscape(parts[7])
	}
	return "/api/v1/docs"
}

// errorBody is Workiva's error response.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers err in Workiva's {code, message} form, for
// middleware in front of the dialect (load shedding).
func WriteError(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, err) }

// writeError answers err in Workiva's {code, message} form.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := respond.Status(err)
	msg, ok := messages[status]
	if !ok {
		msg = respond.Message(r, err)
	} else if status == http.StatusInternalServerError {
		respond.Message(r, err) // logs it
	}
	respond.SetRetryAfter(w, err)
	code := strconv.Itoa(status) + strings.ReplaceAll(http.StatusText(status), " ", "")
	respond.JSON(w, status, errorBody{Code: code, Message: msg})
}

func (h *handler) wrongMethod(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, membership.Errorf(membership.CodeMethodNotAllowed, "Method %s is not allowed here", r.Method))
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, membership.Errorf(membership.CodeNotFound, "not found"))
}

// requestID makes the request id a UUID, the form Workiva's
// originalRequest has, and echoes it in X-Request-Id.
func requestID(w http.ResponseWriter, r *http.Request) string {
	id := respond.RequestID(r)
	if !uuidform.Canonical(id) {
		id = membership.NewUUID()
		w.Header().Set("X-Request-Id", id)
	}
	return id
}

func (h *handler) revoke(w http.ResponseWriter, r *http.Request) {
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Action: membership.ActionRolesRevoked, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		writeError(w, r, err) // Authorize audited it
		return
	}
	// The scope is checked after the actor takes the UUID request id, so
	// that its refusal is audited under the id the client sees.
	call.Actor.RequestID = requestID(w, r)
	a := call.Actor
	refuse := func(err error) { writeError(w, r, call.Refuse(err)) }
	if err := call.Require(membership.ScopeWorkivaOrgRead); err != nil {
		writeError(w, r, err)
		return
	}
	orgParam := r.PathValue("organizationId")
	if !uuidform.Canonical(orgParam) {
		refuse(membership.Errorf(membership.CodeInvalid, "organizationId %q is not a UUID", orgParam))
		return
	}
	if _, err := h.svc.OrganizationByUUID(r.Context(), a, orgParam); err != nil {
		refuse(err)
		return
	}
	space, err := h.svc.Space(r.Context(), a, spaceRef(r.PathValue("workspaceId")))
	if err != nil {
		refuse(err)
		return
	}
	smID, ok := ids.Positive(r.PathValue("workspaceMembershipId"))
	if !ok {
		refuse(membership.Errorf(membership.CodeNotFound, "workspace membership not found"))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		refuse(membership.Errorf(membership.CodeUnsupportedMedia, "The body must be application/json"))
		return
	}
	body, err := respond.ReadBody(r, MaxBody)
	if err != nil {
		refuse(err)
		return
	}
	var roles []string
	if err := json.Unmarshal(body, &roles); err != nil || roles == nil {
		refuse(membership.Errorf(membership.CodeInvalid, "the body must be a JSON array of role names"))
		return
	}
	op, err := h.svc.StartOperation(r.Context(), a, membership.StartOperationRequest{
		Request: membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{
			SpaceMemberID: smID, Roles: roles, Rule: membership.RuleAdminAnyMember,
		}},
		Original: body,
		SpaceID:  space.ID,
	})
	if err != nil {
		writeError(w, r, err) // the core audited its refusal
		return
	}
	w.Header().Set("Location", absolute(r, operationsPath+op.UUID))
	h.setRetryAfter(w)
	w.WriteHeader(http.StatusAccepted)
}

func (h *handler) setRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(max(int(h.cfg.RetryAfter.Seconds()+0.5), 1)))
}

// spaceRef reads a workspace id: numeric or a UUID. Anything else names
// no workspace (ID -1 matches none), so it is 404 like an absent one.
func spaceRef(s string) membership.Ref {
	if id, ok := ids.Positive(s); ok {
		return membership.Ref{ID: id}
	}
	if uuidform.Canonical(s) {
		return membership.Ref{UUID: strings.ToLower(s)}
	}
	return membership.Ref{ID: -1}
}

// absolute makes path an absolute URL on the request's own host.
func absolute(r *http.Request, path string) string {
	return respond.BaseURL(r) + path
}

// action is Workiva's "when and by whom".
type action struct {
	DateTime string `json:"dateTime"`
	User     *user  `json:"user,omitempty"`
}

type user struct {
	ID string `json:"id"`
}

type detail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Target  string `json:"target,omitempty"`
}

// operation is Workiva's Operation object.
type operation struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	Created         action   `json:"created"`
	Updated         action   `json:"updated"`
	OriginalRequest string   `json:"originalRequest"`
	ResourceURL     string   `json:"resourceUrl,omitempty"`
	Details         []detail `json:"details,omitempty"`
}

var statuses = map[membership.OperationStatus]string{
	membership.OperationScheduled: "queued",
	membership.OperationQueued:    "queued",
	membership.OperationRunning:   "started",
	membership.OperationSucceeded: "completed",
	membership.OperationFailed:    "failed",
	membership.OperationCancelled: "cancelled",
}

// detailCodes names a failed operation's reason in Workiva's PascalCase.
var detailCodes = map[membership.Code]string{
	membership.CodeConflict:     "Conflict",
	membership.CodeNotFound:     "NotFound",
	membership.CodeForbidden:    "Forbidden",
	membership.CodeUnauthorized: "Unauthorized",
	membership.CodeInvalid:      "InvalidRequest",
}

func (h *handler) operation(w http.ResponseWriter, r *http.Request) {
	// Polling needs no scope, and its refusals (an unknown operation) are
	// reads, not audited.
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		writeError(w, r, err)
		return
	}
	a := call.Actor
	id := r.PathValue("operationId")
	if !uuidform.Canonical(id) {
		writeError(w, r, membership.Errorf(membership.CodeNotFound, "operation not found"))
		return
	}
	op, err := h.svc.Operation(r.Context(), a, strings.ToLower(id))
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := operation{
		ID: op.UUID, Status: statuses[op.Status], OriginalRequest: op.RequestID,
		Created: action{DateTime: stamp(op.CreatedAt)}, Updated: action{DateTime: stamp(op.UpdatedAt)},
	}
	if actor, err := h.svc.Member(r.Context(), a, membership.MemberRef{ID: op.ActorMemberID}); err == nil {
		out.Created.User = &user{ID: actor.UUID}
		out.Updated.User = out.Created.User
	}
	switch op.Status {
	case membership.OperationSucceeded:
		out.ResourceURL, err = h.resourceURL(r, a, op)
		if err != nil {
			writeError(w, r, err)
			return
		}
	case membership.OperationFailed:
		d := detail{Code: "InternalError", Message: "The operation could not be completed"}
		if op.Error != nil {
			if c, ok := detailCodes[op.Error.Code]; ok {
				d.Code, d.Message = c, op.Error.Message
			}
		}
		if op.Kind == membership.KindRevokeRoles {
			d.Target = "roles"
		}
		out.Details = []detail{d}
	}
	if !op.Status.Done() {
		h.setRetryAfter(w)
	}
	respond.JSON(w, http.StatusOK, out)
}

// resourceURL is the Workiva admin URL of what a completed operation changed.
func (h *handler) resourceURL(r *http.Request, a membership.Actor, op *membership.Operation) (string, error) {
	if op.Kind != membership.KindRevokeRoles {
		return "", nil
	}
	org, err := h.svc.Organization(r.Context(), a)
	if err != nil {
		return "", err
	}
	return absolute(r, fmt.Sprintf("/prototype/admin/organizations/%s/workspaces/%d/memberships/%d",
		org.UUID, op.SpaceID, op.Request.RevokeRoles.SpaceMemberID)), nil
}

// workspaceMembership is Workiva's WorkspaceMembership object.
type workspaceMembership struct {
	ID        string    `json:"id"`
	Workspace workspace `json:"workspace"`
	User      orgUser   `json:"user"`
	Roles     []role    `json:"roles"`
	Created   action    `json:"created"`
}

type workspace struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// orgUser is Workiva's OrganizationUser, as far as memberd knows it.
type orgUser struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	Username    string `json:"username"`
	DisplayName string `json:"displayName,omitempty"`
}

type role struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// membership answers the resourceUrl of a completed revocation: the
// workspace membership with the roles it holds now.
func (h *handler) membership(w http.ResponseWriter, r *http.Request) {
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Action: membership.ActionSpaceMemberRead,
		Scope: membership.ScopeWorkivaOrgRead, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		writeError(w, r, err) // Authorize audited it
		return
	}
	orgParam := r.PathValue("organizationId")
	if !uuidform.Canonical(orgParam) {
		writeError(w, r, membership.Errorf(membership.CodeInvalid, "organizationId %q is not a UUID", orgParam))
		return
	}
	smID, ok := ids.Positive(r.PathValue("workspaceMembershipId"))
	if !ok {
		smID = 0 // names no membership: 404 once the organization and workspace are found
	}
	v, err := h.svc.SpaceMembershipView(r.Context(), call.Actor, membership.SpaceMembershipViewRequest{
		OrgUUID: orgParam, Space: spaceRef(r.PathValue("workspaceId")), ID: smID})
	if err != nil {
		writeError(w, r, err)
		return
	}
	sm := v.Membership
	if sm.Status != membership.StatusActive {
		writeError(w, r, membership.Errorf(membership.CodeNotFound, "workspace membership not found"))
		return
	}
	out := workspaceMembership{
		ID:        strconv.FormatInt(sm.ID, 10),
		Workspace: workspace{ID: strconv.FormatInt(v.Space.ID, 10), Name: v.Space.Name},
		User:      orgUser{ID: v.Member.UUID, Email: v.Member.Email, Username: v.Member.Email, DisplayName: v.Member.Name},
		Roles:     []role{},
		Created:   action{DateTime: stamp(sm.CreatedAt)},
	}
	for _, name := range sm.Roles {
		out.Roles = append(out.Roles, role{ID: name, Name: name})
	}
	if v.AddedBy != nil {
		out.Created.User = &user{ID: v.AddedBy.UUID}
	}
	respond.JSON(w, http.StatusOK, out)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
