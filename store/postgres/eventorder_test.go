package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// TestEventIDsFollowMemberLocks: a removal that waits for another
// transaction's lock on its member gets an event id above the events
// that transaction wrote. Events are listed in id order, so a member's
// history must read in the order its changes committed; the removal's
// event id is reserved by the statement that locks the member, and it
// must be taken after the lock, not while the statement waits for it.
func TestEventIDsFollowMemberLocks(t *testing.T) {
	ctx := context.Background()
	// Without group commit the two transactions are separate, so that one
	// can wait for the other's lock.
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.WithGroupCommit(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	owner := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Member: b.Owner, Interface: "test"}
	m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: "m@acme.test", Name: "m", Role: membership.RoleMember})
	if err != nil {
		t.Fatal(err)
	}

	locked, release := make(chan struct{}), make(chan struct{})
	holderEvent := &membership.Event{UUID: membership.NewUUID(), OrgID: owner.OrgID, Interface: "test",
		Action: membership.ActionMemberUpdated, Outcome: "success", TargetType: "member", TargetID: m.ID, TargetMemberID: m.ID}
	holder := make(chan error, 1)
	go func() {
		holder <- st.Update(ctx, func(tx membership.Tx) error {
			if _, err := tx.MemberGet(ctx, &membership.MemberGetParams{OrgID: owner.OrgID, ID: m.ID, Lock: true}); err != nil {
				close(locked)
				return err
			}
			close(locked)
			<-release
			holderEvent.At = time.Now()
			return tx.EventAppend(ctx, holderEvent)
		})
	}()
	<-locked

	type result struct {
		report *membership.Report
		err    error
	}
	removal := make(chan result, 1)
	go func() {
		r, err := svc.RemoveMember(ctx, owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
		removal <- result{r, err}
	}()
	waitForLockWait(t, st)
	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}
	res := <-removal
	if res.err != nil {
		t.Fatalf("removal: %v", res.err)
	}
	if res.report.EventID <= holderEvent.ID {
		t.Errorf("removal's event %d, committed after the event %d of the transaction it waited for, sorts before it",
			res.report.EventID, holderEvent.ID)
	}
}

// waitForLockWait returns once a backend of st's database waits for a row
// lock, and fails the test after 10 s.
func waitForLockWait(t *testing.T, st *postgres.Store) {
	t.Helper()
	ctx := context.Background()
	for range 1000 {
		var n int
		err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the removal never waited for the member's lock")
}
