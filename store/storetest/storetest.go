// Package storetest is the conformance suite every membership.Store engine
// runs unchanged. It drives the real membership.Service over a fresh store
// per behaviour, so what it checks is the promise users rely on (a removal
// is complete, atomic, audited, effective at once and undoable), not the
// SQL that happens to deliver it. Engines call Run from their own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB) membership.Store { ... })
//	}
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

// Opener returns a fresh, empty store for one test; it registers its own
// cleanup on tb.
type Opener func(tb testing.TB) membership.Store

// Run runs every behaviour of the suite as a subtest of t, each on a fresh
// store from open.
func Run(t *testing.T, open func(tb testing.TB) membership.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"RemoveMember", removeMemberTests},
		{"DryRun", dryRunTests},
		{"ReportBound", reportBoundTests},
		{"RemoveSpaceMember", removeSpaceMemberTests},
		{"RemoveGroupMember", removeGroupMemberTests},
		{"RevokeRoles", revokeRolesTests},
		{"RemoveBatch", removeBatchTests},
		{"RestoreMember", restoreMemberTests},
		{"MemberStatus", memberStatusTests},
		{"Rights", rightsTests},
		{"Credentials", credentialTests},
		{"Organizations", organizationTests},
		{"Idempotency", idempotencyTests},
		{"Email", emailTests},
		{"Audit", auditTests},
		{"AuditChain", chainTests},
		{"Concurrency", concurrencyTests},
		{"Operations", operationTests},
		{"WebhookOutbox", outboxTests},
		{"Sessions", sessionTests},
		{"Directory", directoryTests},
		{"OAuth", oauthTests},
		{"Plans", planTests},
		{"Undo", undoTests},
		{"Policy", policyTests},
		{"ETags", etagTests},
		{"GrantKeys", grantKeyTests},
		{"AccessIndex", accessIndexTests},
		{"Statements", statementTests},
		{"OffboardStatements", offboardStatementTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.fn(t, Opener(open)) })
			}
		})
	}
}

// test is one behaviour; it opens its own store(s) with open.
type test struct {
	name string
	fn   func(t *testing.T, open Opener)
}

// T0 is the suite's "now" at the start of every test: fixed, so that a
// dry run and the removal that follows it compute identical reports.
var T0 = time.Date(2030, 6, 1, 9, 0, 0, 0, time.UTC)

// Clock is an injectable clock that tests move by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is one test's store, service and bootstrapped organization.
type env struct {
	tb    testing.TB
	ctx   context.Context
	store membership.Store
	clock *Clock
	svc   *membership.Service
	org   *membership.Organization
	owner membership.Actor
	// ownerMember is the bootstrap owner's membership.
	ownerMember *membership.Member
}

// envOption changes the service configuration of a new env.
type envOption func(*membership.Config)

func keepFutureBookings(c *membership.Config) { c.KeepFutureBookings = true }

func batchLimit(n int) envOption { return func(c *membership.Config) { c.BatchLimit = n } }

// newEnv opens a fresh store and bootstraps organization "Acme" with owner
// owner@acme.test.
func newEnv(tb testing.TB, open Opener, opts ...envOption) *env {
	tb.Helper()
	st := open(tb)
	clock := &Clock{now: T0}
	cfg := membership.DefaultConfig()
	cfg.Now = clock.Now
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{tb: tb, ctx: context.Background(), store: st, clock: clock, svc: membership.NewService(st, cfg)}
	e.org, e.owner, e.ownerMember = e.bootstrap("Acme", "Owner@Acme.test")
	return e
}

// bootstrap creates an organization and returns its owner's actor, made
// the way adapters make one: by authenticating the bootstrap secret.
func (e *env) bootstrap(name, ownerEmail string) (*membership.Organization, membership.Actor, *membership.Member) {
	e.tb.Helper()
	b, err := e.svc.CreateOrganization(e.ctx, membership.BootstrapRequest{OrgName: name, OwnerEmail: ownerEmail, OwnerName: "Owner"})
	if err != nil {
		e.tb.Fatalf("create organization %s: %v", name, err)
	}
	return b.Organization, e.authenticate(b.Secret), b.Owner
}

// authenticate turns a secret into the Actor an adapter would build.
func (e *env) authenticate(secret string) membership.Actor {
	e.tb.Helper()
	p, err := e.svc.Authenticate(e.ctx, secret)
	if err != nil {
		e.tb.Fatalf("authenticate: %v", err)
	}
	return membership.Actor{
		OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: "storetest", Member: p.Member,
	}
}

// addMember adds a member as actor a.
func (e *env) addMember(a membership.Actor, email string, role membership.Role) *membership.Member {
	e.tb.Helper()
	m, err := e.svc.AddMember(e.ctx, a, membership.AddMemberRequest{Email: email, Name: strings.Split(email, "@")[0], Role: role})
	if err != nil {
		e.tb.Fatalf("add member %s: %v", email, err)
	}
	return m
}

// actorFor makes an owner-issued credential for m and returns m's actor.
func (e *env) actorFor(owner membership.Actor, m *membership.Member) membership.Actor {
	e.tb.Helper()
	c, err := e.svc.CreateCredential(e.ctx, owner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: m.ID}, Name: "key of " + m.Email, Scopes: []string{membership.ScopeMembersWrite},
	})
	if err != nil {
		e.tb.Fatalf("create credential for %s: %v", m.Email, err)
	}
	return e.authenticate(c.Secret)
}

func (e *env) createSpace(name string) *membership.Space {
	e.tb.Helper()
	s, err := e.svc.CreateSpace(e.ctx, e.owner, name)
	if err != nil {
		e.tb.Fatalf("create space %s: %v", name, err)
	}
	return s
}

func (e *env) createGroup(name string) *membership.Group {
	e.tb.Helper()
	g, err := e.svc.CreateGroup(e.ctx, e.owner, name)
	if err != nil {
		e.tb.Fatalf("create group %s: %v", name, err)
	}
	return g
}

// addToSpace adds m to space s with roles, as actor a.
func (e *env) addToSpace(a membership.Actor, s *membership.Space, m *membership.Member, roles ...string) *membership.SpaceMember {
	e.tb.Helper()
	sm, err := e.svc.AddSpaceMember(e.ctx, a, membership.AddSpaceMemberRequest{
		Space: membership.Ref{ID: s.ID}, Member: membership.MemberRef{ID: m.ID}, Roles: roles,
	})
	if err != nil {
		e.tb.Fatalf("add %s to space %s: %v", m.Email, s.Name, err)
	}
	return sm
}

func (e *env) addToGroup(a membership.Actor, g *membership.Group, m *membership.Member) *membership.GroupMember {
	e.tb.Helper()
	gm, err := e.svc.AddGroupMember(e.ctx, a, membership.Ref{ID: g.ID}, membership.MemberRef{ID: m.ID})
	if err != nil {
		e.tb.Fatalf("add %s to group %s: %v", m.Email, g.Name, err)
	}
	return gm
}

// createResource creates a resource, inside space s unless s is nil.
func (e *env) createResource(kind, name string, s *membership.Space) *membership.Resource {
	e.tb.Helper()
	req := membership.CreateResourceRequest{Kind: kind, Name: name}
	if s != nil {
		req.Space = membership.Ref{ID: s.ID}
	}
	r, err := e.svc.CreateResource(e.ctx, e.owner, req)
	if err != nil {
		e.tb.Fatalf("create resource %s: %v", name, err)
	}
	return r
}

func (e *env) grantMember(r *membership.Resource, m *membership.Member) *membership.Grant {
	e.tb.Helper()
	g, err := e.svc.CreateGrant(e.ctx, e.owner, membership.CreateGrantRequest{
		Resource: membership.Ref{ID: r.ID}, Member: &membership.MemberRef{ID: m.ID},
	})
	if err != nil {
		e.tb.Fatalf("grant %s to %s: %v", r.Name, m.Email, err)
	}
	return g
}

func (e *env) grantGroup(r *membership.Resource, grp *membership.Group) *membership.Grant {
	e.tb.Helper()
	g, err := e.svc.CreateGrant(e.ctx, e.owner, membership.CreateGrantRequest{
		Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: grp.ID},
	})
	if err != nil {
		e.tb.Fatalf("grant %s to group %s: %v", r.Name, grp.Name, err)
	}
	return g
}

// book books r for m from start for one hour, as the owner.
func (e *env) book(r *membership.Resource, m *membership.Member, start time.Time) *membership.Booking {
	e.tb.Helper()
	b, err := e.svc.CreateBooking(e.ctx, e.owner, membership.CreateBookingRequest{
		Resource: membership.Ref{ID: r.ID}, Member: &membership.MemberRef{ID: m.ID}, StartsAt: start, EndsAt: start.Add(time.Hour),
	})
	if err != nil {
		e.tb.Fatalf("book %s for %s: %v", r.Name, m.Email, err)
	}
	return b
}

// access reports whether m can use r now.
func (e *env) access(m *membership.Member, r *membership.Resource) *membership.Access {
	e.tb.Helper()
	acc, err := e.svc.CheckAccess(e.ctx, e.owner, membership.MemberRef{ID: m.ID}, membership.Ref{ID: r.ID})
	if err != nil {
		e.tb.Fatalf("check access of %s to %s: %v", m.Email, r.Name, err)
	}
	return acc
}

// member re-reads a member of the env's organization.
func (e *env) member(id int64) *membership.Member {
	e.tb.Helper()
	m, err := e.svc.Member(e.ctx, e.owner, membership.MemberRef{ID: id})
	if err != nil {
		e.tb.Fatalf("get member %d: %v", id, err)
	}
	return m
}

func (e *env) history(id int64) *membership.MemberHistory {
	e.tb.Helper()
	h, err := e.svc.History(e.ctx, e.owner, membership.MemberRef{ID: id})
	if err != nil {
		e.tb.Fatalf("history of member %d: %v", id, err)
	}
	return h
}

// events returns every event of organization orgID, oldest first, read
// straight from the store (the service caps its pages).
func (e *env) events(orgID int64) []*membership.Event {
	e.tb.Helper()
	var all []*membership.Event
	err := e.store.View(e.ctx, func(tx membership.Tx) error {
		var before int64
		for range 1000 { // bounded: 1000 pages of 1000
			page, err := tx.EventList(e.ctx, &membership.EventListParams{OrgID: orgID, BeforeID: before, Limit: 1000})
			if err != nil {
				return err
			}
			all = append(all, page...)
			if len(page) < 1000 {
				return nil
			}
			before = page[len(page)-1].ID
		}
		return errors.New("more than a million events")
	})
	if err != nil {
		e.tb.Fatalf("list events: %v", err)
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all
}

// eventsAfter returns the organization's events with an ID above afterID.
func (e *env) eventsAfter(orgID, afterID int64) []*membership.Event {
	e.tb.Helper()
	var out []*membership.Event
	for _, ev := range e.events(orgID) {
		if ev.ID > afterID {
			out = append(out, ev)
		}
	}
	return out
}

// lastEventID is the newest event ID of orgID, 0 if none.
func (e *env) lastEventID(orgID int64) int64 {
	e.tb.Helper()
	evs := e.events(orgID)
	if len(evs) == 0 {
		return 0
	}
	return evs[len(evs)-1].ID
}

// Snapshot is everything an organization's removals can touch. Two equal
// snapshots mean nothing changed.
type Snapshot struct {
	Members     []*membership.Member
	Periods     map[int64][]*membership.MemberPeriod
	Spaces      []*membership.SpaceMember
	Groups      []*membership.GroupMember
	Grants      []*membership.Grant
	Bookings    []*membership.Booking
	Access      map[int64][]*membership.Access
	Credentials []*membership.Credential
	Events      []*membership.Event
}

// snapshot reads the whole state of the given organizations in one
// read transaction.
func (e *env) snapshot(orgIDs ...int64) map[int64]*Snapshot {
	e.tb.Helper()
	out := map[int64]*Snapshot{}
	err := e.store.View(e.ctx, func(tx membership.Tx) error {
		for _, org := range orgIDs {
			s := &Snapshot{Periods: map[int64][]*membership.MemberPeriod{}, Access: map[int64][]*membership.Access{}}
			var err error
			if s.Members, err = tx.MemberList(e.ctx, &membership.MemberListParams{OrgID: org, Limit: 100000}); err != nil {
				return err
			}
			for _, m := range s.Members {
				if s.Periods[m.ID], err = tx.MemberPeriodList(e.ctx, m.ID); err != nil {
					return err
				}
				if s.Access[m.ID], err = tx.AccessList(e.ctx, org, m.ID); err != nil {
					return err
				}
			}
			if s.Spaces, err = tx.SpaceMemberList(e.ctx, &membership.SpaceMemberListParams{OrgID: org}); err != nil {
				return err
			}
			if s.Groups, err = tx.GroupMemberList(e.ctx, &membership.GroupMemberListParams{OrgID: org}); err != nil {
				return err
			}
			if s.Grants, err = tx.GrantList(e.ctx, &membership.GrantListParams{OrgID: org}); err != nil {
				return err
			}
			if s.Bookings, err = tx.BookingList(e.ctx, &membership.BookingListParams{OrgID: org}); err != nil {
				return err
			}
			if s.Credentials, err = tx.CredentialList(e.ctx, org); err != nil {
				return err
			}
			if s.Events, err = tx.EventList(e.ctx, &membership.EventListParams{OrgID: org, Limit: 100000}); err != nil {
				return err
			}
			out[org] = s
		}
		return nil
	})
	if err != nil {
		e.tb.Fatalf("snapshot: %v", err)
	}
	return out
}

// assertUnchanged fails unless the organizations' state equals before,
// reading it again now.
func (e *env) assertUnchanged(before map[int64]*Snapshot) {
	e.tb.Helper()
	ids := make([]int64, 0, len(before))
	for id := range before {
		ids = append(ids, id)
	}
	after := e.snapshot(ids...)
	for _, id := range ids {
		if diff := cmp.Diff(after[id], before[id]); diff != "" {
			e.tb.Errorf("organization %d changed (-got +want):\n%s", id, diff)
		}
	}
}

// wantCode fails unless err carries code.
func wantCode(tb testing.TB, err error, code membership.Code) {
	tb.Helper()
	if got := membership.ErrorCode(err); got != code {
		tb.Fatalf("error code: got %q (%v), want %q", got, err, code)
	}
}

// wantErr fails unless err wraps target.
func wantErr(tb testing.TB, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("error: got %v, want %v", err, target)
	}
}

// countEvents counts events with action and outcome.
func countEvents(evs []*membership.Event, action, outcome string) int {
	n := 0
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == outcome {
			n++
		}
	}
	return n
}

// describeEvents lists events for failure messages.
func describeEvents(evs []*membership.Event) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  #%d %s %s target=%d %q", ev.ID, ev.Action, ev.Outcome, ev.TargetMemberID, ev.Message)
	}
	return b.String()
}
