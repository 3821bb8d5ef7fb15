// Package highq serves the Thomson Reuters HighQ Collaborate "site users"
// dialect, wire-compatible with HighQ's API document "Site users
// management - Remove users from a site" and the reads and the group call that document points
// to. It is a thin adapter: decode the HighQ request, make one core call,
// encode the HighQ response.
//
// Routes (the server mounts this handler at "/api/3/"):
//
//	GET    /api/3/sites                                          site list
//	GET    /api/3/sites/{siteid}/users                           site users
//	DELETE /api/3/sites/{siteid}/users                           remove users from a site
//	DELETE /api/3/sites/{siteid}/groups/{groupid}/users?userid=N remove a user from a group
//
// A HighQ site is a memberd space (siteid = space id), a HighQ user id is a
// memberd member id, and a HighQ group id is a memberd group id.
//
// What the seed states and this package does:
//   - Authorization: Bearer SECRET.
//   - The removal body in every form the document and its comments show:
//     {"transactionid":["990","991"]}, {"transactionids":{"transactionid":[900,901]}}
//     and XML <transactionids><transactionid>900</transactionid>...</transactionids>.
//   - One transaction status per id, in request order, shaped like the
//     comment's sample: {"transaction":[{"transactionid":"990","statuscode":"200",
//     "reason":"...","receivertype":null}]}, with the document's messages:
//     "User ID provided is invalid.", "User with the specified User ID was
//     already removed from the site", "User with the specified User ID does
//     not exist in the site", "You do not have rights to remove the specified user."
//   - A repeated id is removed the first time and reported already removed after.
//   - At most 100 ids (the service's batch limit) per request.
//   - A site admin removes only the users they added; the organization's
//     owner removes anyone (membership.RuleAdminAddedOnly).
//   - An unreadable body is answered with the comment's sample:
//     {"transaction":[{"transactionid":"","statuscode":"400","reason":"Request
//     resource or xml is not valid","receivertype":null}]}.
//
// Choices made where the seed is silent:
//   - HTTP status of a removal: 200 only when every id was removed. When none
//     was removed and every id failed with the same status, that status (all
//     refused for rights: 403; none in the site: 404; all already removed:
//     409; all invalid: 400). Any other mix, including partial success: 400.
//   - Per-id statuscode: "200" for a removal, otherwise the status of the
//     item's error class from the one Code→status table (invalid 400, no
//     rights 403, not in the site 404, already removed 409). The success
//     reason is "User removed successfully", after HighQ's "User added
//     successfully" of the add-user call.
//   - Ids are accepted as JSON strings or integers in both JSON forms (the
//     comment says HighQ itself takes only strings in the first form; being
//     lenient breaks no client). A bare scalar stands for a one-id list.
//     An id must be a positive base-10 integer in canonical form after
//     trimming white space (internal/ids: no sign, no leading zero, so
//     "+990" and "0990" do not name 990, which only "990" does);
//     anything else (including 0, negatives, fractions, true, null) is that
//     id's "User ID provided is invalid.". The id is echoed as the client wrote
//     it, trimmed; a null is echoed as "null".
//   - Nested arrays or objects as ids, two id lists in one body, a JSON
//     body that is not one object, an XML body whose root is not
//     <transactionids>, a DTD or entity declaration, a non-UTF-8 encoding, or
//     trailing data: the comment's 400 "Request resource or xml is not valid".
//     Unknown JSON keys and unknown XML elements are ignored; element names
//     match on their local name, ignoring namespaces.
//   - An empty body or an empty id list: 400 "Request parameters are missing"
//     (HighQ's documented message for a missing body). More than 100 ids:
//     400 "You can remove a maximum of 100 users at a time." and nothing
//     removed; decoding stops at the 101st id. Bodies are read up to 64 KiB
//     (413 beyond, in the same envelope); XML nesting is capped at 16 levels.
//   - The body is XML when Content-Type names xml, JSON when it names json,
//     and otherwise XML exactly when its first non-space byte is '<'.
//     The response is XML or JSON as the first of application/xml, text/xml
//     (or any +xml) and application/json (or any +json) that Accept lists
//     says (q-values are not weighed), and otherwise in the body's format
//     (JSON for bodyless calls). XML responses start with
//     <?xml version="1.0" encoding="UTF-8" standalone="yes"?> as HighQ's
//     documented responses do; the transaction list is <transactions> of
//     <transaction>, and the null receivertype is left out of XML.
//   - Errors of the removal call that concern the whole request (no or bad
//     credential, missing scope, unknown site, rate limit) use the same
//     transaction envelope with an empty transactionid, the HTTP status as
//     statuscode and the reason; every other call answers errors with
//     HighQ's documented error object {"error":{"summary":...,"ref":N}}
//     (<error><summary/><ref/></error> in XML) with ref = the HTTP status.
//     Unknown paths (404) and wrong methods (405, with Allow) answer in that
//     object too.
//   - Scopes: removals need the credential scope members:write, reads
//     members:read (the seed names none).
//   - Reads: GET /api/3/sites lists every site of the credential's
//     organization (memberd credentials are organization-wide; HighQ's
//     filterby, returncount and other query parameters are ignored) as
//     {"site":[{"id":2,"sitename":"...","status":"Active","createddate":"15 Jan 2026"}]};
//     GET /api/3/sites/{siteid}/users lists the site's active users as
//     {"user":[{"userid":900,"email":"...","status":"Active","role":"participant",
//     "invited":"15 Jan 2026 09:00"}]}, roles sorted and joined with ", ".
//     Integers are JSON numbers, as the document's models type them. Dates
//     use HighQ's "02 Jan 2006" and "02 Jan 2006 15:04" forms, in UTC.
//   - DELETE .../groups/{groupid}/users?userid=N answers 200 with an empty
//     body on success. It checks that {siteid} is a site of the
//     organization (404 otherwise), then removes the user from the
//     organization-wide group {groupid} under the same added-by rule; HighQ's
//     negative admin group ids (-2 to -6) are not groups here and answer 404.
//     Its messages mirror the site call's with "group" for "site". A missing
//     or non-integer userid: 400 "User ID provided is invalid.".
//   - A non-integer {siteid}: 400 "Invalid parameter: siteid".
//
// Every refusal changes nothing and is audited: credential failures by the
// authenticator, refusals inside a core call by the core, and refusals made
// here (scope, path, body, an unknown site on a read) through auth.Authorize.
// Rate-limited requests are not audited (that would turn a flood into
// writes).
package highq

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names this dialect in the audit trail.
const Interface = "highq"

// MaxBody bounds a request body; 100 ids fit many times over.
const MaxBody = 64 << 10

// The document's messages, verbatim.
const (
	msgInvalid        = "User ID provided is invalid."
	msgAlreadyRemoved = "User with the specified User ID was already removed from the site"
	msgNotInSite      = "User with the specified User ID does not exist in the site"
	msgNoRights       = "You do not have rights to remove the specified user."
	msgRemoved        = "User removed successfully"
	msgBadBody        = "Request resource or xml is not valid"
	msgMissing        = "Request parameters are missing"

	msgGroupAlreadyRemoved = "User with the specified User ID was already removed from the group"
	msgNotInGroup          = "User with the specified User ID does not exist in the group"
)

// Audit actions of refusals made in this package.
const (
	actionRemoveSiteUsers = membership.ActionSpaceMemberRemoved
	actionRemoveGroupUser = membership.ActionGroupMemberRemoved
	actionListSites       = membership.ActionSpaceRead
	actionListSiteUsers   = membership.ActionSpaceMemberRead
)

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler returns the HighQ dialect's handler, registering the full
// /api/3/ paths.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/3/sites", h.listSites)
	mux.HandleFunc("GET /api/3/sites/{siteid}/users", h.listSiteUsers)
	mux.HandleFunc("DELETE /api/3/sites/{siteid}/users", h.removeSiteUsers)
	mux.HandleFunc("DELETE /api/3/sites/{siteid}/groups/{groupid}/users", h.removeGroupUser)
	return respond.Recover(respond.Unmatched(mux, writeUnmatched), WriteError)
}

// authorize authenticates the request and checks scope through
// auth.Authorize, which audits a refusal under action. On failure it has
// answered with fail and returns nil.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, scope, action string,
	fail func(http.ResponseWriter, *http.Request, error)) *auth.Call {
	call, err := h.authn.Authorize(r, auth.Need{Interface: Interface, Action: action, Scope: scope, Schemes: []auth.Scheme{auth.Bearer}})
	if err != nil {
		fail(w, r, err)
		return nil
	}
	return call
}

// parseSiteID reads {siteid}.
func parseSiteID(r *http.Request) (int64, error) {
	id, ok := ids.Parse(r.PathValue("siteid"))
	if !ok {
		return 0, membership.Errorf(membership.CodeInvalid, "Invalid parameter: siteid")
	}
	return id, nil
}

func (h *handler) removeSiteUsers(w http.ResponseWriter, r *http.Request) {
	asXML := responseXML(r, false)
	fail := func(w http.ResponseWriter, r *http.Request, err error) { writeTransactionError(w, r, asXML, err) }
	call := h.authorize(w, r, membership.ScopeMembersWrite, actionRemoveSiteUsers, fail)
	if call == nil {
		return
	}
	a := call.Actor
	siteID, err := parseSiteID(r)
	if err != nil {
		fail(w, r, call.Refuse(err))
		return
	}
	body, err := respond.ReadBody(r, MaxBody)
	if err != nil {
		fail(w, r, call.Refuse(err))
		return
	}
	bodyXML := isXMLBody(r, body)
	asXML = responseXML(r, bodyXML)
	items, err := decodeBody(body, bodyXML, h.svc.BatchLimit())
	if err != nil {
		fail(w, r, call.Refuse(err))
		return
	}
	refs := make([]membership.MemberRef, len(items))
	for i, it := range items {
		refs[i] = it.ref
	}
	// HighQ answers with each id's status alone, never a report.
	res, err := h.svc.RemoveBatch(membership.WithReportDiscarded(r.Context()), a, membership.BatchRequest{
		Scope: membership.ScopeSpace, Space: membership.Ref{ID: siteID}, Items: refs,
		Rule: membership.RuleAdminAddedOnly,
	})
	if err != nil {
		fail(w, r, err) // the core audited its refusal
		return
	}
	status, out := transactionsOf(items, res)
	writeBody(w, status, asXML, out)
}

// transactionsOf turns the batch's per-item outcomes into HighQ
// transaction statuses and picks the response status (see the package doc).
func transactionsOf(items []item, res *membership.BatchResult) (int, *transactions) {
	out := &transactions{Transaction: make([]transaction, len(res.Items))}
	statuses := make([]int, len(res.Items))
	for i, it := range res.Items {
		status, reason := http.StatusOK, msgRemoved
		if it.Outcome != membership.OutcomeRemoved {
			code, msg := itemError(it, msgAlreadyRemoved, msgNotInSite)
			status, reason = statusOf(code), msg
		}
		statuses[i] = status
		out.Transaction[i] = transaction{TransactionID: items[it.Index].raw, StatusCode: strconv.Itoa(status), Reason: reason}
	}
	return overallStatus(res, statuses), out
}

// itemError maps a refused item to its Code and the document's message.
func itemError(it *membership.ItemResult, alreadyRemoved, notThere string) (membership.Code, string) {
	switch it.Outcome {
	case membership.OutcomeInvalid:
		return membership.CodeInvalid, msgInvalid
	case membership.OutcomeAlreadyRemoved:
		return membership.CodeConflict, alreadyRemoved
	case membership.OutcomeNotFound, membership.OutcomeNotMember:
		return membership.CodeNotFound, notThere
	case membership.OutcomeForbidden:
		return membership.CodeForbidden, msgNoRights
	}
	return membership.CodeConflict, it.Message
}

// overallStatus is 200 when every id was removed; the one shared status
// when none was and all failed alike; otherwise 400 ("some of the records
// were not removed", which the document answers with a 4xx).
func overallStatus(res *membership.BatchResult, statuses []int) int {
	if res.Failed == 0 {
		return http.StatusOK
	}
	if res.Removed == 0 {
		first := statuses[0]
		if !slices.ContainsFunc(statuses, func(s int) bool { return s != first }) {
			return first
		}
	}
	return statusOf(membership.CodeInvalid)
}

// statusOf is the one Code→status table's answer for code.
func statusOf(code membership.Code) int { return respond.Status(&membership.Error{Code: code}) }

func (h *handler) removeGroupUser(w http.ResponseWriter, r *http.Request) {
	asXML := responseXML(r, false)
	fail := func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, asXML, err) }
	call := h.authorize(w, r, membership.ScopeMembersWrite, actionRemoveGroupUser, fail)
	if call == nil {
		return
	}
	a := call.Actor
	refuse := func(err error) {
		fail(w, r, call.Refuse(err))
	}
	siteID, err := parseSiteID(r)
	if err != nil {
		refuse(err)
		return
	}
	groupID, ok := ids.Parse(r.PathValue("groupid"))
	if raw := r.PathValue("groupid"); !ok && strings.HasPrefix(raw, "-") {
		// HighQ's admin groups (-2 to -6), written canonically, are
		// well-formed ids that name no group here: 404, not 400.
		var n int64
		n, ok = ids.Positive(raw[1:])
		groupID = -n
	}
	if !ok {
		refuse(membership.Errorf(membership.CodeInvalid, "Invalid parameter: groupid"))
		return
	}
	userID, ok := ids.Positive(strings.TrimSpace(r.URL.Query().Get("userid")))
	if !ok {
		refuse(membership.Errorf(membership.CodeInvalid, msgInvalid))
		return
	}
	// The group is organization-wide, so the site only has to exist.
	if _, err := h.svc.Space(r.Context(), a, membership.Ref{ID: siteID}); err != nil {
		if membership.ErrorCode(err) != membership.CodeInternal {
			call.Refuse(err)
		}
		fail(w, r, err)
		return
	}
	_, err = h.svc.RemoveGroupMember(membership.WithReportDiscarded(r.Context()), a, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: groupID}, Member: membership.MemberRef{ID: userID},
		Rule: membership.RuleAdminAddedOnly,
	})
	if err != nil {
		fail(w, r, groupError(err)) // the core audited its refusal
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// groupError gives a refused group removal the document's wording.
func groupError(err error) error {
	msg := ""
	switch {
	case errors.Is(err, membership.ErrAlreadyRemoved):
		msg = msgGroupAlreadyRemoved
	case errors.Is(err, membership.ErrNotMember), errors.Is(err, membership.ErrMemberNotFound):
		msg = msgNotInGroup
	case membership.ErrorCode(err) == membership.CodeForbidden:
		msg = msgNoRights
	default:
		return err
	}
	return &membership.Error{Code: membership.ErrorCode(err), Message: msg, Err: err}
}

func (h *handler) listSites(w http.ResponseWriter, r *http.Request) {
	asXML := responseXML(r, false)
	fail := func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, asXML, err) }
	call := h.authorize(w, r, membership.ScopeMembersRead, actionListSites, fail)
	if call == nil {
		return
	}
	a := call.Actor
	spaces, err := h.svc.Spaces(r.Context(), a)
	if err != nil {
		fail(w, r, err)
		return
	}
	out := &siteList{Site: make([]site, len(spaces))}
	for i, s := range spaces {
		out.Site[i] = site{ID: s.ID, SiteName: s.Name, Status: "Active", CreatedDate: s.CreatedAt.UTC().Format(dateLayout)}
	}
	writeBody(w, http.StatusOK, asXML, out)
}

func (h *handler) listSiteUsers(w http.ResponseWriter, r *http.Request) {
	asXML := responseXML(r, false)
	fail := func(w http.ResponseWriter, r *http.Request, err error) { writeError(w, r, asXML, err) }
	call := h.authorize(w, r, membership.ScopeMembersRead, actionListSiteUsers, fail)
	if call == nil {
		return
	}
	a := call.Actor
	siteID, err := parseSiteID(r)
	if err != nil {
		fail(w, r, call.Refuse(err))
		return
	}
	members, err := h.svc.SpaceMembers(r.Context(), a, membership.Ref{ID: siteID}, membership.StatusActive)
	if err != nil {
		if membership.ErrorCode(err) != membership.CodeInternal {
			call.Refuse(err)
		}
		fail(w, r, err)
		return
	}
	out := &userList{User: make([]siteUser, len(members))}
	for i, m := range members {
		roles := slices.Clone(m.Roles)
		slices.Sort(roles)
		out.User[i] = siteUser{UserID: m.MemberID, Email: m.Email, Status: "Active",
			Role: strings.Join(roles, ", "), Invited: m.CreatedAt.UTC().Format(dateTimeLayout)}
	}
	writeBody(w, http.StatusOK, asXML, out)
}
