package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var restoreMemberTests = []test{
	{"SameAccessBack", testRestoreSameAccess},
	{"OnlyWhatTheRemovalTook", testRestoreOnlyWhatRemovalTook},
	{"RepeatedCycles", testRestoreRepeatedCycles},
	{"ErrConflictActive", testRestoreActive},
	{"ErrForbiddenPlainMember", testRestorePlainMember},
	{"ErrNotFoundOtherOrganization", testRestoreOtherOrganization},
}

// access state of one member: what a restore must bring back.
type memberAccess struct {
	Spaces []*membership.SpaceMember
	Groups []*membership.GroupMember
	Direct []*membership.Grant
	Access []*membership.Access
}

func (w *world) memberAccess(m *membership.Member) memberAccess {
	w.tb.Helper()
	var ma memberAccess
	err := w.store.View(w.ctx, func(tx membership.Tx) error {
		var err error
		if ma.Spaces, err = tx.SpaceMemberList(w.ctx, &membership.SpaceMemberListParams{OrgID: m.OrgID, MemberID: m.ID, Status: membership.StatusActive}); err != nil {
			return err
		}
		if ma.Groups, err = tx.GroupMemberList(w.ctx, &membership.GroupMemberListParams{OrgID: m.OrgID, MemberID: m.ID, Status: membership.StatusActive}); err != nil {
			return err
		}
		if ma.Direct, err = tx.GrantList(w.ctx, &membership.GrantListParams{OrgID: m.OrgID, MemberID: m.ID, Status: membership.StatusActive}); err != nil {
			return err
		}
		ma.Access, err = tx.AccessList(w.ctx, m.OrgID, m.ID)
		return err
	})
	if err != nil {
		w.tb.Fatalf("access state of %s: %v", m.Email, err)
	}
	return ma
}

func restore(w *world, a membership.Actor, m *membership.Member) (*membership.Report, error) {
	return w.svc.RestoreMember(w.ctx, a, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: m.ID}})
}

func testRestoreSameAccess(t *testing.T, open Opener) {
	w := newWorld(t, open)
	had := w.memberAccess(w.bob)
	if len(had.Spaces) != 2 || len(had.Groups) != 2 || len(had.Direct) != 4 || len(had.Access) != 6 {
		t.Fatalf("bob before removal: %d spaces, %d groups, %d direct grants, %d resources; want 2, 2, 4, 6",
			len(had.Spaces), len(had.Groups), len(had.Direct), len(had.Access))
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	ev0 := w.lastEventID(w.org.ID)
	rep, err := restore(w, w.owner, w.bob)
	if err != nil {
		t.Fatalf("RestoreMember: %v", err)
	}
	if diff := cmp.Diff(w.memberAccess(w.bob), had); diff != "" {
		t.Errorf("bob after restore differs from before removal (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(memberAccess{rep.Spaces, rep.Groups, grantsOf(rep.Grants), rep.RemainingAccess}, had); diff != "" {
		t.Errorf("restore report differs from what bob had (-got +want):\n%s", diff)
	}
	m := w.member(w.bob.ID)
	if !m.Active() || m.RemovedAt != nil || m.RemovedBy != 0 {
		t.Errorf("member after restore: got %+v, want active with no removal", m)
	}
	h := w.history(w.bob.ID)
	if len(h.Periods) != 2 || h.Periods[0].EndedAt == nil || h.Periods[1].EndedAt != nil ||
		!h.Periods[1].StartedAt.Equal(w.clock.Now()) || h.Periods[1].StartedBy != w.ownerMember.ID {
		t.Errorf("periods: got %s, want the old one closed and a new one opened now by the owner", jsonString(h.Periods))
	}
	for _, b := range h.Bookings {
		want := membership.BookingCancelled
		if b.ID == w.pastPrinter.ID {
			want = membership.BookingActive
		}
		if b.Status != want {
			t.Errorf("booking %d after restore: got %s, want %s (cancelled bookings stay cancelled)", b.ID, b.Status, want)
		}
	}
	evs := w.eventsAfter(w.org.ID, ev0)
	if len(evs) != 1 || evs[0].Action != "member.restored" || evs[0].Outcome != membership.OutcomeOK || evs[0].ID != rep.EventID {
		t.Errorf("events: got %s, want one member.restored", describeEvents(evs))
	}
	// Restored means usable: bob can book again.
	w.book(w.deskHQ, w.bob, T0.Add(72*time.Hour))
}

func testRestoreOnlyWhatRemovalTook(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := removeFromSpace(w, w.owner, w.lab, w.bob); err != nil {
		t.Fatal(err)
	}
	if _, err := removeFromGroup(w, w.owner, w.ops, w.bob); err != nil {
		t.Fatal(err)
	}
	had := w.memberAccess(w.bob)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	if _, err := restore(w, w.owner, w.bob); err != nil {
		t.Fatal(err)
	}
	got := w.memberAccess(w.bob)
	if diff := cmp.Diff(got, had); diff != "" {
		t.Errorf("restore brought back more or less than the removal took (-got +want):\n%s", diff)
	}
	if w.access(w.bob, w.roomLab).Allowed || w.access(w.bob, w.lockOps).Allowed {
		t.Errorf("restore gave back Lab or Ops, which were removed on their own before")
	}
}

func testRestoreRepeatedCycles(t *testing.T, open Opener) {
	w := newWorld(t, open)
	had := w.memberAccess(w.bob)
	const cycles = 3
	for i := range cycles {
		w.clock.Advance(time.Minute)
		if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
			t.Fatalf("cycle %d remove: %v", i, err)
		}
		w.clock.Advance(time.Minute)
		if _, err := restore(w, w.owner, w.bob); err != nil {
			t.Fatalf("cycle %d restore: %v", i, err)
		}
	}
	if diff := cmp.Diff(w.memberAccess(w.bob), had); diff != "" {
		t.Errorf("bob after %d cycles (-got +want):\n%s", cycles, diff)
	}
	periods := w.history(w.bob.ID).Periods
	if len(periods) != cycles+1 {
		t.Fatalf("periods: got %d, want %d", len(periods), cycles+1)
	}
	for i, p := range periods {
		if open := p.EndedAt == nil; open != (i == cycles) {
			t.Errorf("period %d: open=%v, want only the last one open", i, open)
		}
		if i > 0 && p.StartedAt.Before(*periods[i-1].EndedAt) {
			t.Errorf("period %d starts before period %d ends", i, i-1)
		}
	}
}

func testRestoreActive(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := restore(w, w.owner, w.bob)
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(before, "member.restored")
}

func testRestorePlainMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carol := w.actorFor(w.owner, w.carol)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := restore(w, carol, w.bob)
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "member.restored")
}

func testRestoreOtherOrganization(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(w.ctx, w.globexOwner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.globexBob.ID}}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := restore(w, w.owner, w.globexBob)
	wantCode(t, err, membership.CodeNotFound)
	w.assertRefused(before, "member.restored")
}

func grantsOf(gcs []*membership.GrantChange) []*membership.Grant {
	out := []*membership.Grant{}
	for _, gc := range gcs {
		if gc.Origin != "direct" {
			continue
		}
		out = append(out, gc.Grant)
	}
	slices.SortFunc(out, func(a, b *membership.Grant) int { return int(a.ID - b.ID) })
	return out
}
