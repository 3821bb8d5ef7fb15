package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var planTests = []test{
	{"DryRunTagIsTheRemovalsTag", testPlanTagStable},
	{"GrantAddedFailsAndChangesNothing", testPlanGrantAdded},
	{"EveryKindChecksItsTag", testPlanEveryKind},
	{"BatchDryRunAndTag", testPlanBatch},
	{"SavedPlanExecutesOnce", testPlanSaved},
	{"SavedPlanStaleFails", testPlanSavedStale},
	{"SavedPlanExpires", testPlanSavedExpires},
}

// planned runs remove as a dry run under a Guard and returns its tag.
func planned(t *testing.T, ctx context.Context, remove func(ctx context.Context, dry bool) error) string {
	t.Helper()
	p := &membership.Guard{}
	if err := remove(membership.WithGuard(ctx, p), true); err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if p.ETag == "" {
		t.Fatal("dry run: no ETag")
	}
	return p.ETag
}

// executed runs remove for real with If-Match tag and returns the tag the
// removal had and its error.
func executed(ctx context.Context, tag string, remove func(ctx context.Context, dry bool) error) (string, error) {
	p := &membership.Guard{IfMatch: tag}
	err := remove(membership.WithGuard(ctx, p), false)
	return p.ETag, err
}

// offboardBob offboards bob with a report limit of 1, which lists one
// grant of each origin: a tag must still see grants beyond the listed ones.
func offboardBob(w *world) func(ctx context.Context, dry bool) error {
	return func(ctx context.Context, dry bool) error {
		_, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: dry, ReportLimit: 1})
		return err
	}
}

func testPlanTagStable(t *testing.T, open Opener) {
	w := newWorld(t, open)
	remove := offboardBob(w)
	tag := planned(t, w.ctx, remove)
	if again := planned(t, w.ctx, remove); again != tag {
		t.Errorf("a second dry run: got tag %s, want %s", again, tag)
	}
	got, err := executed(w.ctx, tag, remove)
	if err != nil || got != tag {
		t.Fatalf("removal with If-Match: got %s, %v; want tag %s and no error", got, err, tag)
	}
	if m := w.member(w.bob.ID); m.Active() {
		t.Error("bob is still active after the removal")
	}
}

func testPlanGrantAdded(t *testing.T, open Opener) {
	w := newWorld(t, open)
	remove := offboardBob(w)
	tag := planned(t, w.ctx, remove)
	w.grantMember(w.createResource("desk", "Desk new", nil), w.bob)
	checkStale(t, w, tag, remove, membership.ActionMemberRemoved, "grants")
}

// checkStale runs remove with a tag made stale by a change to section:
// it must be refused naming that section, audited as action and
// change nothing, and then run with a fresh plan's tag.
func checkStale(t *testing.T, w *world, tag string, remove func(ctx context.Context, dry bool) error, action, section string) {
	t.Helper()
	before := w.state()
	_, err := executed(w.ctx, tag, remove)
	wantCode(t, err, membership.CodePreconditionFailed)
	if msg := membership.ErrorMessage(err); !strings.Contains(msg, section) || strings.Contains(msg, "the removal itself") {
		t.Errorf("412 message: got %q, want it to name %s", msg, section)
	}
	w.assertRefused(before, action)
	if _, err := executed(w.ctx, planned(t, w.ctx, remove), remove); err != nil {
		t.Errorf("with a fresh plan's tag: %v", err)
	}
}

func testPlanEveryKind(t *testing.T, open Opener) {
	w := newWorld(t, open)
	kinds := []struct {
		name, section string
		remove        func(ctx context.Context, dry bool) error
		change        func()
	}{
		{membership.ActionSpaceMemberRemoved, "space memberships", func(ctx context.Context, dry bool) error {
			_, err := w.svc.RemoveSpaceMember(ctx, w.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.hq.ID}, Member: bobRef(w), DryRun: dry})
			return err
		}, func() { w.addRole(w.bobHQ, "approver") }},
		{membership.ActionGroupMemberRemoved, "grants", func(ctx context.Context, dry bool) error {
			_, err := w.svc.RemoveGroupMember(ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.ops.ID}, Member: bobRef(w), DryRun: dry})
			return err
		}, func() { w.grantGroup(w.createResource("room", "Ops room", nil), w.ops) }},
		{membership.ActionRolesRevoked, "space memberships", func(ctx context.Context, dry bool) error {
			_, err := w.svc.RevokeRoles(ctx, w.owner, membership.RevokeRolesRequest{SpaceMemberID: w.bobLab.ID, Roles: []string{"viewer"}, DryRun: dry})
			return err
		}, func() { w.addRole(w.bobLab, "approver") }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			tag := planned(t, w.ctx, k.remove)
			k.change()
			checkStale(t, w, tag, k.remove, k.name, k.section)
		})
	}
}

func testPlanBatch(t *testing.T, open Opener) {
	w := newWorld(t, open)
	refs := []membership.MemberRef{{ID: w.bob.ID}, {ID: 1 << 40}, {ID: w.carol.ID}}
	var preview *membership.BatchResult
	remove := func(ctx context.Context, dry bool) error {
		res, err := w.svc.RemoveBatch(ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs, DryRun: dry})
		if dry {
			preview = res
		}
		return err
	}
	before := w.state()
	tag := planned(t, w.ctx, remove)
	w.assertUnchanged(before)
	if !preview.DryRun {
		t.Error("batch dry run: dry_run is false")
	}
	checkItems(t, preview, refs, []wantItem{{membership.OutcomeRemoved, w.bob.ID}, {membership.OutcomeNotFound, 0}, {membership.OutcomeRemoved, w.carol.ID}})

	w.addToGroup(w.owner, w.ops, w.carol)
	checkStale(t, w, tag, remove, membership.ActionBatchRemoved, "group memberships")
}

func testPlanSaved(t *testing.T, open Opener) {
	w := newWorld(t, open)
	plan, err := w.svc.CreatePlan(w.ctx, w.owner, membership.CreatePlanRequest{
		Removal: &membership.RemovalSpec{Kind: membership.KindRemoveMember, Member: &membership.MemberRef{Email: "bob@acme.test"}}})
	if err != nil {
		t.Fatalf("create plan: %v", err)
	}
	if plan.Status != membership.PlanPending || plan.ETag == "" || plan.Report == nil || !plan.Report.DryRun {
		t.Fatalf("plan: got %+v, want a pending plan with a dry-run report and a tag", plan)
	}
	if !w.member(w.bob.ID).Active() {
		t.Fatal("creating the plan removed bob")
	}
	done, err := w.svc.ExecutePlan(w.ctx, w.owner, plan.UUID)
	if err != nil {
		t.Fatalf("execute: %v", err)
	}
	if done.Status != membership.PlanExecuted || done.Report == nil || done.Report.DryRun || done.ExecutedEvent == 0 {
		t.Errorf("executed plan: got %+v", done)
	}
	if w.member(w.bob.ID).Active() {
		t.Error("bob is active after the plan ran")
	}
	got, err := w.svc.Plan(w.ctx, w.owner, plan.UUID)
	if err != nil || got.Status != membership.PlanExecuted {
		t.Errorf("plan read back: got %+v, %v", got, err)
	}
	_, err = w.svc.ExecutePlan(w.ctx, w.owner, plan.UUID)
	wantCode(t, err, membership.CodeConflict)
	_, err = w.svc.Plan(w.ctx, w.globexOwner, plan.UUID)
	wantCode(t, err, membership.CodeNotFound)

	batch, err := w.svc.CreatePlan(w.ctx, w.owner, membership.CreatePlanRequest{Batch: &membership.BatchRequest{
		Scope: membership.ScopeSpace, Space: membership.Ref{ID: w.hq.ID}, Items: []membership.MemberRef{{ID: w.carol.ID}}}})
	if err != nil || batch.Batch == nil || batch.Batch.Removed != 1 {
		t.Fatalf("batch plan: got %+v, %v", batch, err)
	}
	if _, err := w.svc.ExecutePlan(w.ctx, w.owner, batch.UUID); err != nil {
		t.Fatalf("execute batch plan: %v", err)
	}
}

func testPlanSavedStale(t *testing.T, open Opener) {
	w := newWorld(t, open)
	plan, err := w.svc.CreatePlan(w.ctx, w.owner, membership.CreatePlanRequest{
		Removal: &membership.RemovalSpec{Kind: membership.KindRemoveMember, Member: &membership.MemberRef{ID: w.bob.ID}}})
	if err != nil {
		t.Fatalf("create plan: %v", err)
	}
	w.grantMember(w.createResource("desk", "Desk new", nil), w.bob)
	before := w.state()
	_, err = w.svc.ExecutePlan(w.ctx, w.owner, plan.UUID)
	wantCode(t, err, membership.CodePreconditionFailed)
	w.assertRefused(before, "plan.execute")
	if got, _ := w.svc.Plan(w.ctx, w.owner, plan.UUID); got == nil || got.Status != membership.PlanPending {
		t.Errorf("plan after a refused execution: got %+v, want still pending", got)
	}
}

func testPlanSavedExpires(t *testing.T, open Opener) {
	w := newWorld(t, open)
	plan, err := w.svc.CreatePlan(w.ctx, w.owner, membership.CreatePlanRequest{TTL: time.Minute,
		Removal: &membership.RemovalSpec{Kind: membership.KindRemoveMember, Member: &membership.MemberRef{ID: w.bob.ID}}})
	if err != nil {
		t.Fatalf("create plan: %v", err)
	}
	w.clock.Advance(time.Minute)
	_, err = w.svc.ExecutePlan(w.ctx, w.owner, plan.UUID)
	wantCode(t, err, membership.CodeConflict)
	if !w.member(w.bob.ID).Active() {
		t.Error("an expired plan removed bob")
	}
}
