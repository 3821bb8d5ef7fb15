package httpapi

import (
	"context"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/memberd/memberd/membership"
)

// Saved plans: a removal or batch previewed and kept, to be executed by id
// exactly as previewed (or refused with 412 naming what changed). Every
// removal also answers a dry run with an ETag, and runs with If-Match only
// while its effect is still the one previewed; the middleware hands the
// core the header and the answer the tag. Every removal made for real
// answers Removal-Id: GET /api/v1/removals/{id} returns it later and POST
// /api/v1/removals/{id}/undo restores what it took, item by item.

type createPlanInput struct {
	Body struct {
		Kind            string      `json:"kind,omitempty" maxLength:"40" doc:"For one removal: member.remove (offboarding; needs member), space_member.remove (member and space), group_member.remove (member and group) or roles.revoke (space_membership and roles). Leave out for a batch."`
		Member          *memberRef  `json:"member,omitempty"`
		SpaceMembership int64       `json:"space_membership,omitempty" minimum:"0" doc:"The space membership's id, for roles.revoke."`
		Roles           []string    `json:"roles,omitempty" doc:"The roles to revoke, all or nothing, for roles.revoke."`
		Scope           string      `json:"scope,omitempty" enum:"organization,space,group" doc:"For a batch: what the members are removed from."`
		Space           *ref        `json:"space,omitempty" doc:"The space, for space_member.remove or a batch of scope space."`
		Group           *ref        `json:"group,omitempty" doc:"The group, for group_member.remove or a batch of scope group."`
		Members         []batchItem `json:"members,omitempty" doc:"For a batch: the members in the order they are removed."`
		ExpiresIn       int         `json:"expires_in,omitempty" minimum:"0" maximum:"604800" doc:"Seconds the plan may be executed; 3600 when absent."`
	}
}

func (h *handler) createPlan(ctx context.Context, a membership.Actor, in *createPlanInput) (*created[*membership.Plan], error) {
	b := in.Body
	req := membership.CreatePlanRequest{TTL: time.Duration(b.ExpiresIn) * time.Second}
	if b.Kind != "" || b.Scope == "" {
		spec := removalSpec(b.Kind, b.Member, b.Space, b.Group, b.SpaceMembership, b.Roles)
		req.Removal = &spec
	}
	if b.Scope != "" {
		batch, err := batchRequest(membership.BatchScope(b.Scope), b.Space, b.Group, b.Members)
		if err != nil {
			return nil, err
		}
		req.Batch = &batch
	}
	plan, err := h.svc.CreatePlan(ctx, a, req)
	if err != nil {
		return nil, err
	}
	setHeader(ctx, "ETag", plan.ETag)
	return &created[*membership.Plan]{Location: location("plans", plan.UUID), Body: plan}, nil
}

func (h *handler) getPlan(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Plan], error) {
	plan, err := h.svc.Plan(ctx, a, in.ID)
	if err == nil {
		setHeader(ctx, "ETag", plan.ETag)
	}
	return result(plan, err)
}

type executePlanInput struct {
	UUIDPath
	Body *struct {
		Force bool `json:"force,omitempty" doc:"Run the plan above the organization's limits without a second owner; owners only, audited as plan.forced."`
	}
}

func (h *handler) executePlan(ctx context.Context, a membership.Actor, in *executePlanInput) (*out[*membership.Plan], error) {
	if in.Body != nil && in.Body.Force {
		return result(h.svc.ForcePlan(ctx, a, in.ID))
	}
	return result(h.svc.ExecutePlan(ctx, a, in.ID))
}

func (h *handler) approvePlan(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Plan], error) {
	return result(h.svc.ApprovePlan(ctx, a, in.ID))
}

func (h *handler) getPolicy(ctx context.Context, a membership.Actor, _ *noInput) (*out[*membership.Policy], error) {
	return result(h.svc.Policy(ctx, a))
}

type policyInput struct {
	Body membership.Policy
}

func (h *handler) setPolicy(ctx context.Context, a membership.Actor, in *policyInput) (*out[*membership.Policy], error) {
	return result(h.svc.SetPolicy(ctx, a, in.Body))
}

// approvalProblem is problem+json for a removal above the organization's
// limits (409), with the RFC 9457 extension member "plan": the id of the
// plan it was saved as, to approve or force.
type approvalProblem struct {
	huma.ErrorModel
	Plan string `json:"plan"`
}

func (h *handler) getRemoval(ctx context.Context, a membership.Actor, in *UUIDPath) (*out[*membership.Removal], error) {
	return result(h.svc.Removal(ctx, a, in.ID))
}

type undoInput struct {
	UUIDPath
	Prefer string `header:"Prefer" maxLength:"200" doc:"respond-async: undo in the background, in chunks of items, as an operation with progress (202, Preference-Applied: respond-async, Location of the operation). A removal of more than 1000 items is undone so whatever this says."`
}

func (h *handler) undoRemoval(ctx context.Context, a membership.Actor, in *undoInput) (*removal, error) {
	async := prefersAsync(in.Prefer)
	if !async {
		rm, err := h.svc.Removal(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		async = len(rm.Items) > membership.DefaultUndoAsyncAbove
	}
	if !async {
		rm, err := h.svc.UndoRemoval(ctx, a, in.ID)
		if err != nil {
			return nil, err
		}
		return &removal{Status: http.StatusOK, Body: rm}, nil
	}
	op, err := h.svc.UndoRemovalAsync(ctx, a, in.ID)
	if err != nil {
		return nil, err
	}
	if prefersAsync(in.Prefer) {
		setHeader(ctx, "Preference-Applied", "respond-async")
	}
	setHeader(ctx, "Location", location("operations", op.UUID))
	return &removal{Status: http.StatusAccepted, Body: op}, nil
}

// documentUndo documents both answers of an undo: 200 with the removal
// undone, 202 with the operation undoing it.
func (h *handler) documentUndo(op *huma.Operation) {
	reg := h.api.OpenAPI().Components.Schemas
	op.Responses = map[string]*huma.Response{
		"200": {
			Description: "Undone now: the removal with one outcome per item.",
			Content:     map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeFor[membership.Removal](), true, "Removal")}},
		},
		"202": {
			Description: "Undoing in the background (Prefer: respond-async, or more than 1000 items): the operation; once it succeeded, GET the removal for the outcomes.",
			Headers: map[string]*huma.Param{
				"Location":           {Description: "URL of the operation.", Schema: &huma.Schema{Type: huma.TypeString}},
				"Preference-Applied": {Description: "respond-async when it was asked for.", Schema: &huma.Schema{Type: huma.TypeString}},
			},
			Content: map[string]*huma.MediaType{"application/json": {Schema: reg.Schema(reflect.TypeFor[membership.Operation](), true, "Operation")}},
		},
	}
}

// removalSpec is the core's spec of one removal named by kind.
func removalSpec(kind string, member *memberRef, space, group *ref, spaceMembership int64, roles []string) membership.RemovalSpec {
	spec := membership.RemovalSpec{Kind: kind, SpaceMemberID: spaceMembership, Roles: roles}
	if member != nil {
		spec.Member = &member.MemberRef
	}
	if space != nil {
		spec.Space = &space.Ref
	}
	if group != nil {
		spec.Group = &group.Ref
	}
	return spec
}

// batchRequest is the core's batch of scope over space or group.
func batchRequest(scope membership.BatchScope, space, group *ref, members []batchItem) (membership.BatchRequest, error) {
	req := membership.BatchRequest{Scope: scope, Items: make([]membership.MemberRef, len(members))}
	for i, it := range members {
		req.Items[i] = it.ref()
	}
	if err := requireBatchTarget(req.Scope, space, group); err != nil {
		return req, err
	}
	if space != nil {
		req.Space = space.Ref
	}
	if group != nil {
		req.Group = group.Ref
	}
	return req, nil
}
