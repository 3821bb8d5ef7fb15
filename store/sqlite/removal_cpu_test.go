package sqlite_test

import (
	"context"
	"log/slog"
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
// machine's other load moves the rate, much less the CPU. The Memory
// form keeps the copy of access in memory current, as a server does.
func BenchmarkRemovalCPU(b *testing.B) {
	for _, memory := range []bool{false, true} {
		name := "Plain"
		if memory {
			name = "Memory"
		}
		b.Run(name, func(b *testing.B) { benchRemovalCPU(b, memory) })
	}
}

func benchRemovalCPU(b *testing.B, memory bool) {
	const members, workers = 3000, 64
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if memory {
		if err := st.EnableAccessMemory(ctx, sqlite.DefaultAccessMemory, slog.New(slog.DiscardHandler)); err != nil {
			b.Fatal(err)
		}
	}
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
