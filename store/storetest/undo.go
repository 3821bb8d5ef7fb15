package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var undoTests = []test{
	{"BatchAfterSomeReAdded", testUndoBatchAfterReAdd},
	{"EveryKind", testUndoEveryKind},
	{"ReadLaterAndOnce", testUndoReadLaterAndOnce},
	{"ExecutedPlan", testUndoExecutedPlan},
	{"RemovalLogFollowsSavepoints", testRemovalLogFollowsSavepoints},
}

// removing runs remove with a Guard and returns the id of its removal.
func removing(t *testing.T, ctx context.Context, remove func(ctx context.Context) error) string {
	t.Helper()
	g := &membership.Guard{}
	if err := remove(membership.WithGuard(ctx, g)); err != nil {
		t.Fatalf("removal: %v", err)
	}
	if g.RemovalID == "" {
		t.Fatal("the removal has no id")
	}
	return g.RemovalID
}

// holds summarizes what a member holds: space memberships with roles,
// groups, direct grants and usable resources, ids only.
func (w *world) holds(m *membership.Member) string {
	w.tb.Helper()
	ma := w.memberAccess(m)
	var b strings.Builder
	for _, sm := range ma.Spaces {
		roles := slices.Clone(sm.Roles)
		slices.Sort(roles)
		fmt.Fprintf(&b, "space %d %v; ", sm.ID, roles)
	}
	for _, gm := range ma.Groups {
		fmt.Fprintf(&b, "group %d; ", gm.ID)
	}
	for _, g := range ma.Direct {
		fmt.Fprintf(&b, "grant %d; ", g.ID)
	}
	for _, a := range ma.Access {
		fmt.Fprintf(&b, "access %d; ", a.ResourceID)
	}
	return fmt.Sprintf("%s %s", w.member(m.ID).Status, b.String())
}

func wantUndo(t *testing.T, rm *membership.Removal, outcomes ...string) {
	t.Helper()
	if rm.Undo == nil || rm.UndoneAt == nil || len(rm.Undo.Items) != len(outcomes) {
		t.Fatalf("undo: got %+v, want %d items", rm.Undo, len(outcomes))
	}
	for i, it := range rm.Undo.Items {
		if it.Outcome != outcomes[i] {
			t.Errorf("undo item %d (member %d): got %s (%s), want %s", i, it.MemberID, it.Outcome, it.Message, outcomes[i])
		}
	}
}

func testUndoBatchAfterReAdd(t *testing.T, open Opener) {
	w := newWorld(t, open)
	bobHeld, carolHeld := w.holds(w.bob), w.holds(w.carol)
	id := removing(t, w.ctx, func(ctx context.Context) error {
		_, err := w.svc.RemoveBatch(ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
			Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: 1 << 40}, {ID: w.carol.ID}}})
		return err
	})
	w.clock.Advance(time.Minute)
	if _, err := restore(w, w.owner, w.bob); err != nil {
		t.Fatal(err)
	}
	// Bob, restored, changes again: the undo must not touch him.
	if _, err := w.svc.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.ops.ID}, Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	bobNow := w.holds(w.bob)
	rm, err := w.svc.UndoRemoval(w.ctx, w.owner, id)
	if err != nil {
		t.Fatalf("undo: %v", err)
	}
	wantUndo(t, rm, membership.UndoChanged, membership.UndoRestored)
	if rm.Undo.Restored != 1 || rm.Undo.Left != 1 || rm.Undo.Items[0].MemberID != w.bob.ID {
		t.Errorf("undo totals: got %+v", rm.Undo)
	}
	if got := w.holds(w.carol); got != carolHeld {
		t.Errorf("carol after undo:\n got %s\nwant %s", got, carolHeld)
	}
	if got := w.holds(w.bob); got != bobNow || got == bobHeld {
		t.Errorf("bob after undo: got %s, want him left as %s", got, bobNow)
	}
	_, err = w.svc.UndoRemoval(w.ctx, w.owner, id)
	wantCode(t, err, membership.CodeConflict)
}

func testUndoEveryKind(t *testing.T, open Opener) {
	w := newWorld(t, open)
	held := w.holds(w.bob)
	for _, remove := range []func(ctx context.Context) error{
		func(ctx context.Context) error {
			_, err := w.svc.RemoveSpaceMember(ctx, w.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.hq.ID}, Member: bobRef(w)})
			return err
		},
		func(ctx context.Context) error {
			_, err := w.svc.RemoveGroupMember(ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.eng.ID}, Member: bobRef(w)})
			return err
		},
		func(ctx context.Context) error {
			_, err := w.svc.RevokeRoles(ctx, w.owner, membership.RevokeRolesRequest{SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor"}})
			return err
		},
		func(ctx context.Context) error {
			_, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
			return err
		},
	} {
		id := removing(t, w.ctx, remove)
		if w.holds(w.bob) == held {
			t.Fatal("the removal took nothing away")
		}
		w.clock.Advance(time.Minute)
		rm, err := w.svc.UndoRemoval(w.ctx, w.owner, id)
		if err != nil {
			t.Fatalf("undo %s: %v", id, err)
		}
		wantUndo(t, rm, membership.UndoRestored)
		if got := w.holds(w.bob); got != held {
			t.Errorf("bob after undoing %s:\n got %s\nwant %s", rm.Kind, got, held)
		}
	}
}

func testUndoReadLaterAndOnce(t *testing.T, open Opener) {
	w := newWorld(t, open)
	id := removing(t, w.ctx, func(ctx context.Context) error {
		_, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
		return err
	})
	rm, err := w.svc.Removal(w.ctx, w.owner, id)
	if err != nil || rm.Kind != membership.KindRemoveMember || len(rm.Items) != 1 || len(rm.Result) == 0 || rm.UndoneAt != nil {
		t.Fatalf("removal read later: got %+v, %v", rm, err)
	}
	_, err = w.svc.Removal(w.ctx, w.globexOwner, id)
	wantCode(t, err, membership.CodeNotFound)
	_, err = w.svc.UndoRemoval(w.ctx, w.globexOwner, id)
	wantCode(t, err, membership.CodeNotFound)
	// Re-added by hand: the undo reports it and changes nothing.
	if _, err := restore(w, w.owner, w.bob); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	rm, err = w.svc.UndoRemoval(w.ctx, w.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	wantUndo(t, rm, membership.UndoChanged)
	w.assertUnchangedExceptEvents(before)
}

func testUndoExecutedPlan(t *testing.T, open Opener) {
	w := newWorld(t, open)
	held := w.holds(w.carol)
	plan, err := w.svc.CreatePlan(w.ctx, w.owner, membership.CreatePlanRequest{Batch: &membership.BatchRequest{
		Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.carol.ID}}}})
	if err != nil {
		t.Fatal(err)
	}
	done, err := w.svc.ExecutePlan(w.ctx, w.owner, plan.UUID)
	if err != nil || done.RemovalID == "" {
		t.Fatalf("execute: got %+v, %v; want a removal id", done, err)
	}
	if _, err := w.svc.UndoRemoval(w.ctx, w.owner, done.RemovalID); err != nil {
		t.Fatal(err)
	}
	if got := w.holds(w.carol); got != held {
		t.Errorf("carol after undo: got %s, want %s", got, held)
	}
}
