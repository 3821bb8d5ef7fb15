package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// endpoint is one operation of the native API as the client calls it. The
// drift test reads these: the operation id, method and path must be the
// document's, and every field of Query and Body must be a parameter or
// body property the document names.
type endpoint struct {
	ID, Method, Path string
	Query, Body      reflect.Type // nil: none
}

func (e *endpoint) mutating() bool { return e.Method != http.MethodGet }

// url fills the path's {parameters} in order and adds the query.
func (e *endpoint) url(base string, args []string, query any) (string, error) {
	var b strings.Builder
	b.WriteString(base)
	rest := e.Path
	for _, arg := range args {
		open, close := strings.IndexByte(rest, '{'), strings.IndexByte(rest, '}')
		if open < 0 || close < open {
			return "", fmt.Errorf("%s: too many path arguments", e.ID)
		}
		if arg == "" {
			return "", fmt.Errorf("%s: empty %s", e.ID, rest[open+1:close])
		}
		b.WriteString(rest[:open])
		b.WriteString(url.PathEscape(arg))
		rest = rest[close+1:]
	}
	if strings.IndexByte(rest, '{') >= 0 {
		return "", fmt.Errorf("%s: missing path arguments", e.ID)
	}
	b.WriteString(rest)
	if q := encodeQuery(query).Encode(); q != "" {
		b.WriteString("?" + q)
	}
	return b.String(), nil
}

func ep(method, id, path string, query, body reflect.Type) *endpoint {
	return &endpoint{ID: id, Method: method, Path: "/api/v1" + path, Query: query, Body: body}
}

func typ[T any]() reflect.Type { return reflect.TypeFor[T]() }

// endpoints is every operation the client calls, in the server's order.
var (
	epGetOrganization   = ep(http.MethodGet, "get-organization", "/organization", nil, nil)
	epListMembers       = ep(http.MethodGet, "list-members", "/members", typ[ListMembersParams](), nil)
	epAddMember         = ep(http.MethodPost, "add-member", "/members", nil, typ[AddMemberRequest]())
	epGetMember         = ep(http.MethodGet, "get-member", "/members/{member}", nil, nil)
	epUpdateMember      = ep(http.MethodPatch, "update-member", "/members/{member}", nil, typ[UpdateMemberRequest]())
	epRemoveMember      = ep(http.MethodDelete, "remove-member", "/members/{member}", typ[RemoveMemberOptions](), nil)
	epOffboardMember    = ep(http.MethodPost, "offboard-member", "/members/{member}/offboard", nil, typ[OffboardRequest]())
	epRestoreMember     = ep(http.MethodPost, "restore-member", "/members/{member}/restore", nil, nil)
	epMemberHistory     = ep(http.MethodGet, "get-member-history", "/members/{member}/history", nil, nil)
	epMemberAccess      = ep(http.MethodGet, "list-member-access", "/members/{member}/access", nil, nil)
	epRemoveBatch       = ep(http.MethodPost, "remove-batch", "/removals", nil, typ[BatchRemoval]())
	epListSpaces        = ep(http.MethodGet, "list-spaces", "/spaces", nil, nil)
	epCreateSpace       = ep(http.MethodPost, "create-space", "/spaces", nil, typ[NameRequest]())
	epGetSpace          = ep(http.MethodGet, "get-space", "/spaces/{space}", nil, nil)
	epListSpaceMembers  = ep(http.MethodGet, "list-space-members", "/spaces/{space}/members", typ[StatusParams](), nil)
	epAddSpaceMember    = ep(http.MethodPost, "add-space-member", "/spaces/{space}/members", nil, typ[AddSpaceMemberRequest]())
	epRemoveSpaceMember = ep(http.MethodDelete, "remove-space-member", "/spaces/{space}/members/{member}", typ[RemoveOptions](), nil)
	epGetSpaceMember    = ep(http.MethodGet, "get-space-membership", "/space-memberships/{id}", nil, nil)
	epRevokeSpaceRoles  = ep(http.MethodPost, "revoke-space-roles", "/space-memberships/{id}/roles/revocation", nil, typ[RevokeRolesRequest]())
	epListGroups        = ep(http.MethodGet, "list-groups", "/groups", nil, nil)
	epCreateGroup       = ep(http.MethodPost, "create-group", "/groups", nil, typ[NameRequest]())
	epGetGroup          = ep(http.MethodGet, "get-group", "/groups/{group}", nil, nil)
	epListGroupMembers  = ep(http.MethodGet, "list-group-members", "/groups/{group}/members", typ[StatusParams](), nil)
	epAddGroupMember    = ep(http.MethodPost, "add-group-member", "/groups/{group}/members", nil, typ[AddGroupMemberRequest]())
	epGetGroupMember    = ep(http.MethodGet, "get-group-member", "/groups/{group}/members/{member}", nil, nil)
	epRemoveGroupMember = ep(http.MethodDelete, "remove-group-member", "/groups/{group}/members/{member}", typ[RemoveOptions](), nil)
	epListResources     = ep(http.MethodGet, "list-resources", "/resources", nil, nil)
	epCreateResource    = ep(http.MethodPost, "create-resource", "/resources", nil, typ[CreateResourceRequest]())
	epGetResource       = ep(http.MethodGet, "get-resource", "/resources/{resource}", nil, nil)
	epListGrants        = ep(http.MethodGet, "list-grants", "/grants", typ[ListGrantsParams](), nil)
	epCreateGrant       = ep(http.MethodPost, "create-grant", "/grants", nil, typ[CreateGrantRequest]())
	epGetGrant          = ep(http.MethodGet, "get-grant", "/grants/{id}", nil, nil)
	epListBookings      = ep(http.MethodGet, "list-bookings", "/bookings", typ[ListBookingsParams](), nil)
	epCreateBooking     = ep(http.MethodPost, "create-booking", "/bookings", nil, typ[CreateBookingRequest]())
	epGetBooking        = ep(http.MethodGet, "get-booking", "/bookings/{id}", nil, nil)
	epCheckAccess       = ep(http.MethodGet, "check-access", "/access", typ[CheckAccessParams](), nil)
	epListEvents        = ep(http.MethodGet, "list-events", "/events", typ[ListEventsParams](), nil)
	epExportEvents      = ep(http.MethodGet, "export-events", "/events/export", typ[ExportEventsParams](), nil)
	epListCredentials   = ep(http.MethodGet, "list-credentials", "/credentials", nil, nil)
	epCreateCredential  = ep(http.MethodPost, "create-credential", "/credentials", nil, typ[CreateCredentialRequest]())
	epGetCredential     = ep(http.MethodGet, "get-credential", "/credentials/{id}", nil, nil)
	epRevokeCredential  = ep(http.MethodDelete, "revoke-credential", "/credentials/{id}", nil, nil)
	epListOAuthClients  = ep(http.MethodGet, "list-oauth-clients", "/oauth-clients", nil, nil)
	epCreateOAuthClient = ep(http.MethodPost, "create-oauth-client", "/oauth-clients", nil, typ[CreateOAuthClientRequest]())
	epGetOAuthClient    = ep(http.MethodGet, "get-oauth-client", "/oauth-clients/{id}", nil, nil)
	epRotateOAuthClient = ep(http.MethodPost, "rotate-oauth-client", "/oauth-clients/{id}/rotate", nil, nil)
	epRevokeOAuthClient = ep(http.MethodDelete, "revoke-oauth-client", "/oauth-clients/{id}", nil, nil)
	epListOperations    = ep(http.MethodGet, "list-operations", "/operations", typ[ListOperationsParams](), nil)
	epGetOperation      = ep(http.MethodGet, "get-operation", "/operations/{id}", nil, nil)
	epCancelOperation   = ep(http.MethodPost, "cancel-operation", "/operations/{id}/cancel", nil, nil)
	epPreviewOperation  = ep(http.MethodGet, "preview-operation", "/operations/{id}/preview", nil, nil)
	epListSchedules     = ep(http.MethodGet, "list-schedules", "/schedules", typ[ListOperationsParams](), nil)
	epCreateSchedule    = ep(http.MethodPost, "create-schedule", "/schedules", nil, typ[CreateScheduleRequest]())
	epGetSchedule       = ep(http.MethodGet, "get-schedule", "/schedules/{id}", nil, nil)
	epCancelSchedule    = ep(http.MethodDelete, "cancel-schedule", "/schedules/{id}", nil, nil)
	epPreviewSchedule   = ep(http.MethodGet, "preview-schedule", "/schedules/{id}/preview", nil, nil)
	epCreatePlan        = ep(http.MethodPost, "create-plan", "/plans", nil, typ[CreatePlanRequest]())
	epGetPlan           = ep(http.MethodGet, "get-plan", "/plans/{id}", nil, nil)
	epExecutePlan       = ep(http.MethodPost, "execute-plan", "/plans/{id}/execute", nil, nil)
	epApprovePlan       = ep(http.MethodPost, "approve-plan", "/plans/{id}/approve", nil, nil)
	epGetPolicy         = ep(http.MethodGet, "get-policy", "/policy", nil, nil)
	epSetPolicy         = ep(http.MethodPut, "set-policy", "/policy", nil, typ[membership.Policy]())
	epGetRemoval        = ep(http.MethodGet, "get-removal", "/removals/{id}", nil, nil)
	epUndoRemoval       = ep(http.MethodPost, "undo-removal", "/removals/{id}/undo", nil, nil)
	epListWebhooks      = ep(http.MethodGet, "list-webhooks", "/webhooks", nil, nil)
	epCreateWebhook     = ep(http.MethodPost, "create-webhook", "/webhooks", nil, typ[CreateWebhookRequest]())
	epGetWebhook        = ep(http.MethodGet, "get-webhook", "/webhooks/{id}", nil, nil)
	epDisableWebhook    = ep(http.MethodDelete, "disable-webhook", "/webhooks/{id}", nil, nil)
	epEnableWebhook     = ep(http.MethodPost, "enable-webhook", "/webhooks/{id}/enable", nil, nil)
	epListDeliveries    = ep(http.MethodGet, "list-webhook-deliveries", "/webhooks/{id}/deliveries", typ[ListDeliveriesParams](), nil)
	epGetDelivery       = ep(http.MethodGet, "get-webhook-delivery", "/webhook-deliveries/{id}", nil, nil)
	epRedeliver         = ep(http.MethodPost, "redeliver-webhook", "/webhook-deliveries/{id}/redeliver", nil, nil)
)

// endpoints lists every endpoint above, for the drift test.
var endpoints = []*endpoint{
	epGetOrganization, epListMembers, epAddMember, epGetMember, epUpdateMember, epRemoveMember, epOffboardMember,
	epRestoreMember, epMemberHistory, epMemberAccess, epRemoveBatch, epListSpaces, epCreateSpace, epGetSpace,
	epListSpaceMembers, epAddSpaceMember, epRemoveSpaceMember, epGetSpaceMember, epRevokeSpaceRoles, epListGroups,
	epCreateGroup, epGetGroup, epListGroupMembers, epAddGroupMember, epGetGroupMember, epRemoveGroupMember,
	epListResources, epCreateResource, epGetResource, epListGrants, epCreateGrant, epGetGrant, epListBookings,
	epCreateBooking, epGetBooking, epCheckAccess, epListEvents, epExportEvents, epListCredentials, epCreateCredential,
	epGetCredential, epRevokeCredential, epListOAuthClients, epCreateOAuthClient, epGetOAuthClient,
	epRotateOAuthClient, epRevokeOAuthClient, epListOperations, epGetOperation, epCancelOperation, epPreviewOperation,
	epListSchedules, epCreateSchedule, epGetSchedule, epCancelSchedule, epPreviewSchedule, epCreatePlan,
	epGetPlan, epExecutePlan, epApprovePlan, epGetPolicy, epSetPolicy, epGetRemoval, epUndoRemoval, epListWebhooks,
	epCreateWebhook, epGetWebhook, epDisableWebhook, epEnableWebhook, epListDeliveries, epGetDelivery, epRedeliver,
}

// List is a whole collection.
type List[T any] struct {
	Items []T `json:"items"`
}

// MemberPage is a page of members in id order.
type MemberPage struct {
	Items []*membership.Member `json:"items"`
	// NextAfter is the After of the next page; 0 on the last page.
	NextAfter int64 `json:"next_after,omitempty"`
}

// Page is a page of a list newest first.
type Page[T any] struct {
	Items []T `json:"items"`
	// NextBefore is the Before of the next (older) page; 0 on the last page.
	NextBefore int64 `json:"next_before,omitempty"`
}

// Removal is the answer of a removal that can be scheduled: Report when it
// was made (or previewed) now, Operation when EffectiveAt scheduled it.
type Removal struct {
	Report    *membership.Report
	Operation *membership.Operation
}

// ListMembersParams filters and pages ListMembers.
type ListMembersParams struct {
	Status membership.Status `query:"status"`
	Q      string            `query:"q"`
	After  int64             `query:"after"`
	Limit  int               `query:"limit"`
}

// StatusParams filters memberships by state.
type StatusParams struct {
	Status membership.Status `query:"status"`
}

// RemoveOptions previews (DryRun) or schedules (EffectiveAt) a removal.
type RemoveOptions struct {
	DryRun      bool      `query:"dry_run"`
	EffectiveAt time.Time `query:"effective_at"`
}

// RemoveMemberOptions previews or schedules a member's removal and bounds
// the report's lists.
type RemoveMemberOptions struct {
	DryRun      bool      `query:"dry_run"`
	EffectiveAt time.Time `query:"effective_at"`
	ReportLimit int       `query:"report_limit"`
}

// ListGrantsParams filters ListGrants.
type ListGrantsParams struct {
	Member   int64             `query:"member"`
	Group    int64             `query:"group"`
	Resource int64             `query:"resource"`
	Status   membership.Status `query:"status"`
}

// ListBookingsParams filters ListBookings.
type ListBookingsParams struct {
	Member   int64  `query:"member"`
	Resource int64  `query:"resource"`
	Status   string `query:"status"`
}

// CheckAccessParams names the member and the resource of CheckAccess.
type CheckAccessParams struct {
	Member   string `query:"member"`
	Resource string `query:"resource"`
}

// ListEventsParams filters and pages ListEvents.
type ListEventsParams struct {
	Member int64  `query:"member"`
	Action string `query:"action"`
	Before int64  `query:"before"`
	Limit  int    `query:"limit"`
}

// ExportEventsParams filters an export and resumes it after an event id.
// Since and Until are RFC 3339 times, empty for no bound.
type ExportEventsParams struct {
	Member    int64  `query:"member"`
	Action    string `query:"action"`
	Outcome   string `query:"outcome"`
	Interface string `query:"interface"`
	Since     string `query:"since"`
	Until     string `query:"until"`
	After     int64  `query:"after"`
	// Format is "jsonl" (the default) or "csv".
	Format string `query:"format"`
}

// ListOperationsParams filters and pages operations and schedules.
type ListOperationsParams struct {
	Status membership.OperationStatus `query:"status"`
	Before int64                      `query:"before"`
	Limit  int                        `query:"limit"`
}

// ListDeliveriesParams filters and pages an endpoint's deliveries.
type ListDeliveriesParams struct {
	Status string `query:"status"`
	Before int64  `query:"before"`
	Limit  int    `query:"limit"`
}

// AddMemberRequest adds a member.
type AddMemberRequest struct {
	Email string          `json:"email"`
	Name  string          `json:"name,omitempty"`
	Role  membership.Role `json:"role,omitempty"`
}

// UpdateMemberRequest changes a member's name or role.
type UpdateMemberRequest struct {
	Name *string         `json:"name,omitempty"`
	Role membership.Role `json:"role,omitempty"`
}

// OffboardRequest offboards a member now, at EffectiveAt, or previews it.
type OffboardRequest struct {
	DryRun      bool       `json:"dry_run,omitempty"`
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
	ReportLimit int        `json:"report_limit,omitempty"`
}

// BatchRemoval removes many members, each with its own outcome. Space and
// Group (a numeric id or a UUID) name the target of those scopes.
type BatchRemoval struct {
	Scope   membership.BatchScope  `json:"scope"`
	Space   string                 `json:"space,omitempty"`
	Group   string                 `json:"group,omitempty"`
	Members []membership.MemberRef `json:"members"`
	DryRun  bool                   `json:"dry_run,omitempty"`
}

// NameRequest creates a space or a group.
type NameRequest struct {
	Name string `json:"name"`
}

// AddSpaceMemberRequest adds a member (id, UUID or e-mail) to a space.
type AddSpaceMemberRequest struct {
	Member string   `json:"member"`
	Roles  []string `json:"roles,omitempty"`
}

// AddGroupMemberRequest adds a member (id, UUID or e-mail) to a group.
type AddGroupMemberRequest struct {
	Member string `json:"member"`
}

// RevokeRolesRequest revokes roles from a space membership, all or none.
type RevokeRolesRequest struct {
	Roles       []string   `json:"roles"`
	DryRun      bool       `json:"dry_run,omitempty"`
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
}

// CreateResourceRequest creates a resource, optionally in a space.
type CreateResourceRequest struct {
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Space string `json:"space,omitempty"`
}

// CreateGrantRequest grants a resource to a member or a group.
type CreateGrantRequest struct {
	Resource string `json:"resource"`
	Member   string `json:"member,omitempty"`
	Group    string `json:"group,omitempty"`
}

// CreateBookingRequest books a resource.
type CreateBookingRequest struct {
	Resource string    `json:"resource"`
	Member   string    `json:"member,omitempty"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
}

// CreateCredentialRequest creates a credential.
type CreateCredentialRequest struct {
	Name      string     `json:"name"`
	Scopes    []string   `json:"scopes"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Member    string     `json:"member,omitempty"`
}

// CreateOAuthClientRequest registers an OAuth client. Member, an id, UUID
// or e-mail, is who it acts as for client credentials (the caller when
// empty); TokenLifetimeSeconds is 600 when zero.
type CreateOAuthClientRequest struct {
	Name                 string   `json:"name"`
	Scopes               []string `json:"scopes"`
	RedirectURIs         []string `json:"redirect_uris,omitempty"`
	TokenLifetimeSeconds int64    `json:"token_lifetime_seconds,omitempty"`
	Public               bool     `json:"public,omitempty"`
	Member               string   `json:"member,omitempty"`
}

// CreateScheduleRequest schedules a removal; Kind says which fields it needs.
type CreateScheduleRequest struct {
	Kind            string     `json:"kind"`
	EffectiveAt     *time.Time `json:"effective_at,omitempty"`
	Member          string     `json:"member,omitempty"`
	Space           string     `json:"space,omitempty"`
	Group           string     `json:"group,omitempty"`
	SpaceMembership int64      `json:"space_membership,omitempty"`
	Roles           []string   `json:"roles,omitempty"`
}

// CreatePlanRequest previews one removal (Kind, as CreateScheduleRequest
// names it) or a batch (Scope and Members) and saves it as a plan.
type CreatePlanRequest struct {
	Kind            string                 `json:"kind,omitempty"`
	Member          string                 `json:"member,omitempty"`
	Space           string                 `json:"space,omitempty"`
	Group           string                 `json:"group,omitempty"`
	SpaceMembership int64                  `json:"space_membership,omitempty"`
	Roles           []string               `json:"roles,omitempty"`
	Scope           membership.BatchScope  `json:"scope,omitempty"`
	Members         []membership.MemberRef `json:"members,omitempty"`
	ExpiresIn       int                    `json:"expires_in,omitempty"`
}

// CreateWebhookRequest registers a webhook endpoint.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Description string   `json:"description,omitempty"`
	Events      []string `json:"events"`
}

// removal sends a removal that answers 200 with a Report or 202 with an
// Operation.
func (c *Client) removal(ctx context.Context, e *endpoint, path []string, query, body any) (*Removal, error) {
	a, err := c.do(ctx, e, path, query, body)
	if err != nil {
		return nil, err
	}
	var r Removal
	if a.status == http.StatusAccepted {
		r.Operation = new(membership.Operation)
		err = unmarshal(e, a.body, r.Operation)
	} else {
		r.Report = new(membership.Report)
		err = unmarshal(e, a.body, r.Report)
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Organization gets the credential's organization.
func (c *Client) Organization(ctx context.Context) (*membership.Organization, error) {
	return call[membership.Organization](ctx, c, epGetOrganization, nil, nil, nil)
}

// ListMembers lists members in id order, a page at a time.
func (c *Client) ListMembers(ctx context.Context, p ListMembersParams) (*MemberPage, error) {
	return call[MemberPage](ctx, c, epListMembers, nil, p, nil)
}

// AddMember adds a member.
func (c *Client) AddMember(ctx context.Context, req AddMemberRequest) (*membership.Member, error) {
	return call[membership.Member](ctx, c, epAddMember, nil, nil, req)
}

// Member gets a member by numeric id, UUID or e-mail.
func (c *Client) Member(ctx context.Context, member string) (*membership.Member, error) {
	return call[membership.Member](ctx, c, epGetMember, []string{member}, nil, nil)
}

// UpdateMember changes a member's name or role.
func (c *Client) UpdateMember(ctx context.Context, member string, req UpdateMemberRequest) (*membership.Member, error) {
	return call[membership.Member](ctx, c, epUpdateMember, []string{member}, nil, req)
}

// RemoveMember removes a member from the organization (offboards them
// everywhere), now, at opts.EffectiveAt, or as a preview with opts.DryRun.
func (c *Client) RemoveMember(ctx context.Context, member string, opts RemoveMemberOptions) (*Removal, error) {
	return c.removal(ctx, epRemoveMember, []string{member}, opts, nil)
}

// OffboardMember offboards a member everywhere, now, at EffectiveAt, or
// as a preview with DryRun.
func (c *Client) OffboardMember(ctx context.Context, member string, req OffboardRequest) (*Removal, error) {
	return c.removal(ctx, epOffboardMember, []string{member}, nil, req)
}

// OffboardMemberAsync offboards a member everywhere in the background
// (Prefer: respond-async): the answer's Operation runs it in chunks; poll
// it with Operation for progress and, once succeeded, the report. A dry
// run or EffectiveAt is answered as by OffboardMember.
func (c *Client) OffboardMemberAsync(ctx context.Context, member string, req OffboardRequest) (*Removal, error) {
	return c.removal(withPrefer(ctx, "respond-async"), epOffboardMember, []string{member}, nil, req)
}

// RestoreMember restores a removed member with what the removal took away.
func (c *Client) RestoreMember(ctx context.Context, member string) (*membership.Report, error) {
	return call[membership.Report](ctx, c, epRestoreMember, []string{member}, nil, nil)
}

// MemberHistory gets a member's periods, memberships and bookings.
func (c *Client) MemberHistory(ctx context.Context, member string) (*membership.MemberHistory, error) {
	return call[membership.MemberHistory](ctx, c, epMemberHistory, []string{member}, nil, nil)
}

// MemberAccess lists every resource the member can use now.
func (c *Client) MemberAccess(ctx context.Context, member string) (*List[*membership.Access], error) {
	return call[List[*membership.Access]](ctx, c, epMemberAccess, []string{member}, nil, nil)
}

// RemoveBatch removes many members, each with its own outcome in request
// order. More members than the server's batch limit answer an *Error with
// status 400 whose Limit is that limit.
func (c *Client) RemoveBatch(ctx context.Context, req BatchRemoval) (*membership.BatchResult, error) {
	return call[membership.BatchResult](ctx, c, epRemoveBatch, nil, nil, req)
}

// Spaces lists spaces.
func (c *Client) Spaces(ctx context.Context) (*List[*membership.Space], error) {
	return call[List[*membership.Space]](ctx, c, epListSpaces, nil, nil, nil)
}

// CreateSpace creates a space.
func (c *Client) CreateSpace(ctx context.Context, name string) (*membership.Space, error) {
	return call[membership.Space](ctx, c, epCreateSpace, nil, nil, NameRequest{Name: name})
}

// Space gets a space by numeric id or UUID.
func (c *Client) Space(ctx context.Context, space string) (*membership.Space, error) {
	return call[membership.Space](ctx, c, epGetSpace, []string{space}, nil, nil)
}

// SpaceMembers lists a space's memberships.
func (c *Client) SpaceMembers(ctx context.Context, space string, p StatusParams) (*List[*membership.SpaceMember], error) {
	return call[List[*membership.SpaceMember]](ctx, c, epListSpaceMembers, []string{space}, p, nil)
}

// AddSpaceMember adds a member to a space with roles.
func (c *Client) AddSpaceMember(ctx context.Context, space string, req AddSpaceMemberRequest) (*membership.SpaceMember, error) {
	return call[membership.SpaceMember](ctx, c, epAddSpaceMember, []string{space}, nil, req)
}

// RemoveSpaceMember removes a member from a space, now, scheduled or previewed.
func (c *Client) RemoveSpaceMember(ctx context.Context, space, member string, opts RemoveOptions) (*Removal, error) {
	return c.removal(ctx, epRemoveSpaceMember, []string{space, member}, opts, nil)
}

// SpaceMembership gets a space membership by its id.
func (c *Client) SpaceMembership(ctx context.Context, id int64) (*membership.SpaceMember, error) {
	return call[membership.SpaceMember](ctx, c, epGetSpaceMember, []string{fmt.Sprint(id)}, nil, nil)
}

// RevokeSpaceRoles revokes roles from a space membership, all or nothing.
func (c *Client) RevokeSpaceRoles(ctx context.Context, id int64, req RevokeRolesRequest) (*Removal, error) {
	return c.removal(ctx, epRevokeSpaceRoles, []string{fmt.Sprint(id)}, nil, req)
}

// Groups lists groups.
func (c *Client) Groups(ctx context.Context) (*List[*membership.Group], error) {
	return call[List[*membership.Group]](ctx, c, epListGroups, nil, nil, nil)
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, name string) (*membership.Group, error) {
	return call[membership.Group](ctx, c, epCreateGroup, nil, nil, NameRequest{Name: name})
}

// Group gets a group by numeric id or UUID.
func (c *Client) Group(ctx context.Context, group string) (*membership.Group, error) {
	return call[membership.Group](ctx, c, epGetGroup, []string{group}, nil, nil)
}

// GroupMembers lists a group's memberships.
func (c *Client) GroupMembers(ctx context.Context, group string, p StatusParams) (*List[*membership.GroupMember], error) {
	return call[List[*membership.GroupMember]](ctx, c, epListGroupMembers, []string{group}, p, nil)
}

// AddGroupMember adds a member to a group.
func (c *Client) AddGroupMember(ctx context.Context, group, member string) (*membership.GroupMember, error) {
	return call[membership.GroupMember](ctx, c, epAddGroupMember, []string{group}, nil, AddGroupMemberRequest{Member: member})
}

// GroupMember gets a member's membership of a group.
func (c *Client) GroupMember(ctx context.Context, group, member string) (*membership.GroupMember, error) {
	return call[membership.GroupMember](ctx, c, epGetGroupMember, []string{group, member}, nil, nil)
}

// RemoveGroupMember removes a member from a group and the access that came
// through it, now, scheduled or previewed.
func (c *Client) RemoveGroupMember(ctx context.Context, group, member string, opts RemoveOptions) (*Removal, error) {
	return c.removal(ctx, epRemoveGroupMember, []string{group, member}, opts, nil)
}

// Resources lists resources.
func (c *Client) Resources(ctx context.Context) (*List[*membership.Resource], error) {
	return call[List[*membership.Resource]](ctx, c, epListResources, nil, nil, nil)
}

// CreateResource creates a resource.
func (c *Client) CreateResource(ctx context.Context, req CreateResourceRequest) (*membership.Resource, error) {
	return call[membership.Resource](ctx, c, epCreateResource, nil, nil, req)
}

// Resource gets a resource by numeric id or UUID.
func (c *Client) Resource(ctx context.Context, resource string) (*membership.Resource, error) {
	return call[membership.Resource](ctx, c, epGetResource, []string{resource}, nil, nil)
}

// Grants lists grants.
func (c *Client) Grants(ctx context.Context, p ListGrantsParams) (*List[*membership.Grant], error) {
	return call[List[*membership.Grant]](ctx, c, epListGrants, nil, p, nil)
}

// CreateGrant grants a resource to a member or a group.
func (c *Client) CreateGrant(ctx context.Context, req CreateGrantRequest) (*membership.Grant, error) {
	return call[membership.Grant](ctx, c, epCreateGrant, nil, nil, req)
}

// Grant gets a grant.
func (c *Client) Grant(ctx context.Context, id int64) (*membership.Grant, error) {
	return call[membership.Grant](ctx, c, epGetGrant, []string{fmt.Sprint(id)}, nil, nil)
}

// Bookings lists bookings.
func (c *Client) Bookings(ctx context.Context, p ListBookingsParams) (*List[*membership.Booking], error) {
	return call[List[*membership.Booking]](ctx, c, epListBookings, nil, p, nil)
}

// CreateBooking books a resource.
func (c *Client) CreateBooking(ctx context.Context, req CreateBookingRequest) (*membership.Booking, error) {
	return call[membership.Booking](ctx, c, epCreateBooking, nil, nil, req)
}

// Booking gets a booking.
func (c *Client) Booking(ctx context.Context, id int64) (*membership.Booking, error) {
	return call[membership.Booking](ctx, c, epGetBooking, []string{fmt.Sprint(id)}, nil, nil)
}

// CheckAccess says whether the member can use the resource now, and through what.
func (c *Client) CheckAccess(ctx context.Context, p CheckAccessParams) (*membership.Access, error) {
	return call[membership.Access](ctx, c, epCheckAccess, nil, p, nil)
}

// Events lists audit events, newest first.
func (c *Client) Events(ctx context.Context, p ListEventsParams) (*Page[*membership.Event], error) {
	return call[Page[*membership.Event]](ctx, c, epListEvents, nil, p, nil)
}

// Credentials lists credentials (never their secrets).
func (c *Client) Credentials(ctx context.Context) (*List[*membership.Credential], error) {
	return call[List[*membership.Credential]](ctx, c, epListCredentials, nil, nil, nil)
}

// CreateCredential creates a credential; its secret is only in this answer.
func (c *Client) CreateCredential(ctx context.Context, req CreateCredentialRequest) (*membership.IssuedCredential, error) {
	return call[membership.IssuedCredential](ctx, c, epCreateCredential, nil, nil, req)
}

// Credential gets a credential (never its secret).
func (c *Client) Credential(ctx context.Context, id int64) (*membership.Credential, error) {
	return call[membership.Credential](ctx, c, epGetCredential, []string{fmt.Sprint(id)}, nil, nil)
}

// RevokeCredential revokes a credential; it stops working at once.
func (c *Client) RevokeCredential(ctx context.Context, id int64) (*membership.Credential, error) {
	return call[membership.Credential](ctx, c, epRevokeCredential, []string{fmt.Sprint(id)}, nil, nil)
}

// OAuthClients lists the organization's OAuth clients (never their secrets).
func (c *Client) OAuthClients(ctx context.Context) (*List[*membership.OAuthClient], error) {
	return call[List[*membership.OAuthClient]](ctx, c, epListOAuthClients, nil, nil, nil)
}

// CreateOAuthClient registers an OAuth client; its secret is only in this answer.
func (c *Client) CreateOAuthClient(ctx context.Context, req CreateOAuthClientRequest) (*membership.IssuedOAuthClient, error) {
	return call[membership.IssuedOAuthClient](ctx, c, epCreateOAuthClient, nil, nil, req)
}

// OAuthClient gets an OAuth client by its UUID.
func (c *Client) OAuthClient(ctx context.Context, id string) (*membership.OAuthClient, error) {
	return call[membership.OAuthClient](ctx, c, epGetOAuthClient, []string{id}, nil, nil)
}

// RotateOAuthClient gives a client a new secret, only in this answer.
func (c *Client) RotateOAuthClient(ctx context.Context, id string) (*membership.IssuedOAuthClient, error) {
	return call[membership.IssuedOAuthClient](ctx, c, epRotateOAuthClient, []string{id}, nil, nil)
}

// RevokeOAuthClient revokes a client: every token it issued stops at once.
func (c *Client) RevokeOAuthClient(ctx context.Context, id string) (*membership.OAuthClient, error) {
	return call[membership.OAuthClient](ctx, c, epRevokeOAuthClient, []string{id}, nil, nil)
}

// Operations lists operations, newest first.
func (c *Client) Operations(ctx context.Context, p ListOperationsParams) (*Page[*membership.Operation], error) {
	return call[Page[*membership.Operation]](ctx, c, epListOperations, nil, p, nil)
}

// Operation gets an operation by its UUID.
func (c *Client) Operation(ctx context.Context, id string) (*membership.Operation, error) {
	return call[membership.Operation](ctx, c, epGetOperation, []string{id}, nil, nil)
}

// CancelOperation cancels an operation that has not started.
func (c *Client) CancelOperation(ctx context.Context, id string) (*membership.Operation, error) {
	return call[membership.Operation](ctx, c, epCancelOperation, []string{id}, nil, nil)
}

// PreviewOperation says what a waiting operation would take away now.
func (c *Client) PreviewOperation(ctx context.Context, id string) (*membership.Report, error) {
	return call[membership.Report](ctx, c, epPreviewOperation, []string{id}, nil, nil)
}

// Schedules lists scheduled removals, newest first.
func (c *Client) Schedules(ctx context.Context, p ListOperationsParams) (*Page[*membership.Operation], error) {
	return call[Page[*membership.Operation]](ctx, c, epListSchedules, nil, p, nil)
}

// CreateSchedule schedules a removal for a later time.
func (c *Client) CreateSchedule(ctx context.Context, req CreateScheduleRequest) (*membership.Operation, error) {
	return call[membership.Operation](ctx, c, epCreateSchedule, nil, nil, req)
}

// Schedule gets a scheduled removal.
func (c *Client) Schedule(ctx context.Context, id string) (*membership.Operation, error) {
	return call[membership.Operation](ctx, c, epGetSchedule, []string{id}, nil, nil)
}

// CancelSchedule cancels a scheduled removal that is not yet due.
func (c *Client) CancelSchedule(ctx context.Context, id string) (*membership.Operation, error) {
	return call[membership.Operation](ctx, c, epCancelSchedule, []string{id}, nil, nil)
}

// CreatePlan previews a removal or batch and saves it as a plan.
func (c *Client) CreatePlan(ctx context.Context, req CreatePlanRequest) (*membership.Plan, error) {
	return call[membership.Plan](ctx, c, epCreatePlan, nil, nil, req)
}

// Plan gets a saved plan.
func (c *Client) Plan(ctx context.Context, id string) (*membership.Plan, error) {
	return call[membership.Plan](ctx, c, epGetPlan, []string{id}, nil, nil)
}

// ExecutePlan runs a plan exactly as previewed; a *Error with status 412
// says what changed since.
func (c *Client) ExecutePlan(ctx context.Context, id string) (*membership.Plan, error) {
	return call[membership.Plan](ctx, c, epExecutePlan, []string{id}, nil, nil)
}

// ApprovePlan approves and runs a plan held above the organization's
// limits; the approver must be another owner than the plan's maker.
func (c *Client) ApprovePlan(ctx context.Context, id string) (*membership.Plan, error) {
	return call[membership.Plan](ctx, c, epApprovePlan, []string{id}, nil, nil)
}

// Policy gets the organization's blast-radius limits.
func (c *Client) Policy(ctx context.Context) (*membership.Policy, error) {
	return call[membership.Policy](ctx, c, epGetPolicy, nil, nil, nil)
}

// SetPolicy sets the organization's blast-radius limits (owners only).
func (c *Client) SetPolicy(ctx context.Context, p membership.Policy) (*membership.Policy, error) {
	return call[membership.Policy](ctx, c, epSetPolicy, nil, nil, p)
}

// Removal gets a removal call as it was made, by the Removal-Id it answered.
func (c *Client) Removal(ctx context.Context, id string) (*membership.Removal, error) {
	return call[membership.Removal](ctx, c, epGetRemoval, []string{id}, nil, nil)
}

// UndoRemovalAsync undoes a removal in the background (Prefer:
// respond-async) and returns the operation doing it; once it succeeded,
// Removal has the outcome of each item.
func (c *Client) UndoRemovalAsync(ctx context.Context, id string) (*membership.Operation, error) {
	return call[membership.Operation](withPrefer(ctx, "respond-async"), c, epUndoRemoval, []string{id}, nil, nil)
}

// UndoRemoval restores what one removal call took away. A removal of more
// than 1000 items is undone in the background: use UndoRemovalAsync.
func (c *Client) UndoRemoval(ctx context.Context, id string) (*membership.Removal, error) {
	return call[membership.Removal](ctx, c, epUndoRemoval, []string{id}, nil, nil)
}

// PreviewSchedule says what a scheduled removal would take away now.
func (c *Client) PreviewSchedule(ctx context.Context, id string) (*membership.Report, error) {
	return call[membership.Report](ctx, c, epPreviewSchedule, []string{id}, nil, nil)
}

// Webhooks lists webhook endpoints (never their secrets).
func (c *Client) Webhooks(ctx context.Context) (*List[*membership.WebhookEndpoint], error) {
	return call[List[*membership.WebhookEndpoint]](ctx, c, epListWebhooks, nil, nil, nil)
}

// CreateWebhook registers a webhook endpoint; its secret is only in this answer.
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest) (*membership.NewWebhookEndpoint, error) {
	return call[membership.NewWebhookEndpoint](ctx, c, epCreateWebhook, nil, nil, req)
}

// Webhook gets a webhook endpoint by its UUID.
func (c *Client) Webhook(ctx context.Context, id string) (*membership.WebhookEndpoint, error) {
	return call[membership.WebhookEndpoint](ctx, c, epGetWebhook, []string{id}, nil, nil)
}

// DisableWebhook disables a webhook endpoint.
func (c *Client) DisableWebhook(ctx context.Context, id string) (*membership.WebhookEndpoint, error) {
	return call[membership.WebhookEndpoint](ctx, c, epDisableWebhook, []string{id}, nil, nil)
}

// EnableWebhook enables a disabled webhook endpoint; what its breaker held
// is delivered again, oldest first.
func (c *Client) EnableWebhook(ctx context.Context, id string) (*membership.WebhookEndpoint, error) {
	return call[membership.WebhookEndpoint](ctx, c, epEnableWebhook, []string{id}, nil, nil)
}

// WebhookDeliveries lists an endpoint's deliveries, newest first.
func (c *Client) WebhookDeliveries(ctx context.Context, id string, p ListDeliveriesParams) (*Page[*membership.WebhookDelivery], error) {
	return call[Page[*membership.WebhookDelivery]](ctx, c, epListDeliveries, []string{id}, p, nil)
}

// WebhookDelivery gets a delivery with its message and every attempt.
func (c *Client) WebhookDelivery(ctx context.Context, id string) (*membership.WebhookDeliveryLog, error) {
	return call[membership.WebhookDeliveryLog](ctx, c, epGetDelivery, []string{id}, nil, nil)
}

// RedeliverWebhook sends a delivery's message again, as a new delivery.
func (c *Client) RedeliverWebhook(ctx context.Context, id string) (*membership.WebhookDelivery, error) {
	return call[membership.WebhookDelivery](ctx, c, epRedeliver, []string{id}, nil, nil)
}
