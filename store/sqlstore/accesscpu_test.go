package sqlstore

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// accessCPUEnv names a PostgreSQL database holding an organization
// (org 1) like the bench's, for TestAccessStatementCPU.
const accessCPUEnv = "MEMBERD_ACCESS_CPU_DSN"

// accessVariant writes an access check's statement of a shape; unshared
// batches it with every argument an array, as if each check came from
// another organization or credential (accessBatchShared).
type accessVariant struct {
	name     string
	stmt     func(accessCheckShape) string
	unshared bool
}

// accessVariants are the forms TestAccessStatementCPU sets against each
// other; the first is the store's. To weigh a new form, add it here: the
// test also checks that it answers every check as the store's does.
var accessVariants = []accessVariant{
	{"store", accessCheckStatement, false},
	{"unshared", accessCheckStatement, true},
}

// TestAccessStatementCPU measures the PostgreSQL backend's on-CPU time
// (/proc/PID/schedstat) per access check of each form in accessVariants,
// alone and batched as AccessBatcher batches them, on one connection,
// the forms taking turns. Half the checks name a removed member, half an
// active one, each with a resource its group is granted, as S3's do. It
// is an on-demand measurement on a loaded database (the bench's
// TestS3CPU with MEMBERD_S3_HOLD keeps one), not a check:
//
//	MEMBERD_ACCESS_CPU_DSN=postgres://... go test -count=1 -run TestAccessStatementCPU -v ./store/sqlstore
func TestAccessStatementCPU(t *testing.T) {
	dsn := os.Getenv(accessCPUEnv)
	if dsn == "" {
		t.Skipf("on-demand measurement: set %s to run it", accessCPUEnv)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var pid int
	var credID, epoch int64
	if err := c.QueryRow(ctx, `SELECT pg_backend_pid(), (SELECT min(id) FROM credentials WHERE org_id = 1),
		(SELECT seq FROM event_chain_heads WHERE org_id = 1)`).Scan(&pid, &credID, &epoch); err != nil {
		t.Fatal(err)
	}
	if wait, _ := time.ParseDuration(os.Getenv("MEMBERD_ACCESS_CPU_WAIT")); wait > 0 {
		// Time to attach a profiler to the backend.
		t.Logf("backend %d", pid)
		os.WriteFile(os.TempDir()+"/access-cpu.pid", []byte(strconv.Itoa(pid)), 0o644) //nolint:errcheck // a convenience
		time.Sleep(wait)
	}
	type check struct{ member, resource int64 }
	var checks []check
	rows, err := c.Query(ctx, `(SELECT m.id, COALESCE((SELECT g.resource_id FROM group_members gm JOIN grants g ON g.group_id = gm.group_id
		WHERE gm.member_id = m.id ORDER BY g.id LIMIT 1), 1) FROM members m WHERE m.org_id = 1 AND m.status <> 'active' ORDER BY random() LIMIT 2000)
		UNION ALL
		(SELECT m.id, COALESCE((SELECT g.resource_id FROM group_members gm JOIN grants g ON g.group_id = gm.group_id
		WHERE gm.member_id = m.id ORDER BY g.id LIMIT 1), 1) FROM members m TABLESAMPLE SYSTEM (1) WHERE m.org_id = 1 AND m.status = 'active' LIMIT 2000)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k check
		if err := rows.Scan(&k.member, &k.resource); err != nil {
			t.Fatal(err)
		}
		checks = append(checks, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	half := len(checks) / 2
	for i := 0; i < half; i += 2 { // removed and active in turn
		checks[i], checks[half+i] = checks[half+i], checks[i]
	}
	sh := accessCheckShape{member: 'i', resource: 'i', credential: true}
	schedstat := fmt.Sprintf("/proc/%d/schedstat", pid)
	onCPU := func() time.Duration {
		b, err := os.ReadFile(schedstat)
		if err != nil {
			t.Fatal(err)
		}
		ns, _ := strconv.ParseInt(strings.Fields(string(b))[0], 10, 64)
		return time.Duration(ns)
	}
	// Every form must answer every check alike.
	answer := func(q string, args ...any) string {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(vals)
	}
	allowed := 0
	for i, k := range checks {
		if i%7 != 0 {
			continue
		}
		for _, e := range []int64{epoch, epoch - 1} {
			args := []any{int64(1), k.member, k.resource, credID, e}
			want := answer(accessVariants[0].stmt(sh), args...)
			if strings.Contains(want, "[1 ") {
				allowed++
			}
			for _, v := range accessVariants[1:] {
				if got := answer(v.stmt(sh), args...); got != want {
					t.Fatalf("%s answers %v with %s, not %s", v.name, args, got, want)
				}
			}
		}
	}
	t.Logf("%d of %d checks compared were allowed", allowed, 2*(len(checks)+6)/7)
	sizes := []int{1, 4, 16}
	if env := os.Getenv("MEMBERD_ACCESS_CPU_SIZES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				t.Fatalf("MEMBERD_ACCESS_CPU_SIZES: %q", f)
			}
			sizes = append(sizes, n)
		}
	}
	const per = 2000 // checks of a turn
	res := map[string][]float64{}
	at := 0
	for round := range envRounds() {
		for k := range accessVariants {
			v := accessVariants[(k+round)%len(accessVariants)]
			for _, size := range sizes {
				// Batched, a check goes as the form with Since, asked with
				// noEpoch (AccessCheckRef), its context shared as
				// accessBatchShared has it for these checks.
				bsh := sh
				bsh.since = true
				var shared []bool
				if !v.unshared {
					shared = []bool{true, false, false, false, true, true}
				}
				q := v.stmt(sh)
				if size > 1 {
					q = accessBatchStatement(v.stmt(bsh), []any{int64(0), int64(0), int64(0), int64(0), int64(0), int64(0)}, shared)
				}
				start := onCPU()
				for done := 0; done < per; done += size {
					var args []any
					if size == 1 {
						k := checks[at%len(checks)]
						at++
						args = []any{int64(1), k.member, k.resource, credID, epoch}
					} else {
						var calls []*accessCall
						for range size {
							k := checks[at%len(checks)]
							at++
							calls = append(calls, &accessCall{args: []any{int64(1), k.member, k.resource, noEpoch, credID, epoch}})
						}
						if got := accessBatchShared(bsh, calls); fmt.Sprint(got) != fmt.Sprint([]bool{true, false, false, false, true, true}) {
							t.Fatalf("accessBatchShared: %v", got)
						}
						for j := range 6 {
							if shared != nil && shared[j] {
								args = append(args, calls[0].args[j])
								continue
							}
							col := make([]int64, len(calls))
							for i, c := range calls {
								col[i] = c.args[j].(int64)
							}
							args = append(args, col)
						}
					}
					rows, err := c.Query(ctx, q, args...)
					if err != nil {
						t.Fatal(err)
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						t.Fatalf("%s: %v", v.name, err)
					}
				}
				key := fmt.Sprintf("%s/%d", v.name, size)
				if round > 0 { // the first warms the plans and the pages
					res[key] = append(res[key], float64((onCPU()-start).Nanoseconds())/1e3/per)
				}
			}
		}
	}
	for _, v := range accessVariants {
		var line []string
		for _, size := range sizes {
			xs := res[fmt.Sprintf("%s/%d", v.name, size)]
			base := res[fmt.Sprintf("%s/%d", accessVariants[0].name, size)]
			ratios := make([]float64, len(xs))
			for i := range xs {
				ratios[i] = xs[i] / base[i]
			}
			xs = slices.Clone(xs)
			slices.Sort(xs)
			slices.Sort(ratios)
			line = append(line, fmt.Sprintf("batch %d: %.1f µs (%.3f×)", size, xs[len(xs)/2], ratios[len(ratios)/2]))
		}
		t.Logf("%-12s backend CPU a check, medians of %d turns: %s", v.name, len(res[fmt.Sprintf("%s/%d", v.name, sizes[0])]), strings.Join(line, "; "))
	}
}

func envRounds() int {
	if n, err := strconv.Atoi(os.Getenv("MEMBERD_ACCESS_CPU_ROUNDS")); err == nil && n > 1 {
		return n
	}
	return 7
}
