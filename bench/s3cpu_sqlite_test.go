package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// s3SQLiteCPUEnv names the organization size TestS3CPUSQLite loads.
const s3SQLiteCPUEnv = "MEMBERD_S3_SQLITE_CPU"

// TestS3CPUSQLite is TestS3CPU on SQLite, with S3's floor beside each
// block: each binary (MEMBERD_S3_BINS, default this tree's) serves the
// same database file; they take turns in blocks of S3's checks over HTTP at
// S3's concurrency, in abba order, each block followed by as many
// GET /healthz on the same server (the no-op HTTP floor S3 is set
// against). It prints, per block and as medians (and medians of the
// rounds' ratios to the first binary): the rate, the p99, the server's
// on-CPU time a check and a floor request (/proc/PID/task/*/schedstat, not
// wall time, so that other work on a shared machine weighs less), and the
// checks' rate and p99 against the floor's. It is an on-demand
// measurement, not a check:
//
//	cd bench && MEMBERD_S3_SQLITE_CPU=100000 MEMBERD_S3_BINS=/tmp/a,/tmp/b go test -count=1 -run TestS3CPUSQLite -v -timeout 60m .
//
// MEMBERD_S3_ROUNDS and MEMBERD_S3_BLOCK size the run, MEMBERD_S3_DIR
// holds the database (default a temporary directory), MEMBERD_S3_PROFILE
// profiles each server, and MEMBERD_S3_NOFLOOR leaves the floor's blocks
// out, for a profile of the checks alone.
func TestS3CPUSQLite(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(s3SQLiteCPUEnv))
	if n <= 0 {
		t.Skipf("on-demand measurement: set %s to a number of members to run it", s3SQLiteCPUEnv)
	}
	rounds, block := envInt("MEMBERD_S3_ROUNDS", 8), envInt("MEMBERD_S3_BLOCK", 5000)
	floorBlock := block
	if os.Getenv("MEMBERD_S3_NOFLOOR") != "" {
		floorBlock = 16
	}
	ctx := context.Background()
	dir := os.Getenv("MEMBERD_S3_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	e, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	d := load(t, e, n)
	// The servers are alone on the file, as the bench's are (OpenSQLite).
	if err := e.detach(); err != nil {
		t.Fatal(err)
	}
	bins := s3Binaries(ctx, t)
	servers, clients := s3Servers(ctx, t, bins, e.DSN, d.Token)
	pick := newPicker(d.Shape.Seed)
	removed := s3Removed(ctx, t, clients[0], d, pick)
	type blockResult struct{ rate, p99, server, floorServer, ofFloor, p99OfFloor float64 }
	results := make([][]blockResult, len(bins))
	us := func(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
	for round := range rounds {
		for k := range bins {
			b := k
			if round%2 == 1 {
				b = len(bins) - 1 - k
			}
			checks := s3Checks(pick, d, removed, block)
			cpu0 := taskCPU(servers[b].Pid())
			s, err := Loop(ctx, 16, block, time.Minute, func(ctx context.Context, i int) (int, error) {
				_, err := clients[b].Access(ctx, checks[i].member, checks[i].resource)
				return 1, err
			})
			if err != nil {
				t.Fatal(err)
			}
			cpu1 := taskCPU(servers[b].Pid())
			f, err := Loop(ctx, 16, floorBlock, time.Minute, func(ctx context.Context, i int) (int, error) {
				return 1, clients[b].Healthz(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			r := blockResult{s.Rate(), float64(s.P99.Microseconds()), us(cpu1-cpu0, block), us(taskCPU(servers[b].Pid())-cpu1, floorBlock),
				s.Rate() / f.Rate(), float64(s.P99) / float64(f.P99)}
			results[b] = append(results[b], r)
			t.Logf("round %d %s: %.0f checks/s p99 %.0f µs; server %.1f µs a check, %.1f a floor request; %.1f%% of the floor's rate, p99 %.2f×",
				round, filepath.Base(bins[b]), r.rate, r.p99, r.server, r.floorServer, 100*r.ofFloor, r.p99OfFloor)
		}
	}
	logS3Medians(t, bins, results, []s3Field[blockResult]{
		{"checks/s", func(r blockResult) float64 { return r.rate }},
		{"p99 µs", func(r blockResult) float64 { return r.p99 }},
		{"server µs/check", func(r blockResult) float64 { return r.server }},
		{"server µs/floor request", func(r blockResult) float64 { return r.floorServer }},
		{"of the floor's rate", func(r blockResult) float64 { return r.ofFloor }},
		{"p99 of the floor's", func(r blockResult) float64 { return r.p99OfFloor }},
	})
}
