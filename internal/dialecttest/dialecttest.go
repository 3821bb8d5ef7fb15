// Package dialecttest owns the harness the dialect test suites share:
// running a test on each engine (SQLite in a temporary directory,
// PostgreSQL through internal/pgtest), the demo organization loaded into a
// fresh store, its service and clock, the dialect's handler mounted behind
// a loopback httptest server with request ids, the digest of everything a
// request could change (so that a refused request can be shown to change
// nothing), the audit events of a request including those of no
// organization, golden files and fuzz corpora. It is imported only by
// tests; what a dialect says stays in the dialect's own test package.
package dialecttest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

// Engines are the stores every dialect test runs on.
var Engines = []string{"sqlite", "postgres"}

// EachEngine runs test once per engine, as subtests named after them. The
// test and its engines run in parallel with the package's other tests:
// each has a database of its own, and most of the time goes into
// creating PostgreSQL databases and loading the demo into them.
func EachEngine(t *testing.T, test func(t *testing.T, engine string)) {
	t.Helper()
	t.Parallel()
	for _, engine := range Engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			test(t, engine)
		})
	}
}

// OpenStore opens a fresh, empty store on engine ("sqlite" or "postgres"),
// closed when the test ends.
func OpenStore(tb testing.TB, engine string) membership.Store {
	tb.Helper()
	ctx := context.Background()
	var st membership.Store
	switch engine {
	case "sqlite":
		s, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "memberd.db"))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
	case "postgres":
		s, err := postgres.Open(ctx, pgtest.NewDatabase(tb))
		if err != nil {
			tb.Fatal(err)
		}
		st = s
	default:
		tb.Fatalf("unknown engine %q", engine)
	}
	tb.Cleanup(func() { st.Close() })
	return st
}

// Clock is the service's clock; tests move it to expire credentials.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the wall clock moved by every Advance so far.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Env is the demo organization in a fresh store on one engine, with the
// service over it. The demo's ids are the same on both engines.
type Env struct {
	Store membership.Store
	Svc   *membership.Service
	Demo  *demo.Demo
	Clock *Clock
	// Owner is the demo's owner, for direct core calls.
	Owner membership.Actor
	// Orgs are the organizations the test made, the demo's first, each as
	// its owner, for reading everything back through the core.
	Orgs []membership.Actor
}

// Load loads the demo into a fresh store on engine. The demo's timestamps
// are loadedAt, or the clock's time if loadedAt is zero (golden reads of
// dates want a fixed one); the service always runs on the clock.
func Load(tb testing.TB, engine string, loadedAt time.Time) *Env {
	tb.Helper()
	st := OpenStore(tb, engine)
	clk := &Clock{}
	if loadedAt.IsZero() {
		loadedAt = clk.Now()
	}
	d, err := demo.Load(context.Background(), st, loadedAt)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := membership.DefaultConfig()
	cfg.Now = clk.Now
	owner := membership.Actor{OrgID: d.Org.ID, MemberID: 1, Scopes: membership.AllScopes(), Interface: "test"}
	return &Env{Store: st, Svc: membership.NewService(st, cfg), Demo: d, Clock: clk, Owner: owner,
		Orgs: []membership.Actor{owner}}
}

// LoadTime is a fixed time to load the demo at, for suites whose golden
// answers show the demo's dates.
var LoadTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// TightLimits allow one request and then refuse for a long while: the
// rate-limit cases' authenticator.
var TightLimits = auth.Limits{Rate: 0.001, Burst: 1}

// Handler is a dialect package's NewHandler.
type Handler func(svc *membership.Service, authn *auth.Authenticator) http.Handler

// Serve mounts the dialect's handler, with an authenticator of limits, at
// pattern the way cmd/memberd mounts it (see Mount).
func (e *Env) Serve(tb testing.TB, pattern string, newHandler Handler, limits auth.Limits) *httptest.Server {
	tb.Helper()
	return Mount(tb, pattern, newHandler(e.Svc, auth.New(e.Svc, limits)))
}

// Mount mounts h at pattern behind respond.WithRequestID and
// respond.WithClientAddr, as cmd/memberd does, with the loopback test
// client as a trusted proxy (so a test plays one by sending its headers),
// and starts a loopback server (httptest listens on 127.0.0.1) closed
// when the test ends. Its Config.Handler is the whole stack, for
// in-process fuzzing.
func Mount(tb testing.TB, pattern string, h http.Handler) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle(pattern, h)
	srv := httptest.NewServer(respond.WithClientAddr(respond.WithRequestID(mux), Loopback))
	tb.Cleanup(srv.Close)
	return srv
}

// Loopback is the test client's addresses, trusted as a proxy by Mount.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// ServeLimited serves the dialect twice and returns the base URLs: one
// with generous rate limits, and one behind TightLimits.
func (e *Env) ServeLimited(tb testing.TB, pattern string, newHandler Handler) (url, tight string) {
	tb.Helper()
	return e.Serve(tb, pattern, newHandler, auth.Limits{}).URL, e.Serve(tb, pattern, newHandler, TightLimits).URL
}

// Served is the demo with its dialect served on loopback, and a Requester
// for that server.
type Served struct {
	*Env
	Requester
}

// LoadServed loads the demo into a fresh store on engine, its timestamps
// the clock's, and serves newHandler at pattern with limits; authorize puts
// a token on a request the way the dialect's clients do.
func LoadServed(tb testing.TB, engine, pattern string, newHandler Handler, limits auth.Limits,
	authorize func(req *http.Request, token string)) *Served {
	tb.Helper()
	s := &Served{Env: Load(tb, engine, time.Time{})}
	s.Srv = s.Serve(tb, pattern, newHandler, limits)
	s.Authorize = authorize
	return s
}

// Credential makes a credential for member with scopes, optionally
// expiring, and returns its secret.
func (e *Env) Credential(tb testing.TB, member int64, scopes []string, expires *time.Time) string {
	tb.Helper()
	ic, err := e.Svc.CreateCredential(context.Background(), e.Owner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: member}, Name: "test", Scopes: scopes, ExpiresAt: expires})
	if err != nil {
		tb.Fatal(err)
	}
	return ic.Secret
}

// OtherOrg bootstraps a second organization, adds its owner to Orgs and
// returns the owner's secret.
func (e *Env) OtherOrg(tb testing.TB) string {
	tb.Helper()
	bs, err := e.Svc.CreateOrganization(context.Background(), membership.BootstrapRequest{
		OrgName: "Other Corp", OwnerEmail: "boss@other.test", OwnerName: "Boss"})
	if err != nil {
		tb.Fatal(err)
	}
	e.Orgs = append(e.Orgs, membership.Actor{OrgID: bs.Organization.ID, MemberID: bs.Owner.ID,
		Scopes: membership.AllScopes(), Interface: "test"})
	return bs.Secret
}

// Member reads member id of the demo organization.
func (e *Env) Member(tb testing.TB, id int64) *membership.Member {
	tb.Helper()
	m, err := e.Svc.Member(context.Background(), e.Owner, membership.MemberRef{ID: id})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// Members lists every member of a's organization with status (all if
// empty), paging through the core's list limit.
func (e *Env) Members(tb testing.TB, a membership.Actor, status membership.Status) []*membership.Member {
	tb.Helper()
	var all []*membership.Member
	for after := int64(0); ; {
		page, err := e.Svc.Members(context.Background(), a, membership.MemberListParams{
			Status: status, AfterID: after, Limit: membership.MaxListLimit})
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < membership.MaxListLimit {
			return all
		}
		after = page[len(page)-1].ID
	}
}

// Stamp writes an optional time for a digest.
func Stamp(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Digest is everything a request could change, in every organization the
// test made: two equal digests mean nothing changed (refused events
// aside). It reads through the core, which both engines serve alike; only
// the membership periods, which no core call lists for a whole
// organization, are read directly.
func (e *Env) Digest(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	var out strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&out, format, args...) }
	check := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, a := range e.Orgs {
		w("organization %d\n", a.OrgID)
		for _, m := range e.Members(tb, a, "") {
			w("member %d:%s:%s:%s:%s:%d:%s\n", m.ID, m.Status, m.Role, m.Name,
				Stamp(m.RemovedAt), m.RemovedBy, Stamp(&m.UpdatedAt))
		}
		spaces, err := e.Svc.Spaces(ctx, a)
		check(err)
		for _, sp := range spaces {
			sms, err := e.Svc.SpaceMembers(ctx, a, membership.Ref{ID: sp.ID}, "")
			check(err)
			for _, sm := range sms {
				// The store aggregates roles in no set order.
				roles := slices.Sorted(slices.Values(sm.Roles))
				w("space member %d:%s:%s:%v\n", sm.ID, sm.Status, Stamp(sm.RemovedAt), roles)
			}
		}
		groups, err := e.Svc.Groups(ctx, a)
		check(err)
		for _, g := range groups {
			gms, err := e.Svc.GroupMembers(ctx, a, membership.Ref{ID: g.ID}, "")
			check(err)
			for _, gm := range gms {
				w("group member %d:%s:%s\n", gm.ID, gm.Status, Stamp(gm.RemovedAt))
			}
		}
		grants, err := e.Svc.Grants(ctx, a, membership.GrantListParams{})
		check(err)
		for _, g := range grants {
			w("grant %d:%s:%s\n", g.ID, g.Status, Stamp(g.RevokedAt))
		}
		bookings, err := e.Svc.Bookings(ctx, a, membership.BookingListParams{})
		check(err)
		for _, bk := range bookings {
			w("booking %d:%s:%s\n", bk.ID, bk.Status, Stamp(bk.CancelledAt))
		}
		creds, err := e.Svc.Credentials(ctx, a)
		check(err)
		for _, c := range creds {
			w("credential %d:%s\n", c.ID, Stamp(c.RevokedAt))
		}
	}
	// A removed member's last period ends at the removal its member row
	// records (store/sqlstore MemberSetStatus, migration 00019).
	e.Rows(tb, `SELECT p.id, p.member_id,
			COALESCE(CASE WHEN p.ended_at IS NULL AND m.status = 'removed' THEN m.removed_at ELSE p.ended_at END, 0),
			COALESCE(CASE WHEN p.ended_at IS NULL AND m.status = 'removed' THEN m.removed_by ELSE p.ended_by END, 0)
		FROM member_periods p JOIN members m ON m.id = p.member_id ORDER BY p.id`, nil,
		func(scan func(...any) error) error {
			var id, member, ended, by int64
			if err := scan(&id, &member, &ended, &by); err != nil {
				return err
			}
			w("period %d:%d:%d:%d\n", id, member, ended, by)
			return nil
		})
	w("ok events %d\n", e.OKEvents(tb))
	return out.String()
}

// Tokens are the credentials an authorization matrix tries besides the
// demo's own: the owner's that expired, the owner's that was revoked, the
// owner's that may only read members, the owner's secret one character
// off, and another organization's owner's (that organization joins Orgs).
type Tokens struct {
	Expired, Revoked, ReadOnly, Wrong, Other string
	OtherOrgID                               int64
}

// Tokens makes the matrix's credentials, moving the clock past the
// expired one's expiry.
func (e *Env) Tokens(tb testing.TB) Tokens {
	tb.Helper()
	ctx := context.Background()
	var tk Tokens
	soon := e.Clock.Now().Add(time.Hour)
	tk.Expired = e.Credential(tb, 1, membership.AllScopes(), &soon)
	tk.Revoked = e.Credential(tb, 1, membership.AllScopes(), nil)
	creds, err := e.Svc.Credentials(ctx, e.Owner)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Svc.RevokeCredential(ctx, e.Owner, creds[len(creds)-1].ID); err != nil {
		tb.Fatal(err)
	}
	e.Clock.Advance(2 * time.Hour)
	tk.ReadOnly = e.Credential(tb, 1, []string{membership.ScopeMembersRead}, nil)
	tk.Other = e.OtherOrg(tb)
	tk.OtherOrgID = e.Orgs[len(e.Orgs)-1].OrgID
	owner := e.Demo.OwnerToken
	tk.Wrong = owner[:len(owner)-1] + "x"
	if strings.HasSuffix(owner, "x") {
		tk.Wrong = owner[:len(owner)-1] + "y"
	}
	return tk
}
