package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// Config is one run of the harness.
type Config struct {
	Engines   []string        // "sqlite", "postgres"
	Scenarios map[string]bool // "S1".."S6"
	// Sizes are the organization sizes (regular members) S5 measures at,
	// ascending; S1–S4, S6 and the floors run at Main, which is one of them.
	Sizes          []int
	Main           int
	MaxSize        map[string]int // by engine: skip the sizes above it (a 10M load takes half an hour per engine)
	S1Requests     int            // HighQ requests of 100 ids
	S2Requests     int            // per concurrency level
	S2Levels       []int
	S3Checks       int
	S3Concurrency  int
	S4DryRuns      int
	S5Requests     int
	S6Users        int // SCIM deactivations, and as many native removals
	S6Concurrency  int
	FloorRequests  int // single removals per floor measurement
	FloorBatches   int // batches of 100 per S1 floor
	CompareGroup   bool
	FsyncDuration  time.Duration
	MaxLoop        time.Duration // cap on any one measured loop
	WaitQuiet      time.Duration // before each loop, wait up to this for a load average below half the cores
	Seed           uint64
	Dir            string // SQLite databases go here
	Bin            string // the memberd binary
	ServerHasGroup bool   // memberd serve takes --group-commit
	ServerProfile  string // when set, each server run writes a CPU profile to ServerProfile-<engine>-<run>.pprof
	PGPool         int    // when set, the server's PostgreSQL pool size (pool_max_conns); else the store's default
	Log            io.Writer
}

// Result is everything one engine's run measured.
type Result struct {
	Engine     string
	Version    string
	Settings   string // server settings the bench chose (Engine.Settings)
	FsyncStart float64
	FsyncEnd   float64
	Sizes      []SizePoint
	S1         *Summary
	S2         map[int]*Summary // group commit on, by concurrency
	S2Off      map[int]*Summary // group commit off (server flag), by concurrency
	S2HTTP     *Summary         // GET /healthz at S2's highest concurrency: the HTTP floor
	S2Order    string           // S2's blocks at that concurrency, "r" removals, "f" floor, as they ran
	S2Baseline *Baseline        // PostgreSQL's S2 set against the tree (-baseline)
	S3         *Summary
	S3HTTP     *Summary // GET /healthz at S3's concurrency: the HTTP floor
	S3Order    string   // S3's blocks, "c" checks, "f" floor, as they ran
	S3Allowed  float64  // share of checks that answered allowed
	// S3Memory is the share of S3's checks the server answered from its
	// copy in memory, with no statement; -1 when it keeps none.
	S3Memory   float64
	S4Dry      *Summary
	S4         *Summary
	S4Grants   int   // grants one S4 offboarding reports
	S4Bytes    int64 // size of its response
	StoreS4Dry *Summary
	S6         *S6
	StoreS1    *Summary
	RawS1      *Summary
	StoreS2    map[string]map[int]*Summary // by group commit mode, then concurrency
	StoreModes []string                    // StoreS2's modes in the order run
	RawS2      map[int]*Summary
	Plans      []Plan
	Notes      []string
	Errors     []string
}

// SizePoint is the organization at one size: S5's single-removal latency,
// the server's peak memory while it ran, and what loading cost.
type SizePoint struct {
	Members int
	Load    time.Duration // time to grow to this size from the previous one
	DBBytes int64
	S5      *Summary
	S5Reads *Reads
	// PagedOut is what the kernel's proactive reclaim (Reclaim) paged
	// out from the start of this size's load to the end of S5, or -1.
	PagedOut   int64
	pagedStart int64
	PeakRSS    int64 // server VmHWM over the whole server run at this size
	Scenario   string
}

// Plan is the query plan of one statement on a removal or access path.
type Plan struct {
	Path     string
	Query    string
	Lines    []string
	FullScan string // the scanned table when the plan reads one whole
}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
}

// Run runs every configured engine in turn.
func Run(ctx context.Context, cfg Config) ([]*Result, error) {
	var out []*Result
	for _, name := range cfg.Engines {
		r, err := runEngine(ctx, cfg, name)
		if r != nil {
			out = append(out, r)
		}
		if err != nil {
			return out, fmt.Errorf("%s: %w", name, err)
		}
	}
	return out, nil
}

func runEngine(ctx context.Context, cfg Config, name string) (res *Result, err error) {
	var e *Engine
	switch name {
	case "sqlite":
		e, err = OpenSQLite(ctx, cfg.Dir)
	case "postgres":
		e, err = OpenPostgres(ctx)
	default:
		return nil, fmt.Errorf("unknown engine %q", name)
	}
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, e.Close()) }()
	res = &Result{Engine: name, S2: map[int]*Summary{}, S2Off: map[int]*Summary{}, StoreS2: map[string]map[int]*Summary{},
		RawS2: map[int]*Summary{}}
	res.Version, res.Settings = engineVersion(ctx, e), e.Settings
	cfg.logf("%s: %s", name, res.Version)
	if res.Settings != "" {
		cfg.logf("%s: server settings %s", name, res.Settings)
	}
	if res.FsyncStart, err = FsyncFloor(e.DataDir, cfg.FsyncDuration); err != nil {
		return res, fmt.Errorf("fsync floor: %w", err)
	}
	cfg.logf("%s: fsync floor %.0f/s", name, res.FsyncStart)

	sh := DefaultShape(cfg.Seed)
	t := time.Now()
	d, err := Setup(ctx, e.Store, sh)
	if err != nil {
		return res, err
	}
	cfg.logf("%s: set up organization in %s", name, time.Since(t).Round(time.Millisecond))
	r := &runner{cfg: cfg, e: e, d: d, res: res, pick: newPicker(cfg.Seed)}
	checked := false
	for _, size := range cfg.Sizes {
		if limit := cfg.MaxSize[name]; limit > 0 && size > limit {
			r.note("S5 at %d members was not run on this engine (-max-size %s=%d)", size, name, limit)
			continue
		}
		t := time.Now()
		last := time.Now()
		paged := pagedOut(damonDir)
		err := d.Grow(ctx, e, size, func(n int) {
			if time.Since(last) > 10*time.Second {
				cfg.logf("%s: loaded %d members", name, n)
				last = time.Now()
			}
		})
		if err != nil {
			return res, err
		}
		pt := SizePoint{Members: size, Load: time.Since(t), PagedOut: -1, pagedStart: paged}
		cfg.logf("%s: %d members loaded in %s", name, size, pt.Load.Round(time.Second))
		settle := time.Now()
		did, err := e.Settle(ctx)
		if err != nil {
			return res, err
		}
		// After the checkpoint, so that SQLite's size is its database's
		// and not also the WAL a load left behind (30 MB against 16 at
		// 10k members).
		pt.DBBytes, _ = e.Size(ctx)
		cfg.logf("%s: settled in %s (%s, sync): %d MB", name, time.Since(settle).Round(time.Millisecond), did, pt.DBBytes>>20)
		if !checked && d.Members > TxMembers {
			if err := d.Check(ctx, membership.NewService(e.Store, membership.DefaultConfig())); err != nil {
				return res, err
			}
			checked = true
		}
		if err := r.serve(ctx, &pt, size == cfg.Main); err != nil {
			return res, err
		}
		res.Sizes = append(res.Sizes, pt)
		if size == cfg.Main {
			if err := r.floorsAndPlans(ctx); err != nil {
				return res, err
			}
		}
	}
	if res.FsyncEnd, err = FsyncFloor(e.DataDir, cfg.FsyncDuration); err != nil {
		return res, fmt.Errorf("fsync floor: %w", err)
	}
	cfg.logf("%s: fsync floor at the end %.0f/s", name, res.FsyncEnd)
	return res, nil
}

func engineVersion(ctx context.Context, e *Engine) string {
	var v string
	switch e.Name {
	case "sqlite":
		_ = e.queryRow(ctx, `SELECT 'SQLite ' || sqlite_version()`, &v)
		v += " (" + sqlite.Driver + ")"
	case "postgres":
		_ = e.queryRow(ctx, `SELECT version()`, &v)
		v, _, _ = strings.Cut(v, " on ")
	}
	return v
}

// runner is one engine's run in progress.
type runner struct {
	cfg        Config
	e          *Engine
	d          *Dataset
	res        *Result
	pick       *picker
	pid        int // the process the current loops load: the server, or the bench
	serverRuns int // servers started so far, to name their profiles
}

// loop is Loop with the CPU use of r.pid and of the machine measured.
func (r *runner) loop(ctx context.Context, concurrency, n int, op func(ctx context.Context, i int) (int, error)) (Summary, error) {
	if r.cfg.WaitQuiet > 0 {
		WaitQuiet(r.cfg.WaitQuiet, float64(runtime.NumCPU())/2)
	}
	load := load1()
	m := newCPUMeter(r.pid)
	s, err := Loop(ctx, concurrency, n, r.cfg.MaxLoop, op)
	s.ProcCores, s.MachineCores = m.Stop()
	s.Load1 = load
	return s, err
}

func (r *runner) logf(format string, args ...any) { r.cfg.logf(r.e.Name+": "+format, args...) }

// serve starts memberd on the database as it is now and measures S5 at
// this size, and at the main size S1–S4 and S6 too, and S2 again with group
// commit off if the server can turn it off.
func (r *runner) serve(ctx context.Context, pt *SizePoint, main bool) error {
	var routes map[string]bool
	peak, err := r.withServer(ctx, nil, func(c *Client) {
		routes = c.Routes(ctx)
		r.scenarios(ctx, c, routes, pt, main)
	})
	pt.PeakRSS = peak
	if err != nil || !main || !r.cfg.Scenarios["S2"] || !routes["jicoo"] || !r.cfg.CompareGroup {
		return err
	}
	if !r.cfg.ServerHasGroup {
		r.note("S2 with group commit off over HTTP was not run: this memberd has no --group-commit flag; the in-process comparison below stands in for it")
		return nil
	}
	peak, err = r.withServer(ctx, []string{"--group-commit=false"}, func(c *Client) {
		r.s2(ctx, c, r.res.S2Off, "S2 without group commit", false)
	})
	pt.PeakRSS = max(pt.PeakRSS, peak)
	return err
}

// withServer runs fn against a memberd serve started with extra flags,
// stops the server and returns its peak RSS. The bench's own SQLite store
// is closed meanwhile, so that the server is alone on its file.
func (r *runner) withServer(ctx context.Context, extra []string, fn func(c *Client)) (peak int64, err error) {
	args := append([]string{"--rate-limit", "0", "--batch-limit", "100"}, extra...)
	if r.cfg.ServerProfile != "" {
		r.serverRuns++
		args = append(args, "--cpuprofile", fmt.Sprintf("%s-%s-%d.pprof", r.cfg.ServerProfile, r.e.Name, r.serverRuns))
	}
	dsn := r.e.DSN
	if r.cfg.PGPool > 0 && r.e.Name == "postgres" {
		u, err := url.Parse(dsn)
		if err != nil {
			return 0, err
		}
		q := u.Query()
		q.Set("pool_max_conns", strconv.Itoa(r.cfg.PGPool))
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	if r.e.detach != nil {
		if err := r.e.detach(); err != nil {
			return 0, fmt.Errorf("close the bench's store for the server: %w", err)
		}
		defer func() {
			if aerr := r.e.attach(ctx); aerr != nil {
				err = errors.Join(err, fmt.Errorf("reopen the bench's store: %w", aerr))
			}
		}()
	}
	srv, err := StartServer(ctx, r.cfg.Bin, dsn, args...)
	if err != nil {
		return 0, err
	}
	r.pid = srv.Pid()
	c := NewClient(srv.URL, r.d.Token, 128)
	defer func() {
		c.Close()
		_, p, rerr := srv.RSS()
		peak, err = p, errors.Join(err, rerr, srv.Stop())
	}()
	fn(c)
	return 0, nil
}

// s2 runs S2's single removals at each configured concurrency into into;
// with floor, those at the highest concurrency alternate with the no-op
// HTTP floor (s2Floor).
func (r *runner) s2(ctx context.Context, c *Client, into map[int]*Summary, label string, floor bool) {
	top := slices.Max(r.cfg.S2Levels)
	for _, level := range r.cfg.S2Levels {
		if floor && level == top {
			into[level] = r.s2Floor(ctx, c, level, label)
			continue
		}
		s, err := r.removals(ctx, c, level, r.cfg.S2Requests)
		into[level] = s
		r.logf("%s at concurrency %d: %s", label, level, s)
		if err != nil {
			r.fail("%s at %d: %v", label, level, err)
		}
	}
}

// s2Blocks is how many blocks of each side S2 at its highest concurrency
// runs against the HTTP floor: two, so that a removal block (1,000 of the
// default 2,000) is still long against its drain, where the last 64
// requests in flight run with fewer beside them and group commit forms
// smaller groups; abba needs an even number for a linear drift to cancel.
const s2Blocks = 2

// s2Floor removes S2Requests members at concurrency in s2Blocks blocks,
// alternating with as many blocks of the no-op HTTP floor at the same
// concurrency on the same server, and keeps the floor's combined blocks
// in S2HTTP.
func (r *runner) s2Floor(ctx context.Context, c *Client, concurrency int, label string) *Summary {
	targets := chunks(r.pick.pick(r.cfg.S2Requests, r.d.Members), s2Blocks)
	alt := r.alternate(ctx, fmt.Sprintf("%s at concurrency %d", label, concurrency), s2Blocks,
		side{"removals", concurrency, func(k int) int { return len(targets[k]) }, func(ctx context.Context, k, i int) (int, error) {
			return 1, c.JicooDelete(ctx, r.d.MemberID(targets[k][i]))
		}},
		httpFloorSide(c, concurrency, len(targets[0])))
	r.res.S2HTTP, r.res.S2Order = &alt.B, alt.Order
	r.logf("%s at concurrency %d: %s; HTTP floor (GET /healthz) %s; %.1f%% of the floor", label, concurrency, alt.A, alt.B, 100*alt.A.Rate()/max(alt.B.Rate(), 1))
	return &alt.A
}

// scenarios runs S5, and at the main size S1–S4 and S6, against c.
func (r *runner) scenarios(ctx context.Context, c *Client, routes map[string]bool, pt *SizePoint, main bool) {
	scen := r.cfg.Scenarios
	if scen["S5"] {
		if !routes["jicoo"] {
			r.note("S5 was not run: memberd does not mount Jicoo's DELETE /v1/organization_users/{userId}")
		} else {
			reads := r.watchReads(ctx)
			s, err := r.removals(ctx, c, 1, r.cfg.S5Requests)
			pt.S5, pt.S5Reads = s, reads(s.N)
			if now := pagedOut(damonDir); now >= 0 && pt.pagedStart >= 0 {
				pt.PagedOut = now - pt.pagedStart
			}
			r.logf("S5 at %d members: %s; read a removal: %s; paged out by the kernel since the load began: %s", pt.Members, s, pt.S5Reads, pagedMB(pt.PagedOut))
			if err != nil {
				r.fail("S5 at %d: %v", pt.Members, err)
			}
		}
	}
	if !main {
		return
	}
	if scen["S1"] {
		if !routes["highq"] {
			r.note("S1 was not run: memberd does not mount HighQ's DELETE /api/3/sites/{siteid}/users")
		} else {
			r.res.S1 = r.s1(ctx, c)
		}
	}
	if scen["S2"] {
		if !routes["jicoo"] {
			r.note("S2 was not run: memberd does not mount Jicoo's DELETE /v1/organization_users/{userId}")
		} else {
			r.s2(ctx, c, r.res.S2, "S2", true)
		}
	}
	if scen["S3"] {
		if !routes["access"] {
			r.note("S3 was not run: memberd does not mount GET /api/v1/access")
		} else {
			r.s3(ctx, c)
		}
	}
	if scen["S4"] {
		if !routes["offboard"] {
			r.note("S4 was not run: memberd does not mount POST /api/v1/members/{id}/offboard")
		} else {
			r.s4(ctx, c)
		}
	}
	if scen["S6"] {
		if !routes["scim"] || !routes["remove"] {
			r.note("S6 was not run: memberd does not mount both PATCH /scim/v2/Users/{id} and DELETE /api/v1/members/{id}")
		} else {
			r.s6(ctx, c)
		}
	}
}

func (r *runner) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !slices.Contains(r.res.Notes, msg) {
		r.res.Notes = append(r.res.Notes, msg)
	}
	r.logf("note: %s", msg)
}

func (r *runner) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.res.Errors = append(r.res.Errors, msg)
	r.logf("ERROR: %s", msg)
}

// removals removes n members, one Jicoo DELETE each, at concurrency c.
func (r *runner) removals(ctx context.Context, c *Client, concurrency, n int) (*Summary, error) {
	targets := r.pick.pick(n, r.d.Members)
	s, err := r.loop(ctx, concurrency, n, func(ctx context.Context, i int) (int, error) {
		return 1, c.JicooDelete(ctx, r.d.MemberID(targets[i]))
	})
	return &s, err
}

// s1 removes S1Requests×100 members from the HighQ site, 100 per request.
func (r *runner) s1(ctx context.Context, c *Client) *Summary {
	n := r.cfg.S1Requests
	batches := make([][]int64, n)
	for i := range batches {
		for _, t := range r.pick.pick(100, r.d.Members) {
			batches[i] = append(batches[i], r.d.MemberID(t))
		}
	}
	if err := r.settleS1(ctx); err != nil {
		r.fail("S1: %v", err)
		return nil
	}
	stop := r.watchPG(ctx, "S1 over HTTP")
	s, err := r.loop(ctx, 1, n, func(ctx context.Context, i int) (int, error) {
		return c.HighQRemove(ctx, r.d.siteID, batches[i])
	})
	stop()
	r.logf("S1: %s, %.0f removals/s", s, s.ItemRate())
	if err != nil {
		r.fail("S1: %v", err)
	}
	return &s
}

// s3Blocks is how many blocks of each side S3 runs against the HTTP floor:
// four, 5,000 checks a block at the default 20,000 (0.3 s on SQLite and
// 0.7 s on PostgreSQL at the 18:09 run's rates), and as many floor
// requests, so that the floor in all is as long as the one loop it was
// before; an even number so that abba cancels a linear drift.
const s3Blocks = 4

// s3 checks access at S3Concurrency: half the members were removed by S2
// (so the answer must be "no"), half are members picked at random. The
// checks alternate in s3Blocks blocks with the no-op HTTP floor at the
// same concurrency on the same server.
func (r *runner) s3(ctx context.Context, c *Client) {
	n := r.cfg.S3Checks
	type check struct{ member, resource int64 }
	checks := make([]check, n)
	removed := []int{}
	for i := range r.pick.used {
		removed = append(removed, i)
	}
	slices.Sort(removed)
	sh := r.d.Shape
	for i := range checks {
		var m int
		if i%2 == 0 && len(removed) > 0 {
			m = removed[r.pick.any(len(removed))]
		} else {
			m = r.pick.any(r.d.Members)
		}
		g := sh.memberGroup(m)
		res := 1 + (int(g)*sh.GroupGrants+m%sh.GroupGrants)%sh.Resources
		checks[i] = check{r.d.MemberID(m), int64(res)}
	}
	parts := chunks(checks, s3Blocks)
	memory0, _, memoryOn := c.MemoryChecks(ctx)
	var mu sync.Mutex
	allowed := 0
	alt := r.alternate(ctx, "S3", s3Blocks,
		side{"checks", r.cfg.S3Concurrency, func(k int) int { return len(parts[k]) }, func(ctx context.Context, k, i int) (int, error) {
			ok, err := c.Access(ctx, parts[k][i].member, parts[k][i].resource)
			if ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
			return 1, err
		}},
		httpFloorSide(c, r.cfg.S3Concurrency, len(parts[0])))
	r.res.S3, r.res.S3HTTP, r.res.S3Order = &alt.A, &alt.B, alt.Order
	if alt.A.N > 0 {
		r.res.S3Allowed = float64(allowed) / float64(alt.A.N)
	}
	r.res.S3Memory = -1
	if memory1, _, ok := c.MemoryChecks(ctx); ok && memoryOn && alt.A.N > 0 {
		r.res.S3Memory = (memory1 - memory0) / float64(alt.A.N)
	}
	r.logf("S3: %s (%.0f%% allowed); HTTP floor (GET /healthz) %s; %.0f%% of the floor, p99 %.2f×", alt.A, 100*r.res.S3Allowed, alt.B,
		100*alt.A.Rate()/max(alt.B.Rate(), 1), float64(alt.A.P99)/float64(max(alt.B.P99, 1)))
}

// s4 previews the offboarding of an S4 member S4DryRuns times, then
// offboards every S4 member but the last for real; the last stays for the
// query plans of the offboarding path.
func (r *runner) s4(ctx context.Context, c *Client) {
	subjects := r.d.S4[:len(r.d.S4)-1]
	// On PostgreSQL one offboarding at a time keeps about one core busy
	// (the server and its backend take turns); the log says when anything
	// else ran beside them (an autovacuum worker, a checkpoint).
	stop := r.watchPG(ctx, "S4")
	defer stop()
	dry, err := r.loop(ctx, 1, r.cfg.S4DryRuns, func(ctx context.Context, i int) (int, error) {
		grants, n, err := c.Offboard(ctx, subjects[i%len(subjects)], true)
		r.res.S4Grants, r.res.S4Bytes = grants, n
		return 1, err
	})
	r.res.S4Dry = &dry
	r.logf("S4 dry run: %s (%d grants reported; cores %s)", dry, r.res.S4Grants, cores(&dry))
	if err != nil {
		r.fail("S4 dry run: %v", err)
	}
	real, err := r.loop(ctx, 1, len(subjects), func(ctx context.Context, i int) (int, error) {
		grants, _, err := c.Offboard(ctx, subjects[i], false)
		if err == nil && grants != r.res.S4Grants {
			err = fmt.Errorf("offboarding reported %d grants, the dry run %d", grants, r.res.S4Grants)
		}
		return 1, err
	})
	r.res.S4 = &real
	r.logf("S4: %s (cores %s)", real, cores(&real))
	if err != nil {
		r.fail("S4: %v", err)
	}
}

// ServerHasFlag reports whether bin's serve command takes flag.
func ServerHasFlag(bin, flag string) bool {
	out, _ := exec.Command(bin, "serve", "-h").CombinedOutput()
	return strings.Contains(string(out), "-"+flag)
}
