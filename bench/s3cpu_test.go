package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/store/postgres"
)

// s3CPUEnv names the organization size TestS3CPU loads; s3CPUBinsEnv
// the memberd binaries it sets against each other (comma-separated;
// default this tree's).
const (
	s3CPUEnv     = "MEMBERD_S3_CPU"
	s3CPUBinsEnv = "MEMBERD_S3_BINS"
)

// TestS3CPU measures where S3's access checks spend CPU on PostgreSQL:
// memberd's and the PostgreSQL backends' on-CPU time per check
// (/proc/PID/task/*/schedstat, not wall time, so that other work on a
// shared machine weighs less), and pg_stat_statements' planning and
// execution time per check. Each binary runs as its own server on the same
// database; they take turns in blocks of S3's checks over HTTP at S3's
// concurrency (half of them about members removed before, half about
// members picked at random), in abba order, and the medians of the
// blocks and of the pairs' ratios to the first binary are printed. It is
// an on-demand measurement, not a check:
//
//	cd bench && MEMBERD_S3_CPU=1000000 MEMBERD_S3_BINS=/tmp/a,/tmp/b CI=true go test -count=1 -run TestS3CPU -v -timeout 60m .
func TestS3CPU(t *testing.T) {
	rounds, block := envInt("MEMBERD_S3_ROUNDS", 8), envInt("MEMBERD_S3_BLOCK", 5000)
	ctx := context.Background()
	e, d := onDemandPostgres(t, s3CPUEnv, [2]string{"shared_preload_libraries", "pg_stat_statements"},
		[2]string{"pg_stat_statements.track_planning", "on"}, [2]string{"autovacuum", "off"})
	pool := e.Store.(*postgres.Store).Pool()
	if _, err := pool.Exec(ctx, "CREATE EXTENSION pg_stat_statements"); err != nil {
		t.Fatal(err)
	}
	bins := s3Binaries(ctx, t)
	servers, clients := s3Servers(ctx, t, bins, e.DSN, d.Token)
	pick := newPicker(d.Shape.Seed)
	removed := s3Removed(ctx, t, clients[0], d, pick)
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		t.Fatal(err)
	}
	if hold, _ := time.ParseDuration(os.Getenv("MEMBERD_S3_HOLD")); hold > 0 {
		// For a look at the database by hand (psql) before measuring.
		t.Logf("holding for %s: %s", hold, e.DSN)
		time.Sleep(hold)
	}
	var backend int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		t.Fatal(err)
	}
	postmaster := parentPid(t, backend)
	type blockResult struct {
		rate, p99, server, pg, plan, exec, calls float64
	}
	results := make([][]blockResult, len(bins))
	for round := range rounds {
		order := make([]int, len(bins))
		for i := range order {
			order[i] = i
		}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, b := range order {
			checks := s3Checks(pick, d, removed, block)
			if _, err := pool.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
				t.Fatal(err)
			}
			pg0, srv0 := childrenCPU(postmaster), taskCPU(servers[b].Pid())
			s, err := Loop(ctx, 16, block, time.Minute, func(ctx context.Context, i int) (int, error) {
				_, err := clients[b].Access(ctx, checks[i].member, checks[i].resource)
				return 1, err
			})
			if err != nil {
				t.Fatal(err)
			}
			pg, srv := childrenCPU(postmaster)-pg0, taskCPU(servers[b].Pid())-srv0
			var plan, exec float64
			var calls int64
			if err := pool.QueryRow(ctx, `SELECT COALESCE(sum(total_plan_time), 0), COALESCE(sum(total_exec_time), 0), COALESCE(sum(calls), 0)::bigint
				FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'`).Scan(&plan, &exec, &calls); err != nil {
				t.Fatal(err)
			}
			us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(block) }
			r := blockResult{s.Rate(), float64(s.P99.Microseconds()), us(srv), us(pg), plan * 1e3 / float64(block), exec * 1e3 / float64(block), float64(calls) / float64(block)}
			results[b] = append(results[b], r)
			t.Logf("round %d %s: %.0f checks/s p99 %.0f µs; server %.1f µs, backends %.1f µs a check; plan %.1f µs, exec %.1f µs, %.2f statements a check",
				round, filepath.Base(bins[b]), r.rate, r.p99, r.server, r.pg, r.plan, r.exec, r.calls)
		}
	}
	logS3Medians(t, bins, results, []s3Field[blockResult]{
		{"checks/s", func(r blockResult) float64 { return r.rate }},
		{"p99 µs", func(r blockResult) float64 { return r.p99 }},
		{"server µs/check", func(r blockResult) float64 { return r.server }},
		{"backends µs/check", func(r blockResult) float64 { return r.pg }},
		{"plan µs/check", func(r blockResult) float64 { return r.plan }},
		{"exec µs/check", func(r blockResult) float64 { return r.exec }},
		{"statements/check", func(r blockResult) float64 { return r.calls }},
	})
}

// s3Binaries are the memberd binaries MEMBERD_S3_BINS names, or one built
// from this tree.
func s3Binaries(ctx context.Context, t *testing.T) []string {
	if env := os.Getenv(s3CPUBinsEnv); env != "" {
		return strings.Split(env, ",")
	}
	dir, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildServer(ctx, dir, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	return []string{bin}
}

// s3Servers starts one server of each binary on the database dsn, as the
// bench starts S3's (each writes a CPU profile to
// $MEMBERD_S3_PROFILE-<i>.pprof when that is set), and a client of each
// with token; they stop when t ends.
func s3Servers(ctx context.Context, t *testing.T, bins []string, dsn, token string) ([]*Server, []*Client) {
	servers := make([]*Server, len(bins))
	clients := make([]*Client, len(bins))
	for i, bin := range bins {
		args := []string{"--rate-limit", "0", "--batch-limit", "100"}
		if prefix := os.Getenv("MEMBERD_S3_PROFILE"); prefix != "" {
			args = append(args, "--cpuprofile", fmt.Sprintf("%s-%d.pprof", prefix, i))
		}
		srv, err := StartServer(ctx, bin, dsn, args...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Stop() })
		servers[i], clients[i] = srv, NewClient(srv.URL, token, 128)
	}
	return servers, clients
}

// s3Removed removes members through c, as S2 does before S3, and returns
// them.
func s3Removed(ctx context.Context, t *testing.T, c *Client, d *Dataset, pick *picker) []int {
	removed := pick.pick(min(2000, d.Members/4), d.Members)
	if _, err := Loop(ctx, 16, len(removed), time.Minute, func(ctx context.Context, i int) (int, error) {
		return 1, c.JicooDelete(ctx, d.MemberID(removed[i]))
	}); err != nil {
		t.Fatal(err)
	}
	return removed
}

// s3Check is one access check of an S3 block.
type s3Check struct{ member, resource int64 }

// s3Checks picks n checks as S3 does: every other one about a member
// removed before, the rest about members picked at random, each about a
// resource the member's group is granted.
func s3Checks(pick *picker, d *Dataset, removed []int, n int) []s3Check {
	sh := d.Shape
	checks := make([]s3Check, n)
	for i := range checks {
		m := pick.any(d.Members)
		if i%2 == 0 {
			m = removed[pick.any(len(removed))]
		}
		g := sh.memberGroup(m)
		checks[i] = s3Check{d.MemberID(m), int64(1 + (int(g)*sh.GroupGrants+m%sh.GroupGrants)%sh.Resources)}
	}
	return checks
}

// s3Field is one figure of a block's result, as logS3Medians prints it.
type s3Field[R any] struct {
	name string
	f    func(R) float64
}

// logS3Medians logs, for each binary, the median of each field over its
// blocks and, after the first binary, the median of the rounds' ratios to
// the first's (results[b][round]).
func logS3Medians[R any](t *testing.T, bins []string, results [][]R, fields []s3Field[R]) {
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	for b := range bins {
		var line []string
		for _, f := range fields {
			v := make([]float64, len(results[b]))
			ratios := make([]float64, len(results[b]))
			for i, r := range results[b] {
				v[i] = f.f(r)
				ratios[i] = v[i] / f.f(results[0][i])
			}
			s := fmt.Sprintf("%s %.2f", f.name, median(v))
			if b > 0 {
				s += fmt.Sprintf(" (%.3f×)", median(ratios))
			}
			line = append(line, s)
		}
		t.Logf("%s, medians of %d blocks (ratios: medians of the rounds' to %s): %s", bins[b], len(results[b]), filepath.Base(bins[0]), strings.Join(line, "; "))
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// parentPid is pid's parent's.
func parentPid(t *testing.T, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}

// onCPU is a task's on-CPU time (schedstat's first field).
func onCPU(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return time.Duration(ns)
}

// taskCPU is the on-CPU time of all of a process's threads.
func taskCPU(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var total time.Duration
	for _, p := range tasks {
		total += onCPU(p)
	}
	return total
}

// childrenCPU is the on-CPU time of the processes whose parent is pid
// (a postmaster's backends and workers).
func childrenCPU(pid int) time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total time.Duration
	want := strconv.Itoa(pid)
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == want {
			total += onCPU(filepath.Join(filepath.Dir(p), "schedstat"))
		}
	}
	return total
}
