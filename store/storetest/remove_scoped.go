package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var removeSpaceMemberTests = []test{
	{"OnlyThatSpace", testRemoveSpaceMemberOnlyThatSpace},
	{"SpaceAdminAddedOnly", testRemoveSpaceMemberSpaceAdmin},
	{"OwnerRemovesAnyone", testRemoveSpaceMemberOwner},
	{"ErrForbiddenPlainMember", testRemoveSpaceMemberPlainMember},
	{"ErrNotMember", testRemoveSpaceMemberNotMember},
	{"ErrAlreadyRemoved", testRemoveSpaceMemberAlreadyRemoved},
	{"ErrNotFoundOtherOrganization", testRemoveSpaceMemberOtherOrganization},
}

var removeGroupMemberTests = []test{
	{"OnlyThatGroup", testRemoveGroupMemberOnlyThatGroup},
	{"ErrNotMember", testRemoveGroupMemberNotMember},
	{"ErrForbiddenPlainMember", testRemoveGroupMemberPlainMember},
}

func removeFromSpace(w *world, a membership.Actor, s *membership.Space, m *membership.Member) (*membership.Report, error) {
	return w.svc.RemoveSpaceMember(w.ctx, a, membership.RemoveSpaceMemberRequest{
		Space: membership.Ref{ID: s.ID}, Member: membership.MemberRef{ID: m.ID},
	})
}

func testRemoveSpaceMemberOnlyThatSpace(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ev0 := w.lastEventID(w.org.ID)
	rep, err := removeFromSpace(w, w.owner, w.hq, w.bob)
	if err != nil {
		t.Fatalf("RemoveSpaceMember: %v", err)
	}
	if got := spaceIDs(rep.Spaces); !slices.Equal(got, []int64{w.hq.ID}) {
		t.Errorf("report spaces: got %v, want only HQ", got)
	}
	wantRoles := []*membership.RoleChange{{SpaceID: w.hq.ID, SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor", "viewer"}}}
	if diff := cmp.Diff(rep.Roles, wantRoles); diff != "" {
		t.Errorf("report roles (-got +want):\n%s", diff)
	}
	if len(rep.Groups) != 0 {
		t.Errorf("report groups: got %v, want none", groupIDs(rep.Groups))
	}
	// Only what needs HQ goes; Lab, org-wide and group access stay.
	gone := []*membership.Resource{w.deskHQ, w.parkHQ}
	for _, r := range w.resources() {
		want := !slices.Contains(gone, r)
		if got := w.access(w.bob, r).Allowed; got != want {
			t.Errorf("bob's access to %s: got %v, want %v", r.Name, got, want)
		}
	}
	if got, want := accessIDs(rep.RemainingAccess), []int64{w.roomLab.ID, w.printer.ID, w.lockOps.ID, w.shared.ID}; !slices.Equal(got, want) {
		t.Errorf("report remaining access: got %v, want %v", got, want)
	}
	// Only the booking of a resource bob can no longer use is cancelled.
	if got := bookingIDs(rep.Bookings); !slices.Equal(got, []int64{w.futureDesk.ID}) {
		t.Errorf("report bookings: got %v, want only the HQ desk's %d", got, w.futureDesk.ID)
	}
	for _, b := range w.history(w.bob.ID).Bookings {
		want := membership.BookingActive
		if b.ID == w.futureDesk.ID {
			want = membership.BookingCancelled
		}
		if b.Status != want {
			t.Errorf("booking %d: got %s, want %s", b.ID, b.Status, want)
		}
	}
	if m := w.member(w.bob.ID); !m.Active() {
		t.Errorf("bob: got %s, want still a member of the organization", m.Status)
	}
	h := w.history(w.bob.ID)
	for _, sm := range h.Spaces {
		wantStatus, wantCause := membership.StatusActive, ""
		if sm.SpaceID == w.hq.ID {
			wantStatus, wantCause = membership.StatusRemoved, membership.CauseDirect
		}
		if sm.Status != wantStatus || sm.Cause != wantCause {
			t.Errorf("space membership in %d: got %s %q, want %s %q", sm.SpaceID, sm.Status, sm.Cause, wantStatus, wantCause)
		}
	}
	if acc := w.access(w.carol, w.deskHQ); !acc.Allowed {
		t.Errorf("carol lost the HQ desk")
	}
	evs := w.eventsAfter(w.org.ID, ev0)
	if len(evs) != 1 || evs[0].Action != "space_member.removed" || evs[0].ID != rep.EventID {
		t.Errorf("events: got %s, want one space_member.removed", describeEvents(evs))
	}
}

func testRemoveSpaceMemberSpaceAdmin(t *testing.T, open Opener) {
	w := newWorld(t, open)
	dana := w.addMember(w.owner, "dana@acme.test", membership.RoleMember)
	w.addToSpace(w.owner, w.hq, dana, membership.SpaceAdminRole)
	danaActor := w.actorFor(w.owner, dana)
	erin := w.addMember(w.owner, "erin@acme.test", membership.RoleMember)
	w.addToSpace(danaActor, w.hq, erin, "viewer") // dana added erin to HQ

	// Not bob: the owner added him to HQ.
	before := w.state()
	_, err := removeFromSpace(w, danaActor, w.hq, w.bob)
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "space_member.removed")
	// Not in a space dana does not administer, even someone she added.
	w.addToSpace(w.owner, w.lab, erin)
	before = w.state()
	_, err = removeFromSpace(w, danaActor, w.lab, erin)
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "space_member.removed")
	// Erin in HQ: dana added her, so dana may remove her.
	if _, err := removeFromSpace(w, danaActor, w.hq, erin); err != nil {
		t.Fatalf("space admin removes the member she added: %v", err)
	}
	sms, err := w.svc.SpaceMembers(w.ctx, w.owner, membership.Ref{ID: w.hq.ID}, membership.StatusActive)
	if err != nil {
		t.Fatal(err)
	}
	for _, sm := range sms {
		if sm.MemberID == erin.ID {
			t.Errorf("erin is still in HQ: %+v", sm)
		}
	}
}

func testRemoveSpaceMemberOwner(t *testing.T, open Opener) {
	w := newWorld(t, open)
	dana := w.addMember(w.owner, "dana@acme.test", membership.RoleMember)
	w.addToSpace(w.owner, w.hq, dana, membership.SpaceAdminRole)
	danaActor := w.actorFor(w.owner, dana)
	erin := w.addMember(w.owner, "erin@acme.test", membership.RoleMember)
	w.addToSpace(danaActor, w.hq, erin)
	w.addToSpace(w.adminActor, w.lab, w.carol)
	w.addToSpace(w.owner, w.hq, w.admin, membership.SpaceAdminRole)
	for _, c := range []struct {
		space *membership.Space
		m     *membership.Member
	}{{w.hq, erin}, {w.lab, w.carol}, {w.hq, w.admin}, {w.hq, dana}, {w.hq, w.bob}} {
		if _, err := removeFromSpace(w, w.owner, c.space, c.m); err != nil {
			t.Errorf("owner removes %s from %s: %v", c.m.Email, c.space.Name, err)
		}
	}
}

func testRemoveSpaceMemberPlainMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	for _, c := range []struct {
		space *membership.Space
		m     *membership.Member
	}{{w.hq, w.bob}, {w.lab, w.bob}, {w.hq, w.carol}} {
		before := w.state()
		_, err := removeFromSpace(w, carol, c.space, c.m)
		wantCode(t, err, membership.CodeForbidden)
		w.assertRefused(before, "space_member.removed")
	}
}

func testRemoveSpaceMemberNotMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := removeFromSpace(w, w.owner, w.lab, w.carol)
	wantErr(t, err, membership.ErrNotMember)
	w.assertRefused(before, "space_member.removed")
}

func testRemoveSpaceMemberAlreadyRemoved(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := removeFromSpace(w, w.owner, w.hq, w.bob); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := removeFromSpace(w, w.owner, w.hq, w.bob)
	wantErr(t, err, membership.ErrAlreadyRemoved)
	w.assertRefused(before, "space_member.removed")
}

func testRemoveSpaceMemberOtherOrganization(t *testing.T, open Opener) {
	w := newWorld(t, open)
	gSpace, err := w.svc.CreateSpace(w.ctx, w.globexOwner, "Globex HQ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddSpaceMember(w.ctx, w.globexOwner, membership.AddSpaceMemberRequest{
		Space: membership.Ref{ID: gSpace.ID}, Member: membership.MemberRef{ID: w.globexBob.ID},
	}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err = removeFromSpace(w, w.owner, gSpace, w.bob)
	wantCode(t, err, membership.CodeNotFound)
	_, err = w.svc.RemoveSpaceMember(w.ctx, w.owner, membership.RemoveSpaceMemberRequest{
		Space: membership.Ref{UUID: gSpace.UUID}, Member: membership.MemberRef{ID: w.globexBob.ID},
	})
	wantCode(t, err, membership.CodeNotFound)
	_, err = removeFromSpace(w, w.owner, w.hq, w.globexBob)
	wantCode(t, err, membership.CodeNotFound)
	after := w.state()
	if got := len(after[w.org.ID].Events) - len(before[w.org.ID].Events); got != 3 {
		t.Errorf("refusal events: got %d, want 3", got)
	}
	after[w.org.ID].Events = before[w.org.ID].Events
	for id := range before {
		if diff := cmp.Diff(after[id], before[id]); diff != "" {
			t.Errorf("organization %d changed (-got +want):\n%s", id, diff)
		}
	}
}

func removeFromGroup(w *world, a membership.Actor, g *membership.Group, m *membership.Member) (*membership.Report, error) {
	return w.svc.RemoveGroupMember(w.ctx, a, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: g.ID}, Member: membership.MemberRef{ID: m.ID},
	})
}

func testRemoveGroupMemberOnlyThatGroup(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ev0 := w.lastEventID(w.org.ID)
	rep, err := removeFromGroup(w, w.owner, w.eng, w.bob)
	if err != nil {
		t.Fatalf("RemoveGroupMember: %v", err)
	}
	if got := groupIDs(rep.Groups); !slices.Equal(got, []int64{w.eng.ID}) {
		t.Errorf("report groups: got %v, want only Eng", got)
	}
	if len(rep.Spaces) != 0 || len(rep.Roles) != 0 {
		t.Errorf("report spaces/roles: got %v / %v, want none", spaceIDs(rep.Spaces), rep.Roles)
	}
	wantGrants := []string{grantKey("group", w.deskHQ, w.eng.ID), grantKey("group", w.shared, w.eng.ID)}
	if got := grantKeys(w, rep.Grants); !slices.Equal(sorted(got), sorted(wantGrants)) {
		t.Errorf("report grants: got %v, want Eng's group grants %v", got, wantGrants)
	}
	// The desk came only through Eng. The shared room also comes directly
	// and through Ops, and keeps both.
	if acc := w.access(w.bob, w.deskHQ); acc.Allowed {
		t.Errorf("bob still reaches the HQ desk: %+v", acc)
	}
	acc := w.access(w.bob, w.shared)
	if !acc.Allowed || !acc.Direct || !slices.Equal(acc.GroupIDs, []int64{w.ops.ID}) {
		t.Errorf("bob's access to the shared room: got %+v, want direct and through Ops only", acc)
	}
	for _, r := range []*membership.Resource{w.parkHQ, w.roomLab, w.printer, w.lockOps} {
		if !w.access(w.bob, r).Allowed {
			t.Errorf("bob lost %s, which never came through Eng", r.Name)
		}
	}
	if acc := w.access(w.carol, w.deskHQ); !acc.Allowed || !slices.Equal(acc.GroupIDs, []int64{w.eng.ID}) {
		t.Errorf("carol's access to the HQ desk through Eng: got %+v", acc)
	}
	// Eng's grants belong to the group and stay active.
	grants, err := w.svc.Grants(w.ctx, w.owner, membership.GrantListParams{GroupIDs: []int64{w.eng.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range grants {
		if g.Status != membership.StatusActive {
			t.Errorf("Eng grant %d: got %s, want active", g.ID, g.Status)
		}
	}
	if got := bookingIDs(rep.Bookings); !slices.Equal(got, []int64{w.futureDesk.ID}) {
		t.Errorf("report bookings: got %v, want only the HQ desk's", got)
	}
	evs := w.eventsAfter(w.org.ID, ev0)
	if len(evs) != 1 || evs[0].Action != "group_member.removed" || evs[0].ID != rep.EventID {
		t.Errorf("events: got %s, want one group_member.removed", describeEvents(evs))
	}
}

func testRemoveGroupMemberNotMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := removeFromGroup(w, w.owner, w.ops, w.carol)
	wantErr(t, err, membership.ErrNotMember)
	w.assertRefused(before, "group_member.removed")
	if _, err := removeFromGroup(w, w.owner, w.ops, w.bob); err != nil {
		t.Fatal(err)
	}
	before = w.state()
	_, err = removeFromGroup(w, w.owner, w.ops, w.bob)
	wantErr(t, err, membership.ErrAlreadyRemoved)
	w.assertRefused(before, "group_member.removed")
}

func testRemoveGroupMemberPlainMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	for _, m := range []*membership.Member{w.bob, w.carol} {
		before := w.state()
		_, err := removeFromGroup(w, carol, w.eng, m)
		wantCode(t, err, membership.CodeForbidden)
		w.assertRefused(before, "group_member.removed")
	}
}

func accessIDs(as []*membership.Access) []int64 {
	out := []int64{}
	for _, a := range as {
		out = append(out, a.ResourceID)
	}
	return out
}
