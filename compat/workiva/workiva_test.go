package workiva_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/compat/workiva"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fixture is a Workiva server on loopback over one engine, with an
// organization: an owner, a member "bob" in workspace HQ holding three
// roles, and credentials of several kinds.
type fixture struct {
	srv     *httptest.Server
	svc     *membership.Service
	owner   membership.Actor
	org     *membership.Organization
	space   *membership.Space
	sm      *membership.SpaceMember
	admin   string // owner's token: every scope
	noScope string // an owner's token without organization:read
	plain   string // a plain member's token with organization:read
	other   string // another organization's owner token
	otherOr *membership.Organization
}

type options struct {
	noQueue bool // no job queue at all: revocations cannot be accepted
	start   bool // start the job runner
	cfg     workiva.Config
	limits  auth.Limits
}

func newFixture(t testing.TB, engine string, o options) *fixture {
	t.Helper()
	ctx := context.Background()
	st := dialecttest.OpenStore(t, engine)
	var err error
	jcfg := jobs.DefaultConfig()
	jcfg.FetchPollInterval = 50 * time.Millisecond
	jcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	svcCfg := membership.DefaultConfig()
	var queue *jobs.Queue
	if !o.noQueue {
		queue = jobstest.NewQueue(t, st, jcfg)
		svcCfg.Queue = queue
	}
	svc := membership.NewService(st, svcCfg)
	var runner *jobs.Runner
	if !o.noQueue {
		if runner, err = jobs.NewRunner(svc, queue); err != nil {
			t.Fatal(err)
		}
	}
	if o.start {
		if err := runner.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if o.start {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = runner.Stop(ctx)
		}
	})
	f := &fixture{svc: svc}
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.org, f.admin = b.Organization, b.Secret
	f.owner = membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID, Scopes: b.Credential.Scopes, Interface: "test"}
	bob, err := svc.AddMember(ctx, f.owner, membership.AddMemberRequest{Email: "bob@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	if f.space, err = svc.CreateSpace(ctx, f.owner, "HQ"); err != nil {
		t.Fatal(err)
	}
	if f.sm, err = svc.AddSpaceMember(ctx, f.owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: f.space.ID},
		Member: membership.MemberRef{ID: bob.ID}, Roles: []string{"Workspace Owner", "Editor", "Viewer"}}); err != nil {
		t.Fatal(err)
	}
	cred := func(m membership.MemberRef, scopes ...string) string {
		c, err := svc.CreateCredential(ctx, f.owner, membership.CreateCredentialRequest{Member: m, Name: "t", Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return c.Secret
	}
	f.noScope = cred(membership.MemberRef{}, membership.ScopeMembersRead)
	f.plain = cred(membership.MemberRef{ID: bob.ID}, membership.ScopeWorkivaOrgRead)
	ob, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Other", OwnerEmail: "owner@other.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.other, f.otherOr = ob.Secret, ob.Organization
	cfg := o.cfg
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) }
	}
	h := workiva.NewHandler(svc, auth.New(svc, o.limits), cfg)
	f.srv = dialecttest.Mount(t, "/prototype/", h)
	return f
}

func (f *fixture) revocationURL(orgID string, space, sm int64) string {
	return f.srv.URL + "/prototype/admin/organizations/" + orgID + "/workspaces/" + strconv.FormatInt(space, 10) +
		"/memberships/" + strconv.FormatInt(sm, 10) + "/roles/revocation"
}

func (f *fixture) url() string { return f.revocationURL(f.org.UUID, f.space.ID, f.sm.ID) }

// seedHeaders are the headers of the seed's curl sample, verbatim.
func seedHeaders(token string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("Authorization", "Bearer "+token)
	h.Set("X-Version", "2022-01-01")
	return h
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, method, url string, h http.Header, body string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if h != nil {
		req.Header = h
	}
	resp, data := dialecttest.Do(t, req)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// wantError checks a Workiva error reply: status, code and the seed's message.
func wantError(t *testing.T, got reply, status int, code, message string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d body %s, want %d", got.status, got.body, status)
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(got.body, &e); err != nil {
		t.Fatalf("body %q: %v", got.body, err)
	}
	if e.Code != code || (message != "" && e.Message != message) {
		t.Fatalf("error %+v, want code %q message %q", e, code, message)
	}
	wantDeprecation(t, got)
}

func wantDeprecation(t *testing.T, got reply) {
	t.Helper()
	if d := got.header.Get("Deprecation"); d != "@1770854400" {
		t.Errorf("Deprecation %q, want @1770854400", d)
	}
	if s := got.header.Get("Sunset"); s != "Sun, 31 Jan 2027 00:00:00 GMT" {
		t.Errorf("Sunset %q", s)
	}
	if l := got.header.Get("Link"); !regexp.MustCompile(`^</api/v1/[^>]+>; rel="successor-version"$`).MatchString(l) {
		t.Errorf("Link %q", l)
	}
}

type operation struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Created struct {
		DateTime string `json:"dateTime"`
	} `json:"created"`
	Updated struct {
		DateTime string `json:"dateTime"`
	} `json:"updated"`
	OriginalRequest string `json:"originalRequest"`
	ResourceURL     string `json:"resourceUrl"`
	Details         []struct {
		Code, Message, Target string
	} `json:"details"`
}

// poll follows Location as the seed's operations guide says: wait
// Retry-After between polls until the operation is final.
func poll(t *testing.T, location, token string) (operation, reply) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := do(t, http.MethodGet, location, seedHeaders(token), "")
		if r.status != http.StatusOK {
			t.Fatalf("poll: status %d body %s", r.status, r.body)
		}
		wantDeprecation(t, r)
		var op operation
		if err := json.Unmarshal(r.body, &op); err != nil {
			t.Fatal(err)
		}
		switch op.Status {
		case "completed", "failed", "cancelled":
			if ra := r.header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After %q on a final operation", ra)
			}
			return op, r
		}
		if r.header.Get("Retry-After") == "" {
			t.Fatalf("no Retry-After while %s", op.Status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation still %s", op.Status)
		}
		time.Sleep(20 * time.Millisecond) // Retry-After says 1 s; the test need not wait that long
	}
}

func (f *fixture) roles(t *testing.T) []string {
	t.Helper()
	sm, err := f.svc.SpaceMembership(context.Background(), f.owner, f.sm.ID)
	if err != nil {
		t.Fatal(err)
	}
	return sm.Roles
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func forEngines(t *testing.T, test func(t *testing.T, engine string)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run(e, func(t *testing.T) { test(t, e) })
	}
}

func TestRevocation(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine, options{start: true})

		t.Run("SeedCurlWithoutBody", func(t *testing.T) {
			// The seed's curl sample sends no body, but the body is required.
			r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), "")
			wantError(t, r, 400, "400BadRequest", "The request was unacceptable, often due to a missing or invalid parameter")
		})

		t.Run("SeedBodyExample", func(t *testing.T) {
			// The seed's body example names role "string", which bob does
			// not hold: accepted, then failed with details, nothing revoked.
			r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), "[\n  \"string\"\n]")
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			op, _ := poll(t, r.header.Get("Location"), f.admin)
			if op.Status != "failed" || len(op.Details) != 1 || op.Details[0].Code != "Conflict" || !strings.Contains(op.Details[0].Message, "string") || op.Details[0].Target != "roles" {
				t.Fatalf("operation %+v", op)
			}
			if op.ResourceURL != "" {
				t.Errorf("resourceUrl %q on a failed operation", op.ResourceURL)
			}
			if diff := cmp.Diff([]string{"Editor", "Viewer", "Workspace Owner"}, f.roles(t)); diff != "" {
				t.Fatalf("roles changed (-want +got):\n%s", diff)
			}
		})

		t.Run("PollToCompletion", func(t *testing.T) {
			r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer","Editor"]`)
			if r.status != http.StatusAccepted || len(r.body) != 0 {
				t.Fatalf("status %d body %q", r.status, r.body)
			}
			wantDeprecation(t, r)
			if ra := r.header.Get("Retry-After"); ra != "1" {
				t.Errorf("Retry-After %q", ra)
			}
			loc := r.header.Get("Location")
			m := regexp.MustCompile(`^` + regexp.QuoteMeta(f.srv.URL) + `/prototype/platform/operations/([0-9a-f-]{36})$`).FindStringSubmatch(loc)
			if m == nil {
				t.Fatalf("Location %q", loc)
			}
			op, pr := poll(t, loc, f.admin)
			if op.Status != "completed" || op.ID != m[1] || !uuidRE.MatchString(op.OriginalRequest) {
				t.Fatalf("operation %+v", op)
			}
			if l := pr.header.Get("Link"); l != "</api/v1/operations/"+op.ID+`>; rel="successor-version"` {
				t.Errorf("poll Link %q", l)
			}
			for _, dt := range []string{op.Created.DateTime, op.Updated.DateTime} {
				if _, err := time.Parse("2006-01-02T15:04:05Z", dt); err != nil {
					t.Errorf("dateTime %q: %v", dt, err)
				}
			}
			want := f.srv.URL + "/prototype/admin/organizations/" + f.org.UUID + "/workspaces/" + strconv.FormatInt(f.space.ID, 10) + "/memberships/" + strconv.FormatInt(f.sm.ID, 10)
			if op.ResourceURL != want {
				t.Errorf("resourceUrl %q, want %q", op.ResourceURL, want)
			}
			if diff := cmp.Diff([]string{"Workspace Owner"}, f.roles(t)); diff != "" {
				t.Fatalf("roles (-want +got):\n%s", diff)
			}
		})

		t.Run("AtomicFailure", func(t *testing.T) {
			r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Workspace Owner","Viewer"]`)
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			op, _ := poll(t, r.header.Get("Location"), f.admin)
			if op.Status != "failed" || len(op.Details) != 1 || !strings.Contains(op.Details[0].Message, "Viewer") {
				t.Fatalf("operation %+v", op)
			}
			if diff := cmp.Diff([]string{"Workspace Owner"}, f.roles(t)); diff != "" {
				t.Fatalf("a role was revoked (-want +got):\n%s", diff)
			}
		})

		t.Run("XVersion", func(t *testing.T) {
			h := seedHeaders(f.admin)
			h.Del("X-Version")
			r := do(t, http.MethodPost, f.url(), h, `["nope"]`)
			if r.status != http.StatusAccepted {
				t.Fatalf("without X-Version: status %d body %s", r.status, r.body)
			}
			poll(t, r.header.Get("Location"), f.admin)
			h.Set("X-Version", "2023-01-01")
			wantError(t, do(t, http.MethodPost, f.url(), h, `["nope"]`), 400, "400BadRequest", "The request was unacceptable, often due to a missing or invalid parameter")
		})

		t.Run("Refusals", func(t *testing.T) {
			other := func(h http.Header) http.Header { return h }
			for _, tc := range []struct {
				name   string
				url    string
				header http.Header
				body   string
				status int
				code   string
				msg    string
			}{
				{"NoToken", f.url(), other(http.Header{"Content-Type": {"application/json"}}), `["Viewer"]`, 401, "401Unauthorized", "No valid API token provided"},
				{"BadToken", f.url(), seedHeaders("mbd_0000000000000000_xxxx"), `["Viewer"]`, 401, "401Unauthorized", "No valid API token provided"},
				{"NoScope", f.url(), seedHeaders(f.noScope), `["Viewer"]`, 403, "403Forbidden", "The API token does not have permissions to perform the request"},
				{"NotAdmin", f.url(), seedHeaders(f.plain), `["Viewer"]`, 403, "403Forbidden", "The API token does not have permissions to perform the request"},
				{"OrgNotUUID", f.revocationURL("12", f.space.ID, f.sm.ID), seedHeaders(f.admin), `["Viewer"]`, 400, "400BadRequest", "The request was unacceptable, often due to a missing or invalid parameter"},
				{"OtherOrg", f.revocationURL(f.otherOr.UUID, f.space.ID, f.sm.ID), seedHeaders(f.admin), `["Viewer"]`, 404, "404NotFound", "The requested resource could not be found"},
				{"OtherOrgsToken", f.url(), seedHeaders(f.other), `["Viewer"]`, 404, "404NotFound", "The requested resource could not be found"},
				{"NoWorkspace", f.revocationURL(f.org.UUID, 9999, f.sm.ID), seedHeaders(f.admin), `["Viewer"]`, 404, "404NotFound", "The requested resource could not be found"},
				{"NoMembership", f.revocationURL(f.org.UUID, f.space.ID, 9999), seedHeaders(f.admin), `["Viewer"]`, 404, "404NotFound", "The requested resource could not be found"},
				{"BodyNotArray", f.url(), seedHeaders(f.admin), `{"roles":["Viewer"]}`, 400, "400BadRequest", "The request was unacceptable, often due to a missing or invalid parameter"},
				{"EmptyArray", f.url(), seedHeaders(f.admin), `[]`, 400, "400BadRequest", "The request was unacceptable, often due to a missing or invalid parameter"},
				{"NotStrings", f.url(), seedHeaders(f.admin), `[1,2]`, 400, "400BadRequest", ""},
				{"WrongMethod", f.url(), seedHeaders(f.admin), "", 405, "405MethodNotAllowed", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					method := http.MethodPost
					if tc.name == "WrongMethod" {
						method = http.MethodGet
					}
					wantError(t, do(t, method, tc.url, tc.header, tc.body), tc.status, tc.code, tc.msg)
				})
			}
			if diff := cmp.Diff([]string{"Workspace Owner"}, f.roles(t)); diff != "" {
				t.Fatalf("a refused request changed roles (-want +got):\n%s", diff)
			}
		})

		t.Run("PollOtherOrganization", func(t *testing.T) {
			r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["x"]`)
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d", r.status)
			}
			wantError(t, do(t, http.MethodGet, r.header.Get("Location"), seedHeaders(f.other), ""), 404, "404NotFound", "The requested resource could not be found")
			wantError(t, do(t, http.MethodGet, f.srv.URL+"/prototype/platform/operations/nope", seedHeaders(f.admin), ""), 404, "404NotFound", "")
			poll(t, r.header.Get("Location"), f.admin)
		})
	})
}

func TestPending(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		// The runner is not started: the first revocation stays queued.
		f := newFixture(t, engine, options{start: false})
		first := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer"]`)
		if first.status != http.StatusAccepted {
			t.Fatalf("status %d body %s", first.status, first.body)
		}
		r := do(t, http.MethodGet, first.header.Get("Location"), seedHeaders(f.admin), "")
		var op operation
		if err := json.Unmarshal(r.body, &op); err != nil || op.Status != "queued" || r.header.Get("Retry-After") != "1" {
			t.Fatalf("poll %d %s %v", r.status, r.body, err)
		}
		second := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Editor"]`)
		wantError(t, second, 409, "409Conflict", "The request conflicts with another request")
	})
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, "sqlite", options{start: true, limits: auth.Limits{Rate: 0.001, Burst: 1}})
	if r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["x"]`); r.status != http.StatusAccepted {
		t.Fatalf("first: status %d", r.status)
	}
	r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["x"]`)
	wantError(t, r, 429, "429TooManyRequests", "Too many requests have been made against the API in too short a time")
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}

func TestSunset(t *testing.T) {
	after := func() time.Time { return workiva.Sunset.Add(time.Second) }
	t.Run("Gone", func(t *testing.T) {
		f := newFixture(t, "sqlite", options{cfg: workiva.Config{Now: after}})
		wantError(t, do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer"]`), 410, "410Gone", "")
		wantError(t, do(t, http.MethodGet, f.srv.URL+"/prototype/platform/operations/"+membership.NewUUID(), seedHeaders(f.admin), ""), 410, "410Gone", "")
		if diff := cmp.Diff([]string{"Editor", "Viewer", "Workspace Owner"}, f.roles(t)); diff != "" {
			t.Fatalf("roles changed (-want +got):\n%s", diff)
		}
	})
	t.Run("ServeAfterSunset", func(t *testing.T) {
		f := newFixture(t, "sqlite", options{start: true, cfg: workiva.Config{Now: after, ServeAfterSunset: true}})
		r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer"]`)
		if r.status != http.StatusAccepted {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
		wantDeprecation(t, r)
		if op, _ := poll(t, r.header.Get("Location"), f.admin); op.Status != "completed" {
			t.Fatalf("operation %+v", op)
		}
	})
	t.Run("BeforeSunset", func(t *testing.T) {
		f := newFixture(t, "sqlite", options{cfg: workiva.Config{Now: func() time.Time { return workiva.Sunset.Add(-time.Second) }}})
		if r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer"]`); r.status != http.StatusAccepted {
			t.Fatalf("status %d body %s", r.status, r.body)
		}
	})
}

func TestUnavailable(t *testing.T) {
	f := newFixture(t, "sqlite", options{noQueue: true})
	r := do(t, http.MethodPost, f.url(), seedHeaders(f.admin), `["Viewer"]`)
	wantError(t, r, 503, "503ServiceUnavailable", "The server cannot handle the request due to a temporary overload or scheduled maintenance")
}

// workspaceMembership is the part of Workiva's WorkspaceMembership the
// tests read.
type workspaceMembership struct {
	ID        string `json:"id"`
	Workspace struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"workspace"`
	User struct {
		ID       string `json:"id"`
		Email    string `json:"email"`
		Username string `json:"username"`
	} `json:"user"`
	Roles []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"roles"`
	Created struct {
		DateTime string `json:"dateTime"`
		User     struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"created"`
}

func (f *fixture) membershipURL(orgID, space, sm string) string {
	return f.srv.URL + "/prototype/admin/organizations/" + orgID + "/workspaces/" + space + "/memberships/" + sm
}

// getMembership reads a workspace membership and checks the dialect's
// headers on the answer.
func getMembership(t *testing.T, url, token string) workspaceMembership {
	t.Helper()
	r := do(t, http.MethodGet, url, seedHeaders(token), "")
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET %s: status %d %q body %s", url, r.status, r.header.Get("Content-Type"), r.body)
	}
	wantDeprecation(t, r)
	var m workspaceMembership
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return m
}

func roleNames(m workspaceMembership) []string {
	var names []string
	for _, r := range m.Roles {
		if r.ID != r.Name {
			names = append(names, "id "+r.ID+" != name "+r.Name)
		}
		names = append(names, r.Name)
	}
	return names
}

func TestMembership(t *testing.T) {
	forEngines(t, func(t *testing.T, engine string) {
		f := newFixture(t, engine, options{start: true})
		ctx := context.Background()
		bob, err := f.svc.Member(ctx, f.owner, membership.MemberRef{ID: f.sm.MemberID})
		if err != nil {
			t.Fatal(err)
		}
		ownerMember, err := f.svc.Member(ctx, f.owner, membership.MemberRef{ID: f.owner.MemberID})
		if err != nil {
			t.Fatal(err)
		}
		space, sm := strconv.FormatInt(f.space.ID, 10), strconv.FormatInt(f.sm.ID, 10)
		url := f.membershipURL(f.org.UUID, space, sm)

		t.Run("Shape", func(t *testing.T) {
			m := getMembership(t, url, f.admin)
			if m.ID != sm || m.Workspace.ID != space || m.Workspace.Name != "HQ" {
				t.Errorf("membership %+v: want id %s in workspace %s (HQ)", m, sm, space)
			}
			if m.User.ID != bob.UUID || m.User.Email != "bob@acme.test" || m.User.Username != "bob@acme.test" {
				t.Errorf("user %+v: want bob (%s)", m.User, bob.UUID)
			}
			if diff := cmp.Diff(f.roles(t), roleNames(m)); diff != "" {
				t.Errorf("roles (-core +answer):\n%s", diff)
			}
			if _, err := time.Parse("2006-01-02T15:04:05Z", m.Created.DateTime); err != nil || m.Created.User.ID != ownerMember.UUID {
				t.Errorf("created %+v: want a dateTime and the owner (%s): %v", m.Created, ownerMember.UUID, err)
			}
			// By the workspace's UUID too, and the Link names the native successor.
			r := do(t, http.MethodGet, f.membershipURL(f.org.UUID, f.space.UUID, sm), seedHeaders(f.admin), "")
			if r.status != http.StatusOK {
				t.Fatalf("by workspace UUID: status %d body %s", r.status, r.body)
			}
			if l := r.header.Get("Link"); l != "</api/v1/space-memberships/"+sm+`>; rel="successor-version"` {
				t.Errorf("Link %q", l)
			}
		})

		t.Run("ResourceURLOfCompletedRevocation", func(t *testing.T) {
			r := do(t, http.MethodPost, url+"/roles/revocation", seedHeaders(f.admin), `["Viewer"]`)
			if r.status != http.StatusAccepted {
				t.Fatalf("status %d body %s", r.status, r.body)
			}
			op, _ := poll(t, r.header.Get("Location"), f.admin)
			if op.Status != "completed" || op.ResourceURL != url {
				t.Fatalf("operation %+v: want completed with resourceUrl %s", op, url)
			}
			m := getMembership(t, op.ResourceURL, f.admin)
			if diff := cmp.Diff([]string{"Editor", "Workspace Owner"}, roleNames(m)); diff != "" {
				t.Errorf("roles after the revocation (-want +got):\n%s", diff)
			}
			// The plain member's token has organization:read: reading needs no admin.
			if got := getMembership(t, op.ResourceURL, f.plain); got.ID != sm {
				t.Errorf("read by the member: %+v", got)
			}
		})

		t.Run("Refusals", func(t *testing.T) {
			other, err := f.svc.CreateSpace(ctx, f.owner, "Annex")
			if err != nil {
				t.Fatal(err)
			}
			carol, err := f.svc.AddMember(ctx, f.owner, membership.AddMemberRequest{Email: "carol@acme.test"})
			if err != nil {
				t.Fatal(err)
			}
			gone, err := f.svc.AddSpaceMember(ctx, f.owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: f.space.ID},
				Member: membership.MemberRef{ID: carol.ID}, Roles: []string{"Viewer"}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.svc.RemoveSpaceMember(ctx, f.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: f.space.ID},
				Member: membership.MemberRef{ID: carol.ID}}); err != nil {
				t.Fatal(err)
			}
			const (
				msg400 = "The request was unacceptable, often due to a missing or invalid parameter"
				msg404 = "The requested resource could not be found"
			)
			for _, tc := range []struct {
				name, method, url string
				header            http.Header
				status            int
				code, msg         string
			}{
				{"NoToken", "GET", url, http.Header{}, 401, "401Unauthorized", "No valid API token provided"},
				{"BadToken", "GET", url, seedHeaders("mbd_0000000000000000_xxxx"), 401, "401Unauthorized", "No valid API token provided"},
				{"NoScope", "GET", url, seedHeaders(f.noScope), 403, "403Forbidden", "The API token does not have permissions to perform the request"},
				{"OrgNotUUID", "GET", f.membershipURL("12", space, sm), seedHeaders(f.admin), 400, "400BadRequest", msg400},
				{"XVersion", "GET", url, func() http.Header { h := seedHeaders(f.admin); h.Set("X-Version", "1999-01-01"); return h }(), 400, "400BadRequest", msg400},
				{"OtherOrg", "GET", f.membershipURL(f.otherOr.UUID, space, sm), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"OtherOrgsToken", "GET", url, seedHeaders(f.other), 404, "404NotFound", msg404},
				{"NoWorkspace", "GET", f.membershipURL(f.org.UUID, "9999", sm), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"WorkspaceNotAnID", "GET", f.membershipURL(f.org.UUID, "hq", sm), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"NoMembership", "GET", f.membershipURL(f.org.UUID, space, "9999"), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"MembershipNotAnID", "GET", f.membershipURL(f.org.UUID, space, "x1"), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"OtherWorkspace", "GET", f.membershipURL(f.org.UUID, strconv.FormatInt(other.ID, 10), sm), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"Removed", "GET", f.membershipURL(f.org.UUID, space, strconv.FormatInt(gone.ID, 10)), seedHeaders(f.admin), 404, "404NotFound", msg404},
				{"WrongMethod", "DELETE", url, seedHeaders(f.admin), 405, "405MethodNotAllowed", ""},
			} {
				t.Run(tc.name, func(t *testing.T) {
					wantError(t, do(t, tc.method, tc.url, tc.header, ""), tc.status, tc.code, tc.msg)
				})
			}
		})
	})
}

func TestMembershipSunset(t *testing.T) {
	f := newFixture(t, "sqlite", options{cfg: workiva.Config{Now: func() time.Time { return workiva.Sunset.Add(time.Second) }}})
	url := f.membershipURL(f.org.UUID, strconv.FormatInt(f.space.ID, 10), strconv.FormatInt(f.sm.ID, 10))
	wantError(t, do(t, http.MethodGet, url, seedHeaders(f.admin), ""), 410, "410Gone", "")
}
