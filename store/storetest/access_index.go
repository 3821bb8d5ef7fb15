package storetest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var accessIndexTests = []test{
	{"NeverStaleAcrossNodes", testAccessNeverStaleAcrossNodes},
	{"NeverStaleUnderConcurrency", testAccessNeverStaleUnderConcurrency},
	{"NotFound", testAccessNotFound},
	{"CredentialNeverStale", testAccessCredentialNeverStale},
	{"RemovalCredentialNeverStale", testRemovalCredentialNeverStale},
	{"PathsAgree", testAccessPathsAgree},
	{"MemoryAgrees", testAccessMemoryAgrees},
	{"StatementsFromMemory", testStatementsFromMemory},
}

// staleRounds bounds the staleness tests: thousands of removals, each
// followed at once by a check on the other node.
func staleRounds() int {
	if testing.Short() {
		return 200
	}
	return 2000
}

// accessWorld is one member with access to three resources by three
// paths: a direct grant (direct), a grant to a group (viaGroup) and a
// direct grant inside a space (inSpace).
type accessWorld struct {
	*env
	m                         *membership.Member
	group                     *membership.Group
	space                     *membership.Space
	sm                        *membership.SpaceMember
	direct, viaGroup, inSpace *membership.Resource
	nodeB, truth              *membership.Service
	lastRemoval               string // the id of the last batch removal, for undo
	secret                    string // the owner's API key, for requests
}

func newAccessWorld(t *testing.T, open Opener) *accessWorld {
	e := newEnv(t, open)
	w := &accessWorld{env: e, m: e.addMember(e.owner, "m@acme.test", membership.RoleMember)}
	w.group, w.space = e.createGroup("Door"), e.createSpace("Floor")
	w.sm = e.addToSpace(e.owner, w.space, w.m, "desk", "room")
	e.addToGroup(e.owner, w.group, w.m)
	w.direct, w.viaGroup, w.inSpace = e.createResource("lock", "front", nil), e.createResource("lock", "back", nil), e.createResource("desk", "d1", w.space)
	e.grantMember(w.direct, w.m)
	e.grantGroup(w.viaGroup, w.group)
	e.grantMember(w.inSpace, w.m)
	// Node B: another service with its own access index on the same
	// database, as a second memberd node is. truth has no index.
	cfg := membership.DefaultConfig()
	cfg.Now = e.clock.Now
	w.nodeB = membership.NewService(e.store, cfg)
	cfg.AccessIndex = -1
	w.truth = membership.NewService(e.store, cfg)
	issued, err := e.svc.CreateCredential(e.ctx, e.owner, membership.CreateCredentialRequest{Name: "door", Scopes: []string{membership.ScopeMembersRead}})
	if err != nil {
		t.Fatalf("create credential: %v", err)
	}
	w.secret = issued.Secret
	return w
}

// issue creates a credential of holder with scope, and returns its secret
// and id.
func (w *accessWorld) issue(t *testing.T, holder *membership.Member, scope string, expires *time.Time) (string, int64) {
	t.Helper()
	issued, err := w.svc.CreateCredential(w.ctx, w.owner, membership.CreateCredentialRequest{Member: membership.MemberRef{ID: holder.ID},
		Name: scope, Scopes: []string{scope}, ExpiresAt: expires})
	if err != nil {
		t.Fatalf("create credential: %v", err)
	}
	return issued.Secret, issued.Credential.ID
}

// request is the actor of one request to node svc, authenticated as an
// adapter does it: with the access epoch read along with the credential.
func (w *accessWorld) request(svc *membership.Service) (membership.Actor, error) {
	return requestActor(w.ctx, svc, w.secret)
}

// deferredRequest is the actor of an access check request to node svc,
// authenticated as the native access check route does it: from the
// credential cache when it holds the credential, unconfirmed.
func (w *accessWorld) deferredRequest(svc *membership.Service) (membership.Actor, error) {
	return requestActor(membership.WithDeferredAuthentication(w.ctx), svc, w.secret)
}

func requestActor(ctx context.Context, svc *membership.Service, secret string) (membership.Actor, error) {
	p, err := svc.Authenticate(ctx, secret)
	if err != nil {
		return membership.Actor{}, err
	}
	return membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
		Scopes: p.Credential.Scopes, Interface: "storetest", AccessEpoch: p.AccessEpoch, Member: p.Member, Unconfirmed: p.Unconfirmed}, nil
}

// check asks node svc whether w.m can use r and fails unless the answer
// is want and equals what the database says without any index.
// Each way of authenticating is asked: as most routes do, and deferred,
// as the access check route does.
func (w *accessWorld) check(t *testing.T, svc *membership.Service, r *membership.Resource, want bool, when string) {
	t.Helper()
	truth, err := w.truth.CheckAccess(w.ctx, w.owner, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: r.ID})
	if err != nil {
		t.Fatalf("%s: check %s without index: %v", when, r.Name, err)
	}
	for _, request := range []func(*membership.Service) (membership.Actor, error){w.deferredRequest, w.request} {
		a, err := request(svc)
		if err != nil {
			t.Fatalf("%s: authenticate: %v", when, err)
		}
		got, err := svc.CheckAccess(w.ctx, a, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: r.ID})
		if err != nil {
			t.Fatalf("%s: check %s (unconfirmed credential: %v): %v", when, r.Name, a.Unconfirmed != nil, err)
		}
		if got.Allowed != want {
			t.Fatalf("%s: access to %s allowed = %v, want %v (unconfirmed credential: %v)", when, r.Name, got.Allowed, want, a.Unconfirmed != nil)
		}
		if fmt.Sprint(*got) != fmt.Sprint(*truth) {
			t.Fatalf("%s: access to %s = %+v, the database says %+v", when, r.Name, *got, *truth)
		}
	}
	// An actor that carries no epoch (made without authenticating) has
	// the check read it; that answer must be as fresh.
	again, err := svc.CheckAccess(w.ctx, w.owner, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: r.ID})
	if err != nil {
		t.Fatalf("%s: check %s again: %v", when, r.Name, err)
	}
	if fmt.Sprint(*again) != fmt.Sprint(*truth) {
		t.Fatalf("%s: access to %s without the request's epoch = %+v, the database says %+v", when, r.Name, *again, *truth)
	}
}

// accessChange is one access-changing path: take removes access to the
// resource it names, give brings it back.
type accessChange struct {
	name       string
	resource   func(w *accessWorld) *membership.Resource
	take, give func(w *accessWorld) error
}

var accessChanges = []accessChange{
	{"member removal and restore", func(w *accessWorld) *membership.Resource { return w.direct },
		func(w *accessWorld) error {
			_, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.m.ID}})
			return err
		},
		func(w *accessWorld) error {
			_, err := w.svc.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.m.ID}})
			return err
		}},
	{"group removal and re-add", func(w *accessWorld) *membership.Resource { return w.viaGroup },
		func(w *accessWorld) error {
			_, err := w.svc.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.group.ID}, Member: membership.MemberRef{ID: w.m.ID}})
			return err
		},
		func(w *accessWorld) error {
			_, err := w.svc.AddGroupMember(w.ctx, w.owner, membership.Ref{ID: w.group.ID}, membership.MemberRef{ID: w.m.ID})
			return err
		}},
	{"space removal and re-add", func(w *accessWorld) *membership.Resource { return w.inSpace },
		func(w *accessWorld) error {
			_, err := w.svc.RemoveSpaceMember(w.ctx, w.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.space.ID}, Member: membership.MemberRef{ID: w.m.ID}})
			return err
		},
		func(w *accessWorld) error {
			sm, err := w.svc.AddSpaceMember(w.ctx, w.owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: w.space.ID}, Member: membership.MemberRef{ID: w.m.ID}, Roles: []string{"desk", "room"}})
			if err == nil {
				w.sm = sm
			}
			return err
		}},
	{"batch offboarding and undo", func(w *accessWorld) *membership.Resource { return w.direct },
		func(w *accessWorld) error {
			g := &membership.Guard{}
			res, err := w.svc.RemoveBatch(membership.WithGuard(w.ctx, g), w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.m.ID}}})
			if err == nil && res.Removed != 1 {
				err = fmt.Errorf("removed %d of 1", res.Removed)
			}
			w.lastRemoval = g.RemovalID
			return err
		},
		func(w *accessWorld) error {
			_, err := w.svc.UndoRemoval(w.ctx, w.owner, w.lastRemoval)
			return err
		}},
	{"group batch removal and re-add", func(w *accessWorld) *membership.Resource { return w.viaGroup },
		func(w *accessWorld) error {
			_, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeGroup, Group: membership.Ref{ID: w.group.ID}, Items: []membership.MemberRef{{ID: w.m.ID}}})
			return err
		},
		func(w *accessWorld) error {
			_, err := w.svc.AddGroupMember(w.ctx, w.owner, membership.Ref{ID: w.group.ID}, membership.MemberRef{ID: w.m.ID})
			return err
		}},
}

// testAccessNeverStaleAcrossNodes changes access on node A and checks on
// node B right after each acknowledgement, with B's index warm before
// every change: a removal is never allowed after it, and access that a
// restore, re-add, undo or new grant brings back is seen at once.
func testAccessNeverStaleAcrossNodes(t *testing.T, open Opener) {
	w := newAccessWorld(t, open)
	for i := range staleRounds() {
		c := accessChanges[i%len(accessChanges)]
		r := c.resource(w)
		w.check(t, w.nodeB, r, true, fmt.Sprintf("round %d before %s", i, c.name))
		if err := c.take(w); err != nil {
			t.Fatalf("round %d: %s: take: %v", i, c.name, err)
		}
		w.check(t, w.nodeB, r, false, fmt.Sprintf("round %d after taking (%s)", i, c.name))
		if err := c.give(w); err != nil {
			t.Fatalf("round %d: %s: give: %v", i, c.name, err)
		}
		w.check(t, w.nodeB, r, true, fmt.Sprintf("round %d after giving back (%s)", i, c.name))
		if i%50 == 0 {
			// A role revocation leaves access as it was; a new grant
			// makes it appear; both must be seen as they are at once.
			if _, err := w.svc.RevokeRoles(w.ctx, w.owner, membership.RevokeRolesRequest{SpaceMemberID: w.sm.ID, Roles: []string{"room"}}); err != nil {
				t.Fatalf("round %d: revoke roles: %v", i, err)
			}
			w.check(t, w.nodeB, w.inSpace, true, fmt.Sprintf("round %d after role revocation", i))
			res := w.createResource("lock", fmt.Sprintf("new %d", i), nil)
			w.check(t, w.nodeB, res, false, fmt.Sprintf("round %d before a grant", i))
			w.grantMember(res, w.m)
			w.check(t, w.nodeB, res, true, fmt.Sprintf("round %d after a grant", i))
			if _, err := w.svc.AddSpaceMember(w.ctx, w.owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: w.space.ID}, Member: membership.MemberRef{ID: w.m.ID}, Roles: []string{"room"}}); err != nil && membership.ErrorCode(err) != membership.CodeConflict {
				t.Fatalf("round %d: give the role back: %v", i, err)
			}
		}
	}
}

// testAccessNeverStaleUnderConcurrency runs removals and restores on one
// node while checkers ask the other node and the same one: a check that
// starts after a removal was acknowledged, and before the restore that
// follows it began, must be refused.
func testAccessNeverStaleUnderConcurrency(t *testing.T, open Opener) {
	w := newAccessWorld(t, open)
	rounds := staleRounds() / 10
	var (
		mu      sync.RWMutex
		removed bool // acknowledged removal, restore not begun
	)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 4 {
		svc, request := w.nodeB, w.request
		if i%2 == 1 {
			svc = w.svc
		}
		if i >= 2 {
			request = w.deferredRequest
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// Holding the read lock across the check keeps the state
				// it was started in: no restore can begin meanwhile.
				mu.RLock()
				mustDeny := removed
				a, err := request(svc)
				var got *membership.Access
				if err == nil {
					got, err = svc.CheckAccess(w.ctx, a, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: w.direct.ID})
				}
				mu.RUnlock()
				if err != nil {
					errs <- err
					return
				}
				if mustDeny && got.Allowed {
					errs <- fmt.Errorf("a check after an acknowledged removal was allowed")
					return
				}
				runtime.Gosched() // leave the writer its share of a loaded machine
			}
		}()
	}
	for i := range rounds {
		if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.m.ID}}); err != nil {
			t.Fatalf("round %d: remove: %v", i, err)
		}
		mu.Lock()
		removed = true
		mu.Unlock()
		w.check(t, w.nodeB, w.direct, false, fmt.Sprintf("round %d after removal", i))
		mu.Lock()
		removed = false
		mu.Unlock()
		if _, err := w.svc.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.m.ID}}); err != nil {
			t.Fatalf("round %d: restore: %v", i, err)
		}
		w.check(t, w.nodeB, w.direct, true, fmt.Sprintf("round %d after restore", i))
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// testAccessNotFound answers names that resolve to nothing in the
// organization, another tenant's ids included, with the same errors as
// before the check became one statement, warm index or not.
func testAccessNotFound(t *testing.T, open Opener) {
	w := newAccessWorld(t, open)
	_, globex, _ := w.bootstrap("Globex", "owner@globex.test")
	other := w.createResource("lock", "acme only", nil)
	for range 2 { // cold, then with the index warm for the valid pair
		w.check(t, w.nodeB, w.direct, true, "the valid pair")
		for _, tc := range []struct {
			name string
			a    membership.Actor
			m    membership.MemberRef
			r    membership.Ref
			want string
		}{
			{"unknown member", w.owner, membership.MemberRef{ID: 1 << 40}, membership.Ref{ID: w.direct.ID}, membership.ErrMemberNotFound.Message},
			{"empty member", w.owner, membership.MemberRef{}, membership.Ref{ID: w.direct.ID}, membership.ErrMemberNotFound.Message},
			{"unreadable member", w.owner, membership.MemberRef{Raw: "x"}, membership.Ref{ID: w.direct.ID}, membership.ErrMemberNotFound.Message},
			{"unknown resource", w.owner, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: 1 << 40}, "resource not found"},
			{"empty resource", w.owner, membership.MemberRef{ID: w.m.ID}, membership.Ref{}, "resource not found"},
			{"unknown member UUID", w.owner, membership.MemberRef{UUID: "00000000-0000-0000-0000-000000000000"}, membership.Ref{ID: w.direct.ID}, membership.ErrMemberNotFound.Message},
			{"another tenant's member", globex, membership.MemberRef{ID: w.m.ID}, membership.Ref{ID: w.direct.ID}, membership.ErrMemberNotFound.Message},
			{"another tenant's resource by UUID", globex, membership.MemberRef{ID: globex.MemberID}, membership.Ref{UUID: other.UUID}, "resource not found"},
		} {
			_, err := w.nodeB.CheckAccess(w.ctx, tc.a, tc.m, tc.r)
			if membership.ErrorCode(err) != membership.CodeNotFound || membership.ErrorMessage(err) != tc.want {
				t.Errorf("%s: got %v, want not found %q", tc.name, err, tc.want)
			}
		}
	}
	// By e-mail, which the index does not keep, and by UUID, which it does.
	for _, m := range []membership.MemberRef{{Email: "M@Acme.test"}, {UUID: w.m.UUID}} {
		got, err := w.nodeB.CheckAccess(w.ctx, w.owner, m, membership.Ref{UUID: w.viaGroup.UUID})
		if err != nil || !got.Allowed || len(got.GroupIDs) != 1 || got.GroupIDs[0] != w.group.ID || got.Direct {
			t.Errorf("check by %+v: got %+v, %v; want allowed through group %d only", m, got, err, w.group.ID)
		}
	}
}

// testAccessCredentialNeverStale warms node B's credential cache (and
// access index), ends the credential on node A in each way there is, and
// checks on B at once: the check must be refused as unauthenticated, never
// answered, whichever path (index or statement) it takes.
func testAccessCredentialNeverStale(t *testing.T, open Opener) {
	w := newAccessWorld(t, open)
	issue := func(holder *membership.Member, expires *time.Time) (string, int64) {
		t.Helper()
		return w.issue(t, holder, membership.ScopeMembersRead, expires)
	}
	// The index may hold no answer, one read at the credential's epoch, or
	// one read at the current epoch (by a check of another credential).
	const (
		cold = iota
		warmAtCredential
		warmAtCurrent
		unreadableRef // no answer to hold: the member is named unreadably
	)
	modes := []string{"cold", "warm at the credential's epoch", "warm at the current epoch", "an unreadable member ref"}
	checkAs := func(secret string, mode int) (*membership.Access, error) {
		a, err := requestActor(membership.WithDeferredAuthentication(w.ctx), w.nodeB, secret)
		if err != nil {
			return nil, err
		}
		m, r := membership.MemberRef{ID: w.m.ID}, w.direct
		switch mode {
		case cold:
			r = w.createResource("lock", fmt.Sprintf("cold %d", time.Now().UnixNano()), nil)
		case warmAtCurrent:
			other, err := w.request(w.nodeB)
			if err != nil {
				return nil, err
			}
			if _, err := w.nodeB.CheckAccess(w.ctx, other, m, membership.Ref{ID: r.ID}); err != nil {
				return nil, err
			}
		case unreadableRef:
			m = membership.MemberRef{Raw: "not a member"}
		}
		return w.nodeB.CheckAccess(w.ctx, a, m, membership.Ref{ID: r.ID})
	}
	// warm makes a check with secret succeed twice, so that node B holds
	// the credential in its cache and the check's answer in its index.
	warm := func(t *testing.T, secret string) {
		t.Helper()
		for range 2 {
			if _, err := checkAs(secret, warmAtCredential); err != nil {
				t.Fatalf("warm up: %v", err)
			}
		}
	}
	endCredentials := func(t *testing.T, mode int, name string) {
		ends := []struct {
			name string
			end  func(t *testing.T) string // the secret it ended
		}{
			{"revocation", func(t *testing.T) string {
				secret, id := issue(w.ownerMember, nil)
				warm(t, secret)
				if _, err := w.svc.RevokeCredential(w.ctx, w.owner, id); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				return secret
			}},
			{"holder's removal", func(t *testing.T) string {
				holder := w.addMember(w.owner, fmt.Sprintf("holder%d@acme.test", time.Now().UnixNano()), membership.RoleAdmin)
				secret, _ := issue(holder, nil)
				warm(t, secret)
				if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: holder.ID}}); err != nil {
					t.Fatalf("remove holder: %v", err)
				}
				return secret
			}},
			{"expiry", func(t *testing.T) string {
				at := w.clock.Now().Add(time.Hour)
				secret, _ := issue(w.ownerMember, &at)
				warm(t, secret)
				w.clock.Advance(2 * time.Hour)
				return secret
			}},
		}
		for _, e := range ends {
			secret := e.end(t)
			for try := range 2 {
				_, err := checkAs(secret, mode)
				if membership.ErrorCode(err) != membership.CodeUnauthorized {
					t.Fatalf("index %s: check %d after the credential's %s: err = %v, want unauthorized", name, try+1, e.name, err)
				}
			}
		}
	}
	for mode, name := range modes {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { endCredentials(t, mode, name) })
	}
	// A change asked with an unconfirmed credential is refused outright,
	// but for a single removal, which confirms it (testRemovalCredentialNeverStale).
	a, err := w.deferredRequest(w.nodeB)
	if err == nil {
		a, err = w.deferredRequest(w.nodeB)
	}
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	if a.Unconfirmed == nil {
		t.Fatal("a second deferred authentication read the credential again")
	}
	if _, err := w.nodeB.RestoreMember(w.ctx, a, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.m.ID}}); err == nil ||
		membership.ErrorCode(err) != membership.CodeInternal {
		t.Errorf("a restore with an unconfirmed credential: %v, want refused as an internal error", err)
	}
}

// testRemovalCredentialNeverStale: a single removal asked with a
// credential from node B's credential cache (unconfirmed) is refused as
// unauthenticated, and removes nothing, once the credential was revoked,
// its holder removed or it expired through node A, whichever way the
// removal names its member; while it is in force, the removal goes through.
func testRemovalCredentialNeverStale(t *testing.T, open Opener) {
	w := newAccessWorld(t, open)
	n := 0
	target := func() *membership.Member {
		n++
		return w.addMember(w.owner, fmt.Sprintf("target%d@acme.test", n), membership.RoleMember)
	}
	issue := func(holder *membership.Member, expires *time.Time) (string, int64) {
		t.Helper()
		return w.issue(t, holder, membership.ScopeMembersWrite, expires)
	}
	// cached has node B keep secret in its credential cache and returns
	// an unconfirmed actor of it, as the single removal routes (Jicoo's,
	// the native plain DELETE) authenticate.
	cached := func(t *testing.T, secret string) membership.Actor {
		t.Helper()
		ctx := membership.WithDeferredAuthentication(w.ctx)
		a, err := requestActor(ctx, w.nodeB, secret)
		if err == nil {
			a, err = requestActor(ctx, w.nodeB, secret)
		}
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		if a.Unconfirmed == nil {
			t.Fatal("a second deferred authentication read the credential again")
		}
		return a
	}
	holder := func() *membership.Member {
		n++
		return w.addMember(w.owner, fmt.Sprintf("holder%d@acme.test", n), membership.RoleAdmin)
	}
	// Both routes that remove with a cached credential: Jicoo's discards
	// the report (a 204), the native plain DELETE keeps it (its receipt).
	routes := []struct {
		name string
		ctx  context.Context
	}{
		{"Jicoo's removal", membership.WithReportDiscarded(w.ctx)},
		{"the native removal", w.ctx},
	}
	for _, route := range routes {
		secret, _ := issue(holder(), nil)
		a := cached(t, secret)
		m := target()
		if _, err := w.nodeB.RemoveMember(route.ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
			t.Fatalf("%s with a cached credential in force: %v", route.name, err)
		}
	}
	ends := []struct {
		name string
		end  func(t *testing.T) membership.Actor // an unconfirmed actor of the credential it ended
	}{
		{"revocation", func(t *testing.T) membership.Actor {
			secret, id := issue(holder(), nil)
			a := cached(t, secret)
			if _, err := w.svc.RevokeCredential(w.ctx, w.owner, id); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			return a
		}},
		{"holder's removal", func(t *testing.T) membership.Actor {
			h := holder()
			secret, _ := issue(h, nil)
			a := cached(t, secret)
			if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: h.ID}}); err != nil {
				t.Fatalf("remove holder: %v", err)
			}
			return a
		}},
	}
	refs := map[string]func(m *membership.Member) membership.MemberRef{
		"by id":      func(m *membership.Member) membership.MemberRef { return membership.MemberRef{ID: m.ID} },
		"unreadably": func(*membership.Member) membership.MemberRef { return membership.MemberRef{Raw: "not a member"} },
	}
	for _, route := range routes {
		for _, e := range ends {
			for how, ref := range refs {
				a, m := e.end(t), target()
				_, err := w.nodeB.RemoveMember(route.ctx, a, membership.RemoveMemberRequest{Member: ref(m)})
				if membership.ErrorCode(err) != membership.CodeUnauthorized {
					t.Errorf("%s %s after the credential's %s: err = %v, want unauthorized", route.name, how, e.name, err)
				}
				if got, err := w.truth.Member(w.ctx, w.owner, membership.MemberRef{ID: m.ID}); err != nil || !got.Active() {
					t.Errorf("target after %s %s refused (the credential's %s): %+v, %v; want active", route.name, how, e.name, got, err)
				}
			}
		}
	}
	// Expiry is the clock's: the cache does not answer past it.
	at := w.clock.Now().Add(time.Hour)
	secret, _ := issue(holder(), &at)
	cached(t, secret)
	w.clock.Advance(2 * time.Hour)
	if _, err := requestActor(membership.WithDeferredAuthentication(w.ctx), w.nodeB, secret); membership.ErrorCode(err) != membership.CodeUnauthorized {
		t.Errorf("authentication after the credential's expiry: err = %v, want unauthorized", err)
	}
}
