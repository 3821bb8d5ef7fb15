package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var policyTests = []test{
	{"PerCallHeldForSecondOwner", testPolicyPerCall},
	{"PerHourAcrossCallsAndInterfaces", testPolicyPerHour},
	{"ForceByOwner", testPolicyForce},
	{"OwnersOnly", testPolicyOwnersOnly},
	{"IdempotentRetryHeldOnce", testPolicyIdempotentRetry},
}

// testPolicyIdempotentRetry: a retry with the same Idempotency-Key of a
// call held above the limits gets the first answer, the same plan, and
// saves no second one; a single removal held the same way too.
func testPolicyIdempotentRetry(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.setPolicy(1, 0)
	ctx := membership.WithIdempotency(w.ctx, "held-batch", "hash-1")
	batch := func() error {
		_, err := w.svc.RemoveBatch(ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
			Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}}})
		return err
	}
	first := heldPlan(t, batch())
	before := w.state()
	if again := heldPlan(t, batch()); again != first {
		t.Fatalf("retry held plan %s, the first answer named %s", again, first)
	}
	w.assertUnchangedExceptEvents(before)
	w.setPolicy(0, 1)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	ctx = membership.WithIdempotency(w.ctx, "held-one", "hash-2")
	remove := func() error {
		_, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}})
		return err
	}
	first = heldPlan(t, remove())
	if again := heldPlan(t, remove()); again != first {
		t.Fatalf("retry held plan %s, the first answer named %s", again, first)
	}
	if m, err := w.svc.Member(w.ctx, w.owner, membership.MemberRef{ID: w.carol.ID}); err != nil || !m.Active() {
		t.Fatalf("carol after two held removals: %+v, %v", m, err)
	}
}

// setPolicy sets the organization's limits as its owner.
func (w *world) setPolicy(perCall, perHour int) {
	w.tb.Helper()
	if _, err := w.svc.SetPolicy(w.ctx, w.owner, membership.Policy{MaxPerCall: perCall, MaxPerHour: perHour}); err != nil {
		w.tb.Fatalf("set policy: %v", err)
	}
}

// heldPlan fails unless err is an approval refusal naming a plan.
func heldPlan(t *testing.T, err error) string {
	t.Helper()
	wantCode(t, err, membership.CodeApprovalRequired)
	var ar *membership.ApprovalRequired
	if !errors.As(err, &ar) || ar.PlanID == "" {
		t.Fatalf("approval refusal %v names no plan", err)
	}
	return ar.PlanID
}

func (w *world) batchBobCarol() error {
	_, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
		Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}}})
	return err
}

func testPolicyPerCall(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.setPolicy(1, 0)
	before := w.state()
	id := heldPlan(t, w.batchBobCarol())
	w.assertUnchangedExceptEvents(before)
	plan, err := w.svc.Plan(w.ctx, w.owner, id)
	if err != nil || plan.Status != membership.PlanAwaitingApproval || plan.Batch == nil || plan.Batch.Removed != 2 {
		t.Fatalf("held plan: got %+v, %v", plan, err)
	}
	_, err = w.svc.ExecutePlan(w.ctx, w.owner, id)
	wantCode(t, err, membership.CodeApprovalRequired)
	_, err = w.svc.ApprovePlan(w.ctx, w.owner, id)
	wantCode(t, err, membership.CodeForbidden)
	_, err = w.svc.ApprovePlan(w.ctx, w.adminActor, id)
	wantCode(t, err, membership.CodeForbidden)
	w.assertUnchangedExceptEvents(before)

	second := w.addMember(w.owner, "second@acme.test", membership.RoleOwner)
	done, err := w.svc.ApprovePlan(w.ctx, w.actorFor(w.owner, second), id)
	if err != nil {
		t.Fatalf("second owner's approval: %v", err)
	}
	if done.Status != membership.PlanExecuted || done.ApprovedBy != second.ID || done.RemovalID == "" {
		t.Errorf("approved plan: got %+v", done)
	}
	if w.member(w.bob.ID).Active() || w.member(w.carol.ID).Active() {
		t.Error("the approved plan left bob or carol active")
	}
	if evs := w.eventsAfter(w.org.ID, 0); !hasEvent(evs, "plan.approved") {
		t.Error("no plan.approved event")
	}
}

func hasEvent(evs []*membership.Event, action string) bool {
	for _, e := range evs {
		if e.Action == action && e.Outcome == membership.OutcomeOK {
			return true
		}
	}
	return false
}

func testPolicyPerHour(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.setPolicy(0, 2)
	highq := w.owner
	highq.Interface = "highq"
	if _, err := w.svc.RemoveSpaceMember(w.ctx, highq, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.hq.ID}, Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(30 * time.Minute)
	if _, err := w.svc.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.eng.ID}, Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := w.svc.RemoveMember(w.ctx, highq, membership.RemoveMemberRequest{Member: bobRef(w)})
	heldPlan(t, err)
	w.assertUnchangedExceptEvents(before)
	// A dry run is not a removal: it is neither counted nor held.
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w), DryRun: true}); err != nil {
		t.Errorf("dry run above the hourly limit: %v", err)
	}
	w.clock.Advance(31 * time.Minute) // the first removal leaves the window
	if _, err := w.svc.RemoveMember(w.ctx, highq, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Errorf("removal once the hour has passed: %v", err)
	}
}

func testPolicyForce(t *testing.T, open Opener) {
	w := newWorld(t, open)
	w.setPolicy(1, 0)
	id := heldPlan(t, w.batchBobCarol())
	_, err := w.svc.ForcePlan(w.ctx, w.adminActor, id)
	wantCode(t, err, membership.CodeForbidden)
	done, err := w.svc.ForcePlan(w.ctx, w.owner, id)
	if err != nil || !done.Forced || done.Status != membership.PlanExecuted {
		t.Fatalf("forced plan: got %+v, %v", done, err)
	}
	if !hasEvent(w.eventsAfter(w.org.ID, 0), "plan.forced") {
		t.Error("no plan.forced event")
	}
}

func testPolicyOwnersOnly(t *testing.T, open Opener) {
	w := newWorld(t, open)
	_, err := w.svc.SetPolicy(w.ctx, w.adminActor, membership.Policy{MaxPerCall: 5})
	wantCode(t, err, membership.CodeForbidden)
	w.setPolicy(5, 50)
	p, err := w.svc.Policy(w.ctx, w.owner)
	if err != nil || p.MaxPerCall != 5 || p.MaxPerHour != 50 {
		t.Errorf("policy: got %+v, %v", p, err)
	}
}
