package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"testing"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// openWithPool opens a store on a fresh database whose pool holds at most
// n connections.
func openWithPool(t *testing.T, n int) *postgres.Store {
	t.Helper()
	u, err := url.Parse(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	st, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestViewIsOneSnapshot: a view's transaction begins with its first
// statement (BEGIN travels in that statement's batch), and every later
// statement still reads that statement's snapshot, not changes committed
// in between.
func TestViewIsOneSnapshot(t *testing.T) {
	ctx := context.Background()
	st := openWithPool(t, 2) // one for the view, one for the change
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	owner := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Interface: "test"}
	count := func(tx membership.Tx) int {
		t.Helper()
		n, err := tx.MemberCount(ctx, &membership.MemberListParams{OrgID: owner.OrgID})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	err = st.View(ctx, func(tx membership.Tx) error {
		first := count(tx)
		if _, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: "new@acme.test", Role: membership.RoleMember}); err != nil {
			return err
		}
		if second := count(tx); second != first {
			t.Errorf("a view counted %d members, then %d after a commit: not one snapshot", first, second)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.View(ctx, func(tx membership.Tx) error {
		if n := count(tx); n != 2 {
			t.Errorf("the next view counts %d members, want 2", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestViewReturnsItsConnectionIdle: however a view ends (rows read, no
// row found, fn failing after its first statement, a single statement),
// its connection goes back to the pool rolled back and is reused; a
// connection left inside its read-only transaction would be destroyed by
// the pool (a new connection each time) or would refuse the next write.
func TestViewReturnsItsConnectionIdle(t *testing.T) {
	ctx := context.Background()
	st := openWithPool(t, 1)
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	org := b.Organization.ID
	errStop := errors.New("stop")
	views := []func(tx membership.Tx) error{
		func(tx membership.Tx) error { // rows, then a row
			if _, err := tx.MemberList(ctx, &membership.MemberListParams{OrgID: org, Limit: 10}); err != nil {
				return err
			}
			_, err := tx.MemberGet(ctx, &membership.MemberGetParams{OrgID: org, ID: b.Owner.ID})
			return err
		},
		func(tx membership.Tx) error { // no row
			_, err := tx.MemberGet(ctx, &membership.MemberGetParams{OrgID: org, ID: b.Owner.ID + 1000})
			if membership.ErrorCode(err) != membership.CodeNotFound {
				t.Errorf("MemberGet of an absent member: %v, want not found", err)
			}
			return nil
		},
		func(tx membership.Tx) error { // fails after its first statement
			if _, err := tx.MemberCount(ctx, &membership.MemberListParams{OrgID: org}); err != nil {
				return err
			}
			return errStop
		},
		func(membership.Tx) error { return nil }, // no statement at all
	}
	for round := range 20 {
		for i, view := range views {
			if err := st.View(ctx, view); err != nil && !errors.Is(err, errStop) {
				t.Fatalf("round %d, view %d: %v", round, i, err)
			}
		}
	}
	if n := st.Pool().Stat().NewConnsCount(); n != 1 {
		t.Errorf("the pool opened %d connections for 80 views; want 1, reused", n)
	}
	if _, err := svc.AddMember(ctx, membership.Actor{OrgID: org, MemberID: b.Owner.ID, Interface: "test"},
		membership.AddMemberRequest{Email: "after@acme.test", Role: membership.RoleMember}); err != nil {
		t.Fatalf("a change after the views: %v", err)
	}
}
