// Package tedee serves the Tedee "Remove members" call, wire-compatible
// with Tedee's API reference "Remove members" (API v37):
//
//	DELETE /api/v37/organization/{organizationId}/user-groups/{groupId}/members
//	Authorization: Bearer SECRET         (scope Organization.ReadWrite)
//	{"organizationUserIds": [11, 12, 13]}
//
// answered 207 Multi-Status with one result per requested id, in request
// order: {"organizationUsers":[{"organizationUserId":12,"success":true,"error":null}]}.
// It is a thin adapter: decode, one core call (membership.Service.RemoveBatch
// with ScopeGroup), encode. The server mounts it at "/api/v37/".
//
// {organizationId} is memberd's numeric organization id, {groupId} the
// user group's UUID, and an organization user id a member id. As the seed's
// note says, removing a member from a group takes away only the access
// granted through that group; direct grants and other groups' grants stay
// (the core's RemoveGroupMember semantics).
//
// Choices made where the seed is silent:
//   - One result per requested id. The seed's "Remove multiple members"
//     sample answers two results for three ids; memberd follows the issue
//     (and the "one result per id" reading of "Organization member operation
//     result []") and reports every id, so that sample's third id (13) gets
//     its own entry after the two shown.
//   - The answer is 207 whenever the batch ran, even if every id failed;
//     each failure carries its own error string in "error":
//     "Organization user is not a member of this user group." (in the
//     organization, not in the group), "Organization user was not found in
//     this organization." (no such member, or another organization's),
//     "Organization user id is invalid." (0, negative, fractional or out of
//     range), "Organization user was already removed from this user group."
//     (including a repeated id: the first occurrence removes it) and "You do
//     not have rights to remove this organization user from the user group.".
//     An invalid id is echoed as the number the client sent.
//   - Rights: owners remove anyone; admins remove any member who is not an
//     owner (membership.RuleAdminAnyMember: Tedee's organization admins
//     manage every group); plain members remove nobody.
//   - Errors of the whole request use a Tedee-like envelope
//     {"errorMessages":["..."],"statusCode":401,"success":false} with the
//     status from the one Code→status table: 400 bad body or path value, 401
//     no or bad credential, 403 missing scope, 404 another organization or an
//     unknown group, 413 body over 64 KiB, 429 rate limit (with
//     Retry-After). Unknown paths (404) and wrong methods (405, with Allow)
//     answer in it too.
//   - {organizationId} that is not a positive integer and {groupId} that is
//     not a UUID are 400 "The value '...' is not valid for organizationId."
//     (ASP.NET Core's model-binding wording); an {organizationId} other than
//     the credential's is 404 "Organization not found." (never 403).
//   - The body must be a JSON object; its "organizationUserIds" key matches
//     case-insensitively (ASP.NET Core's web defaults), other keys are
//     ignored. The list must hold 1 to 100 JSON numbers; anything else
//     (missing, null, empty, strings, nested values, two lists, trailing
//     data, more than 100 ids) is a 400 naming the problem, and nothing is
//     removed. Decoding stops at the 101st id. Content-Type and Accept are
//     not enforced; responses are compact application/json.
//
// Every refusal changes nothing and is audited: credential failures by the
// authenticator, refusals inside the core call by the core, and the ones
// made here (scope, path, organization, body) through auth.Authorize.
// Rate-limited requests are not audited.
package tedee

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/internal/uuidform"
	"github.com/memberd/memberd/membership"
)

// Interface names this dialect in the audit trail.
const Interface = "tedee"

// MaxBody bounds a request body; 100 ids fit many times over.
const MaxBody = 64 << 10

const actionRemoveMembers = "tedee.group_members.remove"

// Per-id error messages.
const (
	msgNotInGroup     = "Organization user is not a member of this user group."
	msgNotInOrg       = "Organization user was not found in this organization."
	msgInvalid        = "Organization user id is invalid."
	msgAlreadyRemoved = "Organization user was already removed from this user group."
	msgNoRights       = "You do not have rights to remove this organization user from the user group."
)

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler returns the Tedee dialect's handler, registering the full
// /api/v37/ path.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE /api/v37/organization/{organizationId}/user-groups/{groupId}/members", h.removeMembers)
	return respond.Recover(respond.Unmatched(mux, writeUnmatched), writeError)
}

// result is one "Organization member operation result".
type result struct {
	OrganizationUserID json.Number `json:"organizationUserId"`
	Success            bool        `json:"success"`
	Error              *string     `json:"error"`
}

type response struct {
	OrganizationUsers []result `json:"organizationUsers"`
}

func (h *handler) removeMembers(w http.ResponseWriter, r *http.Request) {
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Action: actionRemoveMembers,
		Scope: membership.ScopeTedeeReadWrite, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		writeError(w, r, err) // Authorize audited it
		return
	}
	a := call.Actor
	refuse := func(err error) { writeError(w, r, call.Refuse(err)) }
	orgParam, groupParam := r.PathValue("organizationId"), r.PathValue("groupId")
	orgID, err := strconv.ParseInt(orgParam, 10, 64)
	if err != nil || orgID <= 0 {
		refuse(membership.Errorf(membership.CodeInvalid, "The value '%s' is not valid for organizationId.", orgParam))
		return
	}
	if !uuidform.Canonical(groupParam) {
		refuse(membership.Errorf(membership.CodeInvalid, "The value '%s' is not valid for groupId.", groupParam))
		return
	}
	if orgID != a.OrgID {
		refuse(membership.Errorf(membership.CodeNotFound, "Organization not found."))
		return
	}
	body, err := respond.ReadBody(r, MaxBody)
	if err != nil {
		refuse(err)
		return
	}
	items, err := decodeBody(body, h.svc.BatchLimit())
	if err != nil {
		refuse(err)
		return
	}
	refs := make([]membership.MemberRef, len(items))
	for i, it := range items {
		refs[i] = it.ref
	}
	res, err := h.svc.RemoveBatch(r.Context(), a, membership.BatchRequest{
		Scope: membership.ScopeGroup, Group: membership.Ref{UUID: groupParam}, Items: refs,
		Rule: membership.RuleAdminAnyMember,
	})
	if err != nil {
		writeError(w, r, err) // the core audited its refusal
		return
	}
	out := &response{OrganizationUsers: make([]result, len(res.Items))}
	for i, it := range res.Items {
		out.OrganizationUsers[i] = result{OrganizationUserID: items[it.Index].raw, Success: it.Outcome == membership.OutcomeRemoved}
		if msg := itemError(it); msg != "" {
			out.OrganizationUsers[i].Error = &msg
		}
	}
	respond.JSON(w, http.StatusMultiStatus, out)
}

// itemError is a refused item's message, or "" for a removed one.
func itemError(it *membership.ItemResult) string {
	switch it.Outcome {
	case membership.OutcomeRemoved:
		return ""
	case membership.OutcomeNotMember:
		return msgNotInGroup
	case membership.OutcomeNotFound:
		return msgNotInOrg
	case membership.OutcomeInvalid:
		return msgInvalid
	case membership.OutcomeAlreadyRemoved:
		return msgAlreadyRemoved
	case membership.OutcomeForbidden:
		return msgNoRights
	}
	return it.Message
}

// errorBody is the Tedee-like error envelope.
type errorBody struct {
	ErrorMessages []string `json:"errorMessages"`
	StatusCode    int      `json:"statusCode"`
	Success       bool     `json:"success"`
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	respond.SetRetryAfter(w, err)
	status := respond.Status(err)
	respond.JSON(w, status, &errorBody{ErrorMessages: []string{respond.Message(r, err)}, StatusCode: status})
}

// writeUnmatched answers a path or method the mux has no route for.
func writeUnmatched(w http.ResponseWriter, r *http.Request, status int) {
	msg := "The requested resource does not exist."
	if status == http.StatusMethodNotAllowed {
		msg = "Method " + r.Method + " is not allowed for this resource."
	}
	respond.JSON(w, status, &errorBody{ErrorMessages: []string{msg}, StatusCode: status})
}
