package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// newRemoval is a removal log row of org, taking something from members
// 1 to n, made now.
func newRemoval(org int64, n int, now time.Time) *membership.Removal {
	rm := &membership.Removal{UUID: membership.NewTimeUUID(now), OrgID: org, Kind: membership.KindRemoveMember,
		Interface: "test", ActorMemberID: 1, CreatedAt: now, Result: []byte(`{}`)}
	for i := range n {
		rm.Items = append(rm.Items, membership.RemovedItem{MemberID: int64(i + 1), Kind: membership.KindRemoveMember})
	}
	return rm
}

// removalStored reports whether rm's row is committed.
func removalStored(t *testing.T, st membership.Store, rm *membership.Removal) bool {
	t.Helper()
	err := st.View(context.Background(), func(tx membership.Tx) error {
		_, err := tx.RemovalGet(context.Background(), &membership.RemovalGetParams{OrgID: rm.OrgID, UUID: rm.UUID})
		return err
	})
	if membership.ErrorCode(err) == membership.CodeNotFound {
		return false
	}
	if err != nil {
		t.Fatalf("read removal %s: %v", rm.UUID, err)
	}
	return true
}

// testRemovalLogFollowsSavepoints: a removal kept in a savepoint that is
// rolled back is not written, one kept outside it is, and the rolling
// hour's count sees the kept ones before the commit (an engine may write
// them only as it commits).
func testRemovalLogFollowsSavepoints(t *testing.T, open Opener) {
	e := newEnv(t, open)
	ctx, org := e.ctx, e.org.ID
	kept, dropped := newRemoval(org, 2, T0), newRemoval(org, 3, T0)
	errDropped := errors.New("dropped by the test")
	err := e.store.Update(ctx, func(tx membership.Tx) error {
		if err := tx.RemovalCreate(ctx, kept); err != nil {
			return err
		}
		inside := 0
		if err := tx.Savepoint(ctx, func() error {
			if err := tx.RemovalCreate(ctx, dropped); err != nil {
				return err
			}
			var err error
			if inside, err = tx.RemovalCount(ctx, org, T0.Add(-time.Hour)); err != nil {
				return err
			}
			return errDropped
		}); !errors.Is(err, errDropped) {
			return fmt.Errorf("savepoint: %v, want the test's error", err)
		}
		if inside != 5 {
			return fmt.Errorf("counted %d members removed inside the savepoint, want 5", inside)
		}
		n, err := tx.RemovalCount(ctx, org, T0.Add(-time.Hour))
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("counted %d members removed after the savepoint's rollback, want 2", n)
		}
		if n, err := tx.RemovalCount(ctx, org, T0); err != nil || n != 0 {
			return fmt.Errorf("counted %d members removed after the removal's time, want 0 (%v)", n, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !removalStored(t, e.store, kept) {
		t.Errorf("the removal kept outside the savepoint was not written")
	}
	if removalStored(t, e.store, dropped) {
		t.Errorf("the removal kept in the rolled-back savepoint was written")
	}
	var n int
	if err := e.store.View(ctx, func(tx membership.Tx) (err error) {
		n, err = tx.RemovalCount(ctx, org, T0.Add(-time.Hour))
		return err
	}); err != nil || n != 2 {
		t.Errorf("committed count %d (%v), want 2", n, err)
	}
}

// testGroupRemovalLogFollowsCalls: in one group, the removal of a caller
// that fails is not written, and those of the callers around it are.
func testGroupRemovalLogFollowsCalls(t *testing.T, e *gcEnv) {
	ctx := context.Background()
	b, err := membership.NewService(e.store, membership.DefaultConfig()).CreateOrganization(ctx,
		membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	logging := func(name string, rm *membership.Removal, fail error) *follower {
		return &follower{name: name, fn: func(ctx context.Context, tx membership.Tx) error {
			if err := tx.RemovalCreate(ctx, rm); err != nil {
				return err
			}
			if err := insert(ctx, tx, name); err != nil {
				return err
			}
			return fail
		}}
	}
	rms := []*membership.Removal{newRemoval(b.Organization.ID, 1, now), newRemoval(b.Organization.ID, 1, now),
		newRemoval(b.Organization.ID, 1, now)}
	fs := []*follower{logging("f0", rms[0], nil), logging("refused", rms[1], errRefused), logging("f1", rms[2], nil)}
	e.group(t, fs)
	for i, f := range fs {
		if want := f.err == nil; removalStored(t, e.store, rms[i]) != want {
			t.Errorf("%s (error %v): removal written %v, want %v", f.name, f.err, !want, want)
		}
	}
}
