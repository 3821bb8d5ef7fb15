package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// FsyncFloor measures the disk's flush rate in dir: overwrite one 4 KiB
// block and fdatasync it, as often as possible for dur (at most 1e6
// times). A durable commit needs at least one such flush, so without
// group commit no engine can acknowledge more changes per second.
func FsyncFloor(dir string, dur time.Duration) (float64, error) {
	f, err := os.OpenFile(filepath.Join(dir, "fsync.probe"), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	// The first write allocates the block; the loop measures overwrites.
	if _, err := f.WriteAt(buf, 0); err != nil {
		return 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	fd := int(f.Fd())
	start := time.Now()
	n := 0
	for n < 1_000_000 && time.Since(start) < dur {
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

// Stmt is one statement the store ran, as the store ran it.
type Stmt = sqlstore.Statement

// errRecorded rolls back a recording transaction once fn has run.
var errRecorded = errors.New("recorded")

// recordingStore is a membership.Store whose Update runs fn on the
// store's own transaction (its dialect, and the caches its writes use)
// with every statement recorded, seals the audit events as every engine
// does before its commit, and then rolls everything back: the Service
// makes its usual calls, and the statements it caused are kept for replay.
type recordingStore struct {
	membership.Store
	eng     *Engine
	stmts   []Stmt
	updated bool // an Update was recorded: later views are not the call's
}

func (r *recordingStore) Update(ctx context.Context, fn func(membership.Tx) error) error {
	run := r.eng.storeTx
	if d := r.eng.dialect; d != nil {
		run = func(ctx context.Context, fn func(*sqlstore.Tx) error) error {
			return r.eng.inTx(ctx, func(c sqlstore.Conn) error { return fn(sqlstore.NewTx(c, d)) })
		}
	}
	err := run(ctx, func(tx *sqlstore.Tx) error {
		var rec sqlstore.Recorder
		stop := tx.Record(&rec)
		err := fn(tx)
		if err == nil {
			err = tx.Seal(ctx)
		}
		stop()
		r.stmts = rec.Statements() // a dry run's fn fails on purpose, after its work
		r.updated = true
		if err != nil {
			return err
		}
		return errRecorded
	})
	if errors.Is(err, errRecorded) {
		return nil
	}
	return err
}

// View records a read like Update records a change, after the reads
// recorded before it, unless a change was
// recorded already: the reads a change makes after its commit (its
// receipt's hash) find nothing of a change that was rolled back, and are
// not part of what the floor replays.
func (r *recordingStore) View(ctx context.Context, fn func(membership.Tx) error) error {
	if r.updated {
		return r.Store.View(ctx, fn)
	}
	// Views add up (an access check request is authentication's view and
	// the check's); a change's Update keeps its own statements alone.
	before := r.stmts
	err := r.Update(ctx, fn)
	r.updated = false
	r.stmts = append(before, r.stmts...)
	return err
}

// Record returns the statements the store runs for call, without
// keeping any of its effects. call gets a Service over the recording
// store and must make exactly one mutating call.
func (e *Engine) Record(ctx context.Context, call func(svc *membership.Service) error) ([]Stmt, error) {
	rs := &recordingStore{Store: e.Store, eng: e}
	cfg := membership.DefaultConfig()
	// A change's receipt is completed after its commit; this one was
	// rolled back, so that read finds nothing, which is expected here.
	cfg.Logger = slog.New(slog.DiscardHandler)
	if err := call(membership.NewService(rs, cfg)); err != nil {
		return nil, err
	}
	if len(rs.stmts) == 0 {
		return nil, errors.New("record: the call ran no statements")
	}
	return rs.stmts, nil
}

// Replay runs stmts in one transaction and commits it: the same SQL the
// store ran, with the same arguments, without HTTP, the core's logic or
// the store's scanning. Because the recording was rolled back, replaying
// it has exactly the effect the recorded call would have had.
func (e *Engine) Replay(ctx context.Context, stmts []Stmt) error {
	return e.replay(ctx, stmts)
}

// Explain returns the query plan of s, one line per plan node.
func (e *Engine) Explain(ctx context.Context, s Stmt) ([]string, error) {
	return e.explain(ctx, s)
}

// isControl reports transaction-control statements, which have no plan.
func isControl(q string) bool {
	q = strings.ToUpper(strings.TrimSpace(q))
	return strings.HasPrefix(q, "SAVEPOINT") || strings.HasPrefix(q, "RELEASE") || strings.HasPrefix(q, "ROLLBACK")
}

// describe shortens a statement for a report.
func describe(q string) string {
	return strings.Join(strings.Fields(q), " ")
}

// floorsAndPlans measures, in-process on the main-size database, what the
// store does without HTTP (the store floor: the same Service calls the
// handlers make) and what its SQL costs without the core (the raw-SQL
// floor: the recorded statements replayed), then explains the statements
// of the removal and access paths.
func (r *runner) floorsAndPlans(ctx context.Context) error {
	svc := membership.NewService(r.e.Store, membership.DefaultConfig())
	n := r.cfg.FloorRequests
	r.pid = os.Getpid()
	if r.cfg.Scenarios["S1"] {
		batches := r.batches(r.cfg.FloorBatches)
		if err := r.settleS1(ctx); err != nil {
			return err
		}
		stop := r.watchPG(ctx, "S1 store floor")
		s, err := r.loop(ctx, 1, len(batches), func(ctx context.Context, i int) (int, error) {
			res, err := svc.RemoveBatch(membership.WithReportDiscarded(ctx), r.d.Actor("highq"), r.siteBatch(batches[i]))
			if err == nil && res.Removed != len(batches[i]) {
				err = fmt.Errorf("removed %d of %d", res.Removed, len(batches[i]))
			}
			return len(batches[i]), err
		})
		stop()
		r.res.StoreS1 = &s
		r.logf("store floor S1: %.0f removals/s (%s)", s.ItemRate(), s)
		if err != nil {
			r.fail("store floor S1: %v", err)
		}
		batches = r.batches(r.cfg.FloorBatches)
		recorded := make([][]Stmt, len(batches))
		for i, b := range batches {
			if recorded[i], err = r.e.Record(ctx, func(svc *membership.Service) error {
				_, err := svc.RemoveBatch(membership.WithReportDiscarded(ctx), r.d.Actor("highq"), r.siteBatch(b))
				return err
			}); err != nil {
				return fmt.Errorf("record S1: %w", err)
			}
		}
		recorded = rechain(recorded)
		if err := r.coldCaches(ctx); err != nil {
			return err
		}
		if err := r.settleS1(ctx); err != nil {
			return err
		}
		svc = membership.NewService(r.e.Store, membership.DefaultConfig())
		stop = r.watchPG(ctx, "S1 raw floor")
		raw, err := r.loop(ctx, 1, len(batches), func(ctx context.Context, i int) (int, error) {
			return len(batches[i]), r.e.Replay(ctx, recorded[i])
		})
		stop()
		r.res.RawS1 = &raw
		r.logf("raw-SQL floor S1: %.0f removals/s (%s, %d statements a batch)", raw.ItemRate(), raw, len(recorded[0]))
		if err != nil {
			r.fail("raw floor S1: %v", err)
		}
	}
	if r.cfg.Scenarios["S4"] {
		last := r.d.S4[len(r.d.S4)-1]
		s, err := r.loop(ctx, 1, r.cfg.S4DryRuns, func(ctx context.Context, i int) (int, error) {
			// As the native handler calls it: every API call carries a
			// guard, and a dry run under one reads its lists whole to tag
			// the preview (the ETag an If-Match offboarding must match).
			ctx = membership.WithGuard(ctx, &membership.Guard{})
			rep, err := svc.RemoveMember(ctx, r.d.Actor("native"), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: last}, DryRun: true})
			if err != nil {
				return 1, err
			}
			if n := rep.Counts.DirectGrants + rep.Counts.GroupGrants; n != r.res.S4Grants && r.res.S4Grants != 0 {
				return 1, fmt.Errorf("dry run counted %d grants, over HTTP %d", n, r.res.S4Grants)
			}
			return 1, nil
		})
		r.res.StoreS4Dry = &s
		r.logf("store floor S4 dry run: %s", s)
		if err != nil {
			r.fail("store floor S4: %v", err)
		}
	}
	if r.cfg.Scenarios["S2"] {
		for _, mode := range r.e.groupModes() {
			if err := r.e.Reopen(ctx, mode); err != nil {
				return err
			}
			svc := membership.NewService(r.e.Store, membership.DefaultConfig())
			into := map[int]*Summary{}
			r.res.StoreS2[mode.String()] = into
			r.res.StoreModes = append(r.res.StoreModes, mode.String())
			for _, level := range r.cfg.S2Levels {
				targets := r.pick.pick(n, r.d.Members)
				s, err := r.loop(ctx, level, n, func(ctx context.Context, i int) (int, error) {
					_, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), r.d.Actor("jicoo"), membership.RemoveMemberRequest{
						Member: membership.MemberRef{ID: r.d.MemberID(targets[i])}})
					return 1, err
				})
				into[level] = &s
				r.logf("store floor S2 (%s) at %d: %s", mode, level, s)
				if err != nil {
					r.fail("store floor S2 at %d: %v", level, err)
				}
			}
		}
		if err := r.e.Reopen(ctx, GroupMode{On: true}); err != nil {
			return err
		}
		// One at a time: the recordings' audit events are placed in the
		// chain in the order they are replayed (rechain).
		for _, level := range []int{1} {
			targets := r.pick.pick(n, r.d.Members)
			recorded := make([][]Stmt, n)
			for i, t := range targets {
				var err error
				if recorded[i], err = r.e.Record(ctx, func(svc *membership.Service) error {
					_, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), r.d.Actor("jicoo"), membership.RemoveMemberRequest{Member: membership.MemberRef{ID: r.d.MemberID(t)}})
					return err
				}); err != nil {
					return fmt.Errorf("record S2: %w", err)
				}
			}
			recorded = rechain(recorded)
			if err := r.coldCaches(ctx); err != nil {
				return err
			}
			s, err := r.loop(ctx, level, n, func(ctx context.Context, i int) (int, error) {
				return 1, r.e.Replay(ctx, recorded[i])
			})
			r.res.RawS2[level] = &s
			r.logf("raw-SQL floor S2 at %d: %s (%d statements a removal)", level, s, len(recorded[0]))
			if err != nil {
				r.fail("raw floor S2 at %d: %v", level, err)
			}
		}
	}
	if err := r.checkStatements(ctx); err != nil {
		return err
	}
	return r.plans(ctx)
}

// eventColumns is how many arguments a row of the store's chained event
// INSERT takes (sqlstore insertChained), and seqColumn which is the
// event's place in its organization's chain.
const eventColumns, seqColumn = 20, 17

// rechain readies recorded operations to be replayed one after another,
// in order. Each was recorded from the same state and rolled back, so
// each numbered its audit events as the first after that state (SQLite
// takes ids from the table's high-water mark) and placed them first in
// the organization's chain: replayed as recorded, the second would take
// the first's ids and chain positions. Each operation's event ids (where
// they collide) and chain positions move past those of the operations
// before it. The rows' hashes stay as recorded: the floor writes the same
// rows the store would, not a chain anyone verifies.
func rechain(ops [][]Stmt) [][]Stmt {
	var lastID, lastSeq int64
	out := make([][]Stmt, len(ops))
	for i, op := range ops {
		idShift, seqShift := int64(-1), int64(-1)
		shifts := func(id, seq int64) {
			if idShift < 0 {
				idShift, seqShift = max(0, lastID+1-id), max(0, lastSeq+1-seq)
			}
		}
		out[i] = make([]Stmt, len(op))
		for j, s := range op {
			q := strings.TrimSpace(s.Query)
			args := slices.Clone(s.Args)
			withHead := strings.HasPrefix(q, "WITH chained AS (INSERT INTO events (id,")
			switch {
			case withHead || strings.HasPrefix(q, "INSERT INTO events (id,"):
				rows := len(args) / eventColumns
				for k := range rows {
					id, seq := &args[k*eventColumns], &args[k*eventColumns+seqColumn]
					shifts(asInt(*id), asInt(*seq))
					*id, *seq = asInt(*id)+idShift, asInt(*seq)+seqShift
					lastID, lastSeq = max(lastID, asInt(*id)), max(lastSeq, asInt(*seq))
				}
				if withHead {
					args[rows*eventColumns] = asInt(args[rows*eventColumns]) + seqShift
				}
			case strings.HasPrefix(q, "UPDATE event_chain_heads SET seq = ") && seqShift >= 0:
				args[0] = asInt(args[0]) + seqShift
			}
			out[i][j] = Stmt{Query: s.Query, Args: args, Rows: s.Rows}
		}
	}
	return out
}

// asInt is an integer argument as the store passed it.
func asInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	}
	panic(fmt.Sprintf("bench: recorded argument %v (%T) is not an integer", v, v))
}

// coldCaches reopens the store between recording removals and replaying
// them. Recording reads every page the replay will touch, so without it
// the replay found them in the write connection's page cache, while the
// server over HTTP starts cold and, at 1M members, reads most of its
// pages from the operating system: the floor measured a warm cache
// against a cold one. Reopening drops the connections' caches (SQLite's
// per connection; PostgreSQL's shared buffers stay as they are, as they
// do for the server).
func (r *runner) coldCaches(ctx context.Context) error {
	if err := r.e.Reopen(ctx, GroupMode{On: true}); err != nil {
		return fmt.Errorf("reopen before replay: %w", err)
	}
	return nil
}

// settleS1 starts each S1 measurement (over HTTP and both floors) right
// after a checkpoint, so that the three pay alike for the pages they
// change first. PostgreSQL writes a page changed for the first time since
// a checkpoint whole to the WAL, and a batch changes about a hundred
// members' pages at random: at 1M members a batch wrote 1.4 MB of WAL
// right after the load's checkpoint and 0.5 MB once 35,000 more members
// had been removed, the same calls interleaved over HTTP and in-process.
// S1 over HTTP used to run right after the load (and S5), the floors
// after every other scenario; interleaved batch by batch, memberd over
// HTTP and the same core call in-process were within noise of each other.
// On PostgreSQL it first runs the engine's prepareS1 (settlePostgres), so
// that the three also find the same pages in shared buffers; that has
// vacuumed, so the checkpoint after it does not vacuum again.
func (r *runner) settleS1(ctx context.Context) error {
	if r.e.prepareS1 != nil {
		did, err := r.e.prepareS1(ctx)
		if err != nil {
			return fmt.Errorf("prepare S1: %w", err)
		}
		r.logf("before S1: %s", did)
	}
	if _, err := r.e.settle(ctx, r.e.prepareS1 == nil); err != nil {
		return fmt.Errorf("settle before S1: %w", err)
	}
	return nil
}

// batches picks n batches of 100 members for site removals.
func (r *runner) batches(n int) [][]int64 {
	out := make([][]int64, n)
	for i := range out {
		for _, t := range r.pick.pick(100, r.d.Members) {
			out[i] = append(out[i], r.d.MemberID(t))
		}
	}
	return out
}

// siteBatch is the core call HighQ's handler makes for ids.
func (r *runner) siteBatch(ids []int64) membership.BatchRequest {
	items := make([]membership.MemberRef, len(ids))
	for i, id := range ids {
		items[i] = membership.MemberRef{ID: id}
	}
	return membership.BatchRequest{Scope: membership.ScopeSpace, Space: membership.Ref{ID: r.d.siteID},
		Items: items, Rule: membership.RuleAdminAddedOnly}
}

// plans explains every statement of the S1, S2, S3 and S4 paths.
func (r *runner) plans(ctx context.Context) error {
	a := r.d.Actor("bench")
	target := r.d.MemberID(r.pick.pick(1, r.d.Members)[0])
	paths := []struct {
		name string
		call func(svc *membership.Service) error
	}{
		{"S1 site removal (HighQ, per id)", func(svc *membership.Service) error {
			_, err := svc.RemoveBatch(membership.WithReportDiscarded(ctx), a, r.siteBatch([]int64{target}))
			return err
		}},
		{"S2/S5 member removal (Jicoo)", func(svc *membership.Service) error {
			_, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: target}})
			return err
		}},
		{"S3 access check", func(svc *membership.Service) error {
			_, err := svc.CheckAccess(ctx, a, membership.MemberRef{ID: target}, membership.Ref{ID: 1})
			return err
		}},
		{"S4 offboard everywhere", func(svc *membership.Service) error {
			_, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: r.d.S4[len(r.d.S4)-1]}, DryRun: true})
			return err
		}},
	}
	tables, err := r.e.tables(ctx)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		stmts, err := r.e.Record(ctx, p.call)
		if err != nil {
			return fmt.Errorf("record %s: %w", p.name, err)
		}
		for _, s := range stmts {
			key := describe(s.Query)
			if isControl(s.Query) || seen[key] {
				continue
			}
			seen[key] = true
			lines, err := r.e.Explain(ctx, s)
			if err != nil {
				return fmt.Errorf("explain %s: %w", key, err)
			}
			r.res.Plans = append(r.res.Plans, Plan{Path: p.name, Query: key, Lines: lines, FullScan: fullScan(lines, tables)})
		}
	}
	return nil
}

// fullScan returns the table a plan reads whole, if any: SQLite's "SCAN t"
// (with or without an index: a whole-index scan is no better) and
// PostgreSQL's "Seq Scan on t". Scans of a subquery's rows (SQLite's
// "SCAN paths" over a co-routine) are not table scans.
func fullScan(lines []string, tables map[string]bool) string {
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "->"))
		var name string
		if rest, ok := strings.CutPrefix(l, "SCAN "); ok {
			name = strings.Fields(rest)[0]
		} else if _, rest, ok := strings.Cut(l, "Seq Scan on "); ok {
			name = strings.Fields(rest)[0]
		}
		if tables[name] {
			return name
		}
	}
	return ""
}
