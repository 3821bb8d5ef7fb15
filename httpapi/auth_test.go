package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/membership"
)

// TestAuthorization is the authorization matrix: each refusal answers
// problem+json with its status and leaves the target member, its space
// membership and its group membership as they were.
func TestAuthorization(t *testing.T) {
	// unchanged fails unless f's member and memberships are still active.
	unchanged := func(t *testing.T, e *env, f *fixture) {
		t.Helper()
		if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
			t.Fatalf("member is %s after a refused request", st)
		}
		a := e.actor(e.owner)
		sms, err := e.svc.SpaceMembers(e.ctx, a, membership.Ref{ID: f.space.ID}, membership.StatusActive)
		if err != nil || len(sms) != 1 {
			t.Fatalf("space memberships %v, %v: want the member's one", sms, err)
		}
		gms, err := e.svc.GroupMembers(e.ctx, a, membership.Ref{ID: f.group.ID}, membership.StatusActive)
		if err != nil || len(gms) != 1 {
			t.Fatalf("group memberships %v, %v: want the member's one", gms, err)
		}
	}
	removal := func(f *fixture) string { return fmt.Sprintf("/api/v1/members/%d", f.member.ID) }

	t.Run("ErrNoCredential", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		wantProblem(t, e.call("DELETE", removal(f), "", nil), http.StatusUnauthorized)
		wantProblem(t, e.call("DELETE", removal(f), "", nil, "Authorization", "Basic Ym9iOnNlY3JldA=="), http.StatusUnauthorized)
		wantProblem(t, e.call("GET", "/api/v1/members", "", nil), http.StatusUnauthorized)
		unchanged(t, e, f)
		if n := len(e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated})); n != 0 {
			// Refusals without a credential belong to no organization, so
			// the organization's own trail must not show them.
			t.Errorf("%d auth events in the organization's trail", n)
		}
	})
	t.Run("ErrWrongSecret", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		prefix, _, _ := strings.Cut(strings.TrimPrefix(e.owner, "mbd_"), "_")
		forged := "mbd_" + prefix + "_" + strings.Repeat("a", 52)
		for _, secret := range []string{"nonsense", forged, e.owner + "x"} {
			wantProblem(t, e.call("DELETE", removal(f), secret, nil), http.StatusUnauthorized)
		}
		unchanged(t, e, f)
		// Refused authentications are audited in aggregate: what the
		// trail shows of the forged owner credential is two attempts.
		e.svc.FlushAuthRefusals(e.ctx, true)
		attempts := 0
		for _, ev := range e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated}) {
			var after struct{ Count int }
			if err := json.Unmarshal(ev.After, &after); err != nil {
				t.Fatal(err)
			}
			attempts += after.Count
		}
		if attempts != 2 {
			t.Errorf("%d refused attempts recorded for the forged owner credential, want 2", attempts)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		expires := e.clock.Now().Add(time.Hour)
		secret := e.credential(e.org.Owner, &expires, membership.ScopeMembersRead, membership.ScopeMembersWrite)
		e.must(200, "GET", "/api/v1/organization", secret, nil)
		e.clock.Advance(2 * time.Hour)
		p := wantProblem(t, e.call("DELETE", removal(f), secret, nil), http.StatusUnauthorized)
		// Issue 10: an expired token reads like a wrong one to the client;
		// only the audit keeps the reason.
		if p.Detail != "invalid token" {
			t.Errorf("detail %q, want %q", p.Detail, "invalid token")
		}
		if evs := e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated}); len(evs) != 1 || evs[0].Message != "token has expired" {
			t.Errorf("auth events %+v, want one saying the token has expired", evs)
		}
		unchanged(t, e, f)
	})
	t.Run("ErrRevoked", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		secret := e.credential(e.org.Owner, nil, membership.ScopeMembersWrite)
		p, err := e.svc.Authenticate(e.ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		e.must(200, "DELETE", "/api/v1/credentials/"+strconv.FormatInt(p.Credential.ID, 10), e.owner, nil)
		wantProblem(t, e.call("DELETE", removal(f), secret, nil), http.StatusUnauthorized)
		unchanged(t, e, f)
	})
	t.Run("ErrRevokedWhileCached", func(t *testing.T) {
		// The access check route takes its credential from the credential
		// cache; a revocation on any node must end it at the next request,
		// answered and audited like any refused token.
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		secret := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
		path := fmt.Sprintf("/api/v1/access?member=%d&resource=%d", f.member.ID, f.room.ID)
		for range 2 {
			e.must(200, "GET", path, secret, nil)
		}
		p, err := e.svc.Authenticate(e.ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		e.must(200, "DELETE", "/api/v1/credentials/"+strconv.FormatInt(p.Credential.ID, 10), e.owner, nil)
		r := e.call("GET", path, secret, nil)
		if got := wantProblem(t, r, http.StatusUnauthorized); got.Detail != "invalid token" {
			t.Errorf("detail %q, want %q", got.Detail, "invalid token")
		}
		if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="memberd", error="invalid_token"`; got != want {
			t.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
		e.svc.FlushAuthRefusals(e.ctx, true)
		if evs := e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated}); len(evs) != 1 || evs[0].Message != "token has been revoked" {
			t.Errorf("auth events %+v, want one saying the token has been revoked", evs)
		}
		wantProblem(t, e.call("GET", path, secret, nil), http.StatusUnauthorized)
	})
	t.Run("ErrEndedWhileCachedRemoval", func(t *testing.T) {
		// A plain removal takes its credential from the credential cache
		// too, and the statement that locks its member confirms it: once
		// the credential is revoked, or its holder removed, on any node,
		// the next removal is refused 401, audited as a refused removal,
		// and removes nothing. Every other form of the request is read in
		// full first (audited as a refused authentication), so it is
		// refused 401 too, never for what it asks.
		type form struct {
			name, query string
			body        any
			hdr         []string
			long        bool   // names a member longer than the path allows
			target      string // names this member instead of bob (plain form)
		}
		forms := []form{
			{name: "plain"},
			{name: "dry run", query: "?dry_run=true"},
			{name: "report limit", query: "?report_limit=5"},
			{name: "report limit over", query: "?report_limit=100001"},
			{name: "scheduled", query: "?effective_at=2099-01-01T00:00:00Z"},
			{name: "unreadable schedule", query: "?effective_at=tomorrow"},
			{name: "body", body: map[string]any{"x": 1}},
			{name: "Idempotency-Key", hdr: []string{"Idempotency-Key", "k"}},
			{name: "empty Idempotency-Key", hdr: []string{"Idempotency-Key", ""}},
			{name: "If-Match", hdr: []string{"If-Match", `"nothing"`}},
			{name: "long member", long: true},
			{name: "unknown member", target: "404404404"},
			{name: "removed member", target: "first@acme.test"},
		}
		ends := []struct {
			name string
			end  func(e *env, holder *membership.Member, secret string)
		}{
			{"revocation", func(e *env, _ *membership.Member, secret string) {
				p, err := e.svc.Authenticate(e.ctx, secret)
				if err != nil {
					t.Fatal(err)
				}
				e.must(200, "DELETE", "/api/v1/credentials/"+strconv.FormatInt(p.Credential.ID, 10), e.owner, nil)
			}},
			{"holder's removal", func(e *env, holder *membership.Member, _ string) {
				e.must(200, "DELETE", fmt.Sprintf("/api/v1/members/%d", holder.ID), e.owner, nil)
			}},
		}
		for _, end := range ends {
			for _, fm := range forms {
				t.Run(end.name+"/"+fm.name, func(t *testing.T) {
					e := newEnv(t)
					holder := e.addMember("holder@acme.test", membership.RoleAdmin)
					secret := e.credential(holder, nil, membership.ScopeMembersWrite)
					for _, email := range []string{"first@acme.test", "second@acme.test"} {
						e.must(200, "DELETE", removal(e.fixture(email)), secret, nil)
					}
					f := e.fixture("bob@acme.test")
					end.end(e, holder, secret)
					path := removal(f) + fm.query
					if fm.long {
						path = "/api/v1/members/" + strings.Repeat("b", 320) + "@acme.test"
					}
					if fm.target != "" {
						path = "/api/v1/members/" + fm.target
					}
					r := e.call("DELETE", path, secret, fm.body, fm.hdr...)
					if got := wantProblem(t, r, http.StatusUnauthorized); got.Detail != "invalid token" {
						t.Errorf("detail %q, want %q", got.Detail, "invalid token")
					}
					if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="memberd", error="invalid_token"`; got != want {
						t.Errorf("WWW-Authenticate %q, want %q", got, want)
					}
					unchanged(t, e, f)
					refused := 0
					for _, ev := range e.events(membership.EventListParams{Action: membership.ActionMemberRemoved}) {
						if ev.Outcome == membership.OutcomeRefused {
							refused++
						}
					}
					e.svc.FlushAuthRefusals(e.ctx, true)
					authRefused := len(e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated}))
					if deferred := fm.name == "plain" || fm.target != ""; deferred && (refused != 1 || authRefused != 0) {
						t.Errorf("%d refused removals and %d refused authentications audited, want the removal's one", refused, authRefused)
					} else if !deferred && (refused != 0 || authRefused != 1) {
						t.Errorf("%d refused removals and %d refused authentications audited, want the authentication's one", refused, authRefused)
					}
					// The credential left the cache: the next request reads it.
					wantProblem(t, e.call("DELETE", removal(f), secret, nil), http.StatusUnauthorized)
					unchanged(t, e, f)
				})
			}
		}
	})
	t.Run("ErrRevokedWhileCachedUnreadableRequest", func(t *testing.T) {
		// A request the access check route refuses for what it names, or
		// how, would never confirm a cached credential: authentication
		// must still win, with a 401, not the complaint about the request.
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		secret := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
		good := fmt.Sprintf("/api/v1/access?member=%d&resource=%d", f.member.ID, f.room.ID)
		unreadable := []struct {
			path   string
			status int // while the credential is in force
		}{
			{fmt.Sprintf("/api/v1/access?member=nobody&resource=%d", f.room.ID), http.StatusNotFound},
			{fmt.Sprintf("/api/v1/access?member=%d&resource=not-an-id", f.member.ID), http.StatusNotFound},
			{good + "&membr=1", http.StatusBadRequest},
			{fmt.Sprintf("/api/v1/access?resource=%d", f.room.ID), http.StatusUnprocessableEntity},
			{fmt.Sprintf("/api/v1/access?member=%s@acme.test&resource=%d", strings.Repeat("b", 320), f.room.ID), http.StatusUnprocessableEntity},
		}
		for range 2 {
			e.must(200, "GET", good, secret, nil)
		}
		for _, u := range unreadable {
			wantProblem(t, e.call("GET", u.path, secret, nil), u.status)
		}
		p, err := e.svc.Authenticate(e.ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		e.must(200, "DELETE", "/api/v1/credentials/"+strconv.FormatInt(p.Credential.ID, 10), e.owner, nil)
		for _, u := range unreadable {
			r := e.call("GET", u.path, secret, nil)
			if got := wantProblem(t, r, http.StatusUnauthorized); got.Detail != "invalid token" {
				t.Errorf("%s: detail %q, want %q", u.path, got.Detail, "invalid token")
			}
			if got, want := r.Header.Get("WWW-Authenticate"), `Bearer realm="memberd", error="invalid_token"`; got != want {
				t.Errorf("%s: WWW-Authenticate %q, want %q", u.path, got, want)
			}
		}
		wantProblem(t, e.call("GET", good, secret, nil), http.StatusUnauthorized)
	})
	t.Run("ErrRevokedWhileCachedRefusedFirst", func(t *testing.T) {
		// A request refused before the check, for its credential's scope or
		// its rate, would never confirm a cached credential either: it is
		// read again first, and a revoked one is answered 401.
		for _, c := range []struct {
			name   string
			limits auth.Limits
			scope  string
			status int // while the credential is in force
		}{
			{"scope", auth.Limits{}, membership.ScopeMembersWrite, http.StatusForbidden},
			{"rate", auth.Limits{Rate: 0.001, Burst: 2}, membership.ScopeMembersRead, http.StatusTooManyRequests},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := newEnv(t, func(o *envOptions) { o.limits = c.limits })
				f := e.fixture("bob@acme.test")
				secret := e.credential(e.org.Owner, nil, c.scope)
				path := fmt.Sprintf("/api/v1/access?member=%d&resource=%d", f.member.ID, f.room.ID)
				for range 3 {
					e.call("GET", path, secret, nil)
				}
				wantProblem(t, e.call("GET", path, secret, nil), c.status)
				p, err := e.svc.Authenticate(e.ctx, secret)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.svc.RevokeCredential(e.ctx, e.actor(e.owner), p.Credential.ID); err != nil {
					t.Fatal(err)
				}
				r := e.call("GET", path, secret, nil)
				if got := wantProblem(t, r, http.StatusUnauthorized); got.Detail != "invalid token" {
					t.Errorf("detail %q, want %q", got.Detail, "invalid token")
				}
				e.svc.FlushAuthRefusals(e.ctx, true)
				if evs := e.events(membership.EventListParams{Action: membership.ActionRequestAuthenticated}); len(evs) != 1 || evs[0].Message != "token has been revoked" {
					t.Errorf("auth events %+v, want one saying the token has been revoked", evs)
				}
			})
		}
	})
	t.Run("ErrMissingScope", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		reader := e.credential(e.org.Owner, nil, membership.ScopeMembersRead)
		writer := e.credential(e.org.Owner, nil, membership.ScopeMembersWrite)
		for _, c := range []struct {
			secret, method, path string
			body                 any
		}{
			{reader, "DELETE", removal(f), nil},
			{reader, "POST", "/api/v1/removals", map[string]any{"scope": "organization", "members": []map[string]any{{"id": f.member.ID}}}},
			{reader, "POST", removal(f) + "/offboard", nil},
			{reader, "GET", "/api/v1/events", nil},
			{reader, "GET", "/api/v1/credentials", nil},
			{reader, "POST", "/api/v1/credentials", map[string]any{"name": "x", "scopes": []string{"members:write"}}},
			{writer, "GET", "/api/v1/members", nil},
		} {
			wantProblem(t, e.call(c.method, c.path, c.secret, c.body), http.StatusForbidden)
		}
		unchanged(t, e, f)
		refused := 0
		for _, ev := range e.events(membership.EventListParams{}) {
			if ev.Outcome == membership.OutcomeRefused && strings.Contains(ev.Message, "scope") {
				refused++
			}
		}
		if refused != 7 {
			t.Errorf("%d refused-scope events audited, want 7", refused)
		}
	})
	t.Run("ErrOtherOrganization", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		other, err := e.svc.CreateOrganization(e.ctx, membership.BootstrapRequest{OrgName: "Globex", OwnerEmail: "owner@globex.test"})
		if err != nil {
			t.Fatal(err)
		}
		// Globex's own group, so ids that exist in both organizations are tried too.
		if _, err := e.svc.CreateGroup(e.ctx, e.actor(other.Secret), "Globex group"); err != nil {
			t.Fatal(err)
		}
		m, sp, g := f.member, f.space, f.group
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", fmt.Sprintf("/api/v1/members/%d", m.ID), nil},
			{"GET", "/api/v1/members/" + m.UUID, nil},
			{"GET", "/api/v1/members/bob@acme.test", nil},
			{"GET", fmt.Sprintf("/api/v1/members/%d/history", m.ID), nil},
			{"GET", fmt.Sprintf("/api/v1/members/%d/access", m.ID), nil},
			{"DELETE", fmt.Sprintf("/api/v1/members/%d", m.ID), nil},
			{"DELETE", fmt.Sprintf("/api/v1/members/%d?dry_run=true", m.ID), nil},
			{"POST", fmt.Sprintf("/api/v1/members/%d/offboard", m.ID), nil},
			{"PATCH", fmt.Sprintf("/api/v1/members/%d", m.ID), map[string]any{"role": "admin"}},
			{"GET", fmt.Sprintf("/api/v1/spaces/%d", sp.ID), nil},
			{"GET", "/api/v1/spaces/" + sp.UUID + "/members", nil},
			{"DELETE", fmt.Sprintf("/api/v1/spaces/%d/members/%d", sp.ID, m.ID), nil},
			{"POST", fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID), map[string]any{"roles": []string{"editor"}}},
			{"GET", fmt.Sprintf("/api/v1/groups/%d", g.ID), nil},
			{"GET", fmt.Sprintf("/api/v1/groups/%d/members", g.ID), nil},
			{"DELETE", fmt.Sprintf("/api/v1/groups/%d/members/%d", g.ID, m.ID), nil},
			{"POST", fmt.Sprintf("/api/v1/groups/%d/members", g.ID), map[string]any{"member": m.ID}},
			{"GET", fmt.Sprintf("/api/v1/access?member=%d&resource=%d", m.ID, f.desk.ID), nil},
			{"GET", fmt.Sprintf("/api/v1/grants/%d", f.directGr.ID), nil},
			{"GET", fmt.Sprintf("/api/v1/bookings/%d", f.booking.ID), nil},
		} {
			r := e.call(c.method, c.path, other.Secret, c.body)
			if r.Status == http.StatusForbidden {
				t.Fatalf("%s %s: 403 leaks that the id exists: %s", c.method, c.path, r)
			}
			wantProblem(t, r, http.StatusNotFound)
		}
		// A batch reports each foreign member not found, and removes none.
		res := decode[membership.BatchResult](t, e.must(200, "POST", "/api/v1/removals", other.Secret,
			map[string]any{"scope": "organization", "members": []map[string]any{{"id": m.ID}, {"email": m.Email}}}))
		for _, it := range res.Items {
			if it.Outcome != membership.OutcomeNotFound {
				t.Errorf("foreign batch item %+v: want not_found", it)
			}
		}
		unchanged(t, e, f)
	})
	t.Run("ErrMemberRemovesSomeone", func(t *testing.T) {
		e := newEnv(t)
		f := e.fixture("bob@acme.test")
		plain := e.addMember("pat@acme.test", membership.RoleMember)
		secret := e.credential(plain, nil, membership.ScopeMembersRead, membership.ScopeMembersWrite)
		wantProblem(t, e.call("DELETE", removal(f), secret, nil), http.StatusForbidden)
		wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/spaces/%d/members/%d", f.space.ID, f.member.ID), secret, nil), http.StatusForbidden)
		wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/groups/%d/members/%d", f.group.ID, f.member.ID), secret, nil), http.StatusForbidden)
		res := decode[membership.BatchResult](t, e.must(200, "POST", "/api/v1/removals", secret,
			map[string]any{"scope": "organization", "members": []map[string]any{{"id": f.member.ID}}}))
		if res.Items[0].Outcome != membership.OutcomeForbidden {
			t.Errorf("batch item %+v: want forbidden", res.Items[0])
		}
		unchanged(t, e, f)
		// The DELETE and the batch's item: each a refused member.removed.
		if n := len(e.events(membership.EventListParams{Action: membership.ActionMemberRemoved, Outcome: membership.OutcomeRefused})); n != 2 {
			t.Errorf("%d refused member.removed events, want 2", n)
		}
	})
	t.Run("ErrAdminRemovesOwner", func(t *testing.T) {
		e := newEnv(t)
		second := e.addMember("second-owner@acme.test", membership.RoleOwner)
		f := e.fixture("bob@acme.test")
		admin := e.addMember("ada@acme.test", membership.RoleAdmin)
		secret := e.credential(admin, nil, membership.ScopeMembersRead, membership.ScopeMembersWrite)
		wantProblem(t, e.call("DELETE", fmt.Sprintf("/api/v1/members/%d", second.ID), secret, nil), http.StatusForbidden)
		wantProblem(t, e.call("POST", fmt.Sprintf("/api/v1/members/%d/offboard", e.org.Owner.ID), secret, nil), http.StatusForbidden)
		for _, id := range []int64{second.ID, e.org.Owner.ID} {
			if st := e.memberStatus(id); st != membership.StatusActive {
				t.Errorf("owner %d is %s", id, st)
			}
		}
		// The same admin may remove a plain member.
		e.must(200, "DELETE", removal(f), secret, nil)
	})
	t.Run("ErrRateLimited", func(t *testing.T) {
		e := newEnv(t, func(o *envOptions) { o.limits = auth.Limits{Rate: 0.001, Burst: 1} })
		f := e.fixture("bob@acme.test")
		e.must(200, "GET", "/api/v1/organization", e.owner, nil)
		r := e.call("DELETE", removal(f), e.owner, nil)
		wantProblem(t, r, http.StatusTooManyRequests)
		if secs, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || secs < 1 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		unchanged(t, e, f)
	})
}
