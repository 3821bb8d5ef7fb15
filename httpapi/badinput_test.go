package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
)

// bodyRoute is a POST or PATCH route with its path parameters filled in.
type bodyRoute struct {
	method, path string
	hasBody      bool // the operation reads a body
}

// bodyRoutes lists every POST and PATCH route with its path parameters
// filled in from f, so bodies reach the decoder.
func (e *env) bodyRoutes(tb testing.TB, f *fixture) []bodyRoute {
	tb.Helper()
	fill := strings.NewReplacer(
		"{member}", fmt.Sprint(f.member.ID),
		"{space}", fmt.Sprint(f.space.ID),
		"{group}", fmt.Sprint(f.group.ID),
		"{id}", fmt.Sprint(f.sm.ID),
	)
	var routes []bodyRoute
	for _, p := range e.h.routes {
		method, path, _ := strings.Cut(p, " ")
		if (method != "POST" && method != "PATCH") || !strings.HasPrefix(path, Prefix+"/") {
			continue
		}
		item := e.h.api.OpenAPI().Paths[path]
		op := item.Post
		if method == "PATCH" {
			op = item.Patch
		}
		routes = append(routes, bodyRoute{method: method, path: fill.Replace(path), hasBody: op.RequestBody != nil})
	}
	if len(routes) < 14 {
		tb.Fatalf("only %d body routes: %v", len(routes), routes)
	}
	return routes
}

// wantClientError fails unless r is a 4xx problem+json answer.
func wantClientError(tb testing.TB, what string, r *response) {
	tb.Helper()
	if r.Status < 400 || r.Status >= 500 {
		tb.Fatalf("%s: got %s, want a 4xx problem", what, r)
	}
	wantProblem(tb, r, r.Status)
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")

	t.Run("MalformedJSON", func(t *testing.T) {
		for _, rt := range e.bodyRoutes(t, f) {
			for _, body := range []string{`{"name":`, `{`, `nul`, "\x00\xff", `{"a":1}}`} {
				r := e.call(rt.method, rt.path, e.owner, body)
				what := rt.method + " " + rt.path + " " + body
				wantClientError(t, what, r)
				if rt.hasBody && r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
					t.Errorf("%s: status %d, want 400 or 422", what, r.Status)
				}
			}
		}
	})
	t.Run("WrongShapes", func(t *testing.T) {
		for _, rt := range e.bodyRoutes(t, f) {
			for _, body := range []string{`[]`, `"x"`, `42`, `true`, `{"unknown_field":1}`, `{"name":{"a":[]},"email":[1],"member":{},"roles":"x","scopes":7,"members":{},"resource":null,"starts_at":"yesterday","dry_run":"yes"}`} {
				r := e.call(rt.method, rt.path, e.owner, body)
				wantClientError(t, rt.method+" "+rt.path+" "+body, r)
			}
		}
	})
	t.Run("WrongTypes", func(t *testing.T) {
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/members", `{"email":5}`},
			{"POST", "/api/v1/spaces", `{"name":5}`},
			{"POST", fmt.Sprintf("/api/v1/groups/%d/members", f.group.ID), `{"member":true}`},
			{"POST", fmt.Sprintf("/api/v1/groups/%d/members", f.group.ID), `{"member":1.5}`},
			{"POST", fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID), `{"roles":"editor"}`},
			{"POST", "/api/v1/bookings", `{"resource":1,"starts_at":"tomorrow","ends_at":"later"}`},
			{"POST", "/api/v1/grants", `{"resource":"not-an-id","member":1}`},
			{"POST", "/api/v1/grants", `{"resource":99999999999999999999999,"member":1}`},
			{"POST", "/api/v1/credentials", `{"name":"x","scopes":"members:read"}`},
			{"POST", "/api/v1/removals", `{"scope":"organization","members":{"id":1}}`},
			{"POST", "/api/v1/removals", `{"scope":"organization","members":[{"id":"one"}]}`},
			{"PATCH", fmt.Sprintf("/api/v1/members/%d", f.member.ID), `{"name":null,"role":7}`},
			{"POST", fmt.Sprintf("/api/v1/members/%d/offboard", f.member.ID), `{"dry_run":"true"}`},
		} {
			wantClientError(t, c.method+" "+c.path+" "+c.body, e.call(c.method, c.path, e.owner, c.body))
		}
	})
	t.Run("UnknownEnumValues", func(t *testing.T) {
		for _, c := range []struct{ method, path, body string }{
			{"POST", "/api/v1/members", `{"email":"x@acme.test","role":"superuser"}`},
			{"PATCH", fmt.Sprintf("/api/v1/members/%d", f.member.ID), `{"role":"root"}`},
			{"POST", "/api/v1/removals", `{"scope":"planet","members":[{"id":1}]}`},
			{"POST", "/api/v1/resources", `{"kind":"spaceship","name":"Enterprise"}`},
			{"POST", "/api/v1/credentials", `{"name":"x","scopes":["root"]}`},
			{"GET", "/api/v1/members?status=deleted", ``},
			{"GET", fmt.Sprintf("/api/v1/spaces/%d/members?status=gone", f.space.ID), ``},
			{"GET", "/api/v1/grants?status=maybe", ``},
			{"GET", "/api/v1/bookings?status=pending", ``},
			{"GET", "/api/v1/members?limit=0", ``},
			{"GET", "/api/v1/events?limit=100000", ``},
			{"DELETE", fmt.Sprintf("/api/v1/members/%d?dry_run=perhaps", f.member.ID), ``},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			wantClientError(t, c.method+" "+c.path+" "+c.body, e.call(c.method, c.path, e.owner, body))
		}
	})
	t.Run("BadPaths", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/members/not-a-member"},
			{"GET", "/api/v1/members/-1"},
			{"GET", "/api/v1/members/99999999999999999999999"},
			{"GET", "/api/v1/members/%00"},
			{"DELETE", "/api/v1/members/%20"},
			{"GET", "/api/v1/spaces/abc"},
			{"GET", "/api/v1/groups/1;drop"},
			{"GET", "/api/v1/space-memberships/abc"},
			{"GET", "/api/v1/grants/0"},
			{"GET", "/api/v1/credentials/-4"},
			{"GET", "/api/v1/access?member=bob@acme.test"},
			{"GET", "/api/v1/access?member=zzz&resource=1"},
			{"GET", "/api/v1/nowhere"},
			{"PUT", "/api/v1/members"},
			{"DELETE", "/api/v1/spaces"},
		} {
			wantClientError(t, c.method+" "+c.path, e.call(c.method, c.path, e.owner, nil))
		}
	})
	t.Run("Oversize", func(t *testing.T) {
		before := len(e.events(membership.EventListParams{Action: membership.ActionSpaceCreated}))
		big := `{"name":"` + strings.Repeat("x", respond.DefaultMaxBody) + `"}`
		p := wantProblem(t, e.call("POST", "/api/v1/spaces", e.owner, big), http.StatusRequestEntityTooLarge)
		if !strings.Contains(p.Detail, fmt.Sprint(respond.DefaultMaxBody)) {
			t.Errorf("detail %q does not name the limit", p.Detail)
		}
		if after := len(e.events(membership.EventListParams{Action: membership.ActionSpaceCreated})); after != before+1 {
			t.Errorf("refused oversize body audited %d times, want once", after-before)
		}
		// A body of exactly the limit is read.
		exact := `{"name":"Exactly one mebibyte"}`
		exact += strings.Repeat(" ", respond.DefaultMaxBody-len(exact))
		e.must(201, "POST", "/api/v1/spaces", e.owner, exact)
	})
	t.Run("MediaType", func(t *testing.T) {
		r := e.call("POST", "/api/v1/spaces", e.owner, `{"name":"X"}`, "Content-Type", "text/xml")
		wantClientError(t, "text/xml body", r)
	})
	t.Run("EmptyBody", func(t *testing.T) {
		wantProblem(t, e.call("POST", "/api/v1/members", e.owner, ""), http.StatusBadRequest)
	})
	t.Run("RefusalsAudited", func(t *testing.T) {
		before := len(e.events(membership.EventListParams{Action: membership.ActionMemberAdded}))
		wantClientError(t, "malformed", e.call("POST", "/api/v1/members", e.owner, `{"email":`))
		if after := len(e.events(membership.EventListParams{Action: membership.ActionMemberAdded})); after != before+1 {
			t.Errorf("%d refused add-member events recorded, want 1", after-before)
		}
	})
	if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
		t.Fatalf("bad input changed the member: %s", st)
	}
}

// FuzzNativeBodies posts arbitrary bytes to every POST and PATCH route:
// the answer is never a 5xx, and every refusal is problem+json.
//
//memberd:fuzzexecs 400
func FuzzNativeBodies(f *testing.F) {
	e := newEnv(f)
	fx := e.fixture("bob@acme.test")
	routes := e.bodyRoutes(f, fx)
	for _, seed := range []string{
		``, `{}`, `null`, `[]`, `{"email":"a@acme.test","role":"admin"}`, `{"name":"N"}`,
		`{"member":1,"roles":["editor"]}`, `{"member":"bob@acme.test"}`, `{"roles":["viewer"],"dry_run":true}`,
		`{"scope":"organization","members":[{"id":2},{"email":"x@y"},{}]}`, `{"scope":"space","space":"1","members":[{"raw":"?"}]}`,
		`{"kind":"desk","name":"D","space":1}`, `{"resource":1,"member":2}`, `{"resource":1,"group":"1"}`,
		`{"resource":1,"starts_at":"2030-01-01T00:00:00Z","ends_at":"2030-01-01T01:00:00Z"}`,
		`{"name":"c","scopes":["members:read"],"expires_at":"2099-01-01T00:00:00Z"}`, `{"dry_run":true}`,
		`{"member":18446744073709551616}`, `{"member":-1}`, `{"resource":1e400}`, "{\"name\":\"\xff\"}",
		`{"members":[` + strings.Repeat(`{"id":1},`, 200) + `{"id":1}],"scope":"group","group":1}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, rt := range routes {
			r, err := e.try(rt.method, rt.path, e.owner, body)
			if err != nil {
				t.Fatalf("%s %s: %v", rt.method, rt.path, err)
			}
			if r.Status >= 500 {
				t.Fatalf("%s %s %q: %s", rt.method, rt.path, body, r)
			}
			if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %s %q: refusal is not problem+json: %s", rt.method, rt.path, body, r)
			}
		}
	})
}
