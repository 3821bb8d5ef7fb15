package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/membership"
)

// accessMemory answers access checks from a copy of what they read
// (accessData), kept in this process and proven current without a
// statement, which the check's statement otherwise costs: about 40% of a
// check's server CPU on SQLite (the benchmark's S3).
//
// The copy is exact, not merely recent. The writer's connection reports
// every row it changes in a tracked table (SQLite's update hook); when the
// transaction ends, and before any of its callers is answered, those rows
// are marked dirty (committed), and a check answers from the copy only
// while no row is dirty. A goroutine re-reads dirty rows in a snapshot
// taken after they were marked and clears each mark only if no later
// commit marked the row again meanwhile (pass), so when nothing is dirty
// every row holds its last committed state. Other processes writing the
// same file (memberd's other commands, a second server) are caught by
// the commit counter they all add to after each commit (commitCounter):
// a count this process did not make means a change it did not see, and
// the copy is read again whole before it answers again.
type accessMemory struct {
	writer  *sql.DB // the writer's pool, for its lock (reload)
	db      *sql.DB // the readers
	counter *commitCounter
	max     int // most members the copy may hold
	log     *slog.Logger

	mu    sync.RWMutex
	data  *accessData // nil until loaded
	valid bool        // data holds every row as of the marks cleared
	off   error       // the database does not fit: checks read it
	dirty map[rowKey]uint64
	seq   uint64 // the last mark's number
	mine  uint64 // the commit count after this process's last commit
	inv   uint64 // invalidations, so that a pass that raced one is dropped
	// committing: this process's writer counted a commit whose rows are
	// not marked yet (between counting and changed); a pass in that
	// window may apply some of its rows and clear older marks of them.
	committing bool
	// lastReload and backoff pace whole reloads (reloadWait); the run
	// goroutine alone uses them.
	lastReload       time.Time
	answeredAtReload uint64
	backoff          time.Duration

	wake chan struct{}
	idle *time.Timer // pokes once the writes pause (changed)
	stop chan struct{}
	done sync.WaitGroup
	// passes counts completed passes; answered and declined count the
	// checks the copy answered and those it left to the database.
	passes, answered, declined atomic.Uint64
}

// rowKey names a row of a tracked table.
type rowKey struct {
	table trackedTable
	id    int64
}

// trackedTable is a table whose rows an access check reads.
type trackedTable uint8

const (
	tableMembers trackedTable = iota + 1
	tableResources
	tableChainHeads
	tableSpaceMembers
	tableGroupMembers
	tableGrants
)

// tracked is the trackedTable named name, 0 for any other table.
func tracked(name string) trackedTable {
	switch name {
	case "members":
		return tableMembers
	case "resources":
		return tableResources
	case "event_chain_heads":
		return tableChainHeads
	case "space_members":
		return tableSpaceMembers
	case "group_members":
		return tableGroupMembers
	case "grants":
		return tableGrants
	}
	return 0
}

// Pass timing: a woken pass waits cleanDelay so that a burst of commits
// is read back in one pass, and a failed load is tried again after
// retryDelay.
const (
	cleanDelay = 2 * time.Millisecond
	retryDelay = time.Second
	// cleanAfterIdle is the pause in writes after which the copy reads
	// back what they changed without waiting for a check to ask.
	cleanAfterIdle = 20 * time.Millisecond
	// counterCheckEvery is how often the copy makes sure the commit
	// counter's file is still the one every process maps.
	counterCheckEvery = time.Second
	// reloadQuiet is how long after a whole reload another one starts
	// without waiting (reloadWait).
	reloadQuiet = time.Second
	// cleanBatch bounds the rows one pass reads back.
	cleanBatch = 20_000
	// inChunk bounds the ids of one IN list.
	inChunk = 500
)

func newAccessMemory(writer, db *sql.DB, counter *commitCounter, maxMembers int, log *slog.Logger) *accessMemory {
	if log == nil {
		log = slog.Default()
	}
	a := &accessMemory{writer: writer, db: db, counter: counter, max: maxMembers, log: log, dirty: map[rowKey]uint64{},
		mine: counter.load(), wake: make(chan struct{}, 1), stop: make(chan struct{})}
	a.idle = time.AfterFunc(time.Hour, a.poke)
	a.idle.Stop()
	a.done.Add(1)
	go a.run()
	return a
}

func (a *accessMemory) close() {
	a.idle.Stop()
	close(a.stop)
	a.done.Wait()
	a.mu.Lock()
	a.setData(nil)
	a.valid = false
	a.off = errors.New("access memory: the store is closed")
	a.mu.Unlock()
}

// turnOff stops the copy for good (a.mu held): checks read the database,
// and changes are no longer marked.
func (a *accessMemory) turnOff(err error) {
	a.setData(nil)
	a.off, a.valid = err, false
	clear(a.dirty)
	a.log.Info("access memory off: checks read the database", "reason", err)
}

// setData replaces the copy's rows and frees the old ones (a.mu held: no
// check is reading them).
func (a *accessMemory) setData(d *accessData) {
	if a.data != nil {
		a.data.free()
	}
	a.data = d
}

// check answers a check by ids from the copy; ok is false when the copy
// cannot prove itself current, and then the caller reads the database.
func (a *accessMemory) check(org, member, resource int64) (ans *membership.AccessAnswer, ok bool) {
	if !fitsOrg(org) || member <= 0 || member > math.MaxInt32 || resource <= 0 || resource > math.MaxInt32 {
		return nil, false
	}
	a.mu.RLock()
	ok = a.valid && !a.committing && len(a.dirty) == 0 && a.counter.load() == a.mine
	if ok {
		ans = a.data.check(org, member, resource)
	}
	off := a.off != nil
	a.mu.RUnlock()
	if ok {
		a.answered.Add(1)
		return ans, true
	}
	a.declined.Add(1)
	if !off {
		a.poke()
	}
	return nil, false
}

func (a *accessMemory) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// counting counts a commit of this process's writer, right before it
// commits (Store.committing); a count it did not expect is another
// process's commit, whose changes the copy cannot know.
func (a *accessMemory) counting() {
	a.mu.Lock()
	n := a.counter.add()
	if n != a.mine+1 {
		a.invalidate()
	}
	a.mine = n
	a.committing = true
	a.mu.Unlock()
}

// changed is told, once a writer's transaction has ended and before any
// of its callers is answered, the tracked rows it changed (all of them
// unless overflow).
func (a *accessMemory) changed(rows []rowKey, overflow bool) {
	a.mu.Lock()
	a.committing = false
	if a.off != nil || len(rows) == 0 && !overflow {
		a.mu.Unlock()
		return
	}
	for _, k := range rows {
		a.seq++
		a.dirty[k] = a.seq
	}
	if overflow {
		a.invalidate()
	}
	many := len(a.dirty) >= cleanBatch
	a.mu.Unlock()
	// A steady stream of writes is not read back row by row as it goes
	// (BenchmarkRemovalCPU: 24% more CPU a removal when it was): a check
	// that finds the copy behind asks for a pass, and so does a pause in
	// the writes, or a batch's worth of marks.
	if many {
		a.poke()
	} else {
		a.idle.Reset(cleanAfterIdle)
	}
}

// invalidate makes the copy read again whole (a.mu held).
func (a *accessMemory) invalidate() {
	a.valid = false
	a.inv++
	// The reload's snapshot begins after these marks' commits: it covers
	// them, and they need not pile up while reloads keep failing.
	clear(a.dirty)
}

func (a *accessMemory) run() {
	defer a.done.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-a.stop
		cancel()
	}()
	a.poke() // the first load
	check := time.NewTicker(counterCheckEvery)
	defer check.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-check.C:
			if !a.counter.same() {
				a.mu.Lock()
				if a.off == nil {
					a.turnOff(errCounterReplaced)
				}
				a.mu.Unlock()
			}
			continue
		case <-a.wake:
		}
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(cleanDelay):
			}
			again, err := a.pass(ctx)
			a.passes.Add(1)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("access memory: reading the database failed; checks read it meanwhile", "err", err)
				select {
				case <-a.stop:
					return
				case <-time.After(retryDelay):
				}
				continue
			}
			if !again {
				break
			}
		}
	}
}

// pass brings the copy up to date once: reads it whole when it is not
// valid, else reads back a batch of dirty rows. again: there is more.
func (a *accessMemory) pass(ctx context.Context) (again bool, err error) {
	a.mu.Lock()
	if a.off != nil {
		a.mu.Unlock()
		return false, nil
	}
	if a.counter.load() != a.mine {
		a.invalidate() // another process committed: what it changed is unknown
	}
	inv, snap, valid := a.inv, a.seq, a.valid
	var keys []rowKey
	if valid {
		for k := range a.dirty {
			keys = append(keys, k)
			if len(keys) == cleanBatch {
				break
			}
		}
	}
	a.mu.Unlock()
	if !valid {
		select {
		case <-time.After(a.reloadWait()):
		case <-ctx.Done():
			return false, ctx.Err()
		}
		return a.reload(ctx)
	}
	if len(keys) == 0 {
		return false, nil
	}
	// The snapshot begins with the first statement, after snap was read:
	// every change marked up to snap committed before it.
	rows, err := readAccessRows(ctx, a.db, keys)
	if err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inv != inv {
		return true, nil
	}
	err = rows.apply(a.data)
	if err == nil {
		err = a.data.within(a.max)
	}
	if turnsOff(err) {
		a.turnOff(err)
		return false, nil
	}
	if err != nil {
		a.invalidate() // read again whole
		return true, nil
	}
	for _, k := range keys {
		if a.dirty[k] <= snap {
			delete(a.dirty, k)
		}
	}
	return len(a.dirty) > 0, nil
}

// reloadWait is how long to wait before reading the copy again whole:
// nothing when the last load answered a check or was a quiet second ago,
// else twice the last wait (from 50 ms, at most 10 s), so that another
// process committing faster than a load costs a load every 10 s, not one
// after another that never answers.
func (a *accessMemory) reloadWait() time.Duration {
	switch {
	case a.answered.Load() != a.answeredAtReload || time.Since(a.lastReload) > reloadQuiet:
		a.backoff = 0
	case a.backoff == 0:
		a.backoff = 50 * time.Millisecond
	default:
		a.backoff = min(2*a.backoff, 10*time.Second)
	}
	return a.backoff
}

// reload reads the copy whole and installs it unless it was invalidated
// meanwhile. Its snapshot begins while it holds SQLite's write lock, so
// no writer of any process is between counting its commit and making it:
// every commit counted before the count it adopts is in the snapshot, and
// so is every change marked dirty by then (their marks are cleared).
func (a *accessMemory) reload(ctx context.Context) (again bool, err error) {
	start := time.Now()
	tx, inv, snap, err := a.snapshotBetweenWriters(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	d, err := loadAccessData(ctx, tx, a.max)
	a.lastReload, a.answeredAtReload = time.Now(), a.answered.Load()
	a.mu.Lock()
	defer a.mu.Unlock()
	if turnsOff(err) {
		a.turnOff(err)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if a.inv != inv {
		d.free()
		return true, nil
	}
	a.setData(d)
	a.valid = true
	for k, n := range a.dirty {
		if n <= snap {
			delete(a.dirty, k)
		}
	}
	a.log.Info("access memory loaded", "holds", d.size(), "took", time.Since(start).Round(time.Millisecond))
	return len(a.dirty) > 0, nil
}

// snapshotBetweenWriters begins a read transaction whose snapshot holds
// every commit counted so far, and adopts the count. It takes the write
// lock for as long as that takes (BEGIN IMMEDIATE on the writer's pool,
// queued behind this process's writer like any transaction).
func (a *accessMemory) snapshotBetweenWriters(ctx context.Context) (tx *sql.Tx, inv, snap uint64, err error) {
	w, err := a.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	defer w.Rollback() //nolint:errcheck // it wrote nothing
	tx, err = a.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, 0, err
	}
	var n int64
	// A read transaction's snapshot begins with its first read.
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_chain_heads`).Scan(&n); err != nil {
		tx.Rollback() //nolint:errcheck // read only
		return nil, 0, 0, err
	}
	a.mu.Lock()
	a.mine = a.counter.load()
	inv, snap = a.inv, a.seq
	a.mu.Unlock()
	return tx, inv, snap, nil
}

// errAccessTooLarge: more members, or more rows, than the copy may hold.
var errAccessTooLarge = errors.New("access memory: more than it may hold")

// turnsOff reports an error after which the copy stays off: the database
// does not fit it, or the system refused it memory.
func turnsOff(err error) bool {
	return errors.Is(err, errAccessIDs) || errors.Is(err, errAccessSparse) || errors.Is(err, errAccessTooLarge) ||
		errors.Is(err, errAccessMemory) || errors.Is(err, errCounterReplaced)
}

// errCounterReplaced: the commit counter's file is not the one mapped.
var errCounterReplaced = errors.New("access memory: the commit counter file was deleted or replaced; restart every memberd process on this database")

// loadAccessData reads every row a check reads, in tx's snapshot.
func loadAccessData(ctx context.Context, tx *sql.Tx, maxMembers int) (*accessData, error) {
	var count, top int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(id), 0) FROM members`).Scan(&count, &top); err != nil {
		return nil, fmt.Errorf("access memory: %w", err)
	}
	switch {
	case count > int64(maxMembers):
		return nil, fmt.Errorf("%w (%d members, at most %d)", errAccessTooLarge, count, maxMembers)
	}
	d := newAccessData()
	// Sized once from each table's highest id, so that the load does not
	// grow and copy them row by row.
	for _, t := range []struct {
		table string
		size  func(n int64) error
	}{
		{"members", func(n int64) (err error) { d.members, err = resize(d.members, n); return err }},
		{"resources", func(n int64) (err error) { d.resources, err = resize(d.resources, n); return err }},
		{"space_members", func(n int64) (err error) { d.spaceRows, err = resize(d.spaceRows, n); return err }},
		{"group_members", func(n int64) (err error) { d.groupRows, err = resize(d.groupRows, n); return err }},
		{"grants", func(n int64) (err error) {
			if d.directRows, err = resize(d.directRows, n); err != nil {
				return err
			}
			d.groupGrantRows, err = resize(d.groupGrantRows, n)
			return err
		}},
	} {
		var rows, top int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(id), 0) FROM `+t.table).Scan(&rows, &top); err != nil {
			d.free()
			return nil, fmt.Errorf("access memory: %w", err)
		}
		switch {
		case top > math.MaxInt32:
			d.free()
			return nil, errAccessIDs
		case top > 2*rows+sparseSlack:
			d.free()
			return nil, errAccessSparse
		}
		if err := t.size(top + 1); err != nil {
			d.free()
			return nil, err
		}
	}
	steps := []struct {
		query string
		apply func(v [5]int64) error
	}{
		{`SELECT id, org_id, status = 'active', 0, 0 FROM members`,
			func(v [5]int64) error { return d.setMember(v[0], v[1], v[2] == 1, true) }},
		{`SELECT id, org_id, COALESCE(space_id, 0), 0, 0 FROM resources`,
			func(v [5]int64) error { return d.setResource(v[0], v[1], v[2], true) }},
		{`SELECT rowid, org_id, seq, 0, 0 FROM event_chain_heads`,
			func(v [5]int64) error { d.setHead(v[0], v[1], v[2], true); return nil }},
		{`SELECT id, member_id, space_id, 0, 0 FROM space_members WHERE status = 'active'`,
			func(v [5]int64) error { return d.setLink(linkSpace, v[0], v[1], v[2], true) }},
		{`SELECT id, member_id, group_id, 0, 0 FROM group_members WHERE status = 'active'`,
			func(v [5]int64) error { return d.setLink(linkGroup, v[0], v[1], v[2], true) }},
		{`SELECT id, COALESCE(member_id, 0), COALESCE(group_id, 0), resource_id, 0 FROM grants WHERE status = 'active'`,
			func(v [5]int64) error { return d.setGrant(v[0], v[1], v[2], v[3], true) }},
	}
	for _, st := range steps {
		if err := scanInts(ctx, tx, st.query, nil, st.apply); err != nil {
			d.free()
			return nil, err
		}
	}
	if err := d.within(maxMembers); err != nil {
		d.free()
		return nil, err
	}
	return d, nil
}

// setGrant records grants row id: a direct grant in its member's list, a
// group grant in its resource's.
func (d *accessData) setGrant(id, member, group, resource int64, active bool) error {
	// A grant names a member or a group, never both, and never changes
	// which (the table's CHECK and no UPDATE of either): the row is in at
	// most one of the two lists, which setLink leaves first.
	if err := d.setLink(linkDirect, id, member, resource, active && member != 0); err != nil {
		return err
	}
	return d.setLink(linkGroupGrant, id, resource, group, active && member == 0)
}

// scanInts runs query and hands apply each row's integer columns (up to
// five; SQLite's booleans are integers).
func scanInts(ctx context.Context, tx *sql.Tx, query string, args []any, apply func([5]int64) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("access memory: %w", err)
	}
	defer rows.Close()
	var v [5]int64
	dest := []any{&v[0], &v[1], &v[2], &v[3], &v[4]}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("access memory: %w", err)
		}
		if err := apply(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("access memory: %w", err)
	}
	return nil
}

// accessRows are tracked rows read back: for each table, the ids asked
// for and the rows found.
type accessRows struct {
	asked map[trackedTable][]int64
	found map[trackedTable]map[int64][5]int64
}

// rereads are the statements that read rows of each table back by id,
// in the column order of loadAccessData's.
var rereads = map[trackedTable]string{
	tableMembers:      `SELECT id, org_id, status = 'active', 0, 0 FROM members WHERE id IN (`,
	tableResources:    `SELECT id, org_id, COALESCE(space_id, 0), 0, 0 FROM resources WHERE id IN (`,
	tableChainHeads:   `SELECT rowid, org_id, seq, 0, 0 FROM event_chain_heads WHERE rowid IN (`,
	tableSpaceMembers: `SELECT id, member_id, space_id, status = 'active', 0 FROM space_members WHERE id IN (`,
	tableGroupMembers: `SELECT id, member_id, group_id, status = 'active', 0 FROM group_members WHERE id IN (`,
	tableGrants:       `SELECT id, COALESCE(member_id, 0), COALESCE(group_id, 0), resource_id, status = 'active' FROM grants WHERE id IN (`,
}

// readAccessRows reads keys' rows in one snapshot.
func readAccessRows(ctx context.Context, db *sql.DB, keys []rowKey) (*accessRows, error) {
	r := &accessRows{asked: map[trackedTable][]int64{}, found: map[trackedTable]map[int64][5]int64{}}
	for _, k := range keys {
		r.asked[k.table] = append(r.asked[k.table], k.id)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // read only
	var b strings.Builder
	for t, ids := range r.asked {
		found := map[int64][5]int64{}
		r.found[t] = found
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), inChunk)]
			ids = ids[len(chunk):]
			b.Reset()
			b.WriteString(rereads[t])
			args := make([]any, len(chunk))
			for i, id := range chunk {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString("?" + strconv.Itoa(i+1))
				args[i] = id
			}
			b.WriteByte(')')
			if err := scanInts(ctx, tx, b.String(), args, func(v [5]int64) error { found[v[0]] = v; return nil }); err != nil {
				return nil, err
			}
		}
	}
	return r, tx.Commit()
}

// apply writes the rows read back into d: owners first (members,
// resources), then the rows linked into their lists. A row asked for and
// not found is gone.
func (r *accessRows) apply(d *accessData) error {
	for t := tableMembers; t <= tableGrants; t++ {
		found := r.found[t]
		for _, id := range r.asked[t] {
			v, ok := found[id]
			var err error
			switch t {
			case tableMembers:
				err = d.setMember(id, v[1], v[2] == 1, ok)
			case tableResources:
				err = d.setResource(id, v[1], v[2], ok)
			case tableChainHeads:
				d.setHead(id, v[1], v[2], ok)
			case tableSpaceMembers:
				err = d.setLink(linkSpace, id, v[1], v[2], ok && v[3] == 1)
			case tableGroupMembers:
				err = d.setLink(linkGroup, id, v[1], v[2], ok && v[3] == 1)
			case tableGrants:
				err = d.setGrant(id, v[1], v[2], v[3], ok && v[4] == 1)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}
