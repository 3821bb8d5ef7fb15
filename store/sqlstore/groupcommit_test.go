package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// fakeEngine is an engine whose statements only get recorded, so the
// Group's own protocol (savepoints, retries, broken transactions) can be
// driven into cases a real server rarely produces. The engines' real
// behaviour is tested by storetest.RunGroupCommit.
type fakeEngine struct {
	mu       sync.Mutex
	log      []string
	failStmt func(query string) error // nil: every statement succeeds
	begins   int
	commits  int
}

func (e *fakeEngine) Exec(_ context.Context, query string, _ ...any) (int64, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, query)
	if e.failStmt != nil {
		return 0, e.failStmt(query)
	}
	return 0, nil
}

func (e *fakeEngine) Query(context.Context, string, ...any) (Rows, error) {
	return nil, errors.New("fake: no queries")
}

func (e *fakeEngine) QueryRow(context.Context, string, ...any) Row { return nil }

func (e *fakeEngine) Tx() *Tx { return NewTx(e, &Dialect{}) }

func (e *fakeEngine) Commit(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.commits++
	e.log = append(e.log, "COMMIT")
	return nil
}

func (e *fakeEngine) Rollback(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log = append(e.log, "ROLLBACK")
	return nil
}

func (e *fakeEngine) group() *Group {
	return NewGroup(func(context.Context) (GroupTx, error) {
		e.mu.Lock()
		e.begins++
		e.log = append(e.log, "BEGIN")
		e.mu.Unlock()
		return e, nil
	}, 0, 1)
}

var errConflict = errors.New("conflict: run again")

// hold runs calls as one group behind a leader that holds the group
// before them open until they are all queued, and returns their errors.
func hold(t *testing.T, g *Group, calls []func(membership.Tx) error) []error {
	t.Helper()
	running, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- g.Update(context.Background(), func(membership.Tx) error {
			close(running)
			<-release
			return nil
		})
	}()
	<-running
	errs := make([]error, len(calls))
	var wg sync.WaitGroup
	for i, fn := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = g.Update(context.Background(), fn)
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.Stats().Queued < len(calls) {
		if time.Now().After(deadline) {
			t.Fatalf("calls never queued")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("leader: %v", err)
	}
	wg.Wait()
	return errs
}

func TestGroupRetry(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		e := &fakeEngine{}
		g := e.group()
		g.Retryable = func(err error) bool { return errors.Is(err, errConflict) }
		runs := 0
		errs := hold(t, g, []func(membership.Tx) error{
			func(membership.Tx) error { return nil },
			func(membership.Tx) error {
				if runs++; runs < 3 {
					return errConflict
				}
				return nil
			},
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
		if runs != 3 {
			t.Errorf("the conflicting call ran %d times, want 3", runs)
		}
		// The leader's, the group's and the last lone retry's; the
		// first lone retry was rolled back.
		if e.commits != 3 {
			t.Errorf("%d commits, want 3: %v", e.commits, e.log)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		e := &fakeEngine{}
		g := e.group()
		g.Retryable = func(err error) bool { return errors.Is(err, errConflict) }
		runs := 0
		err := g.Update(context.Background(), func(membership.Tx) error { runs++; return errConflict })
		if !errors.Is(err, errConflict) {
			t.Errorf("got %v, want the conflict", err)
		}
		if runs != maxGroupAttempts {
			t.Errorf("ran %d times, want %d", runs, maxGroupAttempts)
		}
	})
	t.Run("NotRetryable", func(t *testing.T) {
		e := &fakeEngine{}
		g := e.group()
		runs := 0
		err := g.Update(context.Background(), func(membership.Tx) error { runs++; return errConflict })
		if !errors.Is(err, errConflict) || runs != 1 {
			t.Errorf("got %v after %d runs, want the conflict after 1", err, runs)
		}
	})
}

func TestGroupBrokenTransaction(t *testing.T) {
	e := &fakeEngine{}
	g := e.group()
	errOwn := errors.New("own failure")
	// The transaction breaks under the failing call: rolling back to its
	// savepoint fails, as when SQLite rolled the transaction back itself.
	e.failStmt = func(q string) error {
		if strings.HasPrefix(q, "ROLLBACK TO SAVEPOINT") {
			return errors.New("no such savepoint")
		}
		return nil
	}
	var mu sync.Mutex
	var order []int // calls in the order they ran
	runs := map[int]int{}
	fn := func(i int) func(membership.Tx) error {
		return func(membership.Tx) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, i)
			runs[i]++
			if i == 1 {
				return errOwn
			}
			return nil
		}
	}
	errs := hold(t, g, []func(membership.Tx) error{fn(0), fn(1), fn(2), fn(3)})
	broke := false // the calls up to the failing one ran in the broken group
	for _, i := range order {
		switch {
		case !broke && !errors.Is(errs[i], errGroupAborted):
			t.Errorf("call %d ran in the broken group and got %v, want the aborted group's error", i, errs[i])
		case broke && (errs[i] != nil || runs[i] != 1):
			t.Errorf("call %d, never started in the broken group, got %v after %d runs; want success after 1", i, errs[i], runs[i])
		}
		broke = broke || i == 1
	}
	log := strings.Join(e.log, "; ")
	if !strings.Contains(log, "ROLLBACK TO SAVEPOINT gc") {
		t.Errorf("the failing call's savepoint was never rolled back to: %s", log)
	}
	// The calls queue in whatever order their goroutines reach the group.
	// When the failing one happens to be last, no call is left for a next
	// group, and the broken transaction's rollback ends the log.
	if order[len(order)-1] == 1 {
		if !strings.HasSuffix(log, "; ROLLBACK") {
			t.Errorf("the broken group, whose failing call came last, was not rolled back: %s", log)
		}
	} else if !strings.Contains(log, "; ROLLBACK; BEGIN") {
		t.Errorf("the broken group was not rolled back before the next began: %s", log)
	}
}

func TestGroupBeginError(t *testing.T) {
	errBegin := errors.New("no connection")
	g := NewGroup(func(context.Context) (GroupTx, error) { return nil, errBegin }, 0, 1)
	ran := false
	err := g.Update(context.Background(), func(membership.Tx) error { ran = true; return nil })
	if !errors.Is(err, errBegin) || ran {
		t.Errorf("got %v (fn ran: %v), want the begin error and fn not run", err, ran)
	}
}

// TestGroupHandoff checks that the lead passes on under load: every call
// is answered, groups hold several calls, and none exceeds the maximum.
func TestGroupHandoff(t *testing.T) {
	for _, lanes := range []int{1, 3} {
		t.Run(fmt.Sprintf("Lanes%d", lanes), func(t *testing.T) { testGroupHandoff(t, lanes) })
	}
}

func testGroupHandoff(t *testing.T, lanes int) {
	e := &fakeEngine{}
	g := NewGroup(func(context.Context) (GroupTx, error) { return e, nil }, 8, lanes)
	const workers, calls = 32, 50
	var wg sync.WaitGroup
	var failed sync.Map
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				if err := g.Update(context.Background(), func(membership.Tx) error {
					time.Sleep(10 * time.Microsecond)
					return nil
				}); err != nil {
					failed.Store(fmt.Sprint(w, i), err)
				}
			}
		}()
	}
	wg.Wait()
	failed.Range(func(k, v any) bool { t.Errorf("call %v: %v", k, v); return true })
	st := g.Stats()
	if st.Calls != workers*calls {
		t.Errorf("%d calls ran, want %d", st.Calls, workers*calls)
	}
	if st.Groups >= st.Calls {
		t.Errorf("%d calls in %d groups: nothing was grouped", st.Calls, st.Groups)
	}
	// Every group of more than one call uses savepoints gc1..gcN; none
	// may reach gc9 with a maximum of 8.
	for _, q := range e.log {
		if q == "SAVEPOINT gc9" {
			t.Fatalf("a group held more than 8 calls")
		}
	}
	if st.Queued != 0 {
		t.Errorf("%d calls still queued", st.Queued)
	}
}

// With ChainSavepoints a call's release and the next call's savepoint
// are one Exec; a failing call is rolled back to its own savepoint alone
// and the call after it sets its own.
func TestGroupChainSavepoints(t *testing.T) {
	e := &fakeEngine{}
	g := e.group()
	g.ChainSavepoints = true
	errFail := errors.New("refused")
	ok := func(membership.Tx) error { return nil }
	errs := hold(t, g, []func(membership.Tx) error{ok, func(membership.Tx) error { return errFail }, ok, ok})
	for i, err := range errs {
		if want := error(nil); i == 1 {
			if !errors.Is(err, errFail) {
				t.Errorf("call %d: got %v, want its own error", i, err)
			}
		} else if err != want {
			t.Errorf("call %d: %v", i, err)
		}
	}
	// The leader's group of one, then the held group of four, in the
	// order the calls queued.
	failed := 0
	for _, q := range e.log {
		if _, err := fmt.Sscanf(q, "ROLLBACK TO SAVEPOINT gc%d", &failed); err == nil {
			break
		}
	}
	want := []string{"BEGIN", "COMMIT", "BEGIN"}
	for k := 1; k <= 4; k++ {
		if k == 1 || k == failed+1 {
			want = append(want, fmt.Sprintf("SAVEPOINT gc%d", k))
		}
		switch {
		case k == failed:
			want = append(want, fmt.Sprintf("ROLLBACK TO SAVEPOINT gc%d", k), fmt.Sprintf("RELEASE SAVEPOINT gc%d", k))
		case k < 4:
			want = append(want, fmt.Sprintf("RELEASE SAVEPOINT gc%d; SAVEPOINT gc%d", k, k+1))
		default:
			want = append(want, fmt.Sprintf("RELEASE SAVEPOINT gc%d", k))
		}
	}
	want = append(want, "COMMIT")
	if got := strings.Join(e.log, "\n"); failed == 0 || got != strings.Join(want, "\n") {
		t.Errorf("statements:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// The cached savepoint statements are the texts made per call before.
func TestSavepointSQL(t *testing.T) {
	for n := 1; n <= 2*DefaultGroupMax; n++ {
		name := "gc" + strconv.Itoa(n)
		want := savepointStmts{set: "SAVEPOINT " + name, release: "RELEASE SAVEPOINT " + name,
			releaseSetNext: "RELEASE SAVEPOINT " + name + "; SAVEPOINT gc" + strconv.Itoa(n+1), rollback: "ROLLBACK TO SAVEPOINT " + name}
		if got := savepointSQL(n); got != want {
			t.Fatalf("savepointSQL(%d) = %+v, want %+v", n, got, want)
		}
	}
}

// An Optimistic group of several calls runs them without savepoints; a
// call that fails has the whole transaction rolled back and the group run
// again, each call in its own savepoint, so that the failing call's work
// is not committed and the others' is, once.
func TestGroupOptimistic(t *testing.T) {
	working := func(n *int, err error) func(membership.Tx) error {
		return func(tx membership.Tx) error {
			*n++
			if _, xerr := tx.(*Tx).Conn().Exec(context.Background(), "WORK"); xerr != nil {
				return xerr
			}
			return err
		}
	}
	count := func(log []string, prefix string) int {
		n := 0
		for _, q := range log {
			if strings.HasPrefix(q, prefix) {
				n++
			}
		}
		return n
	}
	t.Run("AllSucceed", func(t *testing.T) {
		e := &fakeEngine{}
		g := e.group()
		g.Optimistic, g.ChainSavepoints = true, true
		runs := make([]int, 3)
		errs := hold(t, g, []func(membership.Tx) error{working(&runs[0], nil), working(&runs[1], nil), working(&runs[2], nil)})
		for i, err := range errs {
			if err != nil || runs[i] != 1 {
				t.Errorf("call %d: %v after %d runs, want success after 1", i, err, runs[i])
			}
		}
		if got := count(e.log, "SAVEPOINT") + count(e.log, "RELEASE") + count(e.log, "ROLLBACK"); got != 0 {
			t.Errorf("%d savepoint statements or rollbacks, want none:\n%s", got, strings.Join(e.log, "\n"))
		}
		if e.begins != 2 || e.commits != 2 {
			t.Errorf("%d begins and %d commits, want the leader's and the group's:\n%s", e.begins, e.commits, strings.Join(e.log, "\n"))
		}
	})
	t.Run("OneFails", func(t *testing.T) {
		e := &fakeEngine{}
		g := e.group()
		g.Optimistic, g.ChainSavepoints = true, true
		errFail := errors.New("refused")
		runs := make([]int, 3)
		errs := hold(t, g, []func(membership.Tx) error{working(&runs[0], nil), working(&runs[1], errFail), working(&runs[2], nil)})
		for i, err := range errs {
			if i == 1 {
				if !errors.Is(err, errFail) {
					t.Errorf("call %d: got %v, want its own error", i, err)
				}
			} else if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
		}
		// The group after the leader's: its calls up to the failing one
		// without savepoints, a rollback, then all of them again, each in
		// its own savepoint, the failing one's rolled back.
		log := strings.Join(e.log, "\n")
		if e.begins != 3 || e.commits != 2 || count(e.log, "ROLLBACK TO SAVEPOINT") != 1 || count(e.log, "ROLLBACK") != 2 {
			t.Errorf("%d begins, %d commits, want 3 and 2, one rollback and one to a savepoint:\n%s", e.begins, e.commits, log)
		}
		if runs[1] != 2 || runs[0]+runs[2] < 3 || runs[0]+runs[2] > 4 {
			t.Errorf("runs %v: want the failing call run twice, the others once or twice", runs)
		}
		rerun := strings.Index(log, "ROLLBACK\nBEGIN\nSAVEPOINT gc1")
		if rerun < 0 || strings.Contains(log[:rerun], "SAVEPOINT") {
			t.Errorf("want a first run without savepoints, rolled back, then one with:\n%s", log)
		}
	})
}

// After a group in which a call failed, the lane's next group sets
// savepoints from the start, and the one after a group without failures
// runs without them again: calls that keep failing do not have every
// group run twice.
func TestGroupOptimisticAfterFailure(t *testing.T) {
	e := &fakeEngine{}
	g := e.group()
	g.Optimistic, g.ChainSavepoints = true, true
	errFail := errors.New("refused")
	ok := func(membership.Tx) error { return nil }
	segment := func(calls ...func(membership.Tx) error) string {
		e.mu.Lock()
		from := len(e.log)
		e.mu.Unlock()
		hold(t, g, calls)
		e.mu.Lock()
		defer e.mu.Unlock()
		return strings.Join(e.log[from:], "\n")
	}
	if log := segment(ok, func(membership.Tx) error { return errFail }); !strings.Contains(log, "ROLLBACK\nBEGIN\nSAVEPOINT gc1") {
		t.Fatalf("the failing group was not run again with savepoints:\n%s", log)
	}
	if log := segment(ok, ok); !strings.Contains(log, "BEGIN\nSAVEPOINT gc1") || strings.Contains(log, "ROLLBACK") {
		t.Errorf("the group after a failure, want savepoints from the start:\n%s", log)
	}
	if log := segment(ok, ok); strings.Contains(log, "SAVEPOINT") {
		t.Errorf("the group after one without failures, want no savepoints:\n%s", log)
	}
}
