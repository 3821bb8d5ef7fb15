package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var rightsTests = []test{
	{"RuleAdminAddedOnly", testRightsAdminAddedOnly},
	{"RuleAdminAnyMember", testRightsAdminAnyMember},
	{"AdminCannotRemoveOwner", testRightsAdminNotOwner},
	{"MembersCannotRemove", testRightsMembers},
	{"RemovedActorIsUnauthorized", testRightsRemovedActor},
}

func testRightsAdminAddedOnly(t *testing.T, open Opener) {
	w := newWorld(t, open)
	frank := w.addMember(w.adminActor, "frank@acme.test", membership.RoleMember) // added by the admin
	w.addToGroup(w.adminActor, w.ops, frank)
	rule := membership.RuleAdminAddedOnly

	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: bobRef(w), Rule: rule})
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "member.removed")

	before = w.state()
	_, err = w.svc.RemoveGroupMember(w.ctx, w.adminActor, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: w.ops.ID}, Member: bobRef(w), Rule: rule,
	})
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "group_member.removed")

	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: frank.ID}}
	res, err := w.svc.RemoveBatch(w.ctx, w.adminActor, membership.BatchRequest{
		Scope: membership.ScopeGroup, Group: membership.Ref{ID: w.ops.ID}, Items: refs, Rule: rule,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, res, refs, []wantItem{{membership.OutcomeForbidden, 0}, {membership.OutcomeRemoved, frank.ID}})

	w.addToGroup(w.adminActor, w.ops, frank)
	if _, err := w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: frank.ID}, Rule: rule}); err != nil {
		t.Errorf("admin removes the member they added: %v", err)
	}
}

func testRightsAdminAnyMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	rule := membership.RuleAdminAnyMember
	if _, err := w.svc.RemoveGroupMember(w.ctx, w.adminActor, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: w.eng.ID}, Member: membership.MemberRef{ID: w.carol.ID}, Rule: rule,
	}); err != nil {
		t.Errorf("admin removes a member the owner added from a group: %v", err)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: bobRef(w), Rule: rule}); err != nil {
		t.Errorf("admin removes a member the owner added: %v", err)
	}
}

func testRightsAdminNotOwner(t *testing.T, open Opener) {
	w := newWorld(t, open)
	second := w.addMember(w.owner, "second@acme.test", membership.RoleOwner)
	w.addToSpace(w.owner, w.hq, w.admin, membership.SpaceAdminRole)
	w.addToSpace(w.adminActor, w.hq, second) // even one the admin added to the space
	for _, rule := range []membership.RemovalRule{membership.RuleAdminAnyMember, membership.RuleAdminAddedOnly} {
		for _, target := range []*membership.Member{w.ownerMember, second} {
			before := w.state()
			_, err := w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: target.ID}, Rule: rule})
			wantCode(t, err, membership.CodeForbidden)
			w.assertRefused(before, "member.removed")
		}
		before := w.state()
		_, err := w.svc.RemoveSpaceMember(w.ctx, w.adminActor, membership.RemoveSpaceMemberRequest{
			Space: membership.Ref{ID: w.hq.ID}, Member: membership.MemberRef{ID: second.ID}, Rule: rule,
		})
		wantCode(t, err, membership.CodeForbidden)
		w.assertRefused(before, "space_member.removed")
	}
}

func testRightsMembers(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	for _, rule := range []membership.RemovalRule{membership.RuleAdminAnyMember, membership.RuleAdminAddedOnly} {
		for _, target := range []*membership.Member{w.bob, w.carol, w.admin, w.ownerMember} {
			before := w.state()
			_, err := w.svc.RemoveMember(w.ctx, carol, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: target.ID}, Rule: rule})
			wantCode(t, err, membership.CodeForbidden)
			w.assertRefused(before, "member.removed")
		}
	}
	before := w.state()
	res, err := w.svc.RemoveBatch(w.ctx, carol, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.bob.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 0 || res.Items[0].Outcome != membership.OutcomeForbidden {
		t.Errorf("member's batch: got %+v, want the item forbidden", res.Items[0])
	}
	w.assertRefused(before, "member.removed")
}

// A credential whose member was removed stops acting at once, even for a
// call that was built before the removal.
func testRightsRemovedActor(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.admin.ID}}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: bobRef(w)})
	wantCode(t, err, membership.CodeUnauthorized)
	_, err = w.svc.RemoveBatch(w.ctx, w.adminActor, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.bob.ID}}})
	wantCode(t, err, membership.CodeUnauthorized)
	w.assertUnchangedExceptEvents(before)
}

// assertUnchangedExceptEvents is assertUnchanged that tolerates new events.
func (e *env) assertUnchangedExceptEvents(before map[int64]*Snapshot) {
	e.tb.Helper()
	ids := make([]int64, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	after := e.snapshot(ids...)
	for _, id := range ids {
		a := *after[id]
		a.Events = before[id].Events
		if diff := cmp.Diff(&a, before[id]); diff != "" {
			e.tb.Errorf("organization %d changed (-got +want):\n%s", id, diff)
		}
	}
}
