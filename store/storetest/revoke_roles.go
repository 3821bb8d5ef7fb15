package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var revokeRolesTests = []test{
	{"AllOrNothing", testRevokeRolesAllOrNothing},
	{"ExactlyThoseRoles", testRevokeRolesExactly},
	{"ErrConflictRemovedMembership", testRevokeRolesRemovedMembership},
	{"ErrForbiddenPlainMember", testRevokeRolesPlainMember},
	{"ErrNotFoundOtherOrganization", testRevokeRolesOtherOrganization},
}

func revoke(w *world, a membership.Actor, smID int64, roles ...string) (*membership.Report, error) {
	return w.svc.RevokeRoles(w.ctx, a, membership.RevokeRolesRequest{SpaceMemberID: smID, Roles: roles})
}

func (e *env) roles(smID int64) []string {
	e.tb.Helper()
	sm, err := e.svc.SpaceMembership(e.ctx, e.owner, smID)
	if err != nil {
		e.tb.Fatalf("space membership %d: %v", smID, err)
	}
	return sm.Roles
}

func testRevokeRolesAllOrNothing(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.addRole(w.bobHQ, "booker")
	before := w.state()
	_, err := revoke(w, w.owner, w.bobHQ.ID, "editor", "viewer", "approver")
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(before, "roles.revoked")
	if got := w.roles(w.bobHQ.ID); !slices.Equal(got, []string{"booker", "editor", "viewer"}) {
		t.Errorf("roles after a refused revocation: got %v, want all three still held", got)
	}
}

func testRevokeRolesExactly(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.addRole(w.bobHQ, "booker")
	ev0 := w.lastEventID(w.org.ID)
	rep, err := revoke(w, w.owner, w.bobHQ.ID, "editor", "booker", "editor")
	if err != nil {
		t.Fatalf("RevokeRoles: %v", err)
	}
	want := []*membership.RoleChange{{SpaceID: w.hq.ID, SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor", "booker"}}}
	if diff := cmp.Diff(rep.Roles, want); diff != "" {
		t.Errorf("report roles (-got +want):\n%s", diff)
	}
	if got := w.roles(w.bobHQ.ID); !slices.Equal(got, []string{"viewer"}) {
		t.Errorf("roles left: got %v, want [viewer]", got)
	}
	if got := w.roles(w.bobLab.ID); !slices.Equal(got, []string{"viewer"}) {
		t.Errorf("roles in Lab: got %v, want untouched [viewer]", got)
	}
	if m := w.member(w.bob.ID); !m.Active() {
		t.Errorf("bob: got %s, want still active", m.Status)
	}
	for _, r := range w.resources() {
		if !w.access(w.bob, r).Allowed {
			t.Errorf("revoking roles took away %s", r.Name)
		}
	}
	// The history keeps what was held: the event's before and after.
	evs := w.eventsAfter(w.org.ID, ev0)
	if len(evs) != 1 || evs[0].Action != "roles.revoked" || evs[0].Outcome != membership.OutcomeOK || evs[0].ID != rep.EventID {
		t.Fatalf("events: got %s, want one roles.revoked", describeEvents(evs))
	}
	var before, after membership.SpaceMember
	if err := json.Unmarshal(evs[0].Before, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(evs[0].After, &after); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before.Roles, []string{"booker", "editor", "viewer"}) || !slices.Equal(after.Roles, []string{"viewer"}) {
		t.Errorf("event roles: got before %v after %v, want [booker editor viewer] then [viewer]", before.Roles, after.Roles)
	}
	// Revoking them again is refused as a whole: they are no longer held.
	b := w.state()
	_, err = revoke(w, w.owner, w.bobHQ.ID, "editor")
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(b, "roles.revoked")
}

func testRevokeRolesRemovedMembership(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := removeFromSpace(w, w.owner, w.hq, w.bob); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := revoke(w, w.owner, w.bobHQ.ID, "editor")
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(before, "roles.revoked")
}

func testRevokeRolesPlainMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	before := w.state()
	_, err := revoke(w, carol, w.bobHQ.ID, "editor")
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "roles.revoked")
}

func testRevokeRolesOtherOrganization(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := revoke(w, w.globexOwner, w.bobHQ.ID, "editor")
	wantCode(t, err, membership.CodeNotFound)
	w.assertRefusedIn(before, w.globex.ID, "roles.revoked")
}

// addRole grants bob's space membership another role, straight through
// the store (the service grants roles only when adding a member).
func (w *world) addRole(sm *membership.SpaceMember, role string) {
	w.tb.Helper()
	err := w.store.Update(w.ctx, func(tx membership.Tx) error {
		return tx.SpaceRolesGrant(w.ctx, &membership.SpaceRolesParams{SpaceMemberID: sm.ID, Roles: []string{role}, At: w.clock.Now(), By: w.ownerMember.ID})
	})
	if err != nil {
		w.tb.Fatalf("grant role %s: %v", role, err)
	}
}
