package storetest

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var removeMemberTests = []test{
	{"Cascade", testRemoveMemberCascade},
	{"Bookings", testRemoveMemberBookings},
	{"KeepFutureBookings", testRemoveMemberKeepFutureBookings},
	{"History", testRemoveMemberHistory},
	{"ErrAlreadyRemoved", testRemoveMemberAlreadyRemoved},
	{"ErrLastOwner", testRemoveMemberLastOwner},
	{"ErrNotFoundOtherOrganization", testRemoveMemberOtherOrganization},
	{"ErrNotFoundUnknown", testRemoveMemberUnknown},
}

func testRemoveMemberCascade(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ev0 := w.lastEventID(w.org.ID)
	globexBefore := w.snapshot(w.globex.ID)

	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}

	// The report says what went.
	if rep.DryRun || rep.Member.ID != w.bob.ID || rep.Member.Status != membership.StatusRemoved {
		t.Errorf("report member: got %+v dry=%v, want bob removed for real", rep.Member, rep.DryRun)
	}
	if got, want := spaceIDs(rep.Spaces), []int64{w.hq.ID, w.lab.ID}; !slices.Equal(got, want) {
		t.Errorf("report spaces: got %v, want %v", got, want)
	}
	wantRoles := []*membership.RoleChange{
		{SpaceID: w.hq.ID, SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor", "viewer"}},
		{SpaceID: w.lab.ID, SpaceMemberID: w.bobLab.ID, Roles: []string{"viewer"}},
	}
	if diff := cmp.Diff(rep.Roles, wantRoles); diff != "" {
		t.Errorf("report roles (-got +want):\n%s", diff)
	}
	if got, want := groupIDs(rep.Groups), []int64{w.eng.ID, w.ops.ID}; !slices.Equal(got, want) {
		t.Errorf("report groups: got %v, want %v", got, want)
	}
	wantGrants := []string{
		grantKey("direct", w.parkHQ, 0), grantKey("direct", w.roomLab, 0), grantKey("direct", w.printer, 0),
		grantKey("direct", w.shared, 0), grantKey("group", w.deskHQ, w.eng.ID), grantKey("group", w.lockOps, w.ops.ID),
		grantKey("group", w.shared, w.eng.ID), grantKey("group", w.shared, w.ops.ID),
	}
	if got := grantKeys(w, rep.Grants); !slices.Equal(sorted(got), sorted(wantGrants)) {
		t.Errorf("report grants: got %v, want %v", got, wantGrants)
	}
	if len(rep.RemainingAccess) != 0 {
		t.Errorf("report remaining access: got %+v, want none", rep.RemainingAccess)
	}

	// The store agrees, and every path to every resource is closed.
	m := w.member(w.bob.ID)
	if m.Status != membership.StatusRemoved || m.RemovedAt == nil || !m.RemovedAt.Equal(w.clock.Now()) || m.RemovedBy != w.ownerMember.ID {
		t.Errorf("member after removal: got %+v, want removed now by the owner", m)
	}
	h := w.history(w.bob.ID)
	for _, sm := range h.Spaces {
		if sm.Status != membership.StatusRemoved || sm.Cause != membership.CauseMemberRemoved {
			t.Errorf("space membership %d: got status %s cause %q, want removed by member removal", sm.ID, sm.Status, sm.Cause)
		}
	}
	for _, gm := range h.Groups {
		if gm.Status != membership.StatusRemoved || gm.Cause != membership.CauseMemberRemoved {
			t.Errorf("group membership %d: got status %s cause %q, want removed by member removal", gm.ID, gm.Status, gm.Cause)
		}
	}
	direct, err := w.svc.Grants(w.ctx, w.owner, membership.GrantListParams{MemberID: w.bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range direct {
		if g.Status != membership.StatusRemoved || g.RevokedAt == nil {
			t.Errorf("direct grant %d: got status %s, want revoked", g.ID, g.Status)
		}
	}
	for _, r := range w.resources() {
		if acc := w.access(w.bob, r); acc.Allowed {
			t.Errorf("bob still has access to %s: %+v", r.Name, acc)
		}
	}

	// Nobody else lost anything: Carol keeps her paths, group grants stay.
	for _, r := range []*membership.Resource{w.deskHQ, w.lockOps, w.shared} {
		if acc := w.access(w.carol, r); !acc.Allowed {
			t.Errorf("carol lost access to %s", r.Name)
		}
	}
	viaGroups, err := w.svc.Grants(w.ctx, w.owner, membership.GrantListParams{GroupIDs: []int64{w.eng.ID, w.ops.ID}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range viaGroups {
		if g.Status != membership.StatusActive {
			t.Errorf("group grant %d: got %s, want active (it belongs to the group)", g.ID, g.Status)
		}
	}
	w.assertUnchanged(globexBefore)

	// One change, one event, and it is the report's.
	evs := w.eventsAfter(w.org.ID, ev0)
	if len(evs) != 1 || evs[0].Action != "member.removed" || evs[0].Outcome != membership.OutcomeOK ||
		evs[0].ID != rep.EventID || evs[0].TargetMemberID != w.bob.ID || evs[0].ActorMemberID != w.ownerMember.ID {
		t.Errorf("events of the removal: got %s, want one member.removed (id %d) of bob by the owner", describeEvents(evs), rep.EventID)
	}
}

func testRemoveMemberBookings(t *testing.T, open Opener) {
	w := newWorld(t, open)
	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	future := []int64{w.futurePrinter.ID, w.futureDesk.ID, w.futureRoom.ID, w.futureLock.ID}
	if got := bookingIDs(rep.Bookings); !slices.Equal(got, future) {
		t.Errorf("report bookings: got %v, want the future ones %v", got, future)
	}
	for _, b := range w.history(w.bob.ID).Bookings {
		isFuture := slices.Contains(future, b.ID)
		switch {
		case isFuture && (b.Status != membership.BookingCancelled || b.CancelledAt == nil || !b.CancelledAt.Equal(w.clock.Now())):
			t.Errorf("future booking %d: got %s cancelled at %v, want cancelled now", b.ID, b.Status, b.CancelledAt)
		case !isFuture && (b.Status != membership.BookingActive || b.CancelledAt != nil):
			t.Errorf("past booking %d: got %s, want kept as it was", b.ID, b.Status)
		}
	}
	if n := len(w.history(w.bob.ID).Bookings); n != 5 {
		t.Errorf("bookings kept: got %d, want all 5", n)
	}
}

func testRemoveMemberKeepFutureBookings(t *testing.T, open Opener) {
	w := newWorld(t, open, keepFutureBookings)
	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	if len(rep.Bookings) != 0 {
		t.Errorf("report bookings: got %v, want none cancelled", bookingIDs(rep.Bookings))
	}
	for _, b := range w.history(w.bob.ID).Bookings {
		if b.Status != membership.BookingActive {
			t.Errorf("booking %d: got %s, want kept active", b.ID, b.Status)
		}
	}
}

func testRemoveMemberHistory(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	h := w.history(w.bob.ID)
	if len(h.Periods) != 1 {
		t.Fatalf("periods: got %d, want 1", len(h.Periods))
	}
	p := h.Periods[0]
	if !p.StartedAt.Equal(w.bob.CreatedAt) || p.EndedAt == nil || !p.EndedAt.Equal(w.clock.Now()) || p.EndedBy != w.ownerMember.ID {
		t.Errorf("period: got %+v, want started at %v and closed now by the owner", p, w.bob.CreatedAt)
	}
	if len(h.Spaces) != 2 || len(h.Groups) != 2 || len(h.Bookings) != 5 {
		t.Errorf("history: got %d spaces, %d groups, %d bookings; want 2, 2, 5 kept", len(h.Spaces), len(h.Groups), len(h.Bookings))
	}
	evs, err := w.svc.Events(w.ctx, w.owner, membership.EventListParams{MemberID: w.bob.ID, Action: "member.removed"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("member.removed events: got %d, want 1", len(evs))
	}
	var before, after membership.Member
	if err := json.Unmarshal(evs[0].Before, &before); err != nil {
		t.Fatalf("event before: %v (%s)", err, evs[0].Before)
	}
	if err := json.Unmarshal(evs[0].After, &after); err != nil {
		t.Fatalf("event after: %v (%s)", err, evs[0].After)
	}
	if before.ID != w.bob.ID || before.Status != membership.StatusActive || after.ID != w.bob.ID || after.Status != membership.StatusRemoved {
		t.Errorf("event states: got before %s/%s after %s/%s, want bob active then removed", before.Email, before.Status, after.Email, after.Status)
	}
	// Earlier events about bob are still there: nothing was deleted.
	all, err := w.svc.Events(w.ctx, w.owner, membership.EventListParams{MemberID: w.bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	if countEvents(all, "member.added", membership.OutcomeOK) != 1 || countEvents(all, "space_member.added", membership.OutcomeOK) != 2 {
		t.Errorf("bob's earlier events are gone:%s", describeEvents(all))
	}
}

func testRemoveMemberAlreadyRemoved(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatalf("RemoveMember: %v", err)
	}
	w.clock.Advance(time.Second)
	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	wantErr(t, err, membership.ErrAlreadyRemoved)
	w.assertRefused(before, "member.removed")
	if n := countEvents(w.events(w.org.ID), "member.removed", membership.OutcomeOK); n != 1 {
		t.Errorf("member.removed events: got %d, want 1", n)
	}
}

func testRemoveMemberLastOwner(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.ownerMember.ID}})
	wantErr(t, err, membership.ErrLastOwner)
	w.assertRefused(before, "member.removed")

	second := w.addMember(w.owner, "second@acme.test", membership.RoleOwner)
	secondActor := w.actorFor(w.owner, second)
	if _, err := w.svc.RemoveMember(w.ctx, secondActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.ownerMember.ID}}); err != nil {
		t.Fatalf("remove one of two owners: %v", err)
	}
	before = w.state()
	_, err = w.svc.RemoveMember(w.ctx, secondActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: second.ID}})
	wantErr(t, err, membership.ErrLastOwner)
	w.assertRefused(before, "member.removed")
}

func testRemoveMemberOtherOrganization(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{
		{ID: w.globexBob.ID},
		{UUID: w.globexBob.UUID},
	}
	for _, ref := range refs {
		before := w.state()
		for _, dry := range []bool{true, false} {
			_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: ref, DryRun: dry})
			wantCode(t, err, membership.CodeNotFound)
		}
		w.assertRefused(before, "member.removed")
	}
	// Globex's owner cannot reach Acme's members either, whatever their role.
	for _, id := range []int64{w.bob.ID, w.ownerMember.ID} {
		before := w.state()
		_, err := w.svc.RemoveMember(w.ctx, w.globexOwner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: id}})
		wantCode(t, err, membership.CodeNotFound)
		w.assertRefusedIn(before, w.globex.ID, "member.removed")
	}
	// The e-mail bob shares names only the caller's own membership.
	if _, err := w.svc.RemoveMember(w.ctx, w.globexOwner, membership.RemoveMemberRequest{Member: membership.MemberRef{Email: "BOB@acme.test"}}); err != nil {
		t.Fatalf("remove Globex's bob by e-mail: %v", err)
	}
	if m := w.member(w.bob.ID); !m.Active() {
		t.Errorf("Acme's bob: got %s, want untouched by Globex's removal", m.Status)
	}
}

func testRemoveMemberUnknown(t *testing.T, open Opener) {
	w := newWorld(t, open)
	for _, ref := range []membership.MemberRef{{ID: 1 << 40}, {UUID: membership.NewUUID()}, {Email: "nobody@acme.test"}} {
		before := w.state()
		_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: ref})
		wantErr(t, err, membership.ErrMemberNotFound)
		w.assertRefused(before, "member.removed")
	}
}

// assertRefused fails unless, compared with before, the only change is
// one refused event with action in the env's organization.
func (e *env) assertRefused(before map[int64]*Snapshot, action string) {
	e.tb.Helper()
	e.assertRefusedIn(before, e.org.ID, action)
}

// assertRefusedIn is assertRefused for the refusal event of organization org.
func (e *env) assertRefusedIn(before map[int64]*Snapshot, org int64, action string) {
	e.tb.Helper()
	ids := make([]int64, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	after := e.snapshot(ids...)
	for _, id := range ids {
		b, a := *before[id], *after[id]
		newEvents := len(a.Events) - len(b.Events)
		wantNew := 0
		if id == org {
			wantNew = 1
		}
		if newEvents != wantNew {
			e.tb.Errorf("organization %d: got %d new events, want %d (a refused %s):%s", id, newEvents, wantNew, action, describeEvents(a.Events[:max(newEvents, 0)]))
		} else if wantNew == 1 {
			if ev := a.Events[0]; ev.Action != action || ev.Outcome != membership.OutcomeRefused || ev.Message == "" {
				e.tb.Errorf("refusal event: got %s %s %q, want %s refused with a message", ev.Action, ev.Outcome, ev.Message, action)
			}
		}
		// Events are listed newest first: the old ones are the tail.
		a.Events = a.Events[max(newEvents, 0):]
		if diff := cmp.Diff(a, b); diff != "" {
			e.tb.Errorf("organization %d changed by a refused request (-got +want):\n%s", id, diff)
		}
	}
}

func spaceIDs(sms []*membership.SpaceMember) []int64 {
	out := []int64{}
	for _, sm := range sms {
		out = append(out, sm.SpaceID)
	}
	return out
}

func groupIDs(gms []*membership.GroupMember) []int64 {
	out := []int64{}
	for _, gm := range gms {
		out = append(out, gm.GroupID)
	}
	return out
}

func bookingIDs(bs []*membership.Booking) []int64 {
	out := []int64{}
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

// grantKey names a grant by origin, resource and group for comparisons.
func grantKey(origin string, r *membership.Resource, groupID int64) string {
	return origin + ":" + r.Name + ":" + jsonString(groupID)
}

func grantKeys(w *world, gcs []*membership.GrantChange) []string {
	names := map[int64]*membership.Resource{}
	for _, r := range w.resources() {
		names[r.ID] = r
	}
	out := []string{}
	for _, gc := range gcs {
		r := names[gc.Grant.ResourceID]
		if r == nil {
			r = &membership.Resource{Name: "resource " + jsonString(gc.Grant.ResourceID)}
		}
		if gc.Origin != gc.Grant.Origin() {
			out = append(out, "origin "+gc.Origin+" disagrees with grant "+gc.Grant.Origin())
		}
		out = append(out, grantKey(gc.Origin, r, gc.Grant.GroupID))
	}
	return out
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
