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

// do sends one request and decodes a 2xx answer into out; every refusal
// must be problem+json. It returns the status.
func (e *env) do(secret, method, path, body string, out any) int {
	e.tb.Helper()
	var b any
	if body != "" {
		b = body
	}
	r := e.call(method, path, secret, b)
	if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
		e.tb.Errorf("%s %s: %d with Content-Type %q", method, path, r.Status, r.Header.Get("Content-Type"))
	}
	if out != nil && r.Status < 300 {
		if err := json.Unmarshal(r.Body, out); err != nil {
			e.tb.Fatalf("%s %s: %s: %v", method, path, r.Body, err)
		}
	}
	return r.Status
}

func TestSchedules(t *testing.T) {
	e := newEnv(t, runJobs)
	bob := e.addMember("bob@acme.test", membership.RoleMember)
	reader := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var op membership.Operation
	if s := e.do(e.owner, "POST", "/api/v1/schedules", `{"kind":"member.remove","member":"bob@acme.test","effective_at":"`+at+`"}`, &op); s != 201 || op.Status != membership.OperationScheduled {
		t.Fatalf("schedule: %d %+v", s, op)
	}
	var got membership.Operation
	if s := e.do(reader, "GET", "/api/v1/operations/"+op.UUID, "", &got); s != 200 || got.UUID != op.UUID {
		t.Fatalf("get: %d %+v", s, got)
	}
	var l struct{ Items []membership.Operation }
	if s := e.do(reader, "GET", "/api/v1/schedules", "", &l); s != 200 || len(l.Items) != 1 {
		t.Fatalf("list: %d %+v", s, l)
	}
	var rep membership.Report
	if s := e.do(reader, "GET", "/api/v1/schedules/"+op.UUID+"/preview", "", &rep); s != 200 || !rep.DryRun || rep.Member.ID != bob.ID {
		t.Fatalf("preview: %d %+v", s, rep)
	}
	if s := e.do(reader, "DELETE", "/api/v1/schedules/"+op.UUID, "", nil); s != 403 {
		t.Fatalf("cancel without members:write: %d", s)
	}
	if s := e.do(e.owner, "DELETE", "/api/v1/schedules/"+op.UUID, "", &got); s != 200 || got.Status != membership.OperationCancelled {
		t.Fatalf("cancel: %d %+v", s, got)
	}
	if s := e.do(e.owner, "DELETE", "/api/v1/schedules/"+op.UUID, "", nil); s != 409 {
		t.Fatalf("second cancel: %d", s)
	}
	for _, tc := range []struct{ body string }{
		{`{"kind":"member.remove","member":"bob@acme.test"}`},
		{`{"kind":"member.explode","member":"bob@acme.test","effective_at":"` + at + `"}`},
		{`{"kind":"space_member.remove","member":"bob@acme.test","effective_at":"` + at + `"}`},
		{`not json`},
	} {
		if s := e.do(e.owner, "POST", "/api/v1/schedules", tc.body, nil); s != 400 {
			t.Errorf("%s: %d, want 400", tc.body, s)
		}
	}
	if s := e.do("", "GET", "/api/v1/operations", "", nil); s != 401 {
		t.Fatalf("no token: %d", s)
	}
	if s := e.do(e.owner, "GET", "/api/v1/operations/"+membership.NewUUID(), "", nil); s != 404 {
		t.Fatalf("unknown operation: %d", s)
	}
}

func TestWebhookEndpoints(t *testing.T) {
	e := newEnv(t, runJobs)
	reader := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
	var created membership.NewWebhookEndpoint
	if s := e.do(e.owner, "POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["member.removed"]}`, &created); s != 201 || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create: %d %+v", s, created)
	}
	var l struct{ Items []membership.WebhookEndpoint }
	if s := e.do(reader, "GET", "/api/v1/webhooks", "", &l); s != 200 || len(l.Items) != 1 {
		t.Fatalf("list: %d %+v", s, l)
	}
	if s := e.do(e.owner, "POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["nope"]}`, nil); s != 400 {
		t.Fatalf("bad event: %d", s)
	}
	var ds struct{ Items []membership.WebhookDelivery }
	if s := e.do(reader, "GET", "/api/v1/webhooks/"+created.Endpoint.UUID+"/deliveries", "", &ds); s != 200 || len(ds.Items) != 0 {
		t.Fatalf("deliveries: %d %+v", s, ds)
	}
	var ep membership.WebhookEndpoint
	if s := e.do(e.owner, "DELETE", "/api/v1/webhooks/"+created.Endpoint.UUID, "", &ep); s != 200 || ep.Status != membership.WebhookDisabled {
		t.Fatalf("disable: %d %+v", s, ep)
	}
}

// schedulable is one removal route that takes effective_at.
type schedulable struct {
	name, kind string
	// call asks for f's removal at at (with dry_run when dry) as secret.
	call func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response
	// previewed fails unless rep is this removal's dry run for f.
	previewed func(rep membership.Report, f *fixture) bool
	// applied reports whether the removal took effect.
	applied func(e *env, f *fixture) bool
}

func stamp(at time.Time) string { return at.UTC().Format(time.RFC3339Nano) }

// deleteAt is a DELETE with effective_at (and dry_run) in its query.
func deleteAt(e *env, path, secret string, at time.Time, dry bool, hdr ...string) *response {
	e.tb.Helper()
	q := url.Values{"effective_at": {stamp(at)}}
	if dry {
		q.Set("dry_run", "true")
	}
	return e.call("DELETE", path+"?"+q.Encode(), secret, nil, hdr...)
}

// postAt is a POST with effective_at (and dry_run) in its body.
func postAt(e *env, path, secret string, body map[string]any, at time.Time, dry bool, hdr ...string) *response {
	e.tb.Helper()
	body["effective_at"] = stamp(at)
	if dry {
		body["dry_run"] = true
	}
	return e.call("POST", path, secret, body, hdr...)
}

func schedulables() []schedulable {
	memberRemoved := func(e *env, f *fixture) bool { return e.memberStatus(f.member.ID) == membership.StatusRemoved }
	return []schedulable{
		{
			name: "RemoveMember", kind: membership.KindRemoveMember,
			call: func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response {
				return deleteAt(e, fmt.Sprintf("/api/v1/members/%d", f.member.ID), secret, at, dry, hdr...)
			},
			previewed: func(rep membership.Report, f *fixture) bool {
				return rep.Member != nil && rep.Member.ID == f.member.ID && len(rep.Spaces) == 1 && len(rep.Groups) == 1
			},
			applied: memberRemoved,
		},
		{
			name: "Offboard", kind: membership.KindRemoveMember,
			call: func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response {
				return postAt(e, fmt.Sprintf("/api/v1/members/%s/offboard", f.member.Email), secret, map[string]any{}, at, dry, hdr...)
			},
			previewed: func(rep membership.Report, f *fixture) bool {
				return rep.Member != nil && rep.Member.ID == f.member.ID && len(rep.Grants) == 2
			},
			applied: memberRemoved,
		},
		{
			name: "RemoveSpaceMember", kind: membership.KindRemoveSpaceMember,
			call: func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response {
				return deleteAt(e, fmt.Sprintf("/api/v1/spaces/%d/members/%d", f.space.ID, f.member.ID), secret, at, dry, hdr...)
			},
			previewed: func(rep membership.Report, f *fixture) bool {
				return len(rep.Spaces) == 1 && rep.Spaces[0].SpaceID == f.space.ID
			},
			applied: func(e *env, f *fixture) bool {
				sm, err := e.svc.SpaceMembership(e.ctx, e.actor(e.owner), f.sm.ID)
				return err == nil && sm.Status == membership.StatusRemoved
			},
		},
		{
			name: "RemoveGroupMember", kind: membership.KindRemoveGroupMember,
			call: func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response {
				return deleteAt(e, fmt.Sprintf("/api/v1/groups/%s/members/%s", f.group.UUID, f.member.UUID), secret, at, dry, hdr...)
			},
			previewed: func(rep membership.Report, f *fixture) bool {
				return len(rep.Groups) == 1 && len(rep.Grants) == 1 && rep.Grants[0].Grant.ResourceID == f.desk.ID
			},
			applied: func(e *env, f *fixture) bool {
				gm, err := e.svc.GroupMembership(e.ctx, e.actor(e.owner), membership.Ref{ID: f.group.ID}, membership.MemberRef{ID: f.member.ID})
				return err == nil && gm.Status == membership.StatusRemoved
			},
		},
		{
			name: "RevokeRoles", kind: membership.KindRevokeRoles,
			call: func(e *env, f *fixture, secret string, at time.Time, dry bool, hdr ...string) *response {
				return postAt(e, fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID), secret,
					map[string]any{"roles": []string{"editor"}}, at, dry, hdr...)
			},
			previewed: func(rep membership.Report, f *fixture) bool {
				return len(rep.Roles) == 1 && len(rep.Roles[0].Roles) == 1 && rep.Roles[0].Roles[0] == "editor"
			},
			applied: func(e *env, f *fixture) bool {
				sm, err := e.svc.SpaceMembership(e.ctx, e.actor(e.owner), f.sm.ID)
				return err == nil && len(sm.Roles) == 1 && sm.Roles[0] == "viewer"
			},
		},
	}
}

// wantScheduled fails unless r is the 202 of a scheduled removal of kind
// due at at, with Location naming its operation, and returns it.
func wantScheduled(tb testing.TB, r *response, kind string, at time.Time) membership.Operation {
	tb.Helper()
	if r.Status != http.StatusAccepted {
		tb.Fatalf("got %s, want 202", r)
	}
	op := decode[membership.Operation](tb, r)
	if loc := r.Header.Get("Location"); loc != "/api/v1/operations/"+op.UUID {
		tb.Fatalf("Location %q, want /api/v1/operations/%s", loc, op.UUID)
	}
	if op.Status != membership.OperationScheduled || op.Kind != kind || op.Interface != Interface ||
		op.EffectiveAt == nil || !op.EffectiveAt.Equal(at.UTC().Truncate(time.Microsecond)) {
		tb.Fatalf("operation %+v: want %s scheduled at %s", op, kind, at)
	}
	return op
}

// TestScheduledRemoval drives effective_at on every removal route that
// takes it: the removal is scheduled through the core (202 and the
// operation), can be listed, previewed and cancelled, and is carried out
// on time by the job runner.
func TestScheduledRemoval(t *testing.T) {
	e := newEnv(t, runJobs)
	n := 0
	fresh := func() *fixture {
		n++
		return e.fixture(fmt.Sprintf("user%d@acme.test", n))
	}
	// untouched fails unless nothing of f was taken away yet.
	untouched := func(t *testing.T, sc schedulable, f *fixture) {
		t.Helper()
		if sc.applied(e, f) {
			t.Fatalf("%s took effect before its time", sc.name)
		}
		if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
			t.Fatalf("member is %s", st)
		}
	}
	operations := func(t *testing.T, path string) []membership.Operation {
		t.Helper()
		return decode[struct{ Items []membership.Operation }](t, e.must(200, "GET", path, e.owner, nil)).Items
	}
	contains := func(ops []membership.Operation, id string) bool {
		for _, op := range ops {
			if op.UUID == id {
				return true
			}
		}
		return false
	}

	for _, sc := range schedulables() {
		t.Run(sc.name, func(t *testing.T) {
			t.Run("ScheduleListPreviewCancel", func(t *testing.T) {
				f := fresh()
				at := e.clock.Now().Add(time.Hour)
				op := wantScheduled(t, sc.call(e, f, e.owner, at, false), sc.kind, at)
				if op.TargetMemberID != f.member.ID {
					t.Errorf("target member %d, want %d", op.TargetMemberID, f.member.ID)
				}
				for _, path := range []string{"/api/v1/operations?status=scheduled", "/api/v1/operations", "/api/v1/schedules"} {
					if !contains(operations(t, path), op.UUID) {
						t.Errorf("%s does not list %s", path, op.UUID)
					}
				}
				rep := decode[membership.Report](t, e.must(200, "GET", "/api/v1/operations/"+op.UUID+"/preview", e.owner, nil))
				if !rep.DryRun || !sc.previewed(rep, f) {
					t.Errorf("preview %+v", rep)
				}
				untouched(t, sc, f)
				// The same removal cannot be scheduled twice.
				wantProblem(t, sc.call(e, f, e.owner, at.Add(time.Minute), false), http.StatusConflict)
				got := decode[membership.Operation](t, e.must(200, "POST", "/api/v1/operations/"+op.UUID+"/cancel", e.owner, nil))
				if got.Status != membership.OperationCancelled {
					t.Fatalf("cancelled %+v", got)
				}
				if got := decode[membership.Operation](t, e.must(200, "GET", "/api/v1/operations/"+op.UUID, e.owner, nil)); got.Status != membership.OperationCancelled {
					t.Fatalf("after cancel %+v", got)
				}
				wantProblem(t, e.call("GET", "/api/v1/operations/"+op.UUID+"/preview", e.owner, nil), http.StatusConflict)
				untouched(t, sc, f)
				// Cancelled, it can be scheduled again.
				again := wantScheduled(t, sc.call(e, f, e.owner, at, false), sc.kind, at)
				e.must(200, "DELETE", "/api/v1/schedules/"+again.UUID, e.owner, nil)
			})
			t.Run("ErrPast", func(t *testing.T) {
				f := fresh()
				before := len(operations(t, "/api/v1/operations"))
				wantProblem(t, sc.call(e, f, e.owner, e.clock.Now().Add(-time.Hour), false), http.StatusBadRequest)
				if after := len(operations(t, "/api/v1/operations")); after != before {
					t.Fatalf("%d operations after a refused schedule, want %d", after, before)
				}
				untouched(t, sc, f)
			})
			t.Run("ErrDryRun", func(t *testing.T) {
				f := fresh()
				p := wantProblem(t, sc.call(e, f, e.owner, e.clock.Now().Add(time.Hour), true), http.StatusBadRequest)
				if !strings.Contains(p.Detail, "dry_run") {
					t.Errorf("detail %q", p.Detail)
				}
				untouched(t, sc, f)
			})
			t.Run("ErrScope", func(t *testing.T) {
				f := fresh()
				reader := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
				wantProblem(t, sc.call(e, f, reader, e.clock.Now().Add(time.Hour), false), http.StatusForbidden)
				untouched(t, sc, f)
			})
			t.Run("ErrOtherOrganization", func(t *testing.T) {
				f := fresh()
				other, err := e.svc.CreateOrganization(e.ctx, membership.BootstrapRequest{
					OrgName: "Globex " + sc.name, OwnerEmail: "owner-" + strings.ToLower(sc.name) + "@globex.test"})
				if err != nil {
					t.Fatal(err)
				}
				wantProblem(t, sc.call(e, f, other.Secret, e.clock.Now().Add(time.Hour), false), http.StatusNotFound)
				untouched(t, sc, f)
			})
			t.Run("Idempotent", func(t *testing.T) {
				f := fresh()
				at := e.clock.Now().Add(2 * time.Hour)
				key := "schedule-" + sc.name
				first := sc.call(e, f, e.owner, at, false, "Idempotency-Key", key)
				op := wantScheduled(t, first, sc.kind, at)
				again := sc.call(e, f, e.owner, at, false, "Idempotency-Key", key)
				if again.Status != first.Status || string(again.Body) != string(first.Body) || again.Header.Get("Location") != first.Header.Get("Location") {
					t.Fatalf("replay differs:\nfirst:  %s\nreplay: %s", first, again)
				}
				n := 0
				for _, o := range operations(t, "/api/v1/operations?status=scheduled&limit=1000") {
					if o.TargetMemberID == f.member.ID {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%d scheduled operations for the member, want 1", n)
				}
				e.must(200, "POST", "/api/v1/operations/"+op.UUID+"/cancel", e.owner, nil)
			})
		})
	}

	t.Run("ExecutesOnTime", func(t *testing.T) {
		type scheduled struct {
			sc schedulable
			f  *fixture
			op membership.Operation
		}
		due := e.clock.Now().Add(1500 * time.Millisecond)
		var all []scheduled
		for _, sc := range schedulables() {
			f := fresh()
			all = append(all, scheduled{sc: sc, f: f, op: wantScheduled(t, sc.call(e, f, e.owner, due, false), sc.kind, due)})
			untouched(t, sc, f)
		}
		for _, s := range all {
			var op membership.Operation
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				op = decode[membership.Operation](t, e.must(200, "GET", "/api/v1/operations/"+s.op.UUID, e.owner, nil))
				if op.Status.Done() {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: operation still %s", s.sc.name, op.Status)
				}
			}
			if op.Status != membership.OperationSucceeded || op.StartedAt == nil || op.Result == nil {
				t.Fatalf("%s: operation %+v", s.sc.name, op)
			}
			if late := op.StartedAt.Sub(due); late < -100*time.Millisecond || late > time.Second {
				t.Errorf("%s: started %s after its time", s.sc.name, late)
			}
			if !s.sc.applied(e, s.f) {
				t.Errorf("%s: the removal did not take effect", s.sc.name)
			}
			wantProblem(t, e.call("POST", "/api/v1/operations/"+op.UUID+"/cancel", e.owner, nil), http.StatusConflict)
		}
		executed := e.events(membership.EventListParams{Action: "scheduled_removal.executed"})
		if len(executed) != len(all) {
			t.Fatalf("%d scheduled_removal.executed events, want %d", len(executed), len(all))
		}
	})
}

// TestScheduledRemovalDocumented holds the document to the two answers
// of each removal that takes effective_at.
func TestScheduledRemovalDocumented(t *testing.T) {
	e := newEnv(t)
	body := e.call("GET", "/openapi.json", "", nil).Body
	var doc openapiDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, in string }{
		{"delete", "/api/v1/members/{member}", "query"},
		{"post", "/api/v1/members/{member}/offboard", "body"},
		{"delete", "/api/v1/spaces/{space}/members/{member}", "query"},
		{"delete", "/api/v1/groups/{group}/members/{member}", "query"},
		{"post", "/api/v1/space-memberships/{id}/roles/revocation", "body"},
	} {
		op, ok := doc.Paths[c.path][c.method]
		if !ok {
			t.Fatalf("%s %s is not documented", c.method, c.path)
		}
		for _, code := range []string{"200", "202"} {
			if _, ok := op.Responses[code].Content["application/json"]; !ok {
				t.Errorf("%s %s: answer %s is not documented", c.method, c.path, code)
			}
		}
		if c.in == "query" {
			found := false
			for _, p := range op.Parameters {
				found = found || (p.Name == "effective_at" && p.In == "query")
			}
			if !found {
				t.Errorf("%s %s: effective_at is not a documented query parameter", c.method, c.path)
			}
		}
	}
	// A body's effective_at is in its schema.
	raw := string(body)
	if strings.Count(raw, `"effective_at"`) < 3 {
		t.Errorf("effective_at appears %d times in the document, want the offboard, revocation and schedule bodies", strings.Count(raw, `"effective_at"`))
	}
}
