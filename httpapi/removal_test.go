package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/memberd/memberd/membership"
)

// snapshot reads, through the API, everything a removal could change for
// f's member, so a dry run can be shown to change none of it.
func (e *env) snapshot(f *fixture) map[string]any {
	e.tb.Helper()
	paths := []string{
		fmt.Sprintf("/api/v1/members/%d", f.member.ID),
		fmt.Sprintf("/api/v1/members/%d/history", f.member.ID),
		fmt.Sprintf("/api/v1/members/%d/access", f.member.ID),
		fmt.Sprintf("/api/v1/spaces/%d/members", f.space.ID),
		fmt.Sprintf("/api/v1/space-memberships/%d", f.sm.ID),
		fmt.Sprintf("/api/v1/groups/%d/members", f.group.ID),
		"/api/v1/grants",
		"/api/v1/bookings",
		"/api/v1/events?limit=1000",
		"/api/v1/members",
	}
	snap := map[string]any{}
	for _, p := range paths {
		var v any
		if err := json.Unmarshal(e.must(200, "GET", p, e.owner, nil).Body, &v); err != nil {
			e.tb.Fatalf("decode %s: %v", p, err)
		}
		snap[p] = v
	}
	return snap
}

func TestRemoveMember(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		rep := decode[membership.Report](t, e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d", f.member.ID), e.owner, nil))
		if rep.Member.Status != membership.StatusRemoved || len(rep.Spaces) != 1 || len(rep.Groups) != 1 ||
			len(rep.Grants) != 2 || len(rep.Bookings) != 1 || len(rep.RemainingAccess) != 0 {
			t.Fatalf("report: %+v", rep)
		}
		// Acknowledged means effective: no access through any path.
		for _, res := range []int64{f.desk.ID, f.room.ID} {
			acc := decode[membership.Access](t, e.must(200, "GET", fmt.Sprintf("/api/v1/access?member=%d&resource=%d", f.member.ID, res), e.owner, nil))
			if acc.Allowed {
				t.Errorf("resource %d still allowed after removal: %+v", res, acc)
			}
		}
		if st := e.memberStatus(f.member.ID); st != membership.StatusRemoved {
			t.Errorf("status %s after removal", st)
		}
	})
	t.Run("ErrAlreadyRemoved", func(t *testing.T) {
		e := newEnv(t)
		m := e.addMember("bob@acme.test", membership.RoleMember)
		e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d", m.ID), e.owner, nil)
		wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d", m.ID), e.owner, nil), http.StatusConflict)
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		e := newEnv(t)
		for _, ref := range []string{"999999", "nobody@acme.test", "7d0c4c84-7f5b-4a8e-9d3a-1f6c2b8e9a10"} {
			wantProblem(t, e.call("DELETE", "/api/v1/members/"+ref, e.owner, nil), http.StatusNotFound)
		}
	})
	t.Run("ErrLastOwner", func(t *testing.T) {
		e := newEnv(t)
		wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d", e.org.Owner.ID), e.owner, nil), http.StatusConflict)
		if st := e.memberStatus(e.org.Owner.ID); st != membership.StatusActive {
			t.Fatalf("owner %s", st)
		}
	})
}

func TestDryRun(t *testing.T) {
	ignore := cmpopts.IgnoreFields(membership.Report{}, "DryRun", "EventID", "Receipt")
	t.Run("Offboard", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		before := e.snapshot(f)
		path := fmt.Sprintf("/api/v1/members/%d/offboard", f.member.ID)
		preview := decode[membership.Report](t, e.must(200, "POST", path, e.owner, map[string]any{"dry_run": true}))
		if diff := cmp.Diff(e.snapshot(f), before); diff != "" {
			t.Fatalf("a dry run changed state (-after +before):\n%s", diff)
		}
		if !preview.DryRun || preview.EventID != 0 {
			t.Fatalf("preview %+v: want dry_run and no event", preview)
		}
		// The preview is exactly what the removal then takes away.
		real := decode[membership.Report](t, e.must(200, "POST", path, e.owner, map[string]any{"dry_run": false}))
		if diff := cmp.Diff(preview, real, ignore); diff != "" {
			t.Fatalf("preview differs from the removal (-preview +removal):\n%s", diff)
		}
	})
	t.Run("ReportLimit", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		path := fmt.Sprintf("/api/v1/members/%d/offboard", f.member.ID)
		for _, bad := range []int{-1, membership.MaxReportLimit + 1} {
			e.must(422, "POST", path, e.owner, map[string]any{"dry_run": true, "report_limit": bad})
		}
		want := membership.ReportCounts{Spaces: 1, Roles: 2, Groups: 1, DirectGrants: 1, GroupGrants: 1, Bookings: 1}
		preview := decode[membership.Report](t, e.must(200, "POST", path, e.owner, map[string]any{"dry_run": true, "report_limit": 1}))
		if preview.Counts != want || preview.Truncated || len(preview.Grants) != 2 || len(preview.Roles) != 1 {
			t.Fatalf("bounded preview: counts %+v truncated %v, %d grants listed; want %+v, not truncated (one of each kind fits)",
				preview.Counts, preview.Truncated, len(preview.Grants), want)
		}
		real := decode[membership.Report](t, e.must(200, "DELETE", path[:len(path)-len("/offboard")]+"?report_limit=1", e.owner, nil))
		if diff := cmp.Diff(preview, real, ignore); diff != "" {
			t.Fatalf("preview differs from the removal (-preview +removal):\n%s", diff)
		}
	})
	t.Run("DeleteQuery", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		before := e.snapshot(f)
		rep := decode[membership.Report](t, e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d?dry_run=true", f.member.ID), e.owner, nil))
		if !rep.DryRun || len(rep.Grants) != 2 {
			t.Fatalf("preview %+v", rep)
		}
		if diff := cmp.Diff(e.snapshot(f), before); diff != "" {
			t.Fatalf("a dry run changed state (-after +before):\n%s", diff)
		}
	})
	t.Run("RemainingAccess", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		before := e.snapshot(f)
		// Leaving the group takes the desk (through the group) and keeps the room (direct).
		rep := decode[membership.Report](t, e.must(200, "DELETE", fmt.Sprintf("/api/v1/groups/%d/members/%d?dry_run=true", f.group.ID, f.member.ID), e.owner, nil))
		if len(rep.Grants) != 1 || rep.Grants[0].Grant.ResourceID != f.desk.ID || len(rep.RemainingAccess) != 1 || rep.RemainingAccess[0].ResourceID != f.room.ID {
			t.Fatalf("group preview %+v", rep)
		}
		rep = decode[membership.Report](t, e.must(200, "DELETE", fmt.Sprintf("/api/v1/spaces/%d/members/%d?dry_run=true", f.space.ID, f.member.ID), e.owner, nil))
		if !rep.DryRun || len(rep.Spaces) != 1 {
			t.Fatalf("space preview %+v", rep)
		}
		rep = decode[membership.Report](t, e.must(200, "POST", fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID), e.owner,
			map[string]any{"roles": []string{"editor"}, "dry_run": true}))
		if !rep.DryRun || len(rep.Roles) != 1 {
			t.Fatalf("revocation preview %+v", rep)
		}
		if diff := cmp.Diff(e.snapshot(f), before); diff != "" {
			t.Fatalf("dry runs changed state (-after +before):\n%s", diff)
		}
	})
}

func TestRevokeRoles(t *testing.T) {
	t.Run("ErrAllOrNothing", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		path := fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID)
		p := wantProblem(t, e.call("POST", path, e.owner, map[string]any{"roles": []string{"editor", "owner-of-nothing"}}), http.StatusConflict)
		if !strings.Contains(p.Detail, "owner-of-nothing") {
			t.Errorf("detail %q does not name the missing role", p.Detail)
		}
		sm := decode[membership.SpaceMember](t, e.must(200, "GET", fmt.Sprintf("/api/v1/space-memberships/%d", f.sm.ID), e.owner, nil))
		if !cmp.Equal(sm.Roles, []string{"editor", "viewer"}) {
			t.Fatalf("roles after a refused revocation: %v", sm.Roles)
		}
	})
}

func TestRemoveBatch(t *testing.T) {
	t.Run("InOrder", func(t *testing.T) {
		e := newEnv(t)
		carol := e.addMember("carol@acme.test", membership.RoleMember)
		dave := e.addMember("dave@acme.test", membership.RoleMember)
		erin := e.addMember("erin@acme.test", membership.RoleMember)
		res := decode[membership.BatchResult](t, e.must(200, "POST", "/api/v1/removals", e.owner, map[string]any{
			"scope": "organization",
			"members": []map[string]any{
				{"id": carol.ID},
				{"email": "CAROL@acme.test"},
				{"id": 999999},
				{"email": "nobody@acme.test"},
				{},
				{"uuid": dave.UUID},
				{"id": erin.ID, "email": "erin@acme.test"},
				{"raw": "x17"},
			},
		}))
		want := []string{membership.OutcomeRemoved, membership.OutcomeAlreadyRemoved, membership.OutcomeNotFound, membership.OutcomeNotFound,
			membership.OutcomeInvalid, membership.OutcomeRemoved, membership.OutcomeInvalid, membership.OutcomeInvalid}
		var got []string
		for i, it := range res.Items {
			if it.Index != i {
				t.Errorf("item %d has index %d", i, it.Index)
			}
			got = append(got, it.Outcome)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Fatalf("outcomes (-got +want):\n%s", diff)
		}
		if res.Removed != 2 || res.Failed != 6 || res.Items[0].MemberID != carol.ID || res.Items[5].MemberID != dave.ID {
			t.Fatalf("result %+v", res)
		}
		if st := e.memberStatus(erin.ID); st != membership.StatusActive {
			t.Errorf("erin, named ambiguously, is %s", st)
		}
		// Each removed item carries its receipt, as a single removal does.
		for i, it := range res.Items {
			removed := it.Outcome == membership.OutcomeRemoved
			if removed != (it.Receipt != nil) || removed && (it.Receipt.EventID == 0 || len(it.Receipt.Hash) != 64) {
				t.Errorf("item %d (%s): receipt %+v", i, it.Outcome, it.Receipt)
			}
		}
	})
	t.Run("Space", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		res := decode[membership.BatchResult](t, e.must(200, "POST", "/api/v1/removals", e.owner, map[string]any{
			"scope": "space", "space": f.space.UUID, "members": []map[string]any{{"id": f.member.ID}, {"id": e.org.Owner.ID}}}))
		if res.Items[0].Outcome != membership.OutcomeRemoved || res.Items[1].Outcome != membership.OutcomeNotMember {
			t.Fatalf("result %+v", res)
		}
		if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
			t.Errorf("a space removal changed the organization membership: %s", st)
		}
	})
	t.Run("ErrOverLimit", func(t *testing.T) {
		e := newEnv(t, func(o *envOptions) { o.batchLimit = 3 })
		var items []map[string]any
		var ids []int64
		for i := range 4 {
			m := e.addMember(fmt.Sprintf("m%d@acme.test", i), membership.RoleMember)
			ids = append(ids, m.ID)
			items = append(items, map[string]any{"id": m.ID})
		}
		r := e.call("POST", "/api/v1/removals", e.owner, map[string]any{"scope": "organization", "members": items})
		p := wantProblem(t, r, http.StatusBadRequest)
		if !strings.Contains(p.Detail, "3") {
			t.Errorf("detail %q does not name the limit of 3", p.Detail)
		}
		// Clients learn the limit from the "limit" extension member.
		if lim := decode[struct{ Limit int }](t, r); lim.Limit != 3 {
			t.Errorf("problem's limit %d, want 3", lim.Limit)
		}
		for _, id := range ids {
			if st := e.memberStatus(id); st != membership.StatusActive {
				t.Errorf("member %d is %s after a refused batch", id, st)
			}
		}
		if n := len(e.events(membership.EventListParams{Action: "member.removed"})); n != 0 {
			t.Errorf("%d removal events after a refused batch", n)
		}
	})
	t.Run("ErrScopeNeedsTarget", func(t *testing.T) {
		e := newEnv(t)
		m := e.addMember("bob@acme.test", membership.RoleMember)
		wantProblem(t, e.call("POST", "/api/v1/removals", e.owner, map[string]any{"scope": "group", "members": []map[string]any{{"id": m.ID}}}), http.StatusBadRequest)
	})
}

func TestRestore(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	base := fmt.Sprintf("/api/v1/members/%d", f.member.ID)
	wantProblem(t, e.call("POST", base+"/restore", e.owner, nil), http.StatusConflict) // active: nothing to restore
	e.must(200, "DELETE", base, e.owner, nil)
	rep := decode[membership.Report](t, e.must(200, "POST", base+"/restore", e.owner, nil))
	if rep.Member.Status != membership.StatusActive || len(rep.Spaces) != 1 || len(rep.Groups) != 1 || len(rep.Grants) != 1 || len(rep.RemainingAccess) != 2 {
		t.Fatalf("restore report %+v", rep)
	}
	if !cmp.Equal(rep.Roles[0].Roles, []string{"editor", "viewer"}) {
		t.Errorf("restored roles %v", rep.Roles[0].Roles)
	}
	hist := decode[membership.MemberHistory](t, e.must(200, "GET", base+"/history", e.owner, nil))
	if len(hist.Periods) != 2 || hist.Periods[0].EndedAt == nil || hist.Periods[1].EndedAt != nil {
		t.Fatalf("periods %+v: want one closed and one open", hist.Periods)
	}
	if len(hist.Bookings) != 1 || hist.Bookings[0].Status != membership.BookingCancelled {
		t.Fatalf("bookings %+v: the removal's cancellation stays", hist.Bookings)
	}
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	bob := e.fixture("bob@acme.test")
	carol := e.fixture("carol@acme.test")
	e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d", bob.member.ID), e.owner, nil)
	e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d", carol.member.ID), e.owner, nil)

	all := decode[eventPage](t, e.must(200, "GET", fmt.Sprintf("/api/v1/events?member=%d", bob.member.ID), e.owner, nil))
	if len(all.Items) == 0 || all.NextBefore != 0 {
		t.Fatalf("bob's events %+v", all)
	}
	sawRemoval := false
	for i, ev := range all.Items {
		if ev.TargetMemberID != bob.member.ID && ev.ActorMemberID != bob.member.ID {
			t.Errorf("event %d (%s) is not about or by bob", ev.ID, ev.Action)
		}
		if i > 0 && ev.ID >= all.Items[i-1].ID {
			t.Errorf("events not newest first: %d after %d", ev.ID, all.Items[i-1].ID)
		}
		sawRemoval = sawRemoval || ev.Action == "member.removed"
	}
	if !sawRemoval {
		t.Error("bob's removal is not among his events")
	}

	// Paging with next_before walks the same events.
	var paged []int64
	path := fmt.Sprintf("/api/v1/events?member=%d&limit=2", bob.member.ID)
	for range 100 {
		page := decode[eventPage](t, e.must(200, "GET", path, e.owner, nil))
		for _, ev := range page.Items {
			paged = append(paged, ev.ID)
		}
		if page.NextBefore == 0 {
			break
		}
		path = fmt.Sprintf("/api/v1/events?member=%d&limit=2&before=%d", bob.member.ID, page.NextBefore)
	}
	var want []int64
	for _, ev := range all.Items {
		want = append(want, ev.ID)
	}
	if diff := cmp.Diff(paged, want); diff != "" {
		t.Fatalf("paged events (-paged +all):\n%s", diff)
	}
}
