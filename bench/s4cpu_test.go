package bench

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlstore"
)

// onDemandPostgres is loadedPostgres at as many members as the
// environment variable env says, for an on-demand measurement; it skips
// the test when env is unset.
func onDemandPostgres(t *testing.T, env string, extra ...[2]string) (*Engine, *Dataset) {
	t.Helper()
	n, _ := strconv.Atoi(os.Getenv(env))
	if n <= 0 {
		t.Skipf("on-demand measurement: set %s to a number of members to run it", env)
	}
	return loadedPostgres(t, n, extra...)
}

// s4CPUEnv names the organization size TestS4BackendCPU loads.
const s4CPUEnv = "MEMBERD_S4_CPU"

// TestS4BackendCPU measures where an S4 offboarding's time goes on
// PostgreSQL: the CPU the server's backend spends on each statement the
// store runs for it, with the store's one-statement forms of a member's
// space memberships and grants (sqlstore.Dialect.ModifyingCTE) and with
// the general forms SQLite runs. On-CPU time (/proc/PID/schedstat) of
// the one backend, not wall time, so that other work on a shared machine
// weighs less. It is an on-demand measurement, not a check:
//
//	cd bench && MEMBERD_S4_CPU=1000000 CI=true go test -count=1 -run TestS4BackendCPU -v -timeout 60m .
//
// Each form's statements are recorded from a real offboarding (rolled
// back), then replayed in a transaction that is rolled back, 9 times in
// turn with the other form's, each after a VACUUM of the tables it
// changes so that every replay finds the pages as a first offboarding
// does; the medians are printed.
func TestS4BackendCPU(t *testing.T) {
	ctx := context.Background()
	e, d := onDemandPostgres(t, s4CPUEnv)
	st, onCPU := oneBackend(t, e)
	pool := st.Pool()
	vacuum := func() {
		if _, err := pool.Exec(ctx, "VACUUM members, member_periods, space_members, space_member_roles, group_members, grants"); err != nil {
			t.Fatal(err)
		}
	}
	forms := []bool{false, true} // sqlstore.Dialect.ModifyingCTE
	recorded := make([][]Stmt, len(forms))
	for f, oneStatement := range forms {
		dialect := postgres.StoreDialect()
		dialect.ModifyingCTE = oneStatement
		form := &Engine{Name: e.Name, Store: st, dialect: &dialect}
		form.inTx = func(ctx context.Context, fn func(sqlstore.Conn) error) error {
			return st.UpdatePgx(ctx, func(tx pgx.Tx, _ membership.Tx) error { return fn(pgConn{tx}) })
		}
		vacuum()
		var err error
		if recorded[f], err = form.Record(ctx, func(svc *membership.Service) error {
			_, err := svc.RemoveMember(ctx, d.Actor("native"), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: d.S4[0]}})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The forms take turns, so that the machine's load weighs on both.
	per := make([][][]time.Duration, len(forms))
	totals := make([][]time.Duration, len(forms))
	for f := range forms {
		per[f] = make([][]time.Duration, len(recorded[f]))
	}
	for round := range 9 {
		for k := range forms {
			f := (k + round) % len(forms)
			vacuum()
			var total time.Duration
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				for i, s := range recorded[f] {
					start := onCPU()
					if err := queryAll(ctx, tx, s); err != nil {
						return err
					}
					used := onCPU() - start
					per[f][i] = append(per[f][i], used)
					total += used
				}
				return errRecorded // roll back
			})
			if err != errRecorded {
				t.Fatal(err)
			}
			totals[f] = append(totals[f], total)
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for f, oneStatement := range forms {
		var lines []string
		for i, s := range recorded[f] {
			slices.Sort(per[f][i])
			lines = append(lines, fmt.Sprintf("%7.2f ms  %.120s", ms(per[f][i][len(per[f][i])/2]), describe(s.Query)))
		}
		slices.Sort(totals[f])
		t.Logf("ModifyingCTE %v: %d statements, backend CPU per offboarding %.1f ms (median of %d; least %.1f ms); per statement (medians):\n%s",
			oneStatement, len(recorded[f]), ms(totals[f][len(totals[f])/2]), len(totals[f]), ms(totals[f][0]), strings.Join(lines, "\n"))
	}
}

// oneBackend opens e's store with one connection, so that one backend
// runs every statement, and returns it, closed when t ends, with a
// reader of that backend's on-CPU time (/proc/PID/schedstat); it skips
// the test where that time is unreadable.
func oneBackend(t *testing.T, e *Engine) (*postgres.Store, func() time.Duration) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, e.DSN+"&pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var pid int
	if err := st.Pool().QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	schedstat := fmt.Sprintf("/proc/%d/schedstat", pid)
	if _, err := os.ReadFile(schedstat); err != nil {
		t.Skipf("backend CPU time unreadable: %v", err)
	}
	return st, func() time.Duration {
		b, err := os.ReadFile(schedstat)
		if err != nil {
			t.Fatal(err)
		}
		ns, err := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(ns)
	}
}

// loadedPostgres is a throwaway PostgreSQL cluster (OpenPostgres, with
// extra settings) holding the bench's organization at n members, settled
// as the bench settles it after loading; it is closed when t ends.
func loadedPostgres(t *testing.T, n int, extra ...[2]string) (*Engine, *Dataset) {
	ctx := context.Background()
	e, err := OpenPostgres(ctx, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, load(t, e, n)
}

// load writes the bench's organization at n members into e and settles
// it as the bench settles it after loading.
func load(t *testing.T, e *Engine, n int) *Dataset {
	ctx := context.Background()
	d, err := Setup(ctx, e.Store, DefaultShape(1))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Grow(ctx, e, n, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d members in %s", n, time.Since(start).Round(time.Second))
	if _, err := e.Settle(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestS4OffboardCPU measures the S4 offboardings in-process on
// PostgreSQL, each as the native API makes it (RemoveMember with a
// guard, the report kept): memberd's CPU (getrusage of this process), the
// backend's (the store has one connection) and the wall time, per
// offboarding of each S4 subject. Wall time less backend CPU is mostly
// round trips and memberd's own work, which is where fewer round trips
// show. On demand, like TestS4BackendCPU; run it alternately on two trees
// to compare them:
//
//	cd bench && MEMBERD_S4_CPU=100000 CI=true go test -count=1 -run TestS4OffboardCPU -v .
func TestS4OffboardCPU(t *testing.T) {
	ctx := context.Background()
	e, d := onDemandPostgres(t, s4CPUEnv)
	st, onCPU := oneBackend(t, e)
	svc := membership.NewService(st, membership.DefaultConfig())
	self := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for i, id := range d.S4 {
		ctx := membership.WithGuard(ctx, &membership.Guard{})
		cpu, backend, start := self(), onCPU(), time.Now()
		if _, err := svc.RemoveMember(ctx, d.Actor("native"), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: id}}); err != nil {
			t.Fatal(err)
		}
		t.Logf("offboarding %d: memberd CPU %.2f ms, backend CPU %.2f ms, wall %.2f ms", i, ms(self()-cpu), ms(onCPU()-backend), ms(time.Since(start)))
	}
}
