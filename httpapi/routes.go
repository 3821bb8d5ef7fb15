package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/internal/uuidform"
	"github.com/memberd/memberd/membership"
)

// route describes one operation; register turns it into a huma operation.
type route struct {
	id, method, path, summary, tag, scope string
	status                                int // 0: 200
	// document, when set, adds to the operation's document what register
	// cannot infer (a second success answer).
	document func(op *huma.Operation)
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

// register adds one operation. Everything the middleware enforces (the
// scope, the bearer scheme, Idempotency-Key on mutating calls) is written
// into the operation here, so the document states what is enforced.
func register[I, O any](h *handler, rt route, fn func(context.Context, membership.Actor, *I) (*O, error)) {
	op := huma.Operation{
		OperationID:   rt.id,
		Method:        rt.method,
		Path:          Prefix + rt.path,
		Summary:       rt.summary,
		Tags:          []string{rt.tag},
		DefaultStatus: rt.status,
		Metadata:      map[string]any{metaScope: rt.scope},
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
	if rt.document != nil {
		rt.document(&op)
	}
	huma.Register(h.api, op, operation(fn))
}

// Responses.

type out[T any] struct{ Body T }

type created[T any] struct {
	Location string `header:"Location" doc:"URL of the created entity."`
	Body     T
}

func ok[T any](v T) (*out[T], error) { return &out[T]{Body: v}, nil }

func result[T any](v T, err error) (*out[T], error) {
	if err != nil {
		return nil, err
	}
	return &out[T]{Body: v}, nil
}

// list is a whole collection.
type list[T any] struct {
	Items []T `json:"items"`
}

func listOf[T any](items []T, err error) (*out[list[T]], error) {
	if err != nil {
		return nil, err
	}
	if items == nil {
		items = []T{}
	}
	return &out[list[T]]{Body: list[T]{Items: items}}, nil
}

type memberPage struct {
	Items     []*membership.Member `json:"items"`
	NextAfter int64                `json:"next_after,omitempty" doc:"Pass as after to get the next page; absent on the last page."`
}

type eventPage struct {
	Items      []*membership.Event `json:"items"`
	NextBefore int64               `json:"next_before,omitempty" doc:"Pass as before to get the next (older) page; absent on the last page."`
}

func (h *handler) register() {
	// Inputs shared by several operations. They are declared here with
	// capitalized names because huma reads parameters only from exported
	// fields, and an embedded field is exported only if its type name is;
	// declared inside this function they stay out of the package's API.
	type NoInput struct{}

	type MemberPath struct {
		Member string `path:"member" maxLength:"320" doc:"The member's numeric id, UUID or e-mail address."`
	}

	type SpacePath struct {
		Space string `path:"space" maxLength:"36" doc:"The space's numeric id or UUID."`
	}

	type GroupPath struct {
		Group string `path:"group" maxLength:"36" doc:"The group's numeric id or UUID."`
	}

	type IDPath struct {
		ID int64 `path:"id" minimum:"1" doc:"Numeric id."`
	}

	type DryRunQuery struct {
		DryRun bool `query:"dry_run" doc:"Change nothing; answer what would be taken away and the access that would remain."`
	}

	type StatusQuery struct {
		Status membership.Status `query:"status" enum:"active,removed" doc:"Only memberships in this state."`
	}

	// EffectiveAtQuery schedules a DELETE removal; POST removals take
	// effective_at in their body.
	type EffectiveAtQuery struct {
		EffectiveAt time.Time `query:"effective_at" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
	}

	const (
		read   = membership.ScopeMembersRead
		write  = membership.ScopeMembersWrite
		audit  = membership.ScopeAuditRead
		manage = membership.ScopeCredentialsManage
	)
	s := h.svc

	// Organization.
	register(h, route{id: "get-organization", method: http.MethodGet, path: "/organization", tag: "Organization", scope: read,
		summary: "The credential's organization"},
		func(ctx context.Context, a membership.Actor, _ *NoInput) (*out[*membership.Organization], error) {
			return result(s.Organization(ctx, a))
		})

	// Members.
	type listMembersInput struct {
		StatusQuery
		Q     string `query:"q" maxLength:"200" doc:"Substring of the e-mail address or name."`
		After int64  `query:"after" minimum:"0" doc:"Only members with a greater id: the previous page's next_after."`
		Limit int    `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
	}
	register(h, route{id: "list-members", method: http.MethodGet, path: "/members", tag: "Members", scope: read,
		summary: "List members, in id order"},
		func(ctx context.Context, a membership.Actor, in *listMembersInput) (*out[memberPage], error) {
			limit := membership.ListLimit(in.Limit)
			ms, err := s.Members(ctx, a, membership.MemberListParams{Status: in.Status, Query: in.Q, AfterID: in.After, Limit: limit})
			if err != nil {
				return nil, err
			}
			page := memberPage{Items: ms}
			if page.Items == nil {
				page.Items = []*membership.Member{}
			}
			if len(ms) == limit {
				page.NextAfter = ms[len(ms)-1].ID
			}
			return ok(page)
		})

	type addMemberInput struct {
		Body struct {
			Email string          `json:"email" maxLength:"320" doc:"The user's e-mail address; stored lower-case."`
			Name  string          `json:"name,omitempty" maxLength:"200"`
			Role  membership.Role `json:"role,omitempty" enum:"owner,admin,member" doc:"Organization role; member when absent."`
		}
	}
	register(h, route{id: "add-member", method: http.MethodPost, path: "/members", tag: "Members", scope: write, status: http.StatusCreated,
		summary: "Add a member"},
		func(ctx context.Context, a membership.Actor, in *addMemberInput) (*created[*membership.Member], error) {
			m, err := s.AddMember(ctx, a, membership.AddMemberRequest{Email: in.Body.Email, Name: in.Body.Name, Role: in.Body.Role})
			if err != nil {
				return nil, err
			}
			return &created[*membership.Member]{Location: location("members", m.ID), Body: m}, nil
		})

	register(h, route{id: "get-member", method: http.MethodGet, path: "/members/{member}", tag: "Members", scope: read,
		summary: "Get a member"},
		func(ctx context.Context, a membership.Actor, in *MemberPath) (*out[*membership.Member], error) {
			return result(s.Member(ctx, a, parseMemberRef(in.Member)))
		})

	type updateMemberInput struct {
		MemberPath
		Body struct {
			Name *string         `json:"name,omitempty" maxLength:"200"`
			Role membership.Role `json:"role,omitempty" enum:"owner,admin,member"`
		}
	}
	register(h, route{id: "update-member", method: http.MethodPatch, path: "/members/{member}", tag: "Members", scope: write,
		summary: "Change a member's name or role"},
		func(ctx context.Context, a membership.Actor, in *updateMemberInput) (*out[*membership.Member], error) {
			return result(s.UpdateMember(ctx, a, membership.UpdateMemberRequest{
				Member: parseMemberRef(in.Member), Name: in.Body.Name, Role: in.Body.Role}))
		})

	type removeMemberInput struct {
		MemberPath
		DryRunQuery
		EffectiveAtQuery
		ReportLimit int `query:"report_limit" minimum:"0" maximum:"100000" doc:"Items per list of the report (spaces, roles, groups, direct grants, group grants, bookings, remaining access); 100 when absent. Counts are exact whatever the limit."`
	}
	register(h, route{id: "remove-member", method: http.MethodDelete, path: "/members/{member}", tag: "Removal", scope: write,
		summary: "Remove a member from the organization (offboard everywhere), now or at effective_at", document: h.documentSchedulable},
		func(ctx context.Context, a membership.Actor, in *removeMemberInput) (*removal, error) {
			req := membership.RemoveMemberRequest{Member: parseMemberRef(in.Member), DryRun: in.DryRun, ReportLimit: in.ReportLimit}
			if !in.EffectiveAt.IsZero() {
				return h.schedule(ctx, a, "remove-member", in.DryRun, in.EffectiveAt, membership.OperationRequest{RemoveMember: &req})
			}
			return removedNow(s.RemoveMember(ctx, a, req))
		})

	type offboardInput struct {
		MemberPath
		Body *struct {
			DryRun      bool       `json:"dry_run,omitempty" doc:"Change nothing; answer what would be taken away and the access that would remain."`
			EffectiveAt *time.Time `json:"effective_at,omitempty" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
			ReportLimit int        `json:"report_limit,omitempty" minimum:"0" maximum:"100000" doc:"Items per list of the report (spaces, roles, groups, direct grants, group grants, bookings, remaining access); 100 when absent. Counts are exact whatever the limit; truncated says a list holds fewer items than its count."`
		}
	}
	register(h, route{id: "offboard-member", method: http.MethodPost, path: "/members/{member}/offboard", tag: "Removal", scope: write,
		summary: "Offboard a member everywhere, now or at effective_at, or preview it with dry_run", document: h.documentSchedulable},
		func(ctx context.Context, a membership.Actor, in *offboardInput) (*removal, error) {
			req := membership.RemoveMemberRequest{Member: parseMemberRef(in.Member)}
			if in.Body != nil {
				req.DryRun, req.ReportLimit = in.Body.DryRun, in.Body.ReportLimit
				if in.Body.EffectiveAt != nil {
					return h.schedule(ctx, a, "offboard-member", req.DryRun, *in.Body.EffectiveAt, membership.OperationRequest{RemoveMember: &req})
				}
			}
			return removedNow(s.RemoveMember(ctx, a, req))
		})

	register(h, route{id: "restore-member", method: http.MethodPost, path: "/members/{member}/restore", tag: "Removal", scope: write,
		summary: "Restore a removed member with what the removal took away"},
		func(ctx context.Context, a membership.Actor, in *MemberPath) (*out[*membership.Report], error) {
			return result(s.RestoreMember(ctx, a, membership.RestoreMemberRequest{Member: parseMemberRef(in.Member)}))
		})

	register(h, route{id: "get-member-history", method: http.MethodGet, path: "/members/{member}/history", tag: "Members", scope: read,
		summary: "A member's periods, space and group memberships and bookings"},
		func(ctx context.Context, a membership.Actor, in *MemberPath) (*out[*membership.MemberHistory], error) {
			return result(s.History(ctx, a, parseMemberRef(in.Member)))
		})

	register(h, route{id: "list-member-access", method: http.MethodGet, path: "/members/{member}/access", tag: "Access", scope: read,
		summary: "Every resource the member can use now"},
		func(ctx context.Context, a membership.Actor, in *MemberPath) (*out[list[*membership.Access]], error) {
			return listOf(s.MemberAccess(ctx, a, parseMemberRef(in.Member)))
		})

	// Batch removal.
	type removalsInput struct {
		Body struct {
			Scope   membership.BatchScope `json:"scope" enum:"organization,space,group" doc:"What the members are removed from."`
			Space   *ref                  `json:"space,omitempty" doc:"The space, for scope space."`
			Group   *ref                  `json:"group,omitempty" doc:"The group, for scope group."`
			Members []batchItem           `json:"members" doc:"Members in the order they are removed; each gets its own outcome."`
		}
	}
	register(h, route{id: "remove-batch", method: http.MethodPost, path: "/removals", tag: "Removal", scope: write,
		summary: "Remove many members, each with its own outcome in request order"},
		func(ctx context.Context, a membership.Actor, in *removalsInput) (*out[*membership.BatchResult], error) {
			req := membership.BatchRequest{Scope: in.Body.Scope, Items: make([]membership.MemberRef, len(in.Body.Members))}
			for i, it := range in.Body.Members {
				req.Items[i] = it.ref()
			}
			switch {
			case req.Scope == membership.ScopeSpace && in.Body.Space == nil:
				return nil, membership.Errorf(membership.CodeInvalid, "space is required for scope space")
			case req.Scope == membership.ScopeGroup && in.Body.Group == nil:
				return nil, membership.Errorf(membership.CodeInvalid, "group is required for scope group")
			}
			if in.Body.Space != nil {
				req.Space = in.Body.Space.Ref
			}
			if in.Body.Group != nil {
				req.Group = in.Body.Group.Ref
			}
			return result(s.RemoveBatch(ctx, a, req))
		})

	// Spaces.
	register(h, route{id: "list-spaces", method: http.MethodGet, path: "/spaces", tag: "Spaces", scope: read,
		summary: "List spaces"},
		func(ctx context.Context, a membership.Actor, _ *NoInput) (*out[list[*membership.Space]], error) {
			return listOf(s.Spaces(ctx, a))
		})

	type nameInput struct {
		Body struct {
			Name string `json:"name" maxLength:"200"`
		}
	}
	register(h, route{id: "create-space", method: http.MethodPost, path: "/spaces", tag: "Spaces", scope: write, status: http.StatusCreated,
		summary: "Create a space"},
		func(ctx context.Context, a membership.Actor, in *nameInput) (*created[*membership.Space], error) {
			sp, err := s.CreateSpace(ctx, a, in.Body.Name)
			if err != nil {
				return nil, err
			}
			return &created[*membership.Space]{Location: location("spaces", sp.ID), Body: sp}, nil
		})

	register(h, route{id: "get-space", method: http.MethodGet, path: "/spaces/{space}", tag: "Spaces", scope: read,
		summary: "Get a space"},
		func(ctx context.Context, a membership.Actor, in *SpacePath) (*out[*membership.Space], error) {
			sp, err := pathRef("space", in.Space)
			if err != nil {
				return nil, err
			}
			return result(s.Space(ctx, a, sp))
		})

	type listSpaceMembersInput struct {
		SpacePath
		StatusQuery
	}
	register(h, route{id: "list-space-members", method: http.MethodGet, path: "/spaces/{space}/members", tag: "Spaces", scope: read,
		summary: "List a space's memberships"},
		func(ctx context.Context, a membership.Actor, in *listSpaceMembersInput) (*out[list[*membership.SpaceMember]], error) {
			sp, err := pathRef("space", in.Space)
			if err != nil {
				return nil, err
			}
			return listOf(s.SpaceMembers(ctx, a, sp, in.Status))
		})

	type addSpaceMemberInput struct {
		SpacePath
		Body struct {
			Member memberRef `json:"member"`
			Roles  []string  `json:"roles,omitempty" doc:"Space roles; \"admin\" lets the member remove the space members they add."`
		}
	}
	register(h, route{id: "add-space-member", method: http.MethodPost, path: "/spaces/{space}/members", tag: "Spaces", scope: write, status: http.StatusCreated,
		summary: "Add a member to a space with roles"},
		func(ctx context.Context, a membership.Actor, in *addSpaceMemberInput) (*created[*membership.SpaceMember], error) {
			sp, err := pathRef("space", in.Space)
			if err != nil {
				return nil, err
			}
			sm, err := s.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: sp, Member: in.Body.Member.MemberRef, Roles: in.Body.Roles})
			if err != nil {
				return nil, err
			}
			return &created[*membership.SpaceMember]{Location: location("space-memberships", sm.ID), Body: sm}, nil
		})

	type removeSpaceMemberInput struct {
		SpacePath
		MemberPath
		DryRunQuery
		EffectiveAtQuery
	}
	register(h, route{id: "remove-space-member", method: http.MethodDelete, path: "/spaces/{space}/members/{member}", tag: "Removal", scope: write,
		summary: "Remove a member from a space, now or at effective_at", document: h.documentSchedulable},
		func(ctx context.Context, a membership.Actor, in *removeSpaceMemberInput) (*removal, error) {
			sp, err := pathRef("space", in.Space)
			if err != nil {
				return nil, err
			}
			req := membership.RemoveSpaceMemberRequest{Space: sp, Member: parseMemberRef(in.Member), DryRun: in.DryRun}
			if !in.EffectiveAt.IsZero() {
				return h.schedule(ctx, a, "remove-space-member", in.DryRun, in.EffectiveAt, membership.OperationRequest{RemoveSpaceMember: &req})
			}
			return removedNow(s.RemoveSpaceMember(ctx, a, req))
		})

	register(h, route{id: "get-space-membership", method: http.MethodGet, path: "/space-memberships/{id}", tag: "Spaces", scope: read,
		summary: "Get a space membership"},
		func(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.SpaceMember], error) {
			return result(s.SpaceMembership(ctx, a, in.ID))
		})

	type revokeRolesInput struct {
		IDPath
		Body struct {
			Roles       []string   `json:"roles" doc:"Every role to revoke; if any is not held, none is revoked."`
			DryRun      bool       `json:"dry_run,omitempty"`
			EffectiveAt *time.Time `json:"effective_at,omitempty" doc:"Schedule the removal for this time (RFC 3339, not in the past) instead of removing now: the answer is 202 with the scheduled operation and Location /api/v1/operations/{id}. Cannot be combined with dry_run."`
		}
	}
	register(h, route{id: "revoke-space-roles", method: http.MethodPost, path: "/space-memberships/{id}/roles/revocation", tag: "Removal", scope: write,
		summary: "Revoke roles from a space membership, all or nothing, now or at effective_at", document: h.documentSchedulable},
		func(ctx context.Context, a membership.Actor, in *revokeRolesInput) (*removal, error) {
			req := membership.RevokeRolesRequest{SpaceMemberID: in.ID, Roles: in.Body.Roles, DryRun: in.Body.DryRun}
			if in.Body.EffectiveAt != nil {
				return h.schedule(ctx, a, "revoke-space-roles", req.DryRun, *in.Body.EffectiveAt, membership.OperationRequest{RevokeRoles: &req})
			}
			return removedNow(s.RevokeRoles(ctx, a, req))
		})

	// Groups.
	register(h, route{id: "list-groups", method: http.MethodGet, path: "/groups", tag: "Groups", scope: read,
		summary: "List groups"},
		func(ctx context.Context, a membership.Actor, _ *NoInput) (*out[list[*membership.Group]], error) {
			return listOf(s.Groups(ctx, a))
		})

	register(h, route{id: "create-group", method: http.MethodPost, path: "/groups", tag: "Groups", scope: write, status: http.StatusCreated,
		summary: "Create a group"},
		func(ctx context.Context, a membership.Actor, in *nameInput) (*created[*membership.Group], error) {
			g, err := s.CreateGroup(ctx, a, in.Body.Name)
			if err != nil {
				return nil, err
			}
			return &created[*membership.Group]{Location: location("groups", g.ID), Body: g}, nil
		})

	register(h, route{id: "get-group", method: http.MethodGet, path: "/groups/{group}", tag: "Groups", scope: read,
		summary: "Get a group"},
		func(ctx context.Context, a membership.Actor, in *GroupPath) (*out[*membership.Group], error) {
			g, err := pathRef("group", in.Group)
			if err != nil {
				return nil, err
			}
			return result(s.Group(ctx, a, g))
		})

	type listGroupMembersInput struct {
		GroupPath
		StatusQuery
	}
	register(h, route{id: "list-group-members", method: http.MethodGet, path: "/groups/{group}/members", tag: "Groups", scope: read,
		summary: "List a group's memberships"},
		func(ctx context.Context, a membership.Actor, in *listGroupMembersInput) (*out[list[*membership.GroupMember]], error) {
			g, err := pathRef("group", in.Group)
			if err != nil {
				return nil, err
			}
			return listOf(s.GroupMembers(ctx, a, g, in.Status))
		})

	type addGroupMemberInput struct {
		GroupPath
		Body struct {
			Member memberRef `json:"member"`
		}
	}
	register(h, route{id: "add-group-member", method: http.MethodPost, path: "/groups/{group}/members", tag: "Groups", scope: write, status: http.StatusCreated,
		summary: "Add a member to a group"},
		func(ctx context.Context, a membership.Actor, in *addGroupMemberInput) (*created[*membership.GroupMember], error) {
			g, err := pathRef("group", in.Group)
			if err != nil {
				return nil, err
			}
			gm, err := s.AddGroupMember(ctx, a, g, in.Body.Member.MemberRef)
			if err != nil {
				return nil, err
			}
			return &created[*membership.GroupMember]{Location: location("groups", gm.GroupID, "members", gm.MemberID), Body: gm}, nil
		})

	type groupMemberInput struct {
		GroupPath
		MemberPath
	}
	register(h, route{id: "get-group-member", method: http.MethodGet, path: "/groups/{group}/members/{member}", tag: "Groups", scope: read,
		summary: "Get a member's membership of a group"},
		func(ctx context.Context, a membership.Actor, in *groupMemberInput) (*out[*membership.GroupMember], error) {
			g, err := pathRef("group", in.Group)
			if err != nil {
				return nil, err
			}
			return result(s.GroupMembership(ctx, a, g, parseMemberRef(in.Member)))
		})

	type removeGroupMemberInput struct {
		GroupPath
		MemberPath
		DryRunQuery
		EffectiveAtQuery
	}
	register(h, route{id: "remove-group-member", method: http.MethodDelete, path: "/groups/{group}/members/{member}", tag: "Removal", scope: write,
		summary: "Remove a member from a group and the access that came through it, now or at effective_at", document: h.documentSchedulable},
		func(ctx context.Context, a membership.Actor, in *removeGroupMemberInput) (*removal, error) {
			g, err := pathRef("group", in.Group)
			if err != nil {
				return nil, err
			}
			req := membership.RemoveGroupMemberRequest{Group: g, Member: parseMemberRef(in.Member), DryRun: in.DryRun}
			if !in.EffectiveAt.IsZero() {
				return h.schedule(ctx, a, "remove-group-member", in.DryRun, in.EffectiveAt, membership.OperationRequest{RemoveGroupMember: &req})
			}
			return removedNow(s.RemoveGroupMember(ctx, a, req))
		})

	// Resources and grants.
	register(h, route{id: "list-resources", method: http.MethodGet, path: "/resources", tag: "Resources", scope: read,
		summary: "List resources"},
		func(ctx context.Context, a membership.Actor, _ *NoInput) (*out[list[*membership.Resource]], error) {
			return listOf(s.Resources(ctx, a))
		})

	type createResourceInput struct {
		Body struct {
			Kind  resourceKind `json:"kind"`
			Name  string       `json:"name" maxLength:"200"`
			Space *ref         `json:"space,omitempty" doc:"The space the resource is in; only its members can reach it."`
		}
	}
	register(h, route{id: "create-resource", method: http.MethodPost, path: "/resources", tag: "Resources", scope: write, status: http.StatusCreated,
		summary: "Create a resource"},
		func(ctx context.Context, a membership.Actor, in *createResourceInput) (*created[*membership.Resource], error) {
			req := membership.CreateResourceRequest{Kind: string(in.Body.Kind), Name: in.Body.Name}
			if in.Body.Space != nil {
				req.Space = in.Body.Space.Ref
			}
			r, err := s.CreateResource(ctx, a, req)
			if err != nil {
				return nil, err
			}
			return &created[*membership.Resource]{Location: location("resources", r.ID), Body: r}, nil
		})

	type resourcePath struct {
		Resource string `path:"resource" maxLength:"36" doc:"The resource's numeric id or UUID."`
	}
	register(h, route{id: "get-resource", method: http.MethodGet, path: "/resources/{resource}", tag: "Resources", scope: read,
		summary: "Get a resource"},
		func(ctx context.Context, a membership.Actor, in *resourcePath) (*out[*membership.Resource], error) {
			r, err := pathRef("resource", in.Resource)
			if err != nil {
				return nil, err
			}
			return result(s.Resource(ctx, a, r))
		})

	type listGrantsInput struct {
		Member   int64             `query:"member" minimum:"0" doc:"Only direct grants of this member id."`
		Group    int64             `query:"group" minimum:"0" doc:"Only grants through this group id."`
		Resource int64             `query:"resource" minimum:"0" doc:"Only grants of this resource id."`
		Status   membership.Status `query:"status" enum:"active,removed"`
	}
	register(h, route{id: "list-grants", method: http.MethodGet, path: "/grants", tag: "Resources", scope: read,
		summary: "List grants"},
		func(ctx context.Context, a membership.Actor, in *listGrantsInput) (*out[list[*membership.Grant]], error) {
			p := membership.GrantListParams{MemberID: in.Member, ResourceID: in.Resource, Status: in.Status}
			if in.Group != 0 {
				p.GroupIDs = []int64{in.Group}
			}
			return listOf(s.Grants(ctx, a, p))
		})

	type createGrantInput struct {
		Body struct {
			Resource ref        `json:"resource"`
			Member   *memberRef `json:"member,omitempty" doc:"A direct grant to this member; give member or group."`
			Group    *ref       `json:"group,omitempty" doc:"A grant through this group; give member or group."`
		}
	}
	register(h, route{id: "create-grant", method: http.MethodPost, path: "/grants", tag: "Resources", scope: write, status: http.StatusCreated,
		summary: "Grant a resource to a member or a group"},
		func(ctx context.Context, a membership.Actor, in *createGrantInput) (*created[*membership.Grant], error) {
			req := membership.CreateGrantRequest{Resource: in.Body.Resource.Ref}
			if in.Body.Member != nil {
				req.Member = &in.Body.Member.MemberRef
			}
			if in.Body.Group != nil {
				req.Group = &in.Body.Group.Ref
			}
			g, err := s.CreateGrant(ctx, a, req)
			if err != nil {
				return nil, err
			}
			return &created[*membership.Grant]{Location: location("grants", g.ID), Body: g}, nil
		})

	register(h, route{id: "get-grant", method: http.MethodGet, path: "/grants/{id}", tag: "Resources", scope: read,
		summary: "Get a grant"},
		func(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Grant], error) {
			return result(s.Grant(ctx, a, in.ID))
		})

	// Bookings.
	type listBookingsInput struct {
		Member   int64  `query:"member" minimum:"0" doc:"Only this member id's bookings."`
		Resource int64  `query:"resource" minimum:"0" doc:"Only this resource id's bookings."`
		Status   string `query:"status" enum:"active,cancelled"`
	}
	register(h, route{id: "list-bookings", method: http.MethodGet, path: "/bookings", tag: "Bookings", scope: read,
		summary: "List bookings"},
		func(ctx context.Context, a membership.Actor, in *listBookingsInput) (*out[list[*membership.Booking]], error) {
			return listOf(s.Bookings(ctx, a, membership.BookingListParams{MemberID: in.Member, ResourceID: in.Resource, Status: in.Status}))
		})

	type createBookingInput struct {
		Body struct {
			Resource ref        `json:"resource"`
			Member   *memberRef `json:"member,omitempty" doc:"Who the booking is for; the credential's member when absent."`
			StartsAt time.Time  `json:"starts_at"`
			EndsAt   time.Time  `json:"ends_at"`
		}
	}
	register(h, route{id: "create-booking", method: http.MethodPost, path: "/bookings", tag: "Bookings", scope: write, status: http.StatusCreated,
		summary: "Book a resource"},
		func(ctx context.Context, a membership.Actor, in *createBookingInput) (*created[*membership.Booking], error) {
			req := membership.CreateBookingRequest{Resource: in.Body.Resource.Ref, StartsAt: in.Body.StartsAt, EndsAt: in.Body.EndsAt}
			if in.Body.Member != nil {
				req.Member = &in.Body.Member.MemberRef
			}
			b, err := s.CreateBooking(ctx, a, req)
			if err != nil {
				return nil, err
			}
			return &created[*membership.Booking]{Location: location("bookings", b.ID), Body: b}, nil
		})

	register(h, route{id: "get-booking", method: http.MethodGet, path: "/bookings/{id}", tag: "Bookings", scope: read,
		summary: "Get a booking"},
		func(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Booking], error) {
			return result(s.Booking(ctx, a, in.ID))
		})

	// Access check.
	type accessInput struct {
		Member   string `query:"member" required:"true" maxLength:"320" doc:"The member's numeric id, UUID or e-mail address."`
		Resource string `query:"resource" required:"true" maxLength:"36" doc:"The resource's numeric id or UUID."`
	}
	register(h, route{id: "check-access", method: http.MethodGet, path: "/access", tag: "Access", scope: read,
		summary: "Can the member use the resource now, and through what"},
		func(ctx context.Context, a membership.Actor, in *accessInput) (*out[*membership.Access], error) {
			r, err := pathRef("resource", in.Resource)
			if err != nil {
				return nil, err
			}
			m := parseMemberRef(in.Member)
			if m.Raw != "" {
				return nil, membership.ErrMemberNotFound
			}
			return result(s.CheckAccess(ctx, a, m, r))
		})

	// Audit events.
	type listEventsInput struct {
		Member int64  `query:"member" minimum:"0" doc:"Only events about or by this member id."`
		Action string `query:"action" maxLength:"100" doc:"Only events with this action, e.g. member.removed."`
		Before int64  `query:"before" minimum:"0" doc:"Only events older than this id: the previous page's next_before."`
		Limit  int    `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
	}
	register(h, route{id: "list-events", method: http.MethodGet, path: "/events", tag: "Audit", scope: audit,
		summary: "Audit events, newest first"},
		func(ctx context.Context, a membership.Actor, in *listEventsInput) (*out[eventPage], error) {
			limit := membership.ListLimit(in.Limit)
			es, err := s.Events(ctx, a, membership.EventListParams{MemberID: in.Member, Action: in.Action, BeforeID: in.Before, Limit: limit})
			if err != nil {
				return nil, err
			}
			page := eventPage{Items: es}
			if page.Items == nil {
				page.Items = []*membership.Event{}
			}
			if len(es) == limit {
				page.NextBefore = es[len(es)-1].ID
			}
			return ok(page)
		})

	// Credentials.
	register(h, route{id: "list-credentials", method: http.MethodGet, path: "/credentials", tag: "Credentials", scope: manage,
		summary: "List credentials (never their secrets)"},
		func(ctx context.Context, a membership.Actor, _ *NoInput) (*out[list[*membership.Credential]], error) {
			return listOf(s.Credentials(ctx, a))
		})

	type createCredentialInput struct {
		Body struct {
			Name      string      `json:"name" maxLength:"200"`
			Scopes    []scopeName `json:"scopes" doc:"Scopes; none beyond the calling credential's own."`
			ExpiresAt *time.Time  `json:"expires_at,omitempty"`
			Member    *memberRef  `json:"member,omitempty" doc:"Who the credential acts as; the caller when absent (others: owners only)."`
		}
	}
	register(h, route{id: "create-credential", method: http.MethodPost, path: "/credentials", tag: "Credentials", scope: manage, status: http.StatusCreated,
		summary: "Create a credential; its secret is shown only in this answer"},
		func(ctx context.Context, a membership.Actor, in *createCredentialInput) (*created[*membership.IssuedCredential], error) {
			req := membership.CreateCredentialRequest{Name: in.Body.Name, ExpiresAt: in.Body.ExpiresAt}
			for _, sc := range in.Body.Scopes {
				req.Scopes = append(req.Scopes, string(sc))
			}
			if in.Body.Member != nil {
				req.Member = in.Body.Member.MemberRef
			}
			c, err := s.CreateCredential(ctx, a, req)
			if err != nil {
				return nil, err
			}
			return &created[*membership.IssuedCredential]{Location: location("credentials", c.Credential.ID), Body: c}, nil
		})

	register(h, route{id: "get-credential", method: http.MethodGet, path: "/credentials/{id}", tag: "Credentials", scope: manage,
		summary: "Get a credential (never its secret)"},
		func(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Credential], error) {
			return result(s.Credential(ctx, a, in.ID))
		})

	register(h, route{id: "revoke-credential", method: http.MethodDelete, path: "/credentials/{id}", tag: "Credentials", scope: manage,
		summary: "Revoke a credential; it stops working at once"},
		func(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Credential], error) {
			return result(s.RevokeCredential(ctx, a, in.ID))
		})

	h.registerAsync()
}

// batchItem is one member of a batch removal, named by exactly one of
// id, uuid or e-mail; it has the shape of the "ref" echoed in each result.
// An item naming none or several, or carrying a client's unreadable "raw"
// reference, is kept as written so the core reports that item invalid
// without failing the others.
type batchItem struct {
	ID    int64  `json:"id,omitempty"`
	UUID  string `json:"uuid,omitempty" maxLength:"36"`
	Email string `json:"email,omitempty" maxLength:"320"`
	Raw   string `json:"raw,omitempty" maxLength:"320" doc:"A reference the client could not read; answered as an invalid item."`
}

func (it batchItem) ref() membership.MemberRef {
	n := 0
	for _, set := range []bool{it.ID != 0, it.UUID != "", it.Email != "", it.Raw != ""} {
		if set {
			n++
		}
	}
	switch {
	case n == 1 && it.ID > 0:
		return membership.MemberRef{ID: it.ID}
	case n == 1 && it.UUID != "" && uuidform.Canonical(it.UUID):
		return membership.MemberRef{UUID: it.UUID}
	case n == 1 && it.Email != "":
		return membership.MemberRef{Email: it.Email}
	case n == 1 && it.Raw != "":
		return membership.MemberRef{Raw: it.Raw}
	case n == 0:
		return membership.MemberRef{Raw: "{}"}
	}
	raw, _ := json.Marshal(it) // a struct of plain fields always encodes
	return membership.MemberRef{Raw: string(raw)}
}
