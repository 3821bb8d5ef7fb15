package bench

import (
	"strings"
	"testing"
	"time"
)

// TestReportFloorBlocks: the report says the HTTP floor alternated with
// S2 and S3 in the order the run recorded, and judges the targets on the
// combined figures it was given.
func TestReportFloorBlocks(t *testing.T) {
	sum := func(n int, elapsed, p99 time.Duration) *Summary {
		return &Summary{N: n, Items: n, Elapsed: elapsed, P50: p99 / 2, P99: p99, Max: p99}
	}
	r := &Result{Engine: "sqlite", FsyncStart: 1000,
		S2:     map[int]*Summary{1: sum(10, time.Second, time.Millisecond), 64: sum(2000, time.Second, 30*time.Millisecond)},
		S2HTTP: sum(8000, 400*time.Millisecond, 8*time.Millisecond), S2Order: "rffr",
		S3: sum(20000, 2*time.Second, 3*time.Millisecond), S3HTTP: sum(20000, 500*time.Millisecond, 2*time.Millisecond), S3Order: "cffccffc",
	}
	rep := &Report{Config: Config{Engines: []string{"sqlite"}, Sizes: []int{100000}, Main: 100000, S2Levels: []int{1, 16, 64}, S3Concurrency: 16},
		Machine: Machine{Cores: 2}, Results: []*Result{r}}
	md := rep.Markdown()
	for _, want := range []string{
		"2000 of 20000 req/s = 10.0%",                                      // S2's verdict: 2000/s against 20000/s
		"10000 of 40000 checks/s = 25%; p99 3.0 ms against 2.0 ms = 1.50×", // S3's
		"2 blocks each, in the order rffr (r removals, f floor)",
		"4 blocks each, in the order cffccffc (c checks, f floor)",
		"S3's checks in 4 blocks each (c f f c c f f c)",
		"in 2 blocks each (r f f r)",
		"(2000 removals and 8000 floor requests in all)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the report does not say %q", want)
		}
	}
	if strings.Contains(md, "just before the checks") {
		t.Error("the report still says the floor ran just before the checks")
	}
}
