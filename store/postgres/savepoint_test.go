package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlstore"
)

// TestSavepoint checks the savepoints whose release goes out with the
// next savepoint (sqlstore.Dialect.MultiStatement): what a failed
// savepoint did is undone, nested ones included, everything else is
// committed, and a savepoint left waiting for its release by one caller
// of a group commit does not break the next caller's savepoints.
func TestSavepoint(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T, opts ...postgres.Option) *postgres.Store {
		t.Helper()
		st, err := postgres.Open(ctx, pgtest.NewDatabase(t), opts...)
		if err != nil {
			t.Fatalf("open postgres: %v", err)
		}
		t.Cleanup(func() {
			if err := st.Close(); err != nil {
				t.Errorf("close postgres: %v", err)
			}
		})
		if _, err := st.Pool().Exec(ctx, `CREATE TABLE sp_rows (name TEXT PRIMARY KEY)`); err != nil {
			t.Fatal(err)
		}
		return st
	}
	insert := func(tx membership.Tx, name string) error {
		_, err := tx.(*sqlstore.Tx).Conn().Exec(ctx, `INSERT INTO sp_rows (name) VALUES ($1)`, name)
		return err
	}
	inserting := func(tx membership.Tx, name string) func() error {
		return func() error { return insert(tx, name) }
	}
	errRefused := errors.New("refused")
	committed := func(t *testing.T, st *postgres.Store) []string {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `SELECT name FROM sp_rows ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("OneCaller", func(t *testing.T) {
		st := open(t, postgres.WithGroupCommit(false))
		err := st.Update(ctx, func(tx membership.Tx) error {
			steps := []struct {
				fn   func() error
				want error
			}{
				{inserting(tx, "a"), nil},
				{func() error { _ = insert(tx, "b"); return errRefused }, errRefused},
				{inserting(tx, "c"), nil},
				// A savepoint waiting inside one that succeeds.
				{func() error { return tx.Savepoint(ctx, inserting(tx, "d")) }, nil},
				// A savepoint waiting inside one that fails.
				{func() error { _ = tx.Savepoint(ctx, inserting(tx, "e")); return errRefused }, errRefused},
				// A statement error inside a savepoint that is rolled back.
				{func() error { _ = insert(tx, "c"); return errRefused }, errRefused},
				{inserting(tx, "f"), nil},
			}
			for i, s := range steps {
				if err := tx.Savepoint(ctx, s.fn); !errors.Is(err, s.want) {
					return fmt.Errorf("step %d: got %v, want %v", i, err, s.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := committed(t, st), []string{"a", "c", "d", "f"}; !slices.Equal(got, want) {
			t.Errorf("committed %v, want %v", got, want)
		}
	})

	t.Run("GroupCommit", func(t *testing.T) {
		st := open(t, postgres.WithGroupCommit(true), postgres.WithGroupLanes(1))
		// A leader holds the one lane's group open until both callers
		// are queued behind it, so that they run in the next group, one
		// after the other in one transaction.
		running, release := make(chan struct{}), make(chan struct{})
		leader := make(chan error, 1)
		go func() {
			leader <- st.Update(ctx, func(tx membership.Tx) error {
				close(running)
				<-release
				return insert(tx, "leader")
			})
		}()
		<-running
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, name := range []string{"first", "second"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = st.Update(ctx, func(tx membership.Tx) error {
					// Each caller ends on a savepoint that waits for its
					// release, and starts with one.
					if err := tx.Savepoint(ctx, inserting(tx, name+"-1")); err != nil {
						return err
					}
					return tx.Savepoint(ctx, inserting(tx, name+"-2"))
				})
			}()
		}
		deadline := time.Now().Add(10 * time.Second)
		for st.GroupCommitStats().Queued < 2 {
			if time.Now().After(deadline) {
				close(release)
				t.Fatal("the callers did not queue behind the running group")
			}
			time.Sleep(time.Millisecond)
		}
		before := st.GroupCommitStats().Groups
		close(release)
		if err := <-leader; err != nil {
			t.Fatalf("leader: %v", err)
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if n := st.GroupCommitStats().Groups - before; n != 1 {
			t.Errorf("the two callers ran in %d groups, want 1", n)
		}
		if got, want := committed(t, st), []string{"first-1", "first-2", "leader", "second-1", "second-2"}; !slices.Equal(got, want) {
			t.Errorf("committed %v, want %v", got, want)
		}
	})
}
