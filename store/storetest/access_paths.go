package storetest

import (
	"fmt"
	"testing"

	"github.com/memberd/memberd/membership"
)

// testAccessPathsAgree pins what the access paths answer for each kind of
// path, through every statement that reads them: the check by ids
// (AccessCheck), the check by reference that the access index runs
// (AccessCheckRef) and the listing (AccessList). The statements share one
// definition of access, whose SQL is shaped for the planners; this keeps
// any reshaping of it honest, on every engine.
func testAccessPathsAgree(t *testing.T, open Opener) {
	e := newEnv(t, open)
	m := e.addMember(e.owner, "m@acme.test", membership.RoleMember)
	other := e.addMember(e.owner, "o@acme.test", membership.RoleMember)
	in, out := e.createSpace("In"), e.createSpace("Out")
	e.addToSpace(e.owner, in, m)
	e.addToSpace(e.owner, out, other)
	g1, g2, left := e.createGroup("G1"), e.createGroup("G2"), e.createGroup("Left")
	e.addToGroup(e.owner, g1, m)
	e.addToGroup(e.owner, g2, m)
	e.addToGroup(e.owner, left, m)
	e.addToGroup(e.owner, left, other)
	if _, err := e.svc.RemoveGroupMember(e.ctx, e.owner, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: left.ID}, Member: membership.MemberRef{ID: m.ID}}); err != nil {
		t.Fatalf("remove from group Left: %v", err)
	}

	both := e.createResource("lock", "both", nil) // direct and through two groups
	e.grantMember(both, m)
	e.grantGroup(both, g1)
	e.grantGroup(both, g2)
	groupInSpace := e.createResource("desk", "group in space", in)
	e.grantGroup(groupInSpace, g1)
	directInSpace := e.createResource("desk", "direct in space", in)
	e.grantMember(directInSpace, m)
	outOfSpace := e.createResource("desk", "outside the member's spaces", out)
	e.grantMember(outOfSpace, m)
	e.grantGroup(outOfSpace, g1)
	groupLeft := e.createResource("lock", "through a group left", nil)
	e.grantGroup(groupLeft, left)
	othersOnly := e.createResource("lock", "someone else's", nil)
	e.grantMember(othersOnly, other)

	want := map[int64]membership.Access{
		both.ID:          {ResourceID: both.ID, Allowed: true, Direct: true, GroupIDs: []int64{g1.ID, g2.ID}},
		groupInSpace.ID:  {ResourceID: groupInSpace.ID, Allowed: true, GroupIDs: []int64{g1.ID}},
		directInSpace.ID: {ResourceID: directInSpace.ID, Allowed: true, Direct: true},
		outOfSpace.ID:    {ResourceID: outOfSpace.ID},
		groupLeft.ID:     {ResourceID: groupLeft.ID},
		othersOnly.ID:    {ResourceID: othersOnly.ID},
	}
	err := e.store.View(e.ctx, func(tx membership.Tx) error {
		list, err := tx.AccessList(e.ctx, e.org.ID, m.ID)
		if err != nil {
			return err
		}
		listed := map[int64]membership.Access{}
		for _, a := range list {
			listed[a.ResourceID] = *a
		}
		for id, w := range want {
			byID, err := tx.AccessCheck(e.ctx, &membership.AccessParams{OrgID: e.org.ID, MemberID: m.ID, ResourceID: id})
			if err != nil {
				return err
			}
			ans, err := tx.AccessCheckRef(e.ctx, &membership.AccessCheckRefParams{
				Member: membership.MemberGetParams{OrgID: e.org.ID, ID: m.ID}, Resource: membership.RefParams{OrgID: e.org.ID, ID: id}})
			if err != nil {
				return err
			}
			l, ok := listed[id]
			if !ok {
				l = membership.Access{ResourceID: id}
			}
			for name, got := range map[string]membership.Access{"AccessCheck": *byID, "AccessCheckRef": *ans.Access, "AccessList": l} {
				if fmt.Sprint(got) != fmt.Sprint(w) {
					t.Errorf("%s of resource %d: %+v, want %+v", name, id, got, w)
				}
			}
		}
		if len(listed) != 3 {
			t.Errorf("AccessList: %d resources, want 3: %+v", len(listed), listed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
