// Command memberd-bench measures memberd against the scenarios of
// docs/performance.md: it generates an organization (deterministic from
// -seed), loads it straight through the store, starts a real `memberd
// serve` on 127.0.0.1 and drives it over loopback HTTP, and measures the
// floors (disk flush rate, the store without HTTP, the store's SQL
// without the core) in the same run. Every loop is bounded by a count and
// by -max-loop.
//
//	cd bench && go run ./cmd/memberd-bench -engine sqlite,postgres -out ../docs/performance.md
//	cd bench && go run ./cmd/memberd-bench -quick -engine sqlite
//
// bench is a Go module of its own, so that its plotting dependencies stay
// out of memberd's; it measures the memberd tree it sits in.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memberd/memberd/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "memberd-bench:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("memberd-bench", flag.ContinueOnError)
	engines := fs.String("engine", "sqlite,postgres", "engines to measure: sqlite, postgres")
	scenarios := fs.String("scenarios", "S1,S2,S3,S4,S5,S6", "scenarios to run")
	quick := fs.Bool("quick", false, "small sizes and counts (about 3 minutes per engine)")
	sizes := fs.String("sizes", "", "S5 organization sizes in members (default 10000,100000,1000000; -quick 10000,100000)")
	mainSize := fs.Int("main", 0, "size S1-S4, S6 and the floors run at (default the largest size up to 1000000)")
	seed := fs.Uint64("seed", 1, "data set seed")
	out := fs.String("out", "", "write the report (Markdown) here, e.g. ../docs/performance.md")
	plot := fs.String("plot", "", "write the S5 plot (PNG) here (default next to -out: performance-s5.png)")
	dir := fs.String("dir", os.TempDir(), "directory for the SQLite databases and the server binary")
	s1 := fs.Int("s1", 0, "S1 requests of 100 ids (default 50; -quick 20)")
	s2 := fs.Int("s2", 0, "S2 requests per concurrency level (default 2000; -quick 500)")
	s3 := fs.Int("s3", 0, "S3 access checks (default 20000; -quick 5000)")
	s5 := fs.Int("s5", 0, "S5 single removals per size (default 500; -quick 200)")
	s6 := fs.Int("s6", 0, "S6 SCIM deactivations, and as many native removals (default 10000; -quick 2000); S6 needs twice as many members at -main")
	floor := fs.Int("floor", 0, "single removals per floor measurement (default 1000; -quick 300)")
	compare := fs.Bool("compare-group-commit", true, "also run S2 with group commit off")
	maxLoop := fs.Duration("max-loop", 3*time.Minute, "upper bound on any one measured loop")
	fsync := fs.Duration("fsync", 3*time.Second, "how long each fsync floor measurement runs")
	waitQuiet := fs.Duration("wait-quiet", 0, "before each measured loop, wait up to this long for the load average to drop below half the cores")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the harness process (loading and the in-process floors) here")
	maxSize := fs.String("max-size", "", "per-engine cap on -sizes, e.g. postgres=1000000 (the main size must stay under it)")
	pgPool := fs.Int("pg-pool", 0, "PostgreSQL pool size of the server (pool_max_conns; default: the store's own)")
	serverTags := fs.String("server-tags", "", "build tags for the server (go build -tags); build the bench with the same tags so the in-process floors use the same SQLite driver")
	serverProfile := fs.String("server-cpuprofile", "", "write a CPU profile of each memberd serve run to PREFIX-<engine>-<run>.pprof")
	baseline := fs.Bool("baseline", false, "after the run, set PostgreSQL's S2 against "+bench.BaselineRev+", the tree the performance issue quotes (bench/versions.sh; about 4 minutes)")
	baselineRounds := fs.Int("baseline-rounds", 3, "rounds of -baseline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pick := func(v, full, small int) int {
		switch {
		case v > 0:
			return v
		case *quick:
			return small
		}
		return full
	}
	cfg := bench.Config{
		Engines: strings.Split(*engines, ","), Scenarios: map[string]bool{},
		S1Requests: pick(*s1, 50, 20), S2Requests: pick(*s2, 2000, 500), S2Levels: []int{1, 16, 64},
		S3Checks: pick(*s3, 20000, 5000), S3Concurrency: 16, S4DryRuns: pick(0, 10, 5),
		S5Requests: pick(*s5, 500, 200), S6Users: pick(*s6, 10000, 2000), S6Concurrency: 8, FloorRequests: pick(*floor, 1000, 300), FloorBatches: pick(*s1, 20, 10),
		CompareGroup: *compare, FsyncDuration: *fsync, MaxLoop: *maxLoop, WaitQuiet: *waitQuiet, Seed: *seed, Log: os.Stderr,
		ServerProfile: *serverProfile, PGPool: *pgPool,
	}
	for _, s := range strings.Split(*scenarios, ",") {
		cfg.Scenarios[strings.ToUpper(strings.TrimSpace(s))] = true
	}
	sizeList := *sizes
	if sizeList == "" {
		sizeList = "10000,100000,1000000"
		if *quick {
			sizeList = "10000,100000"
		}
	}
	for _, s := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1000 {
			return fmt.Errorf("size %q: want a number of members of at least 1000", s)
		}
		cfg.Sizes = append(cfg.Sizes, n)
	}
	slices.Sort(cfg.Sizes)
	cfg.Main = *mainSize
	if cfg.Main == 0 {
		for _, n := range cfg.Sizes {
			if n <= 1_000_000 {
				cfg.Main = n
			}
		}
	}
	if !slices.Contains(cfg.Sizes, cfg.Main) {
		return fmt.Errorf("-main %d is not one of -sizes %v", cfg.Main, cfg.Sizes)
	}
	cfg.MaxSize = map[string]int{}
	for _, kv := range strings.Split(*maxSize, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		engine, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < cfg.Main {
			return fmt.Errorf("-max-size %q: want engine=members, at least the main size %d", kv, cfg.Main)
		}
		cfg.MaxSize[engine] = n
	}
	if err := cfg.CheckSizes(); err != nil {
		return err
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	moduleDir, err := bench.ModuleDir()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(*dir, "memberd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfg.Dir = work
	if cfg.Bin, err = bench.BuildServer(ctx, moduleDir, work, *serverTags); err != nil {
		return err
	}
	cfg.ServerHasGroup = bench.ServerHasFlag(cfg.Bin, "group-commit")
	// The bench's own tags pick the in-process floors' SQLite driver, so
	// the command that repeats this run must carry them too.
	goRun := "go run "
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" && s.Value != "" {
				goRun += "-tags " + s.Value + " "
			}
		}
	}
	command := "cd bench && " + goRun + "./cmd/memberd-bench " + strings.Join(args, " ")
	machine := bench.DescribeMachine(work)
	start := time.Now()
	results, runErr := bench.Run(ctx, cfg)
	if *baseline && runErr == nil {
		for _, r := range results {
			if r.Engine == "postgres" && r.S2[64] != nil {
				fmt.Fprintf(os.Stderr, "setting S2 against %s (bench/versions.sh)\n", bench.BaselineRev)
				b, err := bench.MeasureBaseline(ctx, moduleDir, bench.BaselineRev, *baselineRounds, 100_000, os.Stderr)
				if err != nil {
					r.Notes = append(r.Notes, fmt.Sprintf("S2 against %s was not measured: %v", bench.BaselineRev, err))
				}
				r.S2Baseline = b
			}
		}
	}
	report := bench.Report{Config: cfg, Command: strings.TrimSpace(command), Machine: machine,
		Started: start, Took: time.Since(start), Results: results}
	fmt.Print(report.Summary())
	if *out != "" && len(results) > 0 {
		// A run without S5 (-scenarios S6) has nothing to plot.
		if cfg.Scenarios["S5"] {
			png := *plot
			if png == "" {
				png = filepath.Join(filepath.Dir(*out), "performance-s5.png")
			}
			if err := os.MkdirAll(filepath.Dir(png), 0o755); err != nil {
				return errors.Join(runErr, err)
			}
			if err := bench.PlotS5(png, results); err != nil {
				return errors.Join(runErr, err)
			}
			report.PlotPath, _ = filepath.Rel(filepath.Dir(*out), png)
			fmt.Fprintf(os.Stderr, "wrote %s\n", png)
		}
		if err := os.WriteFile(*out, []byte(report.Markdown()), 0o644); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", *out)
	}
	return runErr
}
