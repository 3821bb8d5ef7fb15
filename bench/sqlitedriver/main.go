// Command sqlitedriver benchmarks SQLite database/sql drivers on memberd's
// workload and checks River (riversqlite) compatibility for each.
//
// Drivers: modernc.org/sqlite, github.com/mattn/go-sqlite3 (cgo) and
// github.com/ncruces/go-sqlite3 (wasm2go). All three are linked into one
// binary by default. mattn and ncruces both register the database/sql name
// "sqlite3" in init, so a binary containing both MUST be built with
//
//	-ldflags "-X github.com/ncruces/go-sqlite3/driver.driverName=sqlite3-ncruces"
//
// (see README.md / run.sh). This program never uses the registered names: it
// opens every driver through sql.OpenDB with a connector.
//
// Build tags modernc, mattn, ncruces select a subset (used to time builds);
// nodriver builds a baseline with no driver.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// ---------------------------------------------------------------- drivers

type driverImpl struct {
	name string
	// open returns a *sql.DB for the file at path with WAL, synchronous=FULL,
	// foreign_keys=ON, busy_timeout=5000 on every connection, and the given
	// transaction lock mode ("immediate" for the writer, "deferred" for readers).
	open func(path string, txlock string) (*sql.DB, error)
}

var drivers = map[string]driverImpl{}

func register(d driverImpl) { drivers[d.name] = d }

var driverOrder = []string{"modernc", "mattn", "ncruces"}

// ---------------------------------------------------------------- config

type config struct {
	dir        string
	runs       int
	members    int
	groups     int
	groupMem   int
	grants     int
	w1Dur      time.Duration
	w2Dur      time.Duration
	r1Dur      time.Duration
	fsyncDur   time.Duration
	bulkRows   int
	bulkBatch  int
	bulkMaxDur time.Duration
	r1Workers  int
	readConns  int
	skipRiver  bool
	skipBulk   bool
	keep       bool
	jsonOut    string
	quietWait  time.Duration
	retries    int
}

// Hard upper bounds on loop counts (every loop is also bounded in time).
const (
	maxW1Tx        = 40_000
	maxW2Tx        = 400 // x100 members
	w2Batch        = 100
	maxR1Queries   = 5_000_000
	maxFsyncIters  = 1_000_000
	riverTimeout   = 30 * time.Second
	auditPayloadSz = 300
)

// ---------------------------------------------------------------- results

type result struct {
	Run         int                `json:"run"`
	Driver      string             `json:"driver"`
	SQLiteVer   string             `json:"sqlite_version"`
	Pragmas     string             `json:"pragmas"`
	SeedSec     float64            `json:"seed_sec"`
	W1TxPerSec  float64            `json:"w1_tx_per_sec"`
	W1Tx        int                `json:"w1_tx"`
	W2RowsSec   float64            `json:"w2_rows_per_sec"`
	W2Tx        int                `json:"w2_tx"`
	R1QPS       float64            `json:"r1_qps"`
	R1P50us     float64            `json:"r1_p50_us"`
	R1P99us     float64            `json:"r1_p99_us"`
	R1Hits      float64            `json:"r1_hit_ratio"`
	R1PrepQPS   float64            `json:"r1prep_qps"`
	R1PrepP50us float64            `json:"r1prep_p50_us"`
	R1PrepP99us float64            `json:"r1prep_p99_us"`
	BulkRowsSec float64            `json:"bulk_rows_per_sec"`
	BulkRows    int                `json:"bulk_rows"`
	Noise       float64            `json:"noise_max"` // worst kept step's CPU probe / best probe seen
	PhaseNoise  map[string]float64 `json:"phase_noise"`
	River       string             `json:"river"`
	Err         string             `json:"error,omitempty"`
}

func main() {
	var cfg config
	var driverFlag string
	flag.StringVar(&driverFlag, "driver", "all", "driver(s): all, or comma list of "+strings.Join(driverOrder, ","))
	flag.StringVar(&cfg.dir, "dir", "", "base directory for temp dirs (default: /work if it exists, else os.TempDir())")
	flag.IntVar(&cfg.runs, "runs", 1, "number of full repetitions (driver order alternates between runs)")
	flag.IntVar(&cfg.members, "members", 100_000, "seed members rows")
	flag.IntVar(&cfg.groups, "groups", 5_000, "seed groups rows")
	flag.IntVar(&cfg.groupMem, "group-members", 50_000, "seed group_members rows")
	flag.IntVar(&cfg.grants, "grants", 200_000, "seed grants rows")
	flag.DurationVar(&cfg.w1Dur, "w1", 3*time.Second, "W1 duration")
	flag.DurationVar(&cfg.w2Dur, "w2", 3*time.Second, "W2 duration")
	flag.DurationVar(&cfg.r1Dur, "r1", 3*time.Second, "R1 duration (each of plain and prepared)")
	flag.DurationVar(&cfg.fsyncDur, "fsync", 2*time.Second, "fsync floor duration")
	flag.IntVar(&cfg.bulkRows, "bulk-rows", 1_000_000, "bulk load rows")
	flag.IntVar(&cfg.bulkBatch, "bulk-batch", 10_000, "bulk load rows per transaction")
	flag.DurationVar(&cfg.bulkMaxDur, "bulk-max", 180*time.Second, "bulk load time cap")
	flag.IntVar(&cfg.r1Workers, "r1-workers", 16, "R1 goroutines")
	flag.IntVar(&cfg.readConns, "read-conns", 4, "read pool size")
	flag.BoolVar(&cfg.skipRiver, "skip-river", false, "skip the River compatibility check")
	flag.BoolVar(&cfg.skipBulk, "skip-bulk", false, "skip the bulk load")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temp dir")
	flag.StringVar(&cfg.jsonOut, "json", "", "also write results as JSON lines to this file")
	flag.DurationVar(&cfg.quietWait, "quiet-wait", 60*time.Second, "before each step wait up to this long for the machine to be quiet (0 = never wait)")
	flag.IntVar(&cfg.retries, "retries", 3, "max attempts of a step when the machine was noisy during it")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		must(err)
		must(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}

	var names []string
	if driverFlag == "all" {
		for _, n := range driverOrder {
			if _, ok := drivers[n]; ok {
				names = append(names, n)
			}
		}
	} else {
		for _, n := range strings.Split(driverFlag, ",") {
			n = strings.TrimSpace(n)
			if _, ok := drivers[n]; !ok {
				fatalf("driver %q not linked into this binary (linked: %v)", n, linked())
			}
			names = append(names, n)
		}
	}

	base := cfg.dir
	if base == "" {
		base = os.TempDir()
		if st, err := os.Stat("/work"); err == nil && st.IsDir() {
			base = "/work"
		}
	}
	root, err := os.MkdirTemp(base, "sqlitedriver-bench-")
	if err != nil {
		fatalf("mkdtemp: %v", err)
	}
	if !cfg.keep {
		defer os.RemoveAll(root)
	}

	fmt.Printf("go=%s GOOS/GOARCH=%s/%s GOMAXPROCS=%d NumCPU=%d\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Printf("dir=%s drivers=%v runs=%d\n", root, names, cfg.runs)

	var all []result
	var floors []float64
	for run := 1; run <= cfg.runs; run++ {
		order := slices.Clone(names)
		if run%2 == 0 {
			slices.Reverse(order)
		}
		runDir := filepath.Join(root, fmt.Sprintf("run%d", run))
		must(os.MkdirAll(runDir, 0o755))

		floor, err := fsyncFloor(runDir, cfg.fsyncDur)
		if err != nil {
			fatalf("fsync floor: %v", err)
		}
		floors = append(floors, floor)
		fmt.Printf("\n=== run %d  order=%v  fsync floor (4KiB pwrite+fdatasync): %.0f/s\n", run, order, floor)

		all = append(all, runInterleaved(cfg, run, order, runDir)...)
		floor2, err := fsyncFloor(runDir, cfg.fsyncDur)
		if err == nil {
			floors = append(floors, floor2)
			fmt.Printf("=== run %d end fsync floor: %.0f/s\n", run, floor2)
		}
	}

	fmt.Printf("\n## Summary (fsync floors: %s)\n\n", fmtFloats(floors))
	fmt.Println("| run | driver | sqlite | W1 tx/s | W2 rows/s | R1 qps | R1 p50/p99 µs | R1-prep qps | R1-prep p50/p99 µs | bulk rows/s | seed s | noise | River |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range all {
		fmt.Printf("| %d | %s | %s | %.0f | %.0f | %.0f | %.0f / %.0f | %.0f | %.0f / %.0f | %.0f | %.1f | %.2f | %s |\n",
			r.Run, r.Driver, r.SQLiteVer, r.W1TxPerSec, r.W2RowsSec, r.R1QPS, r.R1P50us, r.R1P99us,
			r.R1PrepQPS, r.R1PrepP50us, r.R1PrepP99us, r.BulkRowsSec, r.SeedSec, r.Noise, r.River)
		if r.Err != "" {
			fmt.Printf("|   | %s ERROR: %s |\n", r.Driver, r.Err)
		}
	}
	if cfg.runs > 1 {
		printMedians(names, all)
	}
	if cfg.jsonOut != "" {
		f, err := os.Create(cfg.jsonOut)
		if err == nil {
			enc := json.NewEncoder(f)
			for _, r := range all {
				_ = enc.Encode(r)
			}
			_ = enc.Encode(map[string]any{"fsync_floors": floors})
			_ = f.Close()
		}
	}
	for _, r := range all {
		if r.Err != "" {
			pprof.StopCPUProfile()
			os.Exit(1)
		}
	}
}

func linked() []string {
	var out []string
	for n := range drivers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ---------------------------------------------------------------- fsync floor

func fsyncFloor(dir string, dur time.Duration) (float64, error) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync.probe"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = byte(i)
	}
	fd := int(f.Fd())
	// First write extends the file; do it once so the loop measures overwrite+fdatasync.
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, err
	}
	if err := syscall.Fsync(fd); err != nil {
		return 0, err
	}
	start := time.Now()
	n := 0
	for n < maxFsyncIters && time.Since(start) < dur {
		buf[0] = byte(n)
		if _, err := f.WriteAt(buf, 0); err != nil {
			return 0, err
		}
		if err := syscall.Fdatasync(fd); err != nil {
			return 0, err
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// ---------------------------------------------------------------- schema & seed

const schema = `
CREATE TABLE members (
  id         INTEGER PRIMARY KEY,
  org_id     INTEGER NOT NULL,
  email      TEXT    NOT NULL,
  status     TEXT    NOT NULL DEFAULT 'active',
  created_at INTEGER NOT NULL,
  removed_at INTEGER
);
CREATE UNIQUE INDEX members_email ON members(email);
CREATE INDEX members_org_status ON members(org_id, status);

CREATE TABLE groups (
  id     INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL,
  name   TEXT    NOT NULL
);

CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES groups(id),
  member_id INTEGER NOT NULL REFERENCES members(id),
  PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX group_members_member ON group_members(member_id, group_id);

CREATE TABLE grants (
  id          INTEGER PRIMARY KEY,
  group_id    INTEGER NOT NULL REFERENCES groups(id),
  resource_id INTEGER NOT NULL,
  permission  TEXT    NOT NULL
);
CREATE UNIQUE INDEX grants_group_res_perm ON grants(group_id, resource_id, permission);
CREATE INDEX grants_res_perm ON grants(resource_id, permission);

CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY,
  member_id  INTEGER NOT NULL REFERENCES members(id),
  kind       TEXT    NOT NULL,
  payload    TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX audit_events_member ON audit_events(member_id);
`

var perms = []string{"read", "write", "admin"}

type seedData struct {
	groupMembers [][2]int64 // group, member
	grants       []grantRow
	queries      []accessQuery
}

type grantRow struct {
	group, resource int64
	perm            string
}

type accessQuery struct {
	member, resource int64
	perm             string
}

// genSeed produces the same data for every driver (fixed PRNG seed).
func genSeed(cfg config) *seedData {
	rng := rand.New(rand.NewPCG(1, 2))
	sd := &seedData{}
	byGroup := map[int64][]int64{}
	seenGM := map[[2]int64]bool{}
	for len(sd.groupMembers) < cfg.groupMem {
		p := [2]int64{int64(rng.IntN(cfg.groups) + 1), int64(rng.IntN(cfg.members) + 1)}
		if seenGM[p] {
			continue
		}
		seenGM[p] = true
		sd.groupMembers = append(sd.groupMembers, p)
		byGroup[p[0]] = append(byGroup[p[0]], p[1])
	}
	seenG := map[grantRow]bool{}
	for len(sd.grants) < cfg.grants {
		g := grantRow{int64(rng.IntN(cfg.groups) + 1), int64(rng.IntN(20_000) + 1), perms[rng.IntN(len(perms))]}
		if seenG[g] {
			continue
		}
		seenG[g] = true
		sd.grants = append(sd.grants, g)
	}
	// 10k access checks: ~half built from real (grant, group member) pairs
	// (hits), half random (mostly misses).
	for len(sd.queries) < 10_000 {
		if len(sd.queries)%2 == 0 {
			g := sd.grants[rng.IntN(len(sd.grants))]
			ms := byGroup[g.group]
			if len(ms) == 0 {
				continue
			}
			sd.queries = append(sd.queries, accessQuery{ms[rng.IntN(len(ms))], g.resource, g.perm})
		} else {
			sd.queries = append(sd.queries, accessQuery{int64(rng.IntN(cfg.members) + 1), int64(rng.IntN(20_000) + 1), perms[rng.IntN(len(perms))]})
		}
	}
	return sd
}

var seedCache *seedData
var seedOnce sync.Once

func execBatched(ctx context.Context, db *sql.DB, query string, n, batch int, args func(i int) []any) error {
	for lo := 0; lo < n; lo += batch {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, query)
		if err != nil {
			tx.Rollback()
			return err
		}
		for i := lo; i < min(lo+batch, n); i++ {
			if _, err := st.ExecContext(ctx, args(i)...); err != nil {
				st.Close()
				tx.Rollback()
				return fmt.Errorf("%s: %w", query, err)
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func seed(ctx context.Context, cfg config, db *sql.DB, sd *seedData) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	now := time.Now().Unix()
	if err := execBatched(ctx, db, `INSERT INTO groups(id, org_id, name) VALUES (?, ?, ?)`, cfg.groups, 10_000, func(i int) []any {
		return []any{i + 1, i%50 + 1, fmt.Sprintf("group-%05d", i+1)}
	}); err != nil {
		return err
	}
	if err := execBatched(ctx, db, `INSERT INTO members(id, org_id, email, status, created_at) VALUES (?, ?, ?, 'active', ?)`, cfg.members, 10_000, func(i int) []any {
		return []any{i + 1, i%50 + 1, fmt.Sprintf("member%07d@example.org", i+1), now}
	}); err != nil {
		return err
	}
	if err := execBatched(ctx, db, `INSERT INTO group_members(group_id, member_id) VALUES (?, ?)`, len(sd.groupMembers), 10_000, func(i int) []any {
		return []any{sd.groupMembers[i][0], sd.groupMembers[i][1]}
	}); err != nil {
		return err
	}
	if err := execBatched(ctx, db, `INSERT INTO grants(group_id, resource_id, permission) VALUES (?, ?, ?)`, len(sd.grants), 10_000, func(i int) []any {
		g := sd.grants[i]
		return []any{g.group, g.resource, g.perm}
	}); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `ANALYZE; PRAGMA wal_checkpoint(TRUNCATE);`); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	return nil
}

// ---------------------------------------------------------------- per-driver bench

func openPools(d driverImpl, path string, readConns int) (w, r *sql.DB, err error) {
	w, err = d.open(path, "immediate")
	if err != nil {
		return nil, nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err = d.open(path, "deferred")
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	return w, r, nil
}

// pragmaString reads the effective pragmas on one connection.
func pragmaString(ctx context.Context, c *sql.Conn) (string, error) {
	var jm string
	var syncv, fk, bt int
	if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&jm); err != nil {
		return "", err
	}
	if err := c.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&syncv); err != nil {
		return "", err
	}
	if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
		return "", err
	}
	if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&bt); err != nil {
		return "", err
	}
	return fmt.Sprintf("journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d", jm, syncv, fk, bt), nil
}

const wantPragmas = "journal_mode=wal synchronous=2 foreign_keys=1 busy_timeout=5000"

// verifyPragmas checks every connection of a pool (n of them held at once).
func verifyPragmas(ctx context.Context, db *sql.DB, n int) (string, error) {
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var got string
	for i := 0; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			return "", err
		}
		conns = append(conns, c)
		s, err := pragmaString(ctx, c)
		if err != nil {
			return "", err
		}
		if strings.ToLower(s) != wantPragmas {
			return s, fmt.Errorf("conn %d pragmas %q, want %q", i, s, wantPragmas)
		}
		got = s
	}
	return got, nil
}

// dstate is one driver's open databases during a run.
type dstate struct {
	d      driverImpl
	dir    string
	w, rd  *sql.DB
	r      *result
	nextID int64
	audits int // audit rows committed so far (across retried attempts)
	err    error
}

const accessQ = `SELECT EXISTS(
  SELECT 1 FROM grants g
  JOIN group_members gm ON gm.group_id = g.group_id
  JOIN members m ON m.id = gm.member_id
  WHERE m.id = ? AND m.status = 'active' AND g.resource_id = ? AND g.permission = ?)`

// runInterleaved runs every phase for every driver before moving on to the
// next phase (driver order rotates per run), so slow drift in machine load
// hits all drivers alike; before each step it waits (bounded) for the
// machine to be quiet and records how noisy it was.
func runInterleaved(cfg config, run int, order []string, runDir string) []result {
	ctx := context.Background()
	seedOnce.Do(func() { seedCache = genSeed(cfg) })
	sd := seedCache

	var sts []*dstate
	for _, name := range order {
		dir := filepath.Join(runDir, name)
		must(os.MkdirAll(dir, 0o755))
		st := &dstate{d: drivers[name], dir: dir, r: &result{Run: run, Driver: name}, nextID: 1}
		sts = append(sts, st)
	}
	// step runs fn for each driver. The machine is probed before and after;
	// if it was noisy (probe > 1.5x best) the step is repeated, up to
	// cfg.retries times, and the least noisy attempt's numbers are kept
	// (fn must be idempotent enough for that: it only overwrites results).
	step := func(phase string, retry bool, fn func(st *dstate) error) {
		for _, st := range sts {
			if st.err != nil {
				continue
			}
			best := math.MaxFloat64
			var bestR result
			for attempt := 0; ; attempt++ {
				pre := waitQuiet(cfg.quietWait)
				if err := fn(st); err != nil {
					st.err = fmt.Errorf("%s: %w", phase, err)
					break
				}
				noise := max(pre, cpuProbeRatio())
				fmt.Printf("    [%s %-8s attempt %d noise x%.2f]\n", phase, st.d.name, attempt+1, noise)
				if noise < best {
					best, bestR = noise, *st.r
				}
				if !retry || noise <= 1.5 || attempt+1 >= cfg.retries {
					break
				}
			}
			if st.err == nil {
				*st.r = bestR
				st.r.Noise = max(st.r.Noise, best)
				if st.r.PhaseNoise == nil {
					st.r.PhaseNoise = map[string]float64{}
				}
				st.r.PhaseNoise[phase] = math.Round(best*100) / 100
			}
		}
	}

	step("seed", false, func(st *dstate) error {
		var err error
		st.w, st.rd, err = openPools(st.d, filepath.Join(st.dir, "memberd.db"), cfg.readConns)
		if err != nil {
			return err
		}
		if err := st.w.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&st.r.SQLiteVer); err != nil {
			return fmt.Errorf("version: %w", err)
		}
		if st.r.Pragmas, err = verifyPragmas(ctx, st.w, 1); err != nil {
			return fmt.Errorf("writer %w", err)
		}
		// informational: defaults that differ between driver builds
		var cache, mmap, page int64
		_ = st.w.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache)
		_ = st.w.QueryRowContext(ctx, `PRAGMA mmap_size`).Scan(&mmap)
		_ = st.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&page)
		st.r.Pragmas += fmt.Sprintf(" (cache_size=%d mmap_size=%d page_size=%d)", cache, mmap, page)
		t0 := time.Now()
		if err := seed(ctx, cfg, st.w, sd); err != nil {
			return err
		}
		st.r.SeedSec = time.Since(t0).Seconds()
		if _, err := verifyPragmas(ctx, st.rd, cfg.readConns); err != nil {
			return fmt.Errorf("reader %w", err)
		}
		// warm-up (page cache, pool) so R1 measures steady state
		_, _, _, _, err = runR1(ctx, st.rd, nil, accessQ, sd.queries, cfg.r1Workers, 500*time.Millisecond)
		return err
	})

	// R1 runs before the writes so every driver reads identical data.
	step("R1", true, func(st *dstate) error {
		var err error
		r := st.r
		r.R1QPS, r.R1P50us, r.R1P99us, r.R1Hits, err = runR1(ctx, st.rd, nil, accessQ, sd.queries, cfg.r1Workers, cfg.r1Dur)
		return err
	})
	step("R1-prep", true, func(st *dstate) error {
		stmt, err := st.rd.PrepareContext(ctx, accessQ)
		if err != nil {
			return err
		}
		defer stmt.Close()
		r := st.r
		r.R1PrepQPS, r.R1PrepP50us, r.R1PrepP99us, _, err = runR1(ctx, st.rd, stmt, accessQ, sd.queries, cfg.r1Workers, cfg.r1Dur)
		return err
	})

	payload := strings.Repeat("x", auditPayloadSz-60)
	removeOne := func(tx *sql.Tx, id int64, now int64) error {
		var email, status string
		if err := tx.QueryRowContext(ctx, `SELECT email, status FROM members WHERE id = ?`, id).Scan(&email, &status); err != nil {
			return fmt.Errorf("select: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE members SET status = 'removed', removed_at = ? WHERE id = ?`, now, id); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		body := fmt.Sprintf(`{"member_id":%d,"email":%q,"prev":%q,"actor":"bench","note":"%s"}`, id, email, status, payload)
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events(member_id, kind, payload, created_at) VALUES (?, 'member.removed', ?, ?)`, id, body, now); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		return nil
	}
	doTx := func(st *dstate, k int) error {
		tx, err := st.w.BeginTx(ctx, nil) // _txlock=immediate => BEGIN IMMEDIATE
		if err != nil {
			return err
		}
		now := time.Now().UnixMilli()
		for i := 0; i < k; i++ {
			id := st.nextID
			st.nextID++
			if st.nextID > int64(cfg.members) {
				st.nextID = 1
			}
			if err := removeOne(tx, id, now); err != nil {
				tx.Rollback()
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		st.audits += k
		return nil
	}
	step("W1", true, func(st *dstate) error {
		start := time.Now()
		n := 0
		for n < maxW1Tx && time.Since(start) < cfg.w1Dur {
			if err := doTx(st, 1); err != nil {
				return err
			}
			n++
		}
		st.r.W1Tx = n
		st.r.W1TxPerSec = float64(n) / time.Since(start).Seconds()
		return nil
	})
	step("W2", true, func(st *dstate) error {
		start := time.Now()
		n := 0
		for n < maxW2Tx && time.Since(start) < cfg.w2Dur {
			if err := doTx(st, w2Batch); err != nil {
				return err
			}
			n++
		}
		st.r.W2Tx = n
		st.r.W2RowsSec = float64(n*w2Batch) / time.Since(start).Seconds()
		// sanity: one audit row per removed member
		var audits int
		if err := st.rd.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`).Scan(&audits); err != nil {
			return err
		}
		if audits != st.audits {
			return fmt.Errorf("audit rows %d, want %d", audits, st.audits)
		}
		return nil
	})
	for _, st := range sts {
		if st.w != nil {
			st.w.Close()
		}
		if st.rd != nil {
			st.rd.Close()
		}
		_ = os.Remove(filepath.Join(st.dir, "memberd.db")) // free disk before bulk
	}
	if !cfg.skipBulk {
		step("bulk", true, func(st *dstate) error {
			var err error
			st.r.BulkRows, st.r.BulkRowsSec, err = bulkLoad(ctx, cfg, st.d, filepath.Join(st.dir, "bulk.db"))
			return err
		})
	}
	var out []result
	for _, st := range sts {
		if !cfg.skipRiver {
			if err := riverCheck(st.d, st.dir); err != nil {
				st.r.River = "FAIL: " + err.Error()
			} else {
				st.r.River = "PASS"
			}
		}
		if st.err != nil {
			st.r.Err = st.err.Error()
		}
		printResult(*st.r)
		out = append(out, *st.r)
		_ = os.RemoveAll(st.dir)
	}
	return out
}

func runR1(ctx context.Context, db *sql.DB, stmt *sql.Stmt, q string, qs []accessQuery, workers int, dur time.Duration) (qps, p50, p99, hitRatio float64, err error) {
	var total atomic.Int64
	var hits atomic.Int64
	lats := make([][]time.Duration, workers)
	errs := make(chan error, workers)
	perWorkerMax := maxR1Queries / workers
	start := time.Now()
	deadline := start.Add(dur)
	var wg sync.WaitGroup
	for wi := 0; wi < workers; wi++ {
		wg.Add(1)
		go func(wi int) {
			defer wg.Done()
			l := make([]time.Duration, 0, 1<<16)
			k := wi * 7919
			for i := 0; i < perWorkerMax; i++ {
				t := time.Now()
				if t.After(deadline) {
					break
				}
				a := qs[k%len(qs)]
				k++
				var ok bool
				var err error
				if stmt != nil {
					err = stmt.QueryRowContext(ctx, a.member, a.resource, a.perm).Scan(&ok)
				} else {
					err = db.QueryRowContext(ctx, q, a.member, a.resource, a.perm).Scan(&ok)
				}
				if err != nil {
					errs <- err
					return
				}
				l = append(l, time.Since(t))
				if ok {
					hits.Add(1)
				}
			}
			total.Add(int64(len(l)))
			lats[wi] = l
		}(wi)
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return 0, 0, 0, 0, err
	default:
	}
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return 0, 0, 0, 0, errors.New("no queries completed")
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		i := int(p * float64(len(all)-1))
		return float64(all[i].Nanoseconds()) / 1e3
	}
	return float64(total.Load()) / elapsed.Seconds(), pct(0.50), pct(0.99), float64(hits.Load()) / float64(total.Load()), nil
}

func bulkLoad(ctx context.Context, cfg config, d driverImpl, path string) (int, float64, error) {
	for _, suf := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suf)
	}
	w, err := d.open(path, "immediate")
	if err != nil {
		return 0, 0, err
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, schema); err != nil {
		return 0, 0, err
	}
	now := time.Now().Unix()
	start := time.Now()
	n := 0
	for n < cfg.bulkRows && time.Since(start) < cfg.bulkMaxDur {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			return n, 0, err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO members(id, org_id, email, status, created_at) VALUES (?, ?, ?, 'active', ?)`)
		if err != nil {
			tx.Rollback()
			return n, 0, err
		}
		for i := 0; i < cfg.bulkBatch && n < cfg.bulkRows; i++ {
			n++
			if _, err := st.ExecContext(ctx, n, n%50+1, fmt.Sprintf("member%07d@example.org", n), now); err != nil {
				st.Close()
				tx.Rollback()
				return n, 0, err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return n, 0, err
		}
	}
	el := time.Since(start)
	var cnt int
	if err := w.QueryRowContext(ctx, `SELECT count(*) FROM members`).Scan(&cnt); err != nil {
		return n, 0, err
	}
	if cnt != n {
		return n, 0, fmt.Errorf("count %d != inserted %d", cnt, n)
	}
	return n, float64(n) / el.Seconds(), nil
}

// ---------------------------------------------------------------- River check

type pingArgs struct {
	Member int64 `json:"member"`
}

func (pingArgs) Kind() string { return "bench_ping" }

type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	ran chan int64
}

func (w *pingWorker) Work(ctx context.Context, job *river.Job[pingArgs]) error {
	select {
	case w.ran <- job.Args.Member:
	default:
	}
	return nil
}

// countingHandler forwards to a text handler and keeps WARN/ERROR lines.
type countingHandler struct {
	slog.Handler
	mu    *sync.Mutex
	lines *[]string
}

func (h countingHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelWarn {
		var b strings.Builder
		b.WriteString(rec.Message)
		rec.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		h.mu.Lock()
		*h.lines = append(*h.lines, b.String())
		h.mu.Unlock()
	}
	return h.Handler.Handle(ctx, rec)
}
func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{h.Handler.WithAttrs(as), h.mu, h.lines}
}
func (h countingHandler) WithGroup(n string) slog.Handler {
	return countingHandler{h.Handler.WithGroup(n), h.mu, h.lines}
}

func riverCheck(d driverImpl, dir string) (retErr error) {
	defer func() {
		if p := recover(); p != nil {
			retErr = fmt.Errorf("panic: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), riverTimeout)
	defer cancel()

	db, err := d.open(filepath.Join(dir, "river.db"), "immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // as recommended by riversqlite docs

	var mu sync.Mutex
	var warnLines []string
	logger := slog.New(countingHandler{slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}), &mu, &warnLines})

	drv := riversqlite.New(db)
	migrator, err := rivermigrate.New(drv, &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("migrator: %w", err)
	}
	mres, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(mres.Versions) == 0 {
		return errors.New("migrate: no versions applied")
	}

	workers := river.NewWorkers()
	pw := &pingWorker{ran: make(chan int64, 1)}
	river.AddWorker(workers, pw)
	client, err := river.NewClient(drv, &river.Config{
		Logger:            logger,
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	sub, subCancel := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer subCancel()
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer func() {
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		if err := client.Stop(sctx); err != nil && retErr == nil {
			retErr = fmt.Errorf("stop: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if retErr == nil && len(warnLines) > 0 {
			retErr = fmt.Errorf("river logged %d warn/error lines, first: %s", len(warnLines), warnLines[0])
		}
	}()

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	res, err := client.InsertTx(ctx, tx, pingArgs{Member: 42}, nil)
	if err != nil {
		tx.Rollback()
		return fmt.Errorf("InsertTx: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	select {
	case <-pw.ran:
	case <-ctx.Done():
		return errors.New("worker did not run the job in time")
	}
	select {
	case ev := <-sub:
		if ev.Kind != river.EventKindJobCompleted {
			return fmt.Errorf("event %s", ev.Kind)
		}
	case <-ctx.Done():
		return errors.New("no completion event")
	}
	job, err := client.JobGet(ctx, res.Job.ID)
	if err != nil {
		return fmt.Errorf("JobGet: %w", err)
	}
	if job.State != rivertype.JobStateCompleted {
		return fmt.Errorf("job state %s", job.State)
	}
	if job.FinalizedAt == nil || time.Since(*job.FinalizedAt).Abs() > time.Minute || time.Since(job.CreatedAt).Abs() > time.Minute {
		return fmt.Errorf("implausible timestamps created=%v finalized=%v", job.CreatedAt, job.FinalizedAt)
	}
	lst, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted))
	if err != nil {
		return fmt.Errorf("JobList: %w", err)
	}
	if len(lst.Jobs) != 1 {
		return fmt.Errorf("JobList returned %d jobs", len(lst.Jobs))
	}
	return nil
}

// ---------------------------------------------------------------- output helpers

// cpuProbe times a fixed CPU-only workload on GOMAXPROCS goroutines; other
// load on the machine makes it slower.
func cpuProbe() float64 {
	probeOnce.Do(func() {
		probeBuf = make([]byte, 8<<20)
		for i := range probeBuf {
			probeBuf[i] = byte(i * 31)
		}
	})
	n := runtime.GOMAXPROCS(0)
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3; i++ {
				_ = sha256.Sum256(probeBuf)
			}
		}()
	}
	wg.Wait()
	return float64(time.Since(start).Microseconds()) / 1e3
}

var (
	probeOnce sync.Once
	probeBuf  []byte
	probeBest = math.MaxFloat64
)

func cpuProbeRatio() float64 {
	p := cpuProbe()
	probeBest = min(probeBest, p)
	return p / probeBest
}

// waitQuiet probes until the probe is within 25% of the best seen (or
// maxWait passes) and returns the final probe/best ratio ("noise").
func waitQuiet(maxWait time.Duration) float64 {
	deadline := time.Now().Add(maxWait)
	for {
		p := cpuProbe()
		probeBest = min(probeBest, p)
		ratio := p / probeBest
		if ratio <= 1.25 || time.Now().After(deadline) {
			return ratio
		}
		time.Sleep(time.Second)
	}
}

func median(xs []float64) (med, lo, hi float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0, 0, 0
	}
	if n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

func printMedians(names []string, all []result) {
	fmt.Printf("\n## Median over runs [min–max]\n\n")
	fmt.Println("| driver | W1 tx/s | W2 rows/s | R1 qps | R1 p50 µs | R1 p99 µs | R1-prep qps | bulk rows/s | noise |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, n := range names {
		cols := make([][]float64, 8)
		for _, r := range all {
			if r.Driver != n || r.Err != "" {
				continue
			}
			for i, v := range []float64{r.W1TxPerSec, r.W2RowsSec, r.R1QPS, r.R1P50us, r.R1P99us, r.R1PrepQPS, r.BulkRowsSec, r.Noise} {
				cols[i] = append(cols[i], v)
			}
		}
		fmt.Printf("| %s |", n)
		for i, c := range cols {
			m, lo, hi := median(c)
			if i == len(cols)-1 {
				fmt.Printf(" %.2f [%.2f–%.2f] |", m, lo, hi)
			} else {
				fmt.Printf(" %.0f [%.0f–%.0f] |", m, lo, hi)
			}
		}
		fmt.Println()
	}
}

func printResult(r result) {
	fmt.Printf("--- run %d %-8s sqlite %s [%s] worst noise x%.2f\n", r.Run, r.Driver, r.SQLiteVer, r.Pragmas, r.Noise)
	fmt.Printf("    seed %.1fs | W1 %.0f tx/s (%d tx) | W2 %.0f rows/s (%d tx) | R1 %.0f qps p50 %.0fµs p99 %.0fµs (hit %.2f) | R1-prep %.0f qps p50 %.0fµs p99 %.0fµs | bulk %.0f rows/s (%d) | River %s\n",
		r.SeedSec, r.W1TxPerSec, r.W1Tx, r.W2RowsSec, r.W2Tx, r.R1QPS, r.R1P50us, r.R1P99us, r.R1Hits,
		r.R1PrepQPS, r.R1PrepP50us, r.R1PrepP99us, r.BulkRowsSec, r.BulkRows, r.River)
	fmt.Printf("    noise per phase (kept attempt): %v\n", r.PhaseNoise)
	if r.Err != "" {
		fmt.Printf("    ERROR: %s\n", r.Err)
	}
}

func fmtFloats(fs []float64) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("%.0f/s", f))
	}
	return strings.Join(s, ", ")
}

func must(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "sqlitedriver: "+f+"\n", a...)
	os.Exit(2)
}
