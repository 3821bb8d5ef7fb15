package httpapi

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// The organization and its members. Removing and restoring a member is in
// removals.go, a member's access in access.go.

func (h *handler) getOrganization(ctx context.Context, a membership.Actor, _ *noInput) (*out[*membership.Organization], error) {
	return result(h.svc.Organization(ctx, a))
}

type memberPage struct {
	Items     []*membership.Member `json:"items"`
	NextAfter int64                `json:"next_after,omitempty" doc:"Pass as after to get the next page; absent on the last page."`
}

type listMembersInput struct {
	StatusQuery
	Q     string `query:"q" maxLength:"200" doc:"Substring of the e-mail address or name."`
	After int64  `query:"after" minimum:"0" doc:"Only members with a greater id: the previous page's next_after."`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" doc:"Page size; 100 when absent."`
}

func (h *handler) listMembers(ctx context.Context, a membership.Actor, in *listMembersInput) (*out[memberPage], error) {
	limit := membership.ListLimit(in.Limit)
	ms, err := h.svc.Members(ctx, a, membership.MemberListParams{Status: in.Status, Query: in.Q, AfterID: in.After, Limit: limit})
	if err != nil {
		return nil, err
	}
	var page memberPage
	page.Items, page.NextAfter = pageOf(ms, limit, func(m *membership.Member) int64 { return m.ID })
	return ok(page)
}

type addMemberInput struct {
	Body struct {
		Email string          `json:"email" maxLength:"320" doc:"The user's e-mail address; stored lower-case."`
		Name  string          `json:"name,omitempty" maxLength:"200"`
		Role  membership.Role `json:"role,omitempty" enum:"owner,admin,member" doc:"Organization role; member when absent."`
	}
}

func (h *handler) addMember(ctx context.Context, a membership.Actor, in *addMemberInput) (*created[*membership.Member], error) {
	m, err := h.svc.AddMember(ctx, a, membership.AddMemberRequest{Email: in.Body.Email, Name: in.Body.Name, Role: in.Body.Role})
	if err != nil {
		return nil, err
	}
	return &created[*membership.Member]{Location: location("members", m.ID), Body: m}, nil
}

func (h *handler) getMember(ctx context.Context, a membership.Actor, in *MemberPath) (*representation[*membership.Member], error) {
	v, err := h.svc.Member(ctx, a, parseMemberRef(in.Member))
	return represent(ctx, v, err)
}

type updateMemberInput struct {
	MemberPath
	Body struct {
		Name *string         `json:"name,omitempty" maxLength:"200"`
		Role membership.Role `json:"role,omitempty" enum:"owner,admin,member"`
	}
}

// updateMember hands If-Match to the core through the call's Guard (see
// etags.go) and answers the member with its new ETag.
func (h *handler) updateMember(ctx context.Context, a membership.Actor, in *updateMemberInput) (*representation[*membership.Member], error) {
	m, err := h.svc.UpdateMember(ctx, a, membership.UpdateMemberRequest{
		Member: parseMemberRef(in.Member), Name: in.Body.Name, Role: in.Body.Role})
	return represent(ctx, m, err)
}

func (h *handler) getMemberHistory(ctx context.Context, a membership.Actor, in *MemberPath) (*out[*membership.MemberHistory], error) {
	return result(h.svc.History(ctx, a, parseMemberRef(in.Member)))
}
