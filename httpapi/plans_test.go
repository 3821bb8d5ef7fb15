package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// grant gives m a new direct grant of a new resource through the API.
func (e *env) grant(m *membership.Member) {
	e.tb.Helper()
	res := decode[membership.Resource](e.tb, e.must(http.StatusCreated, "POST", "/api/v1/resources", e.owner, map[string]any{"kind": "desk", "name": "Desk " + membership.NewUUID()}))
	e.must(http.StatusCreated, "POST", "/api/v1/grants", e.owner, map[string]any{"resource": res.ID, "member": m.ID})
}

func TestRemovalIfMatch(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	path := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
	preview := e.must(http.StatusOK, "DELETE", path+"?dry_run=true", e.owner, nil)
	tag := preview.Header.Get("ETag")
	if !strings.HasPrefix(tag, `"`) {
		t.Fatalf("dry run ETag: got %q, want a quoted tag", tag)
	}
	e.grant(f.member)
	p := wantProblem(t, e.call("DELETE", path, e.owner, nil, "If-Match", tag), http.StatusPreconditionFailed)
	if !strings.Contains(p.Detail, "grants") {
		t.Errorf("412 detail: got %q, want it to name grants", p.Detail)
	}
	if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
		t.Fatalf("after the 412: bob is %s, want active", st)
	}
	tag = e.must(http.StatusOK, "POST", path+"/offboard", e.owner, map[string]any{"dry_run": true}).Header.Get("ETag")
	done := e.must(http.StatusOK, "DELETE", path, e.owner, nil, "If-Match", tag)
	if got := done.Header.Get("ETag"); got != tag {
		t.Errorf("removal's ETag: got %s, want the plan's %s", got, tag)
	}
	if st := e.memberStatus(f.member.ID); st != membership.StatusRemoved {
		t.Errorf("after the removal: bob is %s, want removed", st)
	}
}

func TestBatchDryRun(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	body := map[string]any{"scope": "organization", "members": []map[string]any{{"id": f.member.ID}}, "dry_run": true}
	r := e.must(http.StatusOK, "POST", "/api/v1/removals", e.owner, body)
	res := decode[membership.BatchResult](t, r)
	if !res.DryRun || res.Removed != 1 || r.Header.Get("ETag") == "" {
		t.Fatalf("batch dry run: got %s, want dry_run, one removed and an ETag", r)
	}
	if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
		t.Fatalf("after the dry run: bob is %s", st)
	}
	e.grant(f.member)
	delete(body, "dry_run")
	wantProblem(t, e.call("POST", "/api/v1/removals", e.owner, body, "If-Match", r.Header.Get("ETag")), http.StatusPreconditionFailed)
	e.must(http.StatusOK, "POST", "/api/v1/removals", e.owner, body) // without If-Match as before
}

func TestPlans(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	r := e.must(http.StatusCreated, "POST", "/api/v1/plans", e.owner, map[string]any{"kind": "member.remove", "member": f.member.ID})
	plan := decode[membership.Plan](t, r)
	if plan.Status != membership.PlanPending || plan.Report == nil || r.Header.Get("ETag") != plan.ETag ||
		r.Header.Get("Location") != "/api/v1/plans/"+plan.UUID {
		t.Fatalf("plan: got %s", r)
	}
	e.grant(f.member)
	wantProblem(t, e.call("POST", "/api/v1/plans/"+plan.UUID+"/execute", e.owner, nil), http.StatusPreconditionFailed)
	if got := decode[membership.Plan](t, e.must(http.StatusOK, "GET", "/api/v1/plans/"+plan.UUID, e.owner, nil)); got.Status != membership.PlanPending {
		t.Errorf("after a 412 the plan is %s, want pending", got.Status)
	}

	plan = decode[membership.Plan](t, e.must(http.StatusCreated, "POST", "/api/v1/plans", e.owner, map[string]any{
		"scope": "space", "space": f.space.ID, "members": []map[string]any{{"id": f.member.ID}}}))
	done := decode[membership.Plan](t, e.must(http.StatusOK, "POST", "/api/v1/plans/"+plan.UUID+"/execute", e.owner, nil))
	if done.Status != membership.PlanExecuted || done.Batch == nil || done.Batch.Removed != 1 {
		t.Errorf("executed plan: got %+v", done)
	}
	wantProblem(t, e.call("POST", "/api/v1/plans/"+plan.UUID+"/execute", e.owner, nil), http.StatusConflict)
	wantProblem(t, e.call("POST", "/api/v1/plans", e.owner, map[string]any{}), http.StatusBadRequest)
}

func TestUndoRemoval(t *testing.T) {
	e := newEnv(t)
	bob, carol := e.fixture("bob@acme.test"), e.fixture("carol@acme.test")
	r := e.must(http.StatusOK, "POST", "/api/v1/removals", e.owner, map[string]any{"scope": "organization",
		"members": []map[string]any{{"id": bob.member.ID}, {"id": carol.member.ID}}})
	id := r.Header.Get("Removal-Id")
	if id == "" {
		t.Fatalf("batch removal without Removal-Id: %s", r)
	}
	e.must(http.StatusOK, "POST", fmt.Sprintf("/api/v1/members/%d/restore", bob.member.ID), e.owner, nil)
	rm := decode[membership.Removal](t, e.must(http.StatusOK, "POST", "/api/v1/removals/"+id+"/undo", e.owner, nil))
	if rm.Undo == nil || len(rm.Undo.Items) != 2 || rm.Undo.Items[0].Outcome != membership.UndoChanged ||
		rm.Undo.Items[1].Outcome != membership.UndoRestored {
		t.Fatalf("undo: got %+v", rm.Undo)
	}
	if st := e.memberStatus(carol.member.ID); st != membership.StatusActive {
		t.Errorf("carol after undo: %s", st)
	}
	wantProblem(t, e.call("POST", "/api/v1/removals/"+id+"/undo", e.owner, nil), http.StatusConflict)
}

func TestPolicyHeldPlan(t *testing.T) {
	e := newEnv(t)
	bob, carol := e.fixture("bob@acme.test"), e.fixture("carol@acme.test")
	e.must(http.StatusOK, "PUT", "/api/v1/policy", e.owner, map[string]any{"max_per_call": 1, "max_per_hour": 0})
	r := e.call("POST", "/api/v1/removals", e.owner, map[string]any{"scope": "organization",
		"members": []map[string]any{{"id": bob.member.ID}, {"id": carol.member.ID}}})
	wantProblem(t, r, http.StatusConflict)
	held := decode[struct {
		Plan string `json:"plan"`
	}](t, r)
	if held.Plan == "" {
		t.Fatalf("409 names no plan: %s", r)
	}
	wantProblem(t, e.call("POST", "/api/v1/plans/"+held.Plan+"/approve", e.owner, nil), http.StatusForbidden)
	if st := e.memberStatus(bob.member.ID); st != membership.StatusActive {
		t.Fatalf("bob after the refusal: %s", st)
	}
	p := decode[membership.Plan](t, e.must(http.StatusOK, "POST", "/api/v1/plans/"+held.Plan+"/execute", e.owner, map[string]any{"force": true}))
	if !p.Forced || p.Status != membership.PlanExecuted || e.memberStatus(carol.member.ID) != membership.StatusRemoved {
		t.Errorf("forced plan: got %+v", p)
	}
}
