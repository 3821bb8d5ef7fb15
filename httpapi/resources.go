package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// Resources and the grants that let members and groups use them.

func (h *handler) listResources(ctx context.Context, a membership.Actor, _ *noInput) (*out[list[*membership.Resource]], error) {
	return listOf(h.svc.Resources(ctx, a))
}

type createResourceInput struct {
	Body struct {
		Kind  resourceKind `json:"kind"`
		Name  string       `json:"name" maxLength:"200"`
		Space *ref         `json:"space,omitempty" doc:"The space the resource is in; only its members can reach it."`
	}
}

func (h *handler) createResource(ctx context.Context, a membership.Actor, in *createResourceInput) (*created[*membership.Resource], error) {
	req := membership.CreateResourceRequest{Kind: string(in.Body.Kind), Name: in.Body.Name}
	if in.Body.Space != nil {
		req.Space = in.Body.Space.Ref
	}
	r, err := h.svc.CreateResource(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.Resource]{Location: location("resources", r.ID), Body: r}, nil
}

type resourcePath struct {
	Resource string `path:"resource" maxLength:"36" doc:"The resource's numeric id or UUID."`
}

func (h *handler) getResource(ctx context.Context, a membership.Actor, in *resourcePath) (*out[*membership.Resource], error) {
	r, err := pathRef("resource", in.Resource)
	if err != nil {
		return nil, err
	}
	return result(h.svc.Resource(ctx, a, r))
}

type listGrantsInput struct {
	Member   int64             `query:"member" minimum:"0" doc:"Only direct grants of this member id."`
	Group    int64             `query:"group" minimum:"0" doc:"Only grants through this group id."`
	Resource int64             `query:"resource" minimum:"0" doc:"Only grants of this resource id."`
	Status   membership.Status `query:"status" enum:"active,removed"`
}

func (h *handler) listGrants(ctx context.Context, a membership.Actor, in *listGrantsInput) (*out[list[*membership.Grant]], error) {
	p := membership.GrantListParams{MemberID: in.Member, ResourceID: in.Resource, Status: in.Status}
	if in.Group != 0 {
		p.GroupIDs = []int64{in.Group}
	}
	return listOf(h.svc.Grants(ctx, a, p))
}

type createGrantInput struct {
	Body struct {
		Resource ref        `json:"resource"`
		Member   *memberRef `json:"member,omitempty" doc:"A direct grant to this member; give member or group."`
		Group    *ref       `json:"group,omitempty" doc:"A grant through this group; give member or group."`
	}
}

func (h *handler) createGrant(ctx context.Context, a membership.Actor, in *createGrantInput) (*created[*membership.Grant], error) {
	req := membership.CreateGrantRequest{Resource: in.Body.Resource.Ref}
	if in.Body.Member != nil {
		req.Member = &in.Body.Member.MemberRef
	}
	if in.Body.Group != nil {
		req.Group = &in.Body.Group.Ref
	}
	g, err := h.svc.CreateGrant(ctx, a, req)
	if err != nil {
		return nil, err
	}
	return &created[*membership.Grant]{Location: location("grants", g.ID), Body: g}, nil
}

func (h *handler) getGrant(ctx context.Context, a membership.Actor, in *IDPath) (*out[*membership.Grant], error) {
	return result(h.svc.Grant(ctx, a, in.ID))
}
