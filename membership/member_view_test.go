package membership_test

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

func TestSpaceMembershipView(t *testing.T) {
	env := dialecttest.Load(t, "sqlite", dialecttest.LoadTime)
	ctx := context.Background()
	a := membership.Actor{OrgID: env.Demo.Org.ID, Interface: "test"}
	sm, err := env.Svc.SpaceMembership(ctx, a, env.Demo.WorkivaSpace)
	if err != nil {
		t.Fatal(err)
	}
	req := membership.SpaceMembershipViewRequest{OrgUUID: strings.ToUpper(env.Demo.Org.UUID), Space: membership.Ref{ID: sm.SpaceID}, ID: sm.ID}

	v, err := env.Svc.SpaceMembershipView(ctx, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if v.Membership.ID != sm.ID || v.Space.ID != sm.SpaceID || v.Member.ID != sm.MemberID || v.Organization.ID != a.OrgID {
		t.Errorf("view %+v does not match membership %+v", v, sm)
	}
	if sm.AddedBy != 0 && (v.AddedBy == nil || v.AddedBy.ID != sm.AddedBy) {
		t.Errorf("added by %+v, want member %d", v.AddedBy, sm.AddedBy)
	}

	for name, bad := range map[string]func(r *membership.SpaceMembershipViewRequest){
		"OtherOrganization": func(r *membership.SpaceMembershipViewRequest) { r.OrgUUID = "00000000-0000-0000-0000-000000000000" },
		"NoSpace":           func(r *membership.SpaceMembershipViewRequest) { r.Space = membership.Ref{ID: -1} },
		"OtherSpace": func(r *membership.SpaceMembershipViewRequest) {
			for _, id := range env.Demo.Spaces {
				if id != sm.SpaceID {
					r.Space = membership.Ref{ID: id}
				}
			}
		},
		"NoID":         func(r *membership.SpaceMembershipViewRequest) { r.ID = 0 },
		"NoMembership": func(r *membership.SpaceMembershipViewRequest) { r.ID = 1 << 40 },
	} {
		t.Run("Err"+name, func(t *testing.T) {
			r := req
			bad(&r)
			if _, err := env.Svc.SpaceMembershipView(ctx, a, r); membership.ErrorCode(err) != membership.CodeNotFound {
				t.Errorf("err %v, want %s", err, membership.CodeNotFound)
			}
		})
	}
}
