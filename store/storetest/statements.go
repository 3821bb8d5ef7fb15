package storetest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

var statementTests = []test{
	{"PerAccessCheck", testStatementsPerAccessCheck},
}

// countingStore counts the statements its views run.
type countingStore struct {
	membership.Store
	n atomic.Int64
}

func (c *countingStore) View(ctx context.Context, fn func(membership.Tx) error) error {
	return c.Store.View(ctx, func(tx membership.Tx) error {
		st, ok := tx.(*sqlstore.Tx)
		if !ok {
			return errors.New("the engine's transaction is not a sqlstore.Tx")
		}
		return fn(st.Over(&countConn{Conn: st.Conn(), n: &c.n}))
	})
}

// take returns the statements counted since the last take.
func (c *countingStore) take() int64 { return c.n.Swap(0) }

type countConn struct {
	sqlstore.Conn
	n *atomic.Int64
}

func (c *countConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.n.Add(1)
	return c.Conn.Exec(ctx, q, args...)
}

func (c *countConn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	c.n.Add(1)
	return c.Conn.Query(ctx, q, args...)
}

func (c *countConn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	c.n.Add(1)
	return c.Conn.QueryRow(ctx, q, args...)
}

// testStatementsPerAccessCheck holds an access check request to its
// statement budget, so that it cannot creep back: authentication is one
// statement and carries the access epoch; the check is one statement
// when the access index cannot answer and none when it can.
func testStatementsPerAccessCheck(t *testing.T, open Opener) {
	var cs *countingStore
	e := newEnv(t, func(tb testing.TB) membership.Store {
		cs = &countingStore{Store: open(tb)}
		return cs
	})
	m := e.addMember(e.owner, "m@acme.test", membership.RoleMember)
	r := e.createResource("lock", "front", nil)
	e.grantMember(r, m)
	issued, err := e.svc.CreateCredential(e.ctx, e.owner, membership.CreateCredentialRequest{Name: "door", Scopes: []string{membership.ScopeMembersRead}})
	if err != nil {
		t.Fatalf("create credential: %v", err)
	}
	// authenticate is what an adapter does for each request.
	authenticate := func() membership.Actor {
		t.Helper()
		cs.take()
		p, err := e.svc.Authenticate(e.ctx, issued.Secret)
		if err != nil {
			t.Fatalf("authenticate: %v", err)
		}
		if n := cs.take(); n != 1 {
			t.Errorf("authentication ran %d statements, want 1", n)
		}
		if p.AccessEpoch == nil {
			t.Fatal("authentication read no access epoch")
		}
		return membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID,
			Scopes: p.Credential.Scopes, Interface: "storetest", AccessEpoch: p.AccessEpoch}
	}
	check := func(a membership.Actor, want bool, statements int64, when string) {
		t.Helper()
		cs.take()
		got, err := e.svc.CheckAccess(e.ctx, a, membership.MemberRef{ID: m.ID}, membership.Ref{ID: r.ID})
		if err != nil {
			t.Fatalf("%s: check: %v", when, err)
		}
		if n := cs.take(); n != statements {
			t.Errorf("%s: the check ran %d statements, want %d", when, n, statements)
		}
		if got.Allowed != want {
			t.Errorf("%s: allowed = %v, want %v", when, got.Allowed, want)
		}
	}
	check(authenticate(), true, 1, "first check")
	check(authenticate(), true, 0, "second check, index warm")
	noEpoch := e.owner // an actor made without reading the epoch
	check(noEpoch, true, 1, "index warm, epoch read by the check")
	if _, err := e.svc.RemoveMember(e.ctx, e.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	check(authenticate(), false, 1, "after the removal")
	check(authenticate(), false, 0, "again after the removal")
	check(noEpoch, false, 1, "after the removal, epoch read by the check")
	// Names the index does not keep (an e-mail address) cost one statement.
	a := authenticate()
	if _, err := e.svc.CheckAccess(e.ctx, a, membership.MemberRef{Email: m.Email}, membership.Ref{ID: r.ID}); err != nil {
		t.Fatalf("check by e-mail: %v", err)
	}
	if n := cs.take(); n != 1 {
		t.Errorf("a check by e-mail ran %d statements, want 1", n)
	}
}
