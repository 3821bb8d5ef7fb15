package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sys/unix"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// s5PagesEnv names the organization size TestS5Pages loads.
const s5PagesEnv = "MEMBERD_S5_PAGES"

// TestS5Pages measures what a single removal (the core call Jicoo's
// DELETE makes, S5) writes and reads on PostgreSQL right after a
// checkpoint, the state in which S5 at 10M members meets most pages for
// the first time: WAL bytes, WAL records and full-page images per
// removal, by relation (pg_waldump over the removals' WAL), and blocks
// read into shared buffers per removal (pg_statio); first, the bytes per
// member of each table and index as loaded (logSizes). It is an on-demand
// measurement, not a check:
//
//	cd bench && MEMBERD_S5_PAGES=1000000 CI=true go test -count=1 -run TestS5Pages -v -timeout 60m .
//
// With MEMBERD_S5_VARIANTS naming a file of variants ("-- name" lines,
// each followed by the SQL that puts the schema in that form), the
// variants take turns in A B B A order, each block after its SQL and a
// checkpoint; without it the schema is measured as migrated.
//
// MEMBERD_S5_COLD=1 measures each block with its pages outside the
// caches, as a removal at 10M members meets many: the server gets 16 MB
// of shared buffers and the database's files are dropped from the page
// cache after the checkpoint (posix_fadvise, the server's own files
// only), so that the blocks read are the distinct pages a removal
// touches and its wall time pays for reading each of them.
func TestS5Pages(t *testing.T) {
	ctx := context.Background()
	cold := os.Getenv("MEMBERD_S5_COLD") != ""
	var settings [][2]string
	if cold {
		settings = append(settings, [2]string{"shared_buffers", "16MB"})
	}
	e, d := onDemandPostgres(t, s5PagesEnv, settings...)
	st, err := postgres.Open(ctx, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := st.Pool()
	var dataDir string
	if err := pool.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	if err := logSizes(ctx, t, pool, d.Members); err != nil {
		t.Fatal(err)
	}
	svc := membership.NewService(st, membership.DefaultConfig())
	pk := newPicker(7)
	blockSize := 100
	if v, _ := strconv.Atoi(os.Getenv("MEMBERD_S5_BLOCK")); v > 0 {
		blockSize = v
	}
	perSide := 2
	if v, _ := strconv.Atoi(os.Getenv("MEMBERD_S5_ROUNDS")); v > 0 {
		perSide = v
	}
	// Round after round: the variants file may change between rounds, so
	// that one load serves several experiments; a round starts when the
	// go file appears and the test ends when the stop file does.
	goFile, stopFile := os.Getenv("MEMBERD_S5_GO"), os.Getenv("MEMBERD_S5_STOP")
	for round := 0; ; round++ {
		if round > 0 {
			if goFile == "" {
				return
			}
			for {
				if _, err := os.Stat(stopFile); stopFile != "" && err == nil {
					return
				}
				if _, err := os.Stat(goFile); err == nil {
					os.Remove(goFile)
					break
				}
				time.Sleep(time.Second)
			}
		}
		variants, err := readVariants(os.Getenv("MEMBERD_S5_VARIANTS"))
		if err != nil {
			t.Fatal(err)
		}
		order := []int{0}
		if len(variants) == 2 {
			order = nil
			for _, a := range abba(perSide) {
				order = append(order, map[bool]int{true: 0, false: 1}[a])
			}
		} else if len(variants) > 2 {
			order = nil
			for k := range perSide * len(variants) {
				order = append(order, k%len(variants))
			}
		}
		results := make([][]s5Block, len(variants))
		for _, v := range order {
			for _, q := range variants[v].sql {
				if _, err := pool.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %s: %v", variants[v].name, q, err)
				}
			}
			if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
				t.Fatal(err)
			}
			if cold {
				if err := dropCached(filepath.Join(dataDir, "base")); err != nil {
					t.Fatal(err)
				}
			}
			b, err := s5MeasureBlock(ctx, pool, dataDir, func(i int) error {
				_, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), d.Actor("jicoo"),
					membership.RemoveMemberRequest{Member: membership.MemberRef{ID: d.MemberID(i)}})
				return err
			}, pk.pick(blockSize, d.Members))
			if err != nil {
				t.Fatal(err)
			}
			results[v] = append(results[v], b)
			t.Logf("round %d %s: %s", round, variants[v].name, b.summary())
		}
		for v := range variants {
			t.Logf("round %d %s (median of %d blocks of %d): %s", round, variants[v].name, len(results[v]), blockSize, medianBlock(results[v]).summary())
		}
	}
}

type s5Variant struct {
	name string
	sql  []string
}

func readVariants(path string) ([]s5Variant, error) {
	if path == "" {
		return []s5Variant{{name: "as migrated"}}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []s5Variant
	var cur strings.Builder
	flush := func() {
		if len(out) == 0 {
			return
		}
		for _, q := range strings.Split(cur.String(), ";\n") {
			if q = strings.TrimSpace(q); q != "" {
				out[len(out)-1].sql = append(out[len(out)-1].sql, q)
			}
		}
		cur.Reset()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "-- "); ok {
			flush()
			out = append(out, s5Variant{name: name})
			continue
		}
		cur.WriteString(line + "\n")
	}
	flush()
	return out, nil
}

// s5Block is what one block of removals cost, per removal.
type s5Block struct {
	n                       int
	walBytes, records, fpis float64
	read, hit               float64
	median                  time.Duration
	fpiBy, readBy           map[string]float64
}

func (b s5Block) summary() string {
	top := func(m map[string]float64) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.SortFunc(ks, func(a, b string) int {
			if m[a] != m[b] {
				if m[a] > m[b] {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		var parts []string
		for _, k := range ks {
			if m[k] >= 0.05 {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, m[k]))
			}
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprintf("WAL %.0f B, %.1f records, %.2f FPI; blocks read %.2f hit %.1f; wall p50 %s\n  FPI by relation: %s\n  reads by relation: %s",
		b.walBytes, b.records, b.fpis, b.read, b.hit, b.median.Round(time.Microsecond), top(b.fpiBy), top(b.readBy))
}

func medianBlock(bs []s5Block) s5Block {
	med := func(f func(s5Block) float64) float64 {
		var xs []float64
		for _, b := range bs {
			xs = append(xs, f(b))
		}
		slices.Sort(xs)
		return xs[len(xs)/2]
	}
	out := s5Block{n: bs[0].n, fpiBy: map[string]float64{}, readBy: map[string]float64{}}
	out.walBytes = med(func(b s5Block) float64 { return b.walBytes })
	out.records = med(func(b s5Block) float64 { return b.records })
	out.fpis = med(func(b s5Block) float64 { return b.fpis })
	out.read = med(func(b s5Block) float64 { return b.read })
	out.hit = med(func(b s5Block) float64 { return b.hit })
	out.median = time.Duration(med(func(b s5Block) float64 { return float64(b.median) }))
	for _, b := range bs {
		for k := range b.fpiBy {
			out.fpiBy[k] = med(func(b s5Block) float64 { return b.fpiBy[k] })
		}
		for k := range b.readBy {
			out.readBy[k] = med(func(b s5Block) float64 { return b.readBy[k] })
		}
	}
	return out
}

// s5MeasureBlock removes the members one at a time and returns the
// cost per removal.
func s5MeasureBlock(ctx context.Context, pool *pgxpool.Pool, dataDir string, remove func(i int) error, members []int) (s5Block, error) {
	statio := func() (map[string][2]int64, error) {
		time.Sleep(pgStatsFlush)
		rows, err := pool.Query(ctx, `SELECT relname, coalesce(heap_blks_read, 0), coalesce(heap_blks_hit, 0) FROM pg_statio_user_tables
			UNION ALL SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes`)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string][2]int64{}
		for rows.Next() {
			var name string
			var r, h int64
			if err := rows.Scan(&name, &r, &h); err != nil {
				return nil, err
			}
			out[name] = [2]int64{r, h}
		}
		return out, rows.Err()
	}
	before, err := statio()
	if err != nil {
		return s5Block{}, err
	}
	var from, to string
	if err := pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&from); err != nil {
		return s5Block{}, err
	}
	var times []time.Duration
	for _, i := range members {
		t0 := time.Now()
		if err := remove(i); err != nil {
			return s5Block{}, fmt.Errorf("remove member %d: %w", i, err)
		}
		times = append(times, time.Since(t0))
	}
	if err := pool.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&to); err != nil {
		return s5Block{}, err
	}
	after, err := statio()
	if err != nil {
		return s5Block{}, err
	}
	var walBytes int64
	if err := pool.QueryRow(ctx, "SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint", to, from).Scan(&walBytes); err != nil {
		return s5Block{}, err
	}
	names := map[string]string{}
	rows, err := pool.Query(ctx, "SELECT relfilenode::text, relname FROM pg_class WHERE relfilenode <> 0")
	if err != nil {
		return s5Block{}, err
	}
	for rows.Next() {
		var node, name string
		if err := rows.Scan(&node, &name); err != nil {
			return s5Block{}, err
		}
		names[node] = name
	}
	if err := rows.Err(); err != nil {
		return s5Block{}, err
	}
	// pg_current_wal_insert_lsn is where the next record goes; pg_waldump
	// stops at the last complete record before -e.
	out, err := exec.Command(waldumpPath(), "-p", filepath.Join(dataDir, "pg_wal"), "-s", from, "-e", to).Output()
	if err != nil && len(out) == 0 {
		return s5Block{}, fmt.Errorf("pg_waldump: %w", err)
	}
	nf := float64(len(members))
	b := s5Block{n: len(members), walBytes: float64(walBytes) / nf, fpiBy: map[string]float64{}, readBy: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "rmgr:") {
			continue
		}
		b.records++
		for _, ref := range strings.Split(line, "blkref #")[1:] {
			if !strings.Contains(ref, "FPW") {
				continue
			}
			b.fpis++
			name := "?"
			if _, rel, ok := strings.Cut(ref, "rel "); ok {
				f := strings.Fields(rel)
				parts := strings.Split(f[0], "/")
				name = names[parts[len(parts)-1]]
				if name == "" {
					name = parts[len(parts)-1]
				}
				if strings.Contains(ref, " fork ") {
					name += " (" + strings.Fields(strings.SplitN(ref, " fork ", 2)[1])[0] + ")"
				}
			}
			b.fpiBy[name]++
		}
	}
	b.records /= nf
	b.fpis /= nf
	for k := range b.fpiBy {
		b.fpiBy[k] /= nf
	}
	for k, v := range after {
		r, h := v[0]-before[k][0], v[1]-before[k][1]
		b.read += float64(r) / nf
		b.hit += float64(h) / nf
		if r > 0 {
			b.readBy[k] = float64(r) / nf
		}
	}
	slices.Sort(times)
	b.median = times[len(times)/2]
	return b, nil
}

func waldumpPath() string {
	if p, err := exec.LookPath("pg_waldump"); err == nil {
		return p
	}
	if p, err := os.Readlink("/usr/local/bin/postgres"); err == nil {
		return filepath.Join(filepath.Dir(p), "pg_waldump")
	}
	return "pg_waldump"
}

// dropCached asks the kernel to drop the clean cached pages of every file
// under dir.
func dropCached(dir string) error {
	return filepath.WalkDir(dir, func(path string, de os.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	})
}

// logSizes logs the bytes per member of every relation of at least 1 byte
// a member (each table's heap, each index), largest first, and of the
// database, so that what a removal's working set costs in memory at a
// size shows at a smaller one.
func logSizes(ctx context.Context, t *testing.T, pool *pgxpool.Pool, members int) error {
	rows, err := pool.Query(ctx, `SELECT c.relname, c.relkind::text, pg_relation_size(c.oid), COALESCE(t.relname, '')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') ORDER BY 3 DESC, 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var b strings.Builder
	var total float64
	for rows.Next() {
		var name, kind, table string
		var size int64
		if err := rows.Scan(&name, &kind, &size, &table); err != nil {
			return err
		}
		per := float64(size) / float64(members)
		total += per
		if per >= 1 {
			if kind == "i" {
				name += " (" + table + ")"
			}
			fmt.Fprintf(&b, "\n  %-50s %7.1f", name, per)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var db int64
	if err := pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&db); err != nil {
		return err
	}
	t.Logf("bytes per member at %d members: tables and indexes %.1f, database %.1f%s", members, total, float64(db)/float64(members), b.String())
	return nil
}
