package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkRemovalCPU measures the CPU per single removal as Jicoo makes
// it (report discarded) at concurrency 64, each member shaped as the
// bench's S2 members are (storetest.BenchS2Members): memberd's (this process) and the PostgreSQL
// cluster's (the postmaster and its processes, read from /proc), and
// logs the statements pg_stat_statements timed, so that a change to the
// removal's statements shows where its time went:
// go test -run - -bench RemovalCPU -benchtime 1x ./store/postgres/
// Compare two trees by the cpu-µs/removal of alternating runs: the
// machine's other load moves the rate, much less the CPU. It starts its
// own cluster, the shared one not loading pg_stat_statements.
func BenchmarkRemovalCPU(b *testing.B) {
	const members, workers = 3000, 64
	ctx := context.Background()
	cl, err := pgtest.Start(pgtest.WithSetting("shared_preload_libraries", "pg_stat_statements"), pgtest.WithSetting("pg_stat_statements.track_planning", "on"))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Stop()
	dsn, err := cl.CreateDatabase(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	pc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close(ctx)
	if _, err := pc.Exec(ctx, "CREATE EXTENSION pg_stat_statements"); err != nil {
		b.Fatal(err)
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	a, ids := storetest.BenchS2Members(b, svc, members, workers)
	if b.Failed() {
		return
	}
	postmaster := postmasterOf(b, dsn)
	b.ResetTimer()
	if _, err := pc.Exec(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		b.Fatal(err)
	}
	server := clusterCPU(b, postmaster)
	used, took := storetest.BenchRemoveEach(b, membership.WithReportDiscarded(ctx), svc, a, ids, workers)
	served := clusterCPU(b, postmaster) - server
	b.ReportMetric(float64(used.Microseconds())/members, "cpu-µs/removal")
	rows, err := pc.Query(ctx, `SELECT calls, plans, total_plan_time, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
		FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 12`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	b.Logf("%6s %6s %8s %8s", "calls", "plans", "plan ms", "exec ms")
	for rows.Next() {
		var calls, plans int64
		var plan, exec float64
		var q string
		if err := rows.Scan(&calls, &plans, &plan, &exec, &q); err != nil {
			b.Fatal(err)
		}
		b.Logf("%6d %6d %8.1f %8.1f %s", calls, plans, plan, exec, q)
	}
	b.ReportMetric(float64(served.Microseconds())/members, "server-cpu-µs/removal")
	b.ReportMetric(members/took.Seconds(), "removals/s")
}

// postmasterOf is the pid of the postmaster serving dsn: the parent of a
// backend.
func postmasterOf(b *testing.B, dsn string) int {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	var pid int
	if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	f := procStat(b, pid)
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		b.Fatal(err)
	}
	return ppid
}

// clusterCPU is the CPU so far of the postmaster, its live children and
// the children it reaped.
func clusterCPU(b *testing.B, postmaster int) time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		b.Fatal(err)
	}
	var ticks int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		f := statFields(string(data))
		if pid != postmaster && f[1] != strconv.Itoa(postmaster) {
			continue
		}
		for _, k := range []int{11, 12, 13, 14} { // utime, stime, cutime, cstime
			v, _ := strconv.ParseInt(f[k], 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ 100
}

// procStat is /proc/pid/stat's fields after the command: state, ppid, ...
func procStat(b *testing.B, pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	return statFields(string(data))
}

func statFields(s string) []string {
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}
