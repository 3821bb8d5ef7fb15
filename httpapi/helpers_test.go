package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// testClock is the service's injected clock; tests move it forward. A
// live clock runs with the real time (plus what Advance added), for tests
// where the job runner, which waits in real time, must agree with it.
type testClock struct {
	mu   sync.Mutex
	now  time.Time
	live bool
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		return time.Now().UTC().Add(c.now.Sub(time.Time{}))
	}
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one native API server on a fresh SQLite store with one
// bootstrapped organization ("Acme", owner owner@acme.test).
type env struct {
	tb    testing.TB
	ctx   context.Context
	svc   *membership.Service
	h     *handler
	srv   *httptest.Server
	clock *testClock
	org   *membership.Bootstrap
	owner string // the owner's secret, every scope
}

type envOptions struct {
	batchLimit int
	limits     auth.Limits
	// runJobs starts the job runner (and makes the clock live), so that
	// operations, scheduled removals and webhook deliveries run. Without
	// it the queue is connected but idle: they are accepted and wait.
	runJobs bool
	// accessIndex is the service's AccessIndex (0: the default).
	accessIndex int
}

// runJobs is the option that starts the job runner.
func runJobs(o *envOptions) { o.runJobs = true }

func newEnv(tb testing.TB, opts ...func(*envOptions)) *env {
	tb.Helper()
	var o envOptions
	for _, fn := range opts {
		fn(&o)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	clock := &testClock{now: time.Now().UTC().Truncate(time.Second)}
	if o.runJobs {
		clock = &testClock{live: true}
	}
	cfg := membership.DefaultConfig()
	cfg.Now = clock.Now
	// The tests' webhook receivers listen on loopback, which memberd
	// refuses unless the operator allows it.
	loopback := &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	cfg.WebhookGuard = loopback
	cfg.BatchLimit = o.batchLimit
	cfg.AccessIndex = o.accessIndex
	// The server always runs a job queue; connect one here too, so that
	// operations and webhooks are accepted as they are in production.
	jcfg := jobs.DefaultConfig()
	jcfg.FetchPollInterval = 50 * time.Millisecond
	jcfg.HTTPClient = loopback.Client(0)
	jcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	jcfg.Webhook = membership.WebhookRetryPolicy{MaxAttempts: 3, Backoff: func(n int) time.Duration {
		return 100 * time.Millisecond << (n - 1)
	}}
	queue := jobstest.NewQueue(tb, st, jcfg)
	cfg.Queue = queue
	svc := membership.NewService(st, cfg)
	runner, err := jobs.NewRunner(svc, queue)
	if err != nil {
		tb.Fatalf("job queue: %v", err)
	}
	if o.runJobs {
		if err := runner.Start(ctx); err != nil {
			tb.Fatalf("start jobs: %v", err)
		}
		tb.Cleanup(func() {
			// Before the store closes (cleanups run last first).
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = runner.Stop(ctx)
		})
	}
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test", OwnerName: "Olive"})
	if err != nil {
		tb.Fatalf("bootstrap: %v", err)
	}
	h := newHandler(svc, auth.New(svc, o.limits))
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return &env{tb: tb, ctx: ctx, svc: svc, h: h, srv: srv, clock: clock, org: b, owner: b.Secret}
}

// response is an answer read in full.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r *response) String() string {
	return http.StatusText(r.Status) + " " + r.Header.Get("Content-Type") + " " + string(r.Body)
}

// call sends one request. body is sent as is when it is a string or
// []byte, as JSON otherwise, and not at all when nil. hdr holds extra
// header name/value pairs.
func (e *env) call(method, path, secret string, body any, hdr ...string) *response {
	e.tb.Helper()
	r, err := e.try(method, path, secret, body, hdr...)
	if err != nil {
		e.tb.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// try is call for goroutines other than the test's: it returns its error.
func (e *env) try(method, path, secret string, body any, hdr ...string) (*response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(e.ctx, method, e.srv.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// must calls and fails the test unless the answer has status want.
func (e *env) must(want int, method, path, secret string, body any, hdr ...string) *response {
	e.tb.Helper()
	r := e.call(method, path, secret, body, hdr...)
	if r.Status != want {
		e.tb.Fatalf("%s %s: got %s, want %d", method, path, r, want)
	}
	if want < 300 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		e.tb.Fatalf("%s %s: content type %q, want application/json", method, path, r.Header.Get("Content-Type"))
	}
	return r
}

func decode[T any](tb testing.TB, r *response) T {
	tb.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		tb.Fatalf("decode %T from %s: %v", v, r.Body, err)
	}
	return v
}

// problemBody is an RFC 9457 problem as memberd writes it.
type problemBody struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// wantProblem fails unless r is a problem+json answer with status.
func wantProblem(tb testing.TB, r *response, status int) problemBody {
	tb.Helper()
	if r.Status != status {
		tb.Fatalf("got %s, want status %d", r, status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Fatalf("content type %q, want application/problem+json (%s)", ct, r.Body)
	}
	p := decode[problemBody](tb, r)
	if p.Status != status || p.Title == "" || p.Detail == "" {
		tb.Fatalf("problem %+v: want status %d with a title and a detail", p, status)
	}
	return p
}

// actor is the core's view of the credential with secret.
func (e *env) actor(secret string) membership.Actor {
	e.tb.Helper()
	p, err := e.svc.Authenticate(e.ctx, secret)
	if err != nil {
		e.tb.Fatalf("authenticate: %v", err)
	}
	return membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: "test"}
}

// addMember adds a member through the core as the owner.
func (e *env) addMember(email string, role membership.Role) *membership.Member {
	e.tb.Helper()
	m, err := e.svc.AddMember(e.ctx, e.actor(e.owner), membership.AddMemberRequest{Email: email, Role: role})
	if err != nil {
		e.tb.Fatalf("add member %s: %v", email, err)
	}
	return m
}

// credential makes a credential acting as m with scopes and returns its secret.
func (e *env) credential(m *membership.Member, expires *time.Time, scopes ...string) string {
	e.tb.Helper()
	c, err := e.svc.CreateCredential(e.ctx, e.actor(e.owner), membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: m.ID}, Name: "test", Scopes: scopes, ExpiresAt: expires})
	if err != nil {
		e.tb.Fatalf("create credential: %v", err)
	}
	return c.Secret
}

// memberStatus reads a member's status straight from the core.
func (e *env) memberStatus(id int64) membership.Status {
	e.tb.Helper()
	m, err := e.svc.Member(e.ctx, e.actor(e.owner), membership.MemberRef{ID: id})
	if err != nil {
		e.tb.Fatalf("member %d: %v", id, err)
	}
	return m.Status
}

// events lists the organization's events matching p through the core.
func (e *env) events(p membership.EventListParams) []*membership.Event {
	e.tb.Helper()
	p.Limit = membership.MaxListLimit
	es, err := e.svc.Events(e.ctx, e.actor(e.owner), p)
	if err != nil {
		e.tb.Fatalf("events: %v", err)
	}
	return es
}

// fixture is a member with something in every kind of place: a space
// with roles, a group, a resource reached through the group, a direct
// grant and a future booking.
type fixture struct {
	member   *membership.Member
	space    *membership.Space
	sm       *membership.SpaceMember
	group    *membership.Group
	desk     *membership.Resource // in the space, granted through the group
	room     *membership.Resource // granted directly
	booking  *membership.Booking
	directGr *membership.Grant
}

func (e *env) fixture(email string) *fixture {
	e.tb.Helper()
	a := e.actor(e.owner)
	f := &fixture{member: e.addMember(email, membership.RoleMember)}
	ref := membership.MemberRef{ID: f.member.ID}
	var err error
	check := func(what string) {
		if err != nil {
			e.tb.Fatalf("fixture %s: %v", what, err)
		}
	}
	f.space, err = e.svc.CreateSpace(e.ctx, a, "Space of "+email)
	check("space")
	f.sm, err = e.svc.AddSpaceMember(e.ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: f.space.ID}, Member: ref, Roles: []string{"editor", "viewer"}})
	check("space member")
	f.group, err = e.svc.CreateGroup(e.ctx, a, "Group of "+email)
	check("group")
	_, err = e.svc.AddGroupMember(e.ctx, a, membership.Ref{ID: f.group.ID}, ref)
	check("group member")
	f.desk, err = e.svc.CreateResource(e.ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: "Desk of " + email, Space: membership.Ref{ID: f.space.ID}})
	check("desk")
	_, err = e.svc.CreateGrant(e.ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: f.desk.ID}, Group: &membership.Ref{ID: f.group.ID}})
	check("group grant")
	f.room, err = e.svc.CreateResource(e.ctx, a, membership.CreateResourceRequest{Kind: "room", Name: "Room of " + email})
	check("room")
	f.directGr, err = e.svc.CreateGrant(e.ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: f.room.ID}, Member: &ref})
	check("direct grant")
	start := e.clock.Now().Add(24 * time.Hour)
	f.booking, err = e.svc.CreateBooking(e.ctx, a, membership.CreateBookingRequest{Resource: membership.Ref{ID: f.desk.ID}, Member: &ref, StartsAt: start, EndsAt: start.Add(time.Hour)})
	check("booking")
	return f
}
