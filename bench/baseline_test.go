package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

// versionsOut is what bench/versions.sh prints for two rounds against
// one earlier tree.
const versionsOut = `run   version       c1/s    c16/s    c64/s    floor/s
1     current        812     1902     2274      44012
2     e052af1        420      960     1069      43990
3     e052af1        431      951     1101      44870
4     current        799     1880     2230      45102
S2 at concurrency 64, medians: current 2252/s, e052af1 1085/s: 2.08×
`

// TestBaselineJudgesPostgresS2: with the earlier tree measured side by
// side, PostgreSQL's S2 is judged by the ratio of the two medians (the
// issue's target for that engine), whatever its share of the HTTP floor;
// without it, by 10% of the floor, and the report says so.
func TestBaselineJudgesPostgresS2(t *testing.T) {
	b, err := parseBaseline(versionsOut, "e052af1", 2, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if b.Current != 2252 || b.Earlier != 1085 || len(b.Table) != 5 {
		t.Fatalf("parsed %+v", b)
	}
	if _, err := parseBaseline("run version c1/s\n", "e052af1", 2, 100000); err == nil {
		t.Error("output without medians parsed")
	}
	sum := func(n int, elapsed time.Duration) *Summary {
		return &Summary{N: n, Items: n, Elapsed: elapsed, P50: time.Millisecond, P99: time.Millisecond, Max: time.Millisecond}
	}
	r := &Result{Engine: "postgres", S2: map[int]*Summary{64: sum(2000, time.Second)}, S2HTTP: sum(8000, 200*time.Millisecond), S2Order: "rffr"}
	verdict := func() Verdict {
		for _, v := range r.Verdicts(Config{}) {
			if strings.HasPrefix(v.Target, "S2 ") {
				return v
			}
		}
		t.Fatal("no S2 verdict")
		return Verdict{}
	}
	if v := verdict(); v.Met != "**no**" || !strings.Contains(v.Figure, "judged by 10% of the floor") {
		t.Errorf("without the baseline, 5%% of the floor: %q %q", v.Figure, v.Met)
	}
	r.S2Baseline = b
	if v := verdict(); v.Met != "yes" || !strings.Contains(v.Figure, "2252 against 1085 removals/s at 100000 members = 2.08×") {
		t.Errorf("with the baseline at 2.08×: %q %q", v.Figure, v.Met)
	}
	b.Current = 2100
	if v := verdict(); v.Met != "**no**" {
		t.Errorf("with the baseline at 1.94×: %q %q", v.Figure, v.Met)
	}
	rep := &Report{Config: Config{Engines: []string{"postgres"}, Sizes: []int{100000}, Main: 100000, S2Levels: []int{64}},
		Machine: Machine{Cores: 2}, Results: []*Result{r}}
	if md := rep.Markdown(); !strings.Contains(md, "2     e052af1        420      960     1069      43990") {
		t.Error("the report does not hold versions.sh's runs")
	}
}

// TestReadsCountsThisProcess: read_bytes is there to read for a process
// of this user, counts from zero for a process that appeared, and nothing
// more for one that has gone.
func TestReadsCountsThisProcess(t *testing.T) {
	pid := os.Getpid()
	if _, err := readBytes(pid); err != nil {
		t.Fatalf("read_bytes of this process: %v", err)
	}
	before := map[int]int64{pid: 100, 1 << 30: 5}
	after := diskReads([]int{pid}, before)
	if after == nil || after[1<<30] != 5 {
		t.Fatalf("a process that has gone: %v", after)
	}
	after[pid] = 4196
	after[7] = 1000 // appeared during the loop
	if got := diskBytes(before, after); got != 4096+1000 {
		t.Errorf("diskBytes = %v, want 5096", got)
	}
	if got := diskBytes(nil, after); got != -1 {
		t.Errorf("without a start, diskBytes = %v, want -1", got)
	}
	rd := perRequest(&Reads{DiskBytes: 8192 * 10, Blocks: 20, ReadMS: 5, Postgres: true}, 10)
	if s := rd.String(); s != "8.0 KB (2.0 blocks into shared buffers, 0.500 ms)" {
		t.Errorf("reads: %q", s)
	}
}
