package bench

import (
	"strings"
	"testing"
)

// fullConfig is memberd-bench's default run, as its flags build it.
func fullConfig(sizes []int, main int) Config {
	return Config{
		Engines: []string{"sqlite", "postgres"}, Scenarios: map[string]bool{"S1": true, "S2": true, "S3": true, "S4": true, "S5": true, "S6": true},
		Sizes: sizes, Main: main, S1Requests: 50, S2Requests: 2000, S2Levels: []int{1, 16, 64}, S3Checks: 20000, S3Concurrency: 16,
		S4DryRuns: 10, S5Requests: 500, S6Users: 10000, S6Concurrency: 8, FloorRequests: 1000, FloorBatches: 20, CompareGroup: true,
	}
}

func TestCheckSizes(t *testing.T) {
	quick := fullConfig([]int{10000, 100000}, 100000)
	quick.S1Requests, quick.S2Requests, quick.S5Requests, quick.FloorRequests, quick.FloorBatches = 20, 500, 200, 300, 10
	s5Only := fullConfig([]int{1000, 2000}, 2000)
	s5Only.Scenarios = map[string]bool{"S5": true}
	s5Only.S5Requests = 998
	capped := fullConfig([]int{10000, 1000000, 10000000}, 1000000)
	capped.MaxSize = map[string]int{"postgres": 1000000}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" for accepted, else part of the refusal
	}{
		{"full run", fullConfig([]int{10000, 100000, 1000000, 10000000}, 1000000), ""},
		{"quick", quick, ""},
		{"capped", capped, ""},
		{"main too small", fullConfig([]int{10000, 100000}, 10000), "sqlite: by 10000 members the scenarios remove up to 29503"},
		{"S5 alone fits", s5Only, ""},
		{"S5 alone does not fit", func() Config { c := s5Only; c.S5Requests = 999; return c }(), "by 2000 members the scenarios remove up to 2001 (S5 999 at each of the 2 sizes so far"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.CheckSizes()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted, want a refusal with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("refused with %q, want %q in it", err, tc.want)
			}
		})
	}
}

// TestCheckSizesCoversWhatS6Leaves holds CheckSizes and S6's own guard to
// the same count: when S6 runs, what runs after it still finds members.
func TestCheckSizesCoversWhatS6Leaves(t *testing.T) {
	cfg := fullConfig([]int{100000}, 100000)
	for _, engine := range cfg.Engines {
		need := cfg.S5Requests + cfg.removalsBeforeS6() + 2*cfg.S6Users + cfg.removalsAfterS6(engine)
		if need > 100000 {
			t.Fatalf("%s: the default run needs %d members at 100000", engine, need)
		}
	}
}
