// Package wiggledesk serves WiggleDesk's user-removal API wire-compatibly
// (WiggleDesk developer resources, "API - Removing Users"): POST
// /api/remove_membership/ with "Authorization: token SECRET" and an
// email_invited field removes that user from the credential's
// organization, as the core's RemoveMember does (their history stays;
// they can no longer book), and answers 201 Created with a Location and
// {"email_invited": ..., "url": ...}.
//
// The seed's response headers (Allow: POST, HEAD, OPTIONS; Vary: Accept;
// X-Frame-Options: SAMEORIGIN; Referrer-Policy: same-origin) are those of
// a Django REST framework (DRF) view behind Django's security middleware,
// so wherever the seed is silent this package answers as such a view
// would. The choices:
//
//   - Bodies: DRF's default parsers, tried in order: application/json
//     (what httpie sends for email_invited=...), urlencoded forms (httpie
//     --form) and multipart/form-data; a Content-Type wildcard matches as
//     in DRF. An empty body, whatever its type, is "no data". Any other
//     type: 415 {"detail": "Unsupported media type \"...\" in request."}.
//     Bodies over MaxBody bytes: 413 {"detail": "Request body is larger
//     than the limit of 65536 bytes."} (DRF has no 413; the detail style is
//     its own).
//   - email_invited is an EmailField: trimmed, then checked in DRF's order
//     with DRF's messages: "This field is required.", "This field may not
//     be null.", "Not a valid string.", "This field may not be blank.",
//     then all of "Ensure this field has no more than 254 characters.",
//     "Null characters are not allowed." and "Enter a valid email
//     address." that apply. A JSON body that is not an object answers
//     {"non_field_errors": ["Invalid data. Expected a dictionary, but got
//     list."]} (or "No data provided" for null); malformed JSON answers
//     {"detail": "JSON parse error - <reason>"} with Go's reason. A
//     repeated form field counts by its last value, as a QueryDict does.
//   - The address is matched case-insensitively and echoed as stored,
//     lower-case. No such member in the credential's organization: 404
//     {"detail": "Not found."}, so other organizations' users are
//     invisible. Already removed: 400 {"email_invited": ["This user has
//     already been removed."]}; removing the last owner: 400 with the core's
//     reason on email_invited (a serializer's validation error, not 409).
//   - membership_id is the member's numeric id; url and Location are
//     <scheme>://<Host>/api/remove_membership/<id>/ from the request's Host
//     header. The scheme is https when the connection is TLS or when a
//     trusted proxy (--trusted-proxies) says so in X-Forwarded-Proto's
//     first value (a TLS-terminating proxy in front of memberd, like the
//     seed's Google Frontend), else http (respond.BaseURL).
//   - JSON is rendered as DRF's JSONRenderer does by default: compact
//     separators, UTF-8, keys in serializer order, no trailing newline.
//     Accept is not negotiated: every answer is application/json (DRF
//     would also offer its HTML browsable API).
//   - Every answer carries the seed's headers: Allow (the route's
//     methods), Vary: Accept, X-Content-Type-Options: nosniff,
//     X-Frame-Options: SAMEORIGIN and Referrer-Policy: same-origin. Server
//     and X-Cloud-Trace-Context belong to the vendor's hosting and are not
//     imitated.
//   - Order of checks, as DRF's dispatch runs them: authentication (401
//     with WWW-Authenticate: Token), throttling (429 {"detail": "Request
//     was throttled. Expected available in N seconds."} and Retry-After),
//     the method (405 {"detail": "Method \"GET\" not allowed."}),
//     permission (403 {"detail": "You do not have permission to perform
//     this action."}), then the body.
//   - 401 details are TokenAuthentication's: no "token" header at all:
//     "Authentication credentials were not provided."; the keyword alone:
//     "Invalid token header. No credentials provided."; a key with spaces:
//     "Invalid token header. Token string should not contain spaces.";
//     an unknown, wrong, expired or revoked key, or one whose member was
//     removed: "Invalid token." (DRF's tokens know no expiry or revocation).
//   - Scopes: POST needs members:write; GET of a removal record needs
//     members:read. Which members an actor may remove is the core's rule
//     (owners anyone, admins any non-owner, members nobody); every 403 has
//     DRF's stock detail, whatever the core's reason.
//   - OPTIONS answers 200 with DRF's SimpleMetadata body: name ("Remove
//     Membership List" / "Remove Membership Instance", as a router-built
//     viewset names its routes), description, renders
//     ["application/json"], parses (the three types above) and, when the
//     credential could POST, actions.POST describing email_invited and url.
//     OPTIONS needs a valid credential, as DRF's permission check runs for it.
//   - HEAD on /api/remove_membership/ (which the seed's Allow lists though
//     the route has no GET) authenticates like POST and answers 200 with
//     the endpoint's headers and no body: a credential check. HEAD on a
//     removal record is its GET without the body.
//   - GET /api/remove_membership/<id>/ (the url) answers the removal in
//     force: {"email_invited", "url", "removed_at" (ISO 8601 UTC with
//     microseconds when non-zero, as DRF renders datetimes), "removed_by"
//     (the remover's membership id, as DRF renders a foreign key)}. A
//     member who is active again, unknown, another organization's, or an
//     id that is not a number: 404 {"detail": "Not found."}. Its Allow is
//     GET, HEAD, OPTIONS.
//   - Paths under /api/remove_membership/ that match neither route: 404
//     {"detail": "Not found."} without authentication, as Django's URL
//     resolver answers before DRF runs.
//   - Every refused request changes nothing and leaves a refused event in
//     the audit trail: the core records refusals of its calls and of
//     credentials; this package records the rest (method, scope, body,
//     throttling, unknown paths, failed reads).
package wiggledesk

import (
	"net/http"
	"strconv"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/ids"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// Interface names this dialect in the audit trail.
const Interface = "wiggledesk"

// MaxBody bounds a request body: one e-mail address never needs more.
const MaxBody = 64 << 10

// Path is the endpoint the seed documents.
const Path = "/api/remove_membership/"

const (
	allowCollection = "POST, HEAD, OPTIONS"
	allowRecord     = "GET, HEAD, OPTIONS"
	description     = "Remove an existing user from the organization by e-mail address. " +
		"Their history stays, but they can no longer make bookings."
)

type handler struct {
	svc   *membership.Service
	authn *auth.Authenticator
}

// NewHandler returns the WiggleDesk endpoint; mount it at Path.
func NewHandler(svc *membership.Service, authn *auth.Authenticator) http.Handler {
	h := &handler{svc: svc, authn: authn}
	mux := http.NewServeMux()
	mux.HandleFunc(Path+"{$}", h.collection)
	mux.HandleFunc(Path+"{id}/{$}", h.record)
	mux.HandleFunc(Path, h.unknownPath)
	return respond.Recover(mux, WriteError)
}

// authorize authenticates the request and checks need.Scope through
// auth.Authorize, which audits every refusal (throttling included). On
// failure it has answered and returns nil.
func (h *handler) authorize(w http.ResponseWriter, r *http.Request, need auth.Need) *auth.Call {
	need.Interface, need.Schemes, need.AuditThrottling = Interface, []auth.Scheme{auth.Token}, true
	call, err := h.authn.Authorize(r, need)
	if err != nil {
		writeError(w, r, err)
		return nil
	}
	return call
}

// Needs by method: a method neither view serves still needs a valid
// credential, so that its 405 is audited as a request of its organization.
var (
	collectionNeeds = map[string]auth.Need{
		http.MethodPost:    {Action: membership.ActionMemberRemoved, Scope: membership.ScopeMembersWrite},
		http.MethodOptions: {},
		http.MethodHead:    {},
	}
	recordNeeds = map[string]auth.Need{
		http.MethodGet:     {Action: membership.ActionMemberRead, Scope: membership.ScopeMembersRead},
		http.MethodHead:    {Action: membership.ActionMemberRead, Scope: membership.ScopeMembersRead},
		http.MethodOptions: {},
	}
	otherMethod = auth.Need{Action: membership.ActionRequestRouted}
)

// needOf is what r's method needs among needs, and whether it is served.
func needOf(needs map[string]auth.Need, r *http.Request) (auth.Need, bool) {
	need, ok := needs[r.Method]
	if !ok {
		return otherMethod, false
	}
	return need, true
}

func (h *handler) collection(w http.ResponseWriter, r *http.Request) {
	setHeaders(w, allowCollection)
	need, allowed := needOf(collectionNeeds, r)
	call := h.authorize(w, r, need)
	if call == nil {
		return
	}
	if !allowed {
		writeError(w, r, call.Refuse(methodNotAllowed(r.Method)))
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.remove(w, r, call)
	case http.MethodOptions:
		meta := metadata{Name: "Remove Membership List", Description: description,
			Renders: []string{"application/json"}, Parses: parsers}
		if call.Principal.Credential.HasScope(membership.ScopeMembersWrite) {
			meta.Actions = map[string]orderedFields{"POST": {
				{fieldName, fieldInfo{Type: "email", Required: true, Label: "Email invited", MaxLength: maxEmailLen}},
				{"url", fieldInfo{Type: "field", ReadOnly: true, Label: "Url"}},
			}}
		}
		writeJSON(w, http.StatusOK, meta)
	case http.MethodHead:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
	}
}

// removal is the seed's response body, in its key order.
type removal struct {
	EmailInvited string `json:"email_invited"`
	URL          string `json:"url"`
}

func (h *handler) remove(w http.ResponseWriter, r *http.Request, call *auth.Call) {
	body, err := respond.ReadBody(r, MaxBody)
	if err != nil {
		writeError(w, r, call.Refuse(err))
		return
	}
	email, err := decodeRemoval(r.Header.Get("Content-Type"), body)
	if err != nil {
		writeError(w, r, call.Refuse(err))
		return
	}
	report, err := h.svc.RemoveMember(r.Context(), call.Actor, membership.RemoveMemberRequest{Member: membership.MemberRef{Email: email}})
	if err != nil {
		if membership.ErrorCode(err) == membership.CodeUnauthorized {
			// The core audits its refusals, but not a credential whose
			// member was removed meanwhile.
			err = call.Refuse(err)
		}
		writeError(w, r, err)
		return
	}
	url := recordURL(r, report.Member.ID)
	w.Header().Set("Location", url)
	writeJSON(w, http.StatusCreated, removal{EmailInvited: report.Member.Email, URL: url})
}

// record is a removal as GET on its url answers it.
type record struct {
	EmailInvited string `json:"email_invited"`
	URL          string `json:"url"`
	RemovedAt    string `json:"removed_at"`
	RemovedBy    int64  `json:"removed_by"`
}

func (h *handler) record(w http.ResponseWriter, r *http.Request) {
	setHeaders(w, allowRecord)
	need, allowed := needOf(recordNeeds, r)
	call := h.authorize(w, r, need)
	if call == nil {
		return
	}
	switch {
	case !allowed:
		writeError(w, r, call.Refuse(methodNotAllowed(r.Method)))
		return
	case r.Method == http.MethodOptions:
		writeJSON(w, http.StatusOK, metadata{Name: "Remove Membership Instance", Description: description,
			Renders: []string{"application/json"}, Parses: parsers})
		return
	}
	id, ok := ids.Positive(r.PathValue("id"))
	if !ok {
		writeError(w, r, call.Refuse(errNotFound))
		return
	}
	m, err := h.svc.Member(r.Context(), call.Actor, membership.MemberRef{ID: id})
	if err == nil && (m.Active() || m.RemovedAt == nil) {
		err = errNotFound // no removal in force
	}
	if err != nil {
		if membership.ErrorCode(err) != membership.CodeInternal {
			err = call.Refuse(err)
		}
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, record{
		EmailInvited: m.Email, URL: recordURL(r, m.ID),
		RemovedAt: drfTime(*m.RemovedAt), RemovedBy: m.RemovedBy,
	})
}

func (h *handler) unknownPath(w http.ResponseWriter, r *http.Request) {
	setHeaders(w, allowCollection)
	w.Header().Del("Allow") // Django's resolver answers, not a DRF view
	// Django's resolver answers before any view looks at the credential.
	writeError(w, r, h.authn.Refuse(r, auth.Need{Interface: Interface, Action: membership.ActionRequestRouted}, errNotFound))
}

// recordURL is a removal's url, built from the request as Django's
// build_absolute_uri does.
func recordURL(r *http.Request, id int64) string {
	return respond.BaseURL(r) + Path + strconv.FormatInt(id, 10) + "/"
}

// drfTime renders t as DRF's DateTimeField does in UTC: ISO 8601 with Z,
// and microseconds only when there are any.
func drfTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}
