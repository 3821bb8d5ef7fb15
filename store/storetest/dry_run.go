package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var dryRunTests = []test{
	{"RemoveMember", testDryRunRemoveMember},
	{"RemoveSpaceMember", testDryRunRemoveSpaceMember},
	{"RemoveGroupMember", testDryRunRemoveGroupMember},
	{"RevokeRoles", testDryRunRevokeRoles},
	{"Refusal", testDryRunRefusal},
}

// checkDryRun runs remove as a dry run and then for real, and checks that
// the preview changed nothing at all and said exactly what the removal did.
func checkDryRun(t *testing.T, w *world, remove func(dry bool) (*membership.Report, error)) {
	t.Helper()
	before := w.state()
	preview, err := remove(true)
	if err != nil || preview == nil {
		t.Fatalf("dry run: got %v, %v; want a report", preview, err)
	}
	if !preview.DryRun || preview.EventID != 0 {
		t.Errorf("dry run report: got dry_run=%v event_id=%d, want true and 0", preview.DryRun, preview.EventID)
	}
	w.assertUnchanged(before)

	real, err := remove(false)
	if err != nil || real == nil {
		t.Fatalf("removal after the dry run: got %v, %v; want a report", real, err)
	}
	if real.DryRun || real.EventID == 0 {
		t.Errorf("real report: got dry_run=%v event_id=%d, want false and the event", real.DryRun, real.EventID)
	}
	p, r := *preview, *real
	p.DryRun, p.EventID, r.DryRun, r.EventID = false, 0, false, 0
	p.Receipt, r.Receipt = nil, nil
	if diff := cmp.Diff(p, r); diff != "" {
		t.Errorf("dry run differs from the removal (-dry run +removal):\n%s", diff)
	}
	if len(r.Spaces)+len(r.Roles)+len(r.Groups)+len(r.Grants)+len(r.Bookings) == 0 {
		t.Errorf("the removal took nothing away, so the comparison proves nothing: %+v", r)
	}
}

func testDryRunRemoveMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		return w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: dry})
	})
}

func testDryRunRemoveSpaceMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		return w.svc.RemoveSpaceMember(w.ctx, w.owner, membership.RemoveSpaceMemberRequest{
			Space: membership.Ref{ID: w.hq.ID}, Member: bobRef(w), DryRun: dry,
		})
	})
}

func testDryRunRemoveGroupMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		return w.svc.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{
			Group: membership.Ref{ID: w.ops.ID}, Member: bobRef(w), DryRun: dry,
		})
	})
}

func testDryRunRevokeRoles(t *testing.T, open Opener) {
	w := newWorld(t, open)
	checkDryRun(t, w, func(dry bool) (*membership.Report, error) {
		return w.svc.RevokeRoles(w.ctx, w.owner, membership.RevokeRolesRequest{
			SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor"}, DryRun: dry,
		})
	})
}

// A dry run of a removal that would be refused is refused the same way,
// and still changes nothing.
func testDryRunRefusal(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: true})
	wantErr(t, err, membership.ErrAlreadyRemoved)
	_, err = w.svc.RemoveMember(w.ctx, w.adminActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.ownerMember.ID}, DryRun: true})
	wantCode(t, err, membership.CodeForbidden)
	w.assertUnchanged(before)
}
