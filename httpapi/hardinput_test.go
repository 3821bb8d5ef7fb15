package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// outOfRange are RFC 3339 times whose UTC instant falls outside the years
// 1 to 9999 (their offset carries them over), which no JSON answer can
// carry.
var outOfRange = []string{"9999-12-31T23:00:00-23:00", "0001-01-01T00:00:00+01:00"}

// timeCall is one request that carries a client's time.
type timeCall struct{ method, path, body string }

// timeCalls is every native request that takes a time, with at in its
// time field (escaped for a query where it goes in one).
func timeCalls(f *fixture, at string) []timeCall {
	q := url.QueryEscape(at)
	return []timeCall{
		{"POST", "/api/v1/credentials", fmt.Sprintf(`{"name":"c","scopes":["members:read"],"expires_at":%q}`, at)},
		{"POST", "/api/v1/schedules", fmt.Sprintf(`{"kind":"member.remove","member":%d,"effective_at":%q}`, f.member.ID, at)},
		{"POST", fmt.Sprintf("/api/v1/members/%d/offboard", f.member.ID), fmt.Sprintf(`{"effective_at":%q}`, at)},
		{"DELETE", fmt.Sprintf("/api/v1/members/%d?effective_at=%s", f.member.ID, q), ``},
		{"DELETE", fmt.Sprintf("/api/v1/spaces/%d/members/%d?effective_at=%s", f.space.ID, f.member.ID, q), ``},
		{"POST", fmt.Sprintf("/api/v1/space-memberships/%d/roles/revocation", f.sm.ID), fmt.Sprintf(`{"roles":["editor"],"effective_at":%q}`, at)},
		{"DELETE", fmt.Sprintf("/api/v1/groups/%d/members/%d?effective_at=%s", f.group.ID, f.member.ID, q), ``},
		{"POST", "/api/v1/bookings", fmt.Sprintf(`{"resource":%d,"member":%d,"starts_at":%q,"ends_at":"2030-01-01T00:00:00Z"}`, f.desk.ID, f.member.ID, at)},
		{"POST", "/api/v1/bookings", fmt.Sprintf(`{"resource":%d,"member":%d,"starts_at":"2030-01-01T00:00:00Z","ends_at":%q}`, f.desk.ID, f.member.ID, at)},
	}
}

func (c timeCall) send(e *env) (*response, error) {
	var body any
	if c.body != "" {
		body = c.body
	}
	return e.try(c.method, c.path, e.owner, body)
}

// TestTimeRange sends every time-taking field an instant outside the
// supported range: each answers a 400 problem, never a 500, and nothing
// is scheduled.
func TestTimeRange(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	for _, at := range outOfRange {
		for _, c := range timeCalls(f, at) {
			r, err := c.send(e)
			if err != nil {
				t.Fatal(err)
			}
			p := wantProblem(t, r, http.StatusBadRequest)
			if !strings.Contains(p.Detail, "9999-12-31T23:59:59Z") {
				t.Errorf("%s %s: detail %q does not name the range", c.method, c.path, p.Detail)
			}
		}
	}
	if ops := len(e.events(membership.EventListParams{Action: membership.ActionScheduledRemovalCreated, Outcome: membership.OutcomeOK})); ops != 0 {
		t.Errorf("%d removals scheduled out of range", ops)
	}
}

// FuzzTimeFields sends arbitrary text to every time-taking field: the
// answer is never a 5xx, and every refusal is problem+json.
//
//memberd:fuzzexecs 300
func FuzzTimeFields(f *testing.F) {
	e := newEnv(f)
	fx := e.fixture("bob@acme.test")
	for _, s := range append([]string{"2099-01-01T00:00:00Z", "2099-01-01T00:00:00.123456789+14:00", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59-00:01", "1970-01-01T00:00:00Z", "yesterday", ""}, outOfRange...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, at string) {
		for _, c := range timeCalls(fx, at) {
			r, err := c.send(e)
			if err != nil {
				t.Fatalf("%s %s: %v", c.method, c.path, err)
			}
			if r.Status >= 500 {
				t.Fatalf("%s %s %q: %s", c.method, c.path, at, r)
			}
			if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%s %s %q: refusal is not problem+json: %s", c.method, c.path, at, r)
			}
		}
	})
}

// TestNonCanonicalIDs: an id written with a sign or a leading zero names
// nothing in a path or a query; the same id written canonically does.
func TestNonCanonicalIDs(t *testing.T) {
	e := newEnv(t)
	f := e.fixture("bob@acme.test")
	for _, c := range []struct {
		path   string
		status int
	}{
		{fmt.Sprintf("/api/v1/grants/%d", f.directGr.ID), 200},
		{fmt.Sprintf("/api/v1/grants/+%d", f.directGr.ID), 422},
		{fmt.Sprintf("/api/v1/grants/0%d", f.directGr.ID), 422},
		{fmt.Sprintf("/api/v1/bookings/+%d", f.booking.ID), 422},
		{fmt.Sprintf("/api/v1/space-memberships/0%d", f.sm.ID), 422},
		{fmt.Sprintf("/api/v1/members/0%d", f.member.ID), 404},
		{fmt.Sprintf("/api/v1/spaces/0%d", f.space.ID), 404},
		{fmt.Sprintf("/api/v1/groups/+%d", f.group.ID), 404},
		{fmt.Sprintf("/api/v1/events?member=+%d", f.member.ID), 422},
		{"/api/v1/members?after=01", 422},
		{"/api/v1/members?limit=+5", 422},
	} {
		r := e.call("GET", c.path, e.owner, nil)
		if c.status == 200 {
			e.must(200, "GET", c.path, e.owner, nil)
			continue
		}
		wantProblem(t, r, c.status)
	}
	r := e.call("DELETE", fmt.Sprintf("/api/v1/members/0%d", f.member.ID), e.owner, nil)
	wantClientError(t, "DELETE through a non-canonical id", r)
	if st := e.memberStatus(f.member.ID); st != membership.StatusActive {
		t.Errorf("member is %s after a removal through 0%d", st, f.member.ID)
	}
}

// TestKnownEmailLooksFresh: another organization adding an address memberd
// already knows gets the same answer, field for field, as adding one it
// has never seen, and no answer or event carries the global user's id.
func TestKnownEmailLooksFresh(t *testing.T) {
	e := newEnv(t)
	other, err := e.svc.CreateOrganization(e.ctx, membership.BootstrapRequest{OrgName: "Other", OwnerEmail: "boss@other.test", OwnerName: "Bo"})
	if err != nil {
		t.Fatal(err)
	}
	add := func(email string) map[string]any {
		r := e.must(201, "POST", "/api/v1/members", other.Secret, fmt.Sprintf(`{"email":%q,"name":"N"}`, email))
		return decode[map[string]any](t, r)
	}
	known, fresh := add("owner@acme.test"), add("nobody@nowhere.test")
	for _, m := range []map[string]any{known, fresh} {
		if _, ok := m["user_id"]; ok {
			t.Errorf("member answer carries the global user_id: %v", m)
		}
	}
	// Apart from what names the member itself, the two answers agree.
	for _, k := range []string{"id", "uuid", "email"} {
		delete(known, k)
		delete(fresh, k)
	}
	if fmt.Sprint(known) != fmt.Sprint(fresh) {
		t.Errorf("known address answered %v, fresh one %v", known, fresh)
	}
	r := e.must(200, "GET", "/api/v1/events?action=member.added", other.Secret, nil)
	if strings.Contains(string(r.Body), "user_id") {
		t.Errorf("events carry user_id: %s", r.Body)
	}
}

// TestEmailRefused: the native API refuses, as a 400 problem, an address
// with a control or format character or without a dot-qualified domain,
// and adds nobody.
func TestEmailRefused(t *testing.T) {
	e := newEnv(t)
	before := len(e.events(membership.EventListParams{Action: membership.ActionMemberAdded, Outcome: membership.OutcomeOK}))
	for _, email := range []string{`eve\u202e@acme.test`, `eve@acme\u2069.test`, `e\u200dve@acme.test`, `eve\u0000@acme.test`,
		`eve\u00ad@acme.test`, `eve@acme`, `eve@localhost`, `eve@[10.0.0.1]`, `\"e v\"@acme.test`} {
		r := e.call("POST", "/api/v1/members", e.owner, `{"email":"`+email+`"}`)
		wantProblem(t, r, http.StatusBadRequest)
	}
	if after := len(e.events(membership.EventListParams{Action: membership.ActionMemberAdded, Outcome: membership.OutcomeOK})); after != before {
		t.Errorf("%d members added with refused addresses", after-before)
	}
}

// TestProblemsStayBounded: a refused body is echoed in bounded pieces.
// huma reports each unknown property with its whole object as the value;
// unbounded, 3,000 unknown keys (35 KB) answered 87 MB, and a 1 MiB body
// of them took the server's memory until the kernel killed it.
func TestProblemsStayBounded(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString(`{"email":"a@acme.test"`)
	for i := range 3000 {
		fmt.Fprintf(&b, `,"k%d":1`, i)
	}
	b.WriteString(`}`)
	long := strings.Repeat("é", 100_000)
	for _, c := range []struct{ what, body, contentType string }{
		{"3,000 unknown properties", b.String(), ""},
		{"a 200 KB e-mail", `{"email":"` + long + `@acme.test"}`, ""},
		{"a 200 KB body of another type", long, "text/plain"},
	} {
		var hdr []string
		if c.contentType != "" {
			hdr = []string{"Content-Type", c.contentType}
		}
		r := e.call("POST", "/api/v1/members", e.owner, c.body, hdr...)
		wantClientError(t, c.what, r)
		if len(r.Body) > 8<<10 {
			t.Errorf("%s: %d-byte answer, want under 8 KiB: %.300s", c.what, len(r.Body), r.Body)
		}
		var p struct {
			Errors []struct {
				Location string
				Value    any
			}
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		if len(p.Errors) > maxProblemErrors+1 {
			t.Errorf("%s: %d errors listed, want at most %d and a count of the rest", c.what, len(p.Errors), maxProblemErrors+1)
		}
	}
}
