package storetest

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var removeBatchTests = []test{
	{"OutcomesInOrder", testBatchOutcomes},
	{"RefusedItemKeepsOthers", testBatchRefusedItemKeepsOthers},
	{"RefusedItemUndoneAlone", testBatchRefusedItemUndoneAlone},
	{"GroupScope", testBatchGroupScope},
	{"SpaceScope", testBatchSpaceScope},
	{"FutureBookings", testBatchFutureBookings},
	{"ErrInvalidOverLimit", testBatchOverLimit},
	{"ErrInvalidRequest", testBatchInvalidRequest},
}

type wantItem struct {
	outcome  string
	memberID int64
}

// checkItems compares a batch result with the outcomes wanted, in order.
func checkItems(t *testing.T, res *membership.BatchResult, refs []membership.MemberRef, want []wantItem) {
	t.Helper()
	if len(res.Items) != len(want) {
		t.Fatalf("items: got %d, want %d", len(res.Items), len(want))
	}
	removed := 0
	for i, it := range res.Items {
		if it.Index != i || it.Ref != refs[i] {
			t.Errorf("item %d: got index %d ref %+v, want the request's order", i, it.Index, it.Ref)
		}
		if it.Outcome != want[i].outcome || it.MemberID != want[i].memberID {
			t.Errorf("item %d (%+v): got %s member %d (%q), want %s member %d", i, refs[i], it.Outcome, it.MemberID, it.Message, want[i].outcome, want[i].memberID)
		}
		if it.Outcome == membership.OutcomeRemoved {
			removed++
		} else if it.Message == "" {
			t.Errorf("item %d: refused with no message", i)
		}
	}
	if res.Removed != removed || res.Failed != len(want)-removed {
		t.Errorf("totals: got removed %d failed %d, want %d and %d", res.Removed, res.Failed, removed, len(want)-removed)
	}
}

func testBatchOutcomes(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ev0 := w.lastEventID(w.org.ID)
	refs := []membership.MemberRef{
		{ID: w.bob.ID},
		{Email: "BOB@ACME.TEST"},
		{ID: 1 << 40},
		{Raw: "not-an-id"},
		{ID: w.globexBob.ID},
		{UUID: w.carol.UUID},
		{UUID: w.carol.UUID},
		{},
	}
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{
		{membership.OutcomeRemoved, w.bob.ID},
		{membership.OutcomeAlreadyRemoved, 0},
		{membership.OutcomeNotFound, 0},
		{membership.OutcomeInvalid, 0},
		{membership.OutcomeNotFound, 0},
		{membership.OutcomeRemoved, w.carol.ID},
		{membership.OutcomeAlreadyRemoved, 0},
		{membership.OutcomeInvalid, 0},
	})
	for _, m := range []*membership.Member{w.bob, w.carol} {
		if got := w.member(m.ID); got.Active() {
			t.Errorf("%s: got active, want removed", m.Email)
		}
	}
	if m, err := w.svc.Member(w.ctx, w.globexOwner, membership.MemberRef{ID: w.globexBob.ID}); err != nil || !m.Active() {
		t.Errorf("Globex's bob: got %+v, %v; want untouched", m, err)
	}
	evs := w.eventsAfter(w.org.ID, ev0)
	if got := countEvents(evs, "member.removed", membership.OutcomeOK); got != 2 {
		t.Errorf("member.removed events: got %d, want 2", got)
	}
	if got := countEvents(evs, "member.removed", membership.OutcomeRefused); got != 6 {
		t.Errorf("refused item events: got %d, want 6", got)
	}
	if len(evs) != 8 {
		t.Errorf("events: got %s, want 2 removals and 6 refused items", describeEvents(evs))
	}
}

func testBatchRefusedItemKeepsOthers(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: w.ownerMember.ID}, {ID: w.carol.ID}}
	res, err := w.svc.RemoveBatch(w.ctx, w.adminActor, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{
		{membership.OutcomeRemoved, w.bob.ID},
		{membership.OutcomeForbidden, 0},
		{membership.OutcomeRemoved, w.carol.ID},
	})
	if m := w.member(w.ownerMember.ID); !m.Active() {
		t.Errorf("owner: got %s, want untouched", m.Status)
	}
	// The items on both sides of the refusal are complete removals.
	for _, m := range []*membership.Member{w.bob, w.carol} {
		h := w.history(m.ID)
		if h.Member.Active() || len(h.Periods) != 1 || h.Periods[0].EndedAt == nil {
			t.Errorf("%s: got %s with periods %+v, want removed with its period closed", m.Email, h.Member.Status, h.Periods)
		}
		for _, sm := range h.Spaces {
			if sm.Status != membership.StatusRemoved {
				t.Errorf("%s still in space %d", m.Email, sm.SpaceID)
			}
		}
		for _, r := range w.resources() {
			if w.access(m, r).Allowed {
				t.Errorf("%s still reaches %s", m.Email, r.Name)
			}
		}
	}
	// The same with the refusal first and last.
	w2 := newWorld(t, open)
	refs = []membership.MemberRef{{ID: w2.ownerMember.ID}, {ID: w2.bob.ID}, {ID: w2.admin.ID}}
	res, err = w2.svc.RemoveBatch(w2.ctx, w2.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{
		{membership.OutcomeConflict, 0}, // the last owner
		{membership.OutcomeRemoved, w2.bob.ID},
		{membership.OutcomeRemoved, w2.admin.ID},
	})
}

// An item refused after it has written (here: its event is refused) is
// rolled back to its savepoint, and only it: the items before and after
// it stay removed, and its own member is exactly as before.
func testBatchRefusedItemUndoneAlone(t *testing.T, open Opener) {
	w := newWorld(t, open)
	carolBefore := w.memberAccess(w.carol)
	refuseCarol := func(e *membership.Event) error {
		if e.Action == "member.removed" && e.Outcome == membership.OutcomeOK && e.TargetMemberID == w.carol.ID {
			return membership.Errorf(membership.CodeConflict, "injected refusal after the item's writes")
		}
		return nil
	}
	svc := membership.NewService(faultyStore{w.store, refuseCarol}, membership.Config{Now: w.clock.Now})
	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}, {ID: w.admin.ID}}
	res, err := svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{
		{membership.OutcomeRemoved, w.bob.ID},
		{membership.OutcomeConflict, 0},
		{membership.OutcomeRemoved, w.admin.ID},
	})
	if m := w.member(w.carol.ID); !m.Active() || m.RemovedAt != nil {
		t.Errorf("carol: got %s removed at %v, want untouched", m.Status, m.RemovedAt)
	}
	if diff := cmp.Diff(w.memberAccess(w.carol), carolBefore); diff != "" {
		t.Errorf("carol's refused item was not undone (-got +want):\n%s", diff)
	}
	if h := w.history(w.carol.ID); len(h.Periods) != 1 || h.Periods[0].EndedAt != nil {
		t.Errorf("carol's periods: got %s, want the one open period", jsonString(h.Periods))
	}
	for _, m := range []*membership.Member{w.bob, w.admin} {
		if h := w.history(m.ID); h.Member.Active() || h.Periods[len(h.Periods)-1].EndedAt == nil {
			t.Errorf("%s: got %s, want removed with the period closed", m.Email, h.Member.Status)
		}
	}
	evs := w.events(w.org.ID)
	if n := countEvents(evs, "member.removed", membership.OutcomeOK); n != 2 {
		t.Errorf("member.removed events: got %d, want 2 (bob, admin)", n)
	}
}

func testBatchGroupScope(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: w.admin.ID}, {Email: "carol@acme.test"}, {ID: w.bob.ID}, {ID: 1 << 40}}
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{
		Scope: membership.ScopeGroup, Group: membership.Ref{UUID: w.eng.UUID}, Items: refs,
	})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{
		{membership.OutcomeRemoved, w.bob.ID},
		{membership.OutcomeNotMember, 0},
		{membership.OutcomeRemoved, w.carol.ID},
		{membership.OutcomeAlreadyRemoved, 0},
		{membership.OutcomeNotFound, 0},
	})
	for _, m := range []*membership.Member{w.bob, w.carol} {
		if w.access(m, w.deskHQ).Allowed {
			t.Errorf("%s still reaches the HQ desk through Eng", m.Email)
		}
		if !w.member(m.ID).Active() {
			t.Errorf("%s was removed from the organization by a group batch", m.Email)
		}
	}
	if !w.access(w.bob, w.lockOps).Allowed || !w.access(w.carol, w.lockOps).Allowed {
		t.Errorf("the Ops door was lost through an Eng batch")
	}
}

func testBatchSpaceScope(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{{ID: w.carol.ID}, {ID: w.bob.ID}}
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{
		Scope: membership.ScopeSpace, Space: membership.Ref{ID: w.lab.ID}, Items: refs,
	})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{{membership.OutcomeNotMember, 0}, {membership.OutcomeRemoved, w.bob.ID}})
	if w.access(w.bob, w.roomLab).Allowed || !w.access(w.bob, w.deskHQ).Allowed {
		t.Errorf("bob after leaving Lab: got lab room %v, HQ desk %v; want false, true",
			w.access(w.bob, w.roomLab).Allowed, w.access(w.bob, w.deskHQ).Allowed)
	}
	// Only the Lab room's booking loses its access with the space.
	if got, want := cancelledBookings(w, w.bob), []int64{w.futureRoom.ID}; !slices.Equal(got, want) {
		t.Errorf("bob's cancelled bookings: got %v, want %v", got, want)
	}
}

func testBatchOverLimit(t *testing.T, open Opener) {
	w := newWorld(t, open, batchLimit(3))
	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}, {ID: w.admin.ID}, {ID: 1 << 40}}
	for _, scope := range []membership.BatchScope{membership.ScopeOrganization, membership.ScopeGroup} {
		before := w.state()
		_, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: scope, Group: membership.Ref{ID: w.eng.ID}, Items: refs})
		wantCode(t, err, membership.CodeInvalid)
		w.assertRefused(before, "batch.removed")
	}
	// At the limit it goes through.
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs[:3]})
	if err != nil {
		t.Fatalf("RemoveBatch at the limit: %v", err)
	}
	if res.Removed != 3 {
		t.Errorf("removed at the limit: got %d, want 3", res.Removed)
	}
}

func testBatchInvalidRequest(t *testing.T, open Opener) {
	w := newWorld(t, open)
	gGroup, err := w.svc.CreateGroup(w.ctx, w.globexOwner, "Globex Eng")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  membership.BatchRequest
		code membership.Code
	}{
		{"NoItems", membership.BatchRequest{Scope: membership.ScopeOrganization}, membership.CodeInvalid},
		{"UnknownScope", membership.BatchRequest{Scope: "planet", Items: []membership.MemberRef{{ID: w.bob.ID}}}, membership.CodeInvalid},
		{"OtherOrganizationsGroup", membership.BatchRequest{Scope: membership.ScopeGroup, Group: membership.Ref{ID: gGroup.ID},
			Items: []membership.MemberRef{{ID: w.bob.ID}}}, membership.CodeNotFound},
		{"UnknownSpace", membership.BatchRequest{Scope: membership.ScopeSpace, Space: membership.Ref{ID: 1 << 40},
			Items: []membership.MemberRef{{ID: w.bob.ID}}}, membership.CodeNotFound},
	}
	for _, c := range cases {
		before := w.state()
		_, err := w.svc.RemoveBatch(w.ctx, w.owner, c.req)
		if got := membership.ErrorCode(err); got != c.code {
			t.Errorf("%s: got %q (%v), want %q", c.name, got, err, c.code)
		}
		w.assertRefused(before, "batch.removed")
	}
}

// testBatchFutureBookings checks that a batch cancels the future bookings
// of the members it removes as a single removal does, next to members
// holding none (the batch reads once which of its members hold any);
// testBatchSpaceScope checks the same for a space.
func testBatchFutureBookings(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{{ID: w.carol.ID}, {ID: w.bob.ID}}
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs})
	if err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	checkItems(t, res, refs, []wantItem{{membership.OutcomeRemoved, w.carol.ID}, {membership.OutcomeRemoved, w.bob.ID}})
	want := []int64{w.futurePrinter.ID, w.futureDesk.ID, w.futureRoom.ID, w.futureLock.ID}
	if got := cancelledBookings(w, w.bob); !slices.Equal(got, want) {
		t.Errorf("bob's cancelled bookings: got %v, want the future ones %v", got, want)
	}
}

// cancelledBookings lists m's cancelled bookings in id order.
func cancelledBookings(w *world, m *membership.Member) []int64 {
	var ids []int64
	for _, b := range w.history(m.ID).Bookings {
		if b.Status == membership.BookingCancelled {
			ids = append(ids, b.ID)
		}
	}
	return ids
}
