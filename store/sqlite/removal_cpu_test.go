package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkRemovalCPU measures the process's CPU per single removal as
// Jicoo makes it (report discarded) at concurrency 64, each member shaped
// as the bench's S2 members are (storetest.BenchS2Members):
// go test -run - -bench RemovalCPU -benchtime 1x ./store/sqlite/
// Compare two trees by the cpu-µs/removal of alternating runs: the
// machine's other load moves the rate, much less the CPU.
func BenchmarkRemovalCPU(b *testing.B) {
	const members, workers = 3000, 64
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	a, ids := storetest.BenchS2Members(b, svc, members, workers)
	if b.Failed() {
		return
	}
	b.ResetTimer()
	used, took := storetest.BenchRemoveEach(b, membership.WithReportDiscarded(ctx), svc, a, ids, workers)
	b.ReportMetric(float64(used.Microseconds())/members, "cpu-µs/removal")
	b.ReportMetric(members/took.Seconds(), "removals/s")
}
