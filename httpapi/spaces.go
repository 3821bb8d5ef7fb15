package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// Spaces and their memberships. Removing a member from a space and
// revoking space roles is in removals.go.

func (h *handler) listSpaces(ctx context.Context, a membership.Actor, _ *noInput) (*out[list[*membership.Space]], error) {
	return listOf(h.svc.Spaces(ctx, a))
}

func (h *handler) createSpace(ctx context.Context, a membership.Actor, in *nameInput) (*created[*membership.Space], error) {
	sp, err := h.svc.CreateSpace(ctx, a, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &created[*membership.Space]{Location: location("spaces", sp.ID), Body: sp}, nil
}

func (h *handler) getSpace(ctx context.Context, a membership.Actor, in *SpacePath) (*representation[*membership.Space], error) {
	sp, err := pathRef("space", in.Space)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Space(ctx, a, sp)
	return represent(ctx, v, err)
}

type listSpaceMembersInput struct {
	SpacePath
	StatusQuery
}

func (h *handler) listSpaceMembers(ctx context.Context, a membership.Actor, in *listSpaceMembersInput) (*out[list[*membership.SpaceMember]], error) {
	sp, err := pathRef("space", in.Space)
	if err != nil {
		return nil, err
	}
	return listOf(h.svc.SpaceMembers(ctx, a, sp, in.Status))
}

type addSpaceMemberInput struct {
	SpacePath
	Body struct {
		Member memberRef `json:"member"`
		Roles  []string  `json:"roles,omitempty" doc:"Space roles; \"admin\" lets the member remove the space members they add."`
	}
}

func (h *handler) addSpaceMember(ctx context.Context, a membership.Actor, in *addSpaceMemberInput) (*created[*membership.SpaceMember], error) {
	sp, err := pathRef("space", in.Space)
	if err != nil {
		return nil, err
	}
	sm, err := h.svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: sp, Member: in.Body.Member.MemberRef, Roles: in.Body.Roles})
	if err != nil {
		return nil, err
	}
	return &created[*membership.SpaceMember]{Location: location("space-memberships", sm.ID), Body: sm}, nil
}

func (h *handler) getSpaceMembership(ctx context.Context, a membership.Actor, in *IDPath) (*representation[*membership.SpaceMember], error) {
	v, err := h.svc.SpaceMembership(ctx, a, in.ID)
	return represent(ctx, v, err)
}
