package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// The scopes the route table names.
const (
	read   = membership.ScopeMembersRead
	write  = membership.ScopeMembersWrite
	audit  = membership.ScopeAuditRead
	manage = membership.ScopeCredentialsManage
)

// routeTable is every operation of the native API: method, path, operation
// id, tag, scope, handler and summary. A handler lives in the file of its
// tag: Removal in removals.go, Access in access.go, Organization in
// members.go, Operations and Schedules in operations.go. The table's order
// is the order of the mux and of the document's schemas, so keep it.
var routeTable = []route{
	// Organization and members (members.go, removals.go, access.go).
	get("/organization", "get-organization", "Organization", read, (*handler).getOrganization, "The credential's organization"),
	get("/members", "list-members", "Members", read, (*handler).listMembers, "List members, in id order"),
	post("/members", "add-member", "Members", write, (*handler).addMember, "Add a member").answers(http.StatusCreated),
	get("/members/{member}", "get-member", "Members", read, (*handler).getMember, "Get a member"),
	patch("/members/{member}", "update-member", "Members", write, (*handler).updateMember, "Change a member's name or role"),
	del("/members/{member}", "remove-member", "Removal", write, (*handler).removeMember, "Remove a member from the organization (offboard everywhere), now or at effective_at").schedulable().confirmsCredential(removalRequestReachesCore),
	post("/members/{member}/offboard", "offboard-member", "Removal", write, (*handler).offboardMember, "Offboard a member everywhere, now or at effective_at, or preview it with dry_run").schedulable(),
	post("/members/{member}/restore", "restore-member", "Removal", write, (*handler).restoreMember, "Restore a removed member with what the removal took away"),
	get("/members/{member}/history", "get-member-history", "Members", read, (*handler).getMemberHistory, "A member's periods, space and group memberships and bookings"),
	get("/members/{member}/access", "list-member-access", "Access", read, (*handler).listMemberAccess, "Every resource the member can use now"),
	post("/removals", "remove-batch", "Removal", write, (*handler).removeBatch, "Remove many members, each with its own outcome in request order"),

	// Spaces (spaces.go, removals.go).
	get("/spaces", "list-spaces", "Spaces", read, (*handler).listSpaces, "List spaces"),
	post("/spaces", "create-space", "Spaces", write, (*handler).createSpace, "Create a space").answers(http.StatusCreated),
	get("/spaces/{space}", "get-space", "Spaces", read, (*handler).getSpace, "Get a space"),
	get("/spaces/{space}/members", "list-space-members", "Spaces", read, (*handler).listSpaceMembers, "List a space's memberships"),
	post("/spaces/{space}/members", "add-space-member", "Spaces", write, (*handler).addSpaceMember, "Add a member to a space with roles").answers(http.StatusCreated),
	del("/spaces/{space}/members/{member}", "remove-space-member", "Removal", write, (*handler).removeSpaceMember, "Remove a member from a space, now or at effective_at").schedulable(),
	get("/space-memberships/{id}", "get-space-membership", "Spaces", read, (*handler).getSpaceMembership, "Get a space membership"),
	post("/space-memberships/{id}/roles/revocation", "revoke-space-roles", "Removal", write, (*handler).revokeSpaceRoles, "Revoke roles from a space membership, all or nothing, now or at effective_at").schedulable(),

	// Groups (groups.go, removals.go).
	get("/groups", "list-groups", "Groups", read, (*handler).listGroups, "List groups"),
	post("/groups", "create-group", "Groups", write, (*handler).createGroup, "Create a group").answers(http.StatusCreated),
	get("/groups/{group}", "get-group", "Groups", read, (*handler).getGroup, "Get a group"),
	get("/groups/{group}/members", "list-group-members", "Groups", read, (*handler).listGroupMembers, "List a group's memberships"),
	post("/groups/{group}/members", "add-group-member", "Groups", write, (*handler).addGroupMember, "Add a member to a group").answers(http.StatusCreated),
	get("/groups/{group}/members/{member}", "get-group-member", "Groups", read, (*handler).getGroupMember, "Get a member's membership of a group"),
	del("/groups/{group}/members/{member}", "remove-group-member", "Removal", write, (*handler).removeGroupMember, "Remove a member from a group and the access that came through it, now or at effective_at").schedulable(),

	// Resources and grants (resources.go).
	get("/resources", "list-resources", "Resources", read, (*handler).listResources, "List resources"),
	post("/resources", "create-resource", "Resources", write, (*handler).createResource, "Create a resource").answers(http.StatusCreated),
	get("/resources/{resource}", "get-resource", "Resources", read, (*handler).getResource, "Get a resource"),
	get("/grants", "list-grants", "Resources", read, (*handler).listGrants, "List grants"),
	post("/grants", "create-grant", "Resources", write, (*handler).createGrant, "Grant a resource to a member or a group").answers(http.StatusCreated),
	get("/grants/{id}", "get-grant", "Resources", read, (*handler).getGrant, "Get a grant"),

	// Bookings (bookings.go).
	get("/bookings", "list-bookings", "Bookings", read, (*handler).listBookings, "List bookings"),
	post("/bookings", "create-booking", "Bookings", write, (*handler).createBooking, "Book a resource").answers(http.StatusCreated),
	get("/bookings/{id}", "get-booking", "Bookings", read, (*handler).getBooking, "Get a booking"),

	// Access check (access.go), audit events (events.go), credentials (credentials.go).
	get("/access", "check-access", "Access", read, (*handler).checkAccess, "Can the member use the resource now, and through what").confirmsCredential(func(_ huma.Context, q url.Values) bool { return accessRequestReachesCheck(q) }),
	get("/events", "list-events", "Audit", audit, (*handler).listEvents, "Audit events, newest first"),
	get("/events/export", "export-events", "Audit", audit, (*handler).exportEvents, "Export audit events as JSON Lines or CSV, streamed oldest first").documented((*handler).documentExport),
	get("/credentials", "list-credentials", "Credentials", manage, (*handler).listCredentials, "List credentials (never their secrets)"),
	post("/credentials", "create-credential", "Credentials", manage, (*handler).createCredential, "Create a credential; its secret is shown only in this answer").answers(http.StatusCreated).secret(),
	get("/credentials/{id}", "get-credential", "Credentials", manage, (*handler).getCredential, "Get a credential (never its secret)"),
	del("/credentials/{id}", "revoke-credential", "Credentials", manage, (*handler).revokeCredential, "Revoke a credential; it stops working at once"),

	// OAuth clients (oauthclients.go); their tokens come from /oauth2/token.
	get("/oauth-clients", "list-oauth-clients", "OAuth clients", manage, (*handler).listOAuthClients, "List OAuth clients (never their secrets)"),
	post("/oauth-clients", "create-oauth-client", "OAuth clients", manage, (*handler).createOAuthClient, "Register an OAuth client; its secret is shown only in this answer").answers(http.StatusCreated).secret(),
	get("/oauth-clients/{id}", "get-oauth-client", "OAuth clients", manage, (*handler).getOAuthClient, "Get an OAuth client (never its secret)"),
	post("/oauth-clients/{id}/rotate", "rotate-oauth-client", "OAuth clients", manage, (*handler).rotateOAuthClient, "Give an OAuth client a new secret, shown only in this answer; the old one stops working").secret(),
	del("/oauth-clients/{id}", "revoke-oauth-client", "OAuth clients", manage, (*handler).revokeOAuthClient, "Revoke an OAuth client: every token it issued stops working at once"),

	// Operations: every removal that runs after it is acknowledged (operations.go).
	get("/operations", "list-operations", "Operations", read, (*handler).listOperations, "List operations (asynchronous and scheduled removals), newest first"),
	get("/operations/{id}", "get-operation", "Operations", read, (*handler).getOperation, "Get an operation: poll it until its status is final"),
	post("/operations/{id}/cancel", "cancel-operation", "Operations", write, (*handler).cancelOperation, "Cancel an operation that has not started"),
	get("/operations/{id}/preview", "preview-operation", "Operations", read, (*handler).previewOperation, "What a waiting operation would take away if it ran now (a dry run)"),

	// Scheduled removals: operations with an effective time (operations.go).
	get("/schedules", "list-schedules", "Schedules", read, (*handler).listSchedules, "List scheduled removals, newest first"),
	post("/schedules", "create-schedule", "Schedules", write, (*handler).createSchedule, "Schedule a removal for a later time").answers(http.StatusCreated),
	get("/schedules/{id}", "get-schedule", "Schedules", read, (*handler).getOperation, "Get a scheduled removal"),
	del("/schedules/{id}", "cancel-schedule", "Schedules", write, (*handler).cancelOperation, "Cancel a scheduled removal that is not yet due"),
	get("/schedules/{id}/preview", "preview-schedule", "Schedules", read, (*handler).previewOperation, "What a scheduled removal would take away if it ran now (a dry run)"),

	// Saved plans: a removal previewed, executed exactly as previewed (plans.go).
	post("/plans", "create-plan", "Plans", write, (*handler).createPlan, "Preview a removal or batch and save it as a plan, with the ETag of the state it read").answers(http.StatusCreated),
	get("/plans/{id}", "get-plan", "Plans", read, (*handler).getPlan, "Get a saved plan"),
	post("/plans/{id}/execute", "execute-plan", "Plans", write, (*handler).executePlan, "Run a plan exactly as previewed, or 412 naming what changed since"),
	post("/plans/{id}/approve", "approve-plan", "Plans", write, (*handler).approvePlan, "Approve and run a plan held above the organization's limits; another owner than its maker only"),
	get("/policy", "get-policy", "Plans", read, (*handler).getPolicy, "The organization's blast-radius limits"),
	put("/policy", "set-policy", "Plans", write, (*handler).setPolicy, "Set the organization's blast-radius limits; owners only"),
	get("/removals/{id}", "get-removal", "Plans", read, (*handler).getRemoval, "A removal call as it was made: what it answered and what it took, item by item"),
	post("/removals/{id}/undo", "undo-removal", "Plans", write, (*handler).undoRemoval, "Restore what one removal call took away, leaving items changed since as they are").documented((*handler).documentUndo),

	// Webhooks and their deliveries (webhooks.go).
	get("/webhooks", "list-webhooks", "Webhooks", read, (*handler).listWebhooks, "List webhook endpoints (never their secrets)"),
	post("/webhooks", "create-webhook", "Webhooks", write, (*handler).createWebhook, "Register a webhook endpoint; its signing secret is shown only in this answer").answers(http.StatusCreated).secret(),
	get("/webhooks/{id}", "get-webhook", "Webhooks", read, (*handler).getWebhook, "Get a webhook endpoint (never its secret)"),
	del("/webhooks/{id}", "disable-webhook", "Webhooks", write, (*handler).disableWebhook, "Disable a webhook endpoint: nothing more is delivered to it"),
	post("/webhooks/{id}/enable", "enable-webhook", "Webhooks", write, (*handler).enableWebhook, "Enable a disabled webhook endpoint; if its breaker had disabled it, what it held is delivered again, oldest first"),
	get("/webhooks/{id}/deliveries", "list-webhook-deliveries", "Webhooks", read, (*handler).listWebhookDeliveries, "An endpoint's deliveries, newest first"),
	get("/webhook-deliveries/{id}", "get-webhook-delivery", "Webhooks", read, (*handler).getWebhookDelivery, "A delivery with its message and every attempt made"),
	post("/webhook-deliveries/{id}/redeliver", "redeliver-webhook", "Webhooks", write, (*handler).redeliverWebhook, "Send a delivered or failed delivery's message again, as a new delivery").answers(http.StatusAccepted),
}

// register adds every operation of routeTable to the API.
func (h *handler) register() {
	for _, rt := range routeTable {
		op := rt.humaOperation()
		if rt.isSchedulable {
			h.documentSchedulable(&op)
		}
		if rt.document != nil {
			rt.document(h, &op)
		}
		rt.bind(h, op)
	}
	h.documentConditional()
}

// route describes one operation; register turns it into a huma operation.
type route struct {
	method, path, id, tag, scope, summary string
	status                                int // 0: 200
	// isSchedulable says the removal takes effective_at and so has a second
	// success answer, which documentSchedulable writes into the document.
	isSchedulable bool
	// carriesSecret says the answer shows a secret, which no cache may keep.
	carriesSecret bool
	// deferredAuth, when set, says the route's one core call confirms a
	// cached credential itself, and tells a request that will reach it
	// (see confirmsCredential).
	deferredAuth func(huma.Context, url.Values) bool
	// document, when set, adds to the operation's document what huma
	// cannot infer (a streamed answer's media types).
	document func(h *handler, op *huma.Operation)
	// bind registers op with the route's handler.
	bind func(h *handler, op huma.Operation)
}

// handlerFunc is a named handler method: it gets the actor the middleware
// authenticated and the decoded input, and returns the answer or a core error.
type handlerFunc[I, O any] func(h *handler, ctx context.Context, a membership.Actor, in *I) (*O, error)

// get, post, patch, put and del make the route of their method for a handler.
func get[I, O any](path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return newRoute(http.MethodGet, path, id, tag, scope, fn, summary)
}

func post[I, O any](path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return newRoute(http.MethodPost, path, id, tag, scope, fn, summary)
}

func patch[I, O any](path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return newRoute(http.MethodPatch, path, id, tag, scope, fn, summary)
}

func put[I, O any](path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return newRoute(http.MethodPut, path, id, tag, scope, fn, summary)
}

func del[I, O any](path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return newRoute(http.MethodDelete, path, id, tag, scope, fn, summary)
}

// newRoute binds fn to the route: the registered operation calls fn on the
// handler that registered it.
func newRoute[I, O any](method, path, id, tag, scope string, fn handlerFunc[I, O], summary string) route {
	return route{method: method, path: path, id: id, tag: tag, scope: scope, summary: summary,
		bind: func(h *handler, op huma.Operation) {
			huma.Register(h.api, op, operation(func(ctx context.Context, a membership.Actor, in *I) (*O, error) {
				return fn(h, ctx, a, in)
			}))
		}}
}

// answers sets the success status when it is not 200.
func (rt route) answers(status int) route {
	rt.status = status
	return rt
}

// secret marks an answer that shows a secret: it is sent with
// Cache-Control: no-store.
func (rt route) secret() route {
	rt.carriesSecret = true
	return rt
}

// documented sets the route's document function.
func (rt route) documented(fn func(h *handler, op *huma.Operation)) route {
	rt.document = fn
	return rt
}

// confirmsCredential marks a route whose one core call (CheckAccess, a
// single RemoveMember) may take a credential from the credential cache and
// confirm it in its own statement (membership.WithDeferredAuthentication).
// reaches tells a request that will make that call before anything else
// can answer it: any other (an unreadable name, say) authenticates in
// full, so that a credential no longer in force is refused before the
// request is.
func (rt route) confirmsCredential(reaches func(huma.Context, url.Values) bool) route {
	rt.deferredAuth = reaches
	return rt
}

// schedulable marks a removal that takes effective_at.
func (rt route) schedulable() route {
	rt.isSchedulable = true
	return rt
}

var idempotencyParam = &huma.Param{
	Name: "Idempotency-Key", In: "header",
	Description: "Makes the call safe to retry: a retry with the same key and body returns the first " +
		"answer with no second effect; the same key with another body is refused with 422.",
	Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptr(1), MaxLength: ptr(MaxIdempotencyKey)},
}

var (
	readErrors  = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusTooManyRequests}
	writeErrors = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity, http.StatusTooManyRequests}
)

// humaOperation is the route as a huma operation. Everything the middleware
// enforces (the scope, the bearer scheme, Idempotency-Key on mutating
// calls) is written into the operation here, so the document states what
// is enforced.
func (rt route) humaOperation() huma.Operation {
	op := huma.Operation{
		OperationID:   rt.id,
		Method:        rt.method,
		Path:          Prefix + rt.path,
		Summary:       rt.summary,
		Tags:          []string{rt.tag},
		DefaultStatus: rt.status,
		Metadata:      map[string]any{metaScope: rt.scope, metaNoStore: rt.carriesSecret, metaDeferredAuth: rt.deferredAuth},
		Security:      []map[string][]string{{securityScheme: {rt.scope}}},
		Errors:        readErrors,
		// The middleware already bounded the body at DefaultMaxBody with its
		// own 413; huma refuses a body of exactly its limit, so it gets one more.
		MaxBodyBytes: respond.DefaultMaxBody + 1,
	}
	if mutating(rt.method) {
		op.Errors = writeErrors
		op.Parameters = []*huma.Param{idempotencyParam}
	}
	return op
}
