package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// groupCommitter is what an engine with group commit exposes.
type groupCommitter interface {
	GroupCommitStats() sqlstore.GroupStats
}

// RunGroupCommitConcurrent runs only the check that every acknowledged
// call, and only those, is committed when many callers write at once; it
// suits an engine whose groups run in several lanes, where the other
// checks, which arrange callers behind one running group, cannot.
func RunGroupCommitConcurrent(t *testing.T, open Opener) {
	testGroupAcknowledged(t, newGCEnv(t, open, ""))
}

// RunGroupCommit checks an engine's group commit (sqlstore.Group): that
// concurrent Update calls share one transaction, that a failing, panicking
// or cancelled call is undone alone and answered with its own outcome,
// that a failed commit reaches every caller of its group, and that every
// acknowledged call, and only those, is committed. open must return a
// store with group commit on in one lane. slowStatement is a write (SQLite rolls
// back the whole transaction only when a write is interrupted) that takes
// a few hundred milliseconds on the engine, for cancelling a caller while
// its statement runs; it may insert into gc_rows callers named "bulk...".
func RunGroupCommit(t *testing.T, open Opener, slowStatement string) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *gcEnv)
	}{
		{"OneTransaction", testGroupOneTransaction},
		{"FailingCallAlone", testGroupFailingCallAlone},
		{"Panic", testGroupPanic},
		{"CommitErrorReachesAll", testGroupCommitError},
		{"CancelledCaller", testGroupCancelledCaller},
		{"AcknowledgedIsCommitted", testGroupAcknowledged},
		{"RemovalLogFollowsCalls", testGroupRemovalLogFollowsCalls},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newGCEnv(t, open, slowStatement))
		})
	}
}

// gcEnv is one store with the suite's tables: gc_rows records which
// caller's work was committed, and gc_child references gc_parent with a
// deferred foreign key, so that a caller can make the commit itself fail.
type gcEnv struct {
	store         membership.Store
	stats         func() sqlstore.GroupStats
	slowStatement string
}

func newGCEnv(t *testing.T, open Opener, slowStatement string) *gcEnv {
	t.Helper()
	st := open(t)
	gc, ok := st.(groupCommitter)
	if !ok {
		t.Fatalf("%T has no GroupCommitStats", st)
	}
	e := &gcEnv{store: st, stats: gc.GroupCommitStats, slowStatement: slowStatement}
	err := st.Update(context.Background(), func(tx membership.Tx) error {
		for _, q := range []string{
			`CREATE TABLE gc_rows (caller TEXT PRIMARY KEY)`,
			`CREATE TABLE gc_parent (id INTEGER PRIMARY KEY)`,
			`CREATE TABLE gc_child (id INTEGER PRIMARY KEY,
				parent INTEGER REFERENCES gc_parent (id) DEFERRABLE INITIALLY DEFERRED)`,
		} {
			if err := exec(context.Background(), tx, q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("create group commit tables: %v", err)
	}
	return e
}

// exec runs a statement on the engine transaction under tx.
func exec(ctx context.Context, tx membership.Tx, query string, args ...any) error {
	st, ok := tx.(*sqlstore.Tx)
	if !ok {
		return fmt.Errorf("%T is not a *sqlstore.Tx", tx)
	}
	_, err := st.Conn().Exec(ctx, query, args...)
	return err
}

// txID identifies the engine transaction under tx: the engines' Conn
// values are comparable and wrap the driver's transaction.
func txID(tx membership.Tx) any { return tx.(*sqlstore.Tx).Conn() }

func insert(ctx context.Context, tx membership.Tx, caller string) error {
	return exec(ctx, tx, `INSERT INTO gc_rows (caller) VALUES ($1)`, caller)
}

// committed lists the callers whose rows are committed.
func (e *gcEnv) committed(t *testing.T) []string {
	t.Helper()
	var got []string
	err := e.store.View(context.Background(), func(tx membership.Tx) error {
		rows, err := tx.(*sqlstore.Tx).Conn().Query(context.Background(), `SELECT caller FROM gc_rows ORDER BY caller`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				return err
			}
			got = append(got, c)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatalf("read gc_rows: %v", err)
	}
	slices.Sort(got)
	return got
}

// follower is one caller of a group: its fn and what it got back.
type follower struct {
	name     string
	fn       func(ctx context.Context, tx membership.Tx) error
	ctx      context.Context
	err      error
	panicked any
	tx       any
}

// group makes the followers' calls run as one group: a leader call holds
// the single running group open until every follower is queued behind it.
// It returns the leader's transaction id; each follower's outcome and
// transaction id are left in it.
func (e *gcEnv) group(t *testing.T, followers []*follower) (leaderTx any) {
	t.Helper()
	ctx := context.Background()
	running, release := make(chan struct{}), make(chan struct{})
	leaderErr := make(chan error, 1)
	go func() {
		leaderErr <- e.store.Update(ctx, func(tx membership.Tx) error {
			leaderTx = txID(tx)
			close(running)
			<-release
			return insert(ctx, tx, "leader")
		})
	}()
	<-running
	before := e.stats()
	var wg sync.WaitGroup
	for _, f := range followers {
		if f.ctx == nil {
			f.ctx = ctx
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { f.panicked = recover() }()
			f.err = e.store.Update(f.ctx, func(tx membership.Tx) error {
				f.tx = txID(tx)
				return f.fn(f.ctx, tx)
			})
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.stats().Queued < len(followers) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("only %d of %d callers queued behind the running group", e.stats().Queued, len(followers))
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-leaderErr; err != nil {
		t.Fatalf("leader: %v", err)
	}
	wg.Wait()
	after := e.stats()
	if got := after.Groups - before.Groups; got != 1 {
		t.Errorf("the %d queued callers ran in %d groups, want 1", len(followers), got)
	}
	return leaderTx
}

func inserting(name string) *follower {
	return &follower{name: name, fn: func(ctx context.Context, tx membership.Tx) error { return insert(ctx, tx, name) }}
}

func testGroupOneTransaction(t *testing.T, e *gcEnv) {
	var fs []*follower
	for i := range 8 {
		fs = append(fs, inserting(fmt.Sprintf("f%d", i)))
	}
	leaderTx := e.group(t, fs)
	for _, f := range fs {
		if f.err != nil {
			t.Errorf("%s: %v", f.name, f.err)
		}
		if f.tx != fs[0].tx {
			t.Errorf("%s ran in another transaction than f0", f.name)
		}
	}
	if fs[0].tx == leaderTx {
		t.Errorf("the followers ran in the leader's transaction, which had committed before they were queued")
	}
	want := []string{"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "leader"}
	if got := e.committed(t); !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
	// Calls that all succeed pay no savepoint each (Group.Optimistic).
	if n := e.stats().Savepoints; n != 0 {
		t.Errorf("a group whose calls all succeeded ran %d of them in savepoints, want none", n)
	}
}

var errRefused = errors.New("refused by the test")

func testGroupFailingCallAlone(t *testing.T, e *gcEnv) {
	refusing := &follower{name: "refused", fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "refused"); err != nil {
			return err
		}
		return errRefused
	}}
	// A statement error aborts a PostgreSQL transaction until its
	// savepoint is rolled back; the following callers must not notice.
	badSQL := &follower{name: "badsql", fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "badsql"); err != nil {
			return err
		}
		return insert(ctx, tx, "badsql") // a unique violation
	}}
	// A caller that swallows its statement error: on PostgreSQL its
	// transaction is aborted and the call must fail; on SQLite it is not.
	// Either way it is acknowledged exactly when its work is committed.
	swallowing := &follower{name: "swallowed", fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "swallowed"); err != nil {
			return err
		}
		_ = exec(ctx, tx, `INSERT INTO no_such_table VALUES (1)`)
		return nil
	}}
	fs := []*follower{inserting("f0"), refusing, inserting("f1"), badSQL, inserting("f2"), swallowing, inserting("f3")}
	e.group(t, fs)
	if !errors.Is(refusing.err, errRefused) {
		t.Errorf("refused caller got %v, want its own error", refusing.err)
	}
	if badSQL.err == nil {
		t.Errorf("caller with a failing statement got no error")
	}
	want := []string{"f0", "f1", "f2", "f3", "leader"}
	if swallowing.err == nil {
		want = append(want, "swallowed")
	}
	for _, f := range []*follower{fs[0], fs[2], fs[4], fs[6]} {
		if f.err != nil {
			t.Errorf("%s was taken down with a failing caller: %v", f.name, f.err)
		}
	}
	slices.Sort(want)
	if got := e.committed(t); !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
	// The failing calls had the group run again, each call in its own
	// savepoint, so that they alone were rolled back.
	if n := e.stats().Savepoints; n < int64(len(fs)) {
		t.Errorf("%d calls ran in savepoints, want the group's %d run again in them", n, len(fs))
	}
}

func testGroupPanic(t *testing.T, e *gcEnv) {
	panicking := &follower{name: "panicked", fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "panicked"); err != nil {
			return err
		}
		panic("boom")
	}}
	fs := []*follower{inserting("f0"), panicking, inserting("f1")}
	e.group(t, fs)
	if panicking.panicked != "boom" {
		t.Errorf("panicking caller recovered %v, want its own panic \"boom\"", panicking.panicked)
	}
	for _, f := range []*follower{fs[0], fs[2]} {
		if f.err != nil || f.panicked != nil {
			t.Errorf("%s: err %v, panic %v; want neither", f.name, f.err, f.panicked)
		}
	}
	if got, want := e.committed(t), []string{"f0", "f1", "leader"}; !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
}

func testGroupCommitError(t *testing.T, e *gcEnv) {
	orphan := &follower{name: "orphan", fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "orphan"); err != nil {
			return err
		}
		// Checked only at COMMIT: the whole group's commit fails.
		return exec(ctx, tx, `INSERT INTO gc_child (id, parent) VALUES (1, 999)`)
	}}
	refusing := &follower{name: "refused", fn: func(ctx context.Context, tx membership.Tx) error { return errRefused }}
	fs := []*follower{inserting("f0"), orphan, refusing, inserting("f1")}
	e.group(t, fs)
	for _, f := range fs {
		if f.err == nil {
			t.Errorf("%s was acknowledged although its group's commit failed", f.name)
		}
	}
	// The refusal may rest on the others' work, which was not committed.
	if errors.Is(refusing.err, errRefused) {
		t.Errorf("refused caller got its own error %v, want the commit's", refusing.err)
	}
	if got, want := e.committed(t), []string{"leader"}; !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
	// The store is usable afterwards.
	if err := e.store.Update(context.Background(), func(tx membership.Tx) error { return insert(context.Background(), tx, "after") }); err != nil {
		t.Errorf("update after a failed group commit: %v", err)
	}
}

func testGroupCancelledCaller(t *testing.T, e *gcEnv) {
	// Cancelled while waiting in the queue: its fn never runs.
	queuedCtx, cancelQueued := context.WithCancel(context.Background())
	neverRun := &follower{name: "never", ctx: queuedCtx, fn: func(ctx context.Context, tx membership.Tx) error {
		cancelQueued()
		return insert(ctx, tx, "never")
	}}
	cancelQueued()
	// Cancelled while its statement runs: the statement must not be
	// interrupted (SQLite would roll back the whole shared transaction,
	// pgx would close its connection), and the caller's next statement
	// fails with its own cancellation.
	slowCtx, cancelSlow := context.WithCancel(context.Background())
	defer cancelSlow()
	slow := &follower{name: "slow", ctx: slowCtx, fn: func(ctx context.Context, tx membership.Tx) error {
		if err := insert(ctx, tx, "slow"); err != nil {
			return err
		}
		timer := time.AfterFunc(20*time.Millisecond, cancelSlow)
		defer timer.Stop()
		if err := exec(ctx, tx, e.slowStatement); err != nil {
			return err
		}
		return insert(ctx, tx, "slow2")
	}}
	fs := []*follower{inserting("f0"), neverRun, slow, inserting("f1")}
	e.group(t, fs)
	if !errors.Is(neverRun.err, context.Canceled) {
		t.Errorf("caller cancelled in the queue got %v, want context.Canceled", neverRun.err)
	}
	if !errors.Is(slow.err, context.Canceled) {
		t.Errorf("caller cancelled during its statement got %v, want context.Canceled", slow.err)
	}
	for _, f := range []*follower{fs[0], fs[3]} {
		if f.err != nil {
			t.Errorf("%s was taken down by a cancelled caller: %v", f.name, f.err)
		}
	}
	if got, want := e.committed(t), []string{"f0", "f1", "leader"}; !slices.Equal(got, want) {
		t.Errorf("committed %v, want %v", got, want)
	}
}

func testGroupAcknowledged(t *testing.T, e *gcEnv) {
	const workers, calls = 32, 20
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	before := e.stats()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				name := fmt.Sprintf("w%02d-%02d", w, i)
				err := e.store.Update(context.Background(), func(tx membership.Tx) error {
					if err := insert(context.Background(), tx, name); err != nil {
						return err
					}
					if (w+i)%5 == 0 {
						return errRefused // every fifth call refuses after writing
					}
					return nil
				})
				switch {
				case err == nil:
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
				case !errors.Is(err, errRefused):
					t.Errorf("%s: %v", name, err)
				}
			}
		}()
	}
	wg.Wait()
	slices.Sort(acked)
	if want := workers * calls * 4 / 5; len(acked) != want {
		t.Errorf("%d calls acknowledged, want %d", len(acked), want)
	}
	if got := e.committed(t); !slices.Equal(got, acked) {
		t.Errorf("committed rows differ from acknowledged calls: %d committed, %d acknowledged", len(got), len(acked))
	}
	st := e.stats()
	t.Logf("%d calls in %d groups", st.Calls-before.Calls, st.Groups-before.Groups)
}
