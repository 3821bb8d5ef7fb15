package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// Groups and their memberships. Removing a member from a group is in
// removals.go.

func (h *handler) listGroups(ctx context.Context, a membership.Actor, _ *noInput) (*out[list[*membership.Group]], error) {
	return listOf(h.svc.Groups(ctx, a))
}

func (h *handler) createGroup(ctx context.Context, a membership.Actor, in *nameInput) (*created[*membership.Group], error) {
	g, err := h.svc.CreateGroup(ctx, a, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return &created[*membership.Group]{Location: location("groups", g.ID), Body: g}, nil
}

func (h *handler) getGroup(ctx context.Context, a membership.Actor, in *GroupPath) (*representation[*membership.Group], error) {
	g, err := pathRef("group", in.Group)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Group(ctx, a, g)
	return represent(ctx, v, err)
}

type listGroupMembersInput struct {
	GroupPath
	StatusQuery
}

func (h *handler) listGroupMembers(ctx context.Context, a membership.Actor, in *listGroupMembersInput) (*out[list[*membership.GroupMember]], error) {
	g, err := pathRef("group", in.Group)
	if err != nil {
		return nil, err
	}
	return listOf(h.svc.GroupMembers(ctx, a, g, in.Status))
}

type addGroupMemberInput struct {
	GroupPath
	Body struct {
		Member memberRef `json:"member"`
	}
}

func (h *handler) addGroupMember(ctx context.Context, a membership.Actor, in *addGroupMemberInput) (*created[*membership.GroupMember], error) {
	g, err := pathRef("group", in.Group)
	if err != nil {
		return nil, err
	}
	gm, err := h.svc.AddGroupMember(ctx, a, g, in.Body.Member.MemberRef)
	if err != nil {
		return nil, err
	}
	return &created[*membership.GroupMember]{Location: location("groups", gm.GroupID, "members", gm.MemberID), Body: gm}, nil
}

type groupMemberInput struct {
	GroupPath
	MemberPath
}

func (h *handler) getGroupMember(ctx context.Context, a membership.Actor, in *groupMemberInput) (*representation[*membership.GroupMember], error) {
	g, err := pathRef("group", in.Group)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.GroupMembership(ctx, a, g, parseMemberRef(in.Member))
	return represent(ctx, v, err)
}
