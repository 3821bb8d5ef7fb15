package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// Every list route refuses a query parameter it does not declare, so that
// a misspelt filter is an error rather than everything.
func TestUnknownQueryParameter(t *testing.T) {
	e := newEnv(t)
	for _, rt := range routeTable {
		if rt.method != http.MethodGet || strings.Contains(rt.path, "{") {
			continue
		}
		t.Run(rt.id, func(t *testing.T) {
			p := wantProblem(t, e.call("GET", Prefix+rt.path+"?membr=12", e.owner, nil), http.StatusBadRequest)
			if !strings.Contains(p.Detail, `unknown query parameter "membr"`) {
				t.Fatalf("detail %q", p.Detail)
			}
		})
	}
	// Declared parameters still pass.
	e.must(200, "GET", "/api/v1/events?member=1&outcome=refused&since=2020-01-01T00:00:00Z", e.owner, nil)
}

// A refused removal of member N is found by ?member=N, and its path's
// reference is kept when it names nobody in the organization.
func TestEventsRefusalTarget(t *testing.T) {
	e := newEnv(t)
	bob := e.addMember("bob@acme.test", membership.RoleMember)
	pat := e.addMember("pat@acme.test", membership.RoleMember)
	plain := e.credential(pat, nil, membership.ScopeMembersRead, membership.ScopeMembersWrite)
	wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d", bob.ID), plain, nil), http.StatusForbidden)
	readOnly := e.credential(pat, nil, membership.ScopeMembersRead)
	wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d", bob.ID), readOnly, nil), http.StatusForbidden)
	page := decode[eventPage](t, e.must(200, "GET", fmt.Sprintf("/api/v1/events?member=%d&outcome=refused", bob.ID), e.owner, nil))
	if len(page.Items) != 2 {
		t.Fatalf("refusals about bob: got %d, want the forbidden removal and the missing scope", len(page.Items))
	}
	for _, ev := range page.Items {
		if ev.Action != membership.ActionMemberRemoved || ev.TargetMemberID != bob.ID || ev.ActorMemberID != pat.ID {
			t.Errorf("refusal %+v: want pat's refused member.removed of bob", ev)
		}
	}
	wantProblem(t, e.call("DELETE", "/api/v1/members/987654", readOnly, nil), http.StatusForbidden)
	last := e.events(membership.EventListParams{Outcome: membership.OutcomeRefused})[0]
	if last.TargetMemberID != 0 || last.TargetRef != "member:987654" {
		t.Fatalf("refusal naming nobody: got target %d %q, want the reference as sent", last.TargetMemberID, last.TargetRef)
	}
}

func TestEventsExport(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.addMember(fmt.Sprintf("user%d@acme.test", i), membership.RoleMember)
	}
	all := e.events(membership.EventListParams{})
	r := e.must(200, "GET", "/api/v1/events/export", e.owner, nil)
	if ct := r.Header.Get("Content-Type"); ct != "application/jsonl" {
		t.Fatalf("content type %q", ct)
	}
	lines := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
	if len(lines) != len(all) {
		t.Fatalf("export: %d lines, want %d events", len(lines), len(all))
	}
	var first, third membership.Event
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.ID != all[len(all)-1].ID || first.Hash == "" {
		t.Fatalf("first line %s (%v): want the oldest event with its hash", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[2]), &third); err != nil {
		t.Fatal(err)
	}
	// Resuming after the third event gives the rest.
	r = e.call("GET", fmt.Sprintf("/api/v1/events/export?format=csv&after=%d", third.ID), e.owner, nil)
	if r.Status != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("csv export: got %s", r)
	}
	rows := strings.Split(strings.TrimSuffix(string(r.Body), "\n"), "\n")
	if len(rows) != len(all)-3+1 || rows[0] != strings.Join(membership.ExportColumns, ",") {
		t.Fatalf("csv after event %d: got\n%s", third.ID, r.Body)
	}
	wantProblem(t, e.call("GET", "/api/v1/events/export?format=xml", e.owner, nil), http.StatusUnprocessableEntity)
}

// A refused schedule or operation names its target as a removal made at
// once does: ?member=N finds the refusals about member N, and a member
// that is not in the organization is kept as the reference sent.
func TestEventsScheduleRefusalTarget(t *testing.T) {
	e := newEnv(t, runJobs)
	bob := e.addMember("bob@acme.test", membership.RoleMember)
	pat := e.addMember("pat@acme.test", membership.RoleMember)
	plain := e.credential(pat, nil, membership.ScopeMembersRead, membership.ScopeMembersWrite)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	schedule := func(secret, body string, want int) {
		t.Helper()
		if s := e.do(secret, "POST", "/api/v1/schedules", body, nil); s != want {
			t.Fatalf("POST /schedules %s: got %d, want %d", body, s, want)
		}
	}
	// Forbidden to a plain member, refused in the transaction.
	schedule(plain, fmt.Sprintf(`{"kind":"member.remove","member":"%d","effective_at":"%s"}`, bob.ID, at), http.StatusForbidden)
	// Refused for its shape, before any lookup.
	schedule(e.owner, fmt.Sprintf(`{"kind":"member.remove","member":"%d"}`, bob.ID), http.StatusBadRequest)
	page := decode[eventPage](t, e.must(200, "GET", fmt.Sprintf("/api/v1/events?member=%d&outcome=refused", bob.ID), e.owner, nil))
	if len(page.Items) != 2 {
		t.Fatalf("refusals about bob: got %d, want the forbidden and the invalid schedule", len(page.Items))
	}
	for _, ev := range page.Items {
		if ev.Action != membership.ActionScheduledRemovalCreated || ev.TargetMemberID != bob.ID || ev.TargetType != "member" {
			t.Errorf("refusal %+v: want a refused %s of bob", ev, membership.ActionScheduledRemovalCreated)
		}
	}
	// A member that does not exist, and a space of nobody's.
	schedule(e.owner, `{"kind":"member.remove","member":"987654","effective_at":"`+at+`"}`, http.StatusNotFound)
	last := e.events(membership.EventListParams{Outcome: membership.OutcomeRefused})[0]
	if last.TargetMemberID != 0 || last.TargetRef != "member:987654" {
		t.Fatalf("schedule for nobody: got target %d %q, want the reference as sent", last.TargetMemberID, last.TargetRef)
	}
	schedule(e.owner, fmt.Sprintf(`{"kind":"space_member.remove","member":"%d","space":"555","effective_at":"%s"}`, bob.ID, at), http.StatusNotFound)
	last = e.events(membership.EventListParams{Outcome: membership.OutcomeRefused})[0]
	if last.TargetType != "space" || last.TargetMemberID != bob.ID || last.TargetRef != "space:555" {
		t.Fatalf("schedule in no space: got %s %d %q, want bob and the space as sent", last.TargetType, last.TargetMemberID, last.TargetRef)
	}
	// Deleting with effective_at is a schedule too.
	wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d?effective_at=%s", bob.ID, url.QueryEscape(at)), plain, nil), http.StatusForbidden)
	page = decode[eventPage](t, e.must(200, "GET", fmt.Sprintf("/api/v1/events?member=%d&outcome=refused", bob.ID), e.owner, nil))
	if len(page.Items) != 4 {
		t.Fatalf("refusals about bob: got %d, want the four refused schedules", len(page.Items))
	}
}
