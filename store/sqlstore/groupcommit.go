package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memberd/memberd/membership"
)

// DefaultGroupMax is the most Update calls one group commit holds. It
// bounds how long the first caller of a group waits for the others and
// how many row locks one transaction collects.
const DefaultGroupMax = 128

// GroupTx is one engine transaction that a group commit runs many
// callers' work in. Its Tx must run statements with a context that no
// caller's cancellation reaches (see Detach): one caller giving up must
// not interrupt a statement of a transaction the others share.
type GroupTx interface {
	Tx() *Tx
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// NewGroupTx makes the GroupTx of an engine transaction: mtx runs its
// statements, commit and rollback end it. rollback must ignore a
// transaction that has already ended, as after a failed commit.
func NewGroupTx(mtx *Tx, commit, rollback func(ctx context.Context) error) GroupTx {
	return groupTx{mtx: mtx, commit: commit, rollback: rollback}
}

type groupTx struct {
	mtx              *Tx
	commit, rollback func(ctx context.Context) error
}

func (g groupTx) Tx() *Tx { return g.mtx }

func (g groupTx) Commit(ctx context.Context) error { return g.commit(ctx) }

func (g groupTx) Rollback(ctx context.Context) error {
	if err := g.rollback(ctx); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Group coalesces concurrent Update calls into one transaction and one
// durable commit (group commit), so that many small changes share the
// disk flush that would otherwise bound them to one change per flush.
//
// Every caller's fn runs in its own savepoint (or, Optimistic, in none
// until one fails): a fn that fails is rolled back alone and its caller
// gets its own error while the others' work goes on. Every caller is answered only after the commit that holds its
// work has returned (promise 1); if that commit fails, every caller in
// the group gets the commit's error, including those whose fn failed,
// because their fn may have decided on the others' uncommitted work.
//
// There is no background goroutine: the first caller to find no group
// running leads one group (the callers queued at that moment, up to max),
// then hands the lead to the first caller still queued. Groups therefore
// grow with load by themselves: a lone caller commits at once, and under
// load each group takes everything that queued during the previous one.
//
// A Group has one or more lanes, each running one group at a time; a
// caller joins the least busy lane. One lane suits an engine with a
// single writer (SQLite); a server engine can run a group per connection.
type Group struct {
	begin func(ctx context.Context) (GroupTx, error)
	max   int
	lanes []*lane

	// Retryable reports an error with which the server aborted a call's
	// statement only to resolve a conflict with another transaction
	// (a deadlock): the call's savepoint is rolled back and the call runs
	// again in a later group, up to 8 times. Nil: never.
	Retryable func(error) bool
	// Optimistic, when set, runs a group of several calls without a
	// savepoint per call at first: each savepoint is a round trip and a
	// subtransaction the server begins and ends, for the rare call that
	// fails. If any call fails (or panics) after its fn started, the whole
	// transaction is rolled back, as if it never was, and the calls run
	// again at once, each in its own savepoint; no caller has been answered
	// yet, and a call's work may run again as a Retryable one does. So a
	// failed call still changes nothing and the others' work commits. A
	// lane whose last group had a failing call sets savepoints from the
	// start of its next group.
	Optimistic bool
	// ChainSavepoints, when set, has one call's savepoint released and
	// the next call's set in one Exec of two statements, which an engine
	// with a multi-statement protocol (PostgreSQL's simple query) sends
	// in one round trip instead of two.
	ChainSavepoints bool
	// Observe, when set, is told of every group transaction once it has
	// ended: how many calls it held and how long it took from begin to
	// the end of its commit or rollback. It lets the wiring measure
	// group commit without this package importing a metrics library.
	Observe CommitObserver

	groups     atomic.Int64
	calls      atomic.Int64
	savepoints atomic.Int64
}

// CommitObserver is told the size and duration of each group transaction.
// It runs on the committing caller's goroutine and must not block.
type CommitObserver func(calls int, took time.Duration)

// lane runs one group at a time.
type lane struct {
	mu      sync.Mutex
	queue   []*groupCall
	running bool
	// failed says a call of the lane's last group failed: an Optimistic
	// group then sets savepoints from the start, so that calls that keep
	// failing (a client retrying refused removals) do not have every
	// group run twice. Only the lane's leader reads and writes it.
	failed bool
}

// GroupStats counts what a Group did.
type GroupStats struct {
	// Groups counts groups run: an Optimistic group run again in
	// savepoints after a failure counts once, though it began twice.
	Groups int64
	Calls  int64 // Update calls run in them (a call retried in a later group counts again)
	// Savepoints counts the calls run in a savepoint of their own: with
	// Optimistic, only those of a group run again after a failure.
	Savepoints int64
	Queued     int // calls waiting for a group now
}

// NewGroup returns a Group that opens its transactions with begin, puts
// at most size calls in one (DefaultGroupMax if max <= 0) and runs up to
// lanes groups at once (at least 1).
func NewGroup(begin func(ctx context.Context) (GroupTx, error), size, lanes int) *Group {
	if size <= 0 {
		size = DefaultGroupMax
	}
	g := &Group{begin: begin, max: size}
	for range max(lanes, 1) {
		g.lanes = append(g.lanes, &lane{})
	}
	return g
}

// Stats reports how many groups ran and how many calls they held; a nil
// Group (group commit off) reports zero.
func (g *Group) Stats() GroupStats {
	if g == nil {
		return GroupStats{}
	}
	queued := 0
	for _, l := range g.lanes {
		l.mu.Lock()
		queued += len(l.queue)
		l.mu.Unlock()
	}
	return GroupStats{Groups: g.groups.Load(), Calls: g.calls.Load(), Savepoints: g.savepoints.Load(), Queued: queued}
}

type groupCall struct {
	ctx context.Context
	fn  func(membership.Tx) error

	// done is closed when the call is answered (err or panicked set).
	done chan struct{}
	// promote tells a queued caller to lead the next group.
	promote  chan struct{}
	err      error
	panicked any
	ran      bool // fn was started in the current group
	attempts int  // groups fn has run in
}

// Update runs fn in a group transaction and returns after that
// transaction's commit (or its failure), with the semantics of
// membership.Store.Update.
func (g *Group) Update(ctx context.Context, fn func(membership.Tx) error) error {
	c := &groupCall{ctx: ctx, fn: fn, done: make(chan struct{}), promote: make(chan struct{}, 1)}
	l := g.pick()
	l.mu.Lock()
	l.queue = append(l.queue, c)
	lead := !l.running
	l.running = true
	l.mu.Unlock()
	if lead {
		g.runOne(l)
	}
	for {
		select {
		case <-c.done:
			if c.panicked != nil {
				panic(c.panicked)
			}
			return c.err
		case <-c.promote:
			// c heads its lane's queue, so the group it leads holds it.
			g.runOne(l)
		}
	}
}

// pick returns the least busy lane: an idle one if any, else the one
// with the shortest queue. Writers of one organization are spread over
// the lanes like any others: a group holds the organization's audit chain
// head only from its seal, after its callers' work, to its commit (run),
// so groups of other lanes do their work meanwhile. (Pinning an
// organization to one lane, needed while each caller sealed its own
// events, measured slower; see docs/decisions.md.)
func (g *Group) pick() *lane {
	if len(g.lanes) == 1 {
		return g.lanes[0]
	}
	best, bestLoad := g.lanes[0], -1
	for _, l := range g.lanes {
		l.mu.Lock()
		load := len(l.queue)
		if l.running {
			load++
		}
		l.mu.Unlock()
		if bestLoad < 0 || load < bestLoad {
			best, bestLoad = l, load
		}
		if load == 0 {
			break
		}
	}
	return best
}

// runOne runs the group at the head of l's queue and then hands the lead
// to the next queued caller, or stops leading if there is none.
func (g *Group) runOne(l *lane) {
	l.mu.Lock()
	n := min(len(l.queue), g.max)
	batch := make([]*groupCall, n)
	copy(batch, l.queue)
	l.queue = l.queue[n:]
	l.mu.Unlock()

	retry := g.run(l, batch)

	l.mu.Lock()
	l.queue = append(retry, l.queue...)
	var next *groupCall
	if len(l.queue) > 0 {
		next = l.queue[0]
	} else {
		l.running = false
	}
	l.mu.Unlock()
	if next != nil {
		next.promote <- struct{}{} // never blocks: a call is promoted only while queued
	}
}

// errGroupAborted answers callers whose work was lost because the shared
// transaction itself failed under them.
var errGroupAborted = errors.New("group commit transaction aborted")

// run runs batch in one transaction and answers every call in it, except
// those it returns to be run in the next group: calls whose fn never
// started because the transaction broke first, and calls whose fn failed
// only because the server aborted it to resolve a conflict (Retryable).
func (g *Group) run(l *lane, batch []*groupCall) (retry []*groupCall) {
	// The group's own statements run on a context that none of the
	// callers can cancel; each caller's cancellation stops its own fn.
	ctx := context.WithoutCancel(batch[0].ctx)
	if g.Observe != nil {
		defer func(start time.Time, n int) { g.Observe(n, time.Since(start)) }(time.Now(), len(batch))
	}
	g.groups.Add(1)
	g.calls.Add(int64(len(batch)))
	for _, c := range batch {
		c.ran, c.err, c.panicked = false, nil, nil
	}
	gtx, err := g.begin(ctx)
	if err != nil {
		return g.answer(batch, fmt.Errorf("begin: %w", err))
	}
	tx := gtx.Tx()
	if len(batch) > 1 && g.Optimistic && !l.failed {
		if g.runAll(tx, batch) {
			// A call that swallowed a statement's error and returned nil
			// leaves a transaction that cannot seal: in savepoints, its own
			// release fails instead, and the others' work is kept.
			if tx.Seal(ctx) == nil {
				return g.commit(ctx, gtx, batch)
			}
		}
		// A call failed: nothing of the group's transaction is kept, and
		// the calls run again in a new one, each in its own savepoint.
		l.failed = true
		if err := gtx.Rollback(ctx); err != nil {
			return g.answer(batch, fmt.Errorf("%w: %w", errGroupAborted, err))
		}
		for _, c := range batch {
			if c.ran {
				c.attempts-- // the group is run again, as one group
			}
			c.ran, c.err, c.panicked = false, nil, nil
		}
		if gtx, err = g.begin(ctx); err != nil {
			return g.answer(batch, fmt.Errorf("begin: %w", err))
		}
		tx = gtx.Tx()
	}
	if len(batch) == 1 {
		// Alone: no savepoint needed, the transaction is the caller's.
		c := batch[0]
		call(c, tx)
		if c.err == nil && c.panicked == nil {
			if err := tx.Seal(ctx); err != nil {
				return g.answer(batch, errors.Join(err, gtx.Rollback(ctx)))
			}
			if err := gtx.Commit(ctx); err != nil {
				return g.answer(batch, fmt.Errorf("commit: %w", err))
			}
			return g.answer(batch, nil)
		}
		if rerr := gtx.Rollback(ctx); rerr != nil && c.panicked == nil {
			c.err = errors.Join(c.err, rerr)
		}
		return g.answer(batch, nil)
	}
	opened := false // the next call's savepoint is set already
	for i, c := range batch {
		g.savepoints.Add(1)
		var broken error
		opened, broken = runInSavepoint(ctx, tx, i+1, c, opened, g.ChainSavepoints && i+1 < len(batch))
		if broken == nil {
			continue
		}
		if rerr := gtx.Rollback(ctx); rerr != nil {
			broken = errors.Join(broken, rerr)
		}
		// Work that ran is lost with the transaction: its callers get
		// the error. Calls that never started go to the next group,
		// unless none ran at all here, so that every group makes progress.
		var ran []*groupCall
		for _, c := range batch {
			if c.ran {
				ran = append(ran, c)
			} else {
				retry = append(retry, c)
			}
		}
		if len(ran) == 0 {
			ran, retry = batch, nil
		}
		return append(g.answer(ran, fmt.Errorf("%w: %w", errGroupAborted, broken)), retry...)
	}
	l.failed = false
	for _, c := range batch {
		l.failed = l.failed || c.ran && (c.err != nil || c.panicked != nil)
	}
	return g.seal(ctx, gtx, batch)
}

// runAll runs every call of batch on tx, no savepoint between them, and
// reports whether every fn that started succeeded. It stops at the first
// that did not: the transaction is to be rolled back whole. A call whose
// caller gave up before its fn started changed nothing and fails alone.
func (g *Group) runAll(tx *Tx, batch []*groupCall) bool {
	for _, c := range batch {
		call(c, tx)
		if c.ran && (c.err != nil || c.panicked != nil) {
			return false
		}
	}
	return true
}

// seal chains the events of batch's calls, commits gtx and answers the
// calls. The group's events are chained here, once, after every caller's
// work: each organization's chain head is locked from this point to the
// commit only, so groups of other lanes run their callers' work meanwhile
// and wait for the head only to seal.
func (g *Group) seal(ctx context.Context, gtx GroupTx, batch []*groupCall) (retry []*groupCall) {
	if err := gtx.Tx().Seal(ctx); err != nil {
		return g.answer(batch, fmt.Errorf("%w: %w", errGroupAborted, errors.Join(err, gtx.Rollback(ctx))))
	}
	return g.commit(ctx, gtx, batch)
}

// commit commits gtx and answers batch's calls.
func (g *Group) commit(ctx context.Context, gtx GroupTx, batch []*groupCall) (retry []*groupCall) {
	if err := gtx.Commit(ctx); err != nil {
		return g.answer(batch, fmt.Errorf("commit: %w", err))
	}
	return g.answer(batch, nil)
}

// answer answers calls, with err if it is set (a failed begin or commit
// replaces each caller's own outcome), and returns the calls that are to
// run again instead.
func (g *Group) answer(calls []*groupCall, err error) (retry []*groupCall) {
	for _, c := range calls {
		if err == nil && c.panicked == nil && c.err != nil && g.Retryable != nil && g.Retryable(c.err) &&
			c.attempts < maxGroupAttempts && c.ctx.Err() == nil {
			retry = append(retry, c)
			continue
		}
		if err != nil && c.panicked == nil {
			c.err = err
		}
		close(c.done)
	}
	return retry
}

// maxGroupAttempts bounds how often a call whose fn the server aborted to
// resolve a conflict is run again.
const maxGroupAttempts = 8

// runInSavepoint runs c's fn in savepoint gcN, which opened says is set
// already, and leaves c's own outcome in c. With chain, a successful fn's
// savepoint is released together with setting gcN+1, and next says so.
// It returns an error only when the transaction itself is broken (a
// savepoint could not be set, rolled back to or released), so that no
// later work may join it.
func runInSavepoint(ctx context.Context, tx *Tx, n int, c *groupCall, opened, chain bool) (next bool, broken error) {
	sp := savepointSQL(n)
	conn := tx.Conn()
	if !opened {
		if _, err := conn.Exec(ctx, sp.set); err != nil {
			return false, fmt.Errorf("savepoint: %w", err)
		}
	}
	pending := tx.CallStart()
	call(c, tx)
	if c.err == nil && c.panicked == nil {
		release := sp.release
		if chain {
			release = sp.releaseSetNext
		}
		_, err := conn.Exec(ctx, release)
		if err == nil {
			return chain, nil
		}
		// PostgreSQL refuses to release a savepoint in a transaction that
		// a swallowed statement error aborted: undo fn's work as a failure.
		c.err = fmt.Errorf("release savepoint: %w", err)
	}
	// The savepoint takes the caller's events with it: they are not chained.
	tx.Discard(pending)
	if _, err := conn.Exec(ctx, sp.rollback); err != nil {
		return false, fmt.Errorf("rollback to savepoint: %w", err)
	}
	if _, err := conn.Exec(ctx, sp.release); err != nil {
		return false, fmt.Errorf("release savepoint: %w", err)
	}
	return false, nil
}

// savepointStmts are the statements of a group's savepoint gcN.
type savepointStmts struct {
	set, release, releaseSetNext, rollback string
}

// savepoints holds the statements of savepoints gc1 to gcDefaultGroupMax,
// made once: made per call, they were a handful of allocations inside
// SQLite's single writer for every caller.
var savepoints = sync.OnceValue(func() []savepointStmts {
	sps := make([]savepointStmts, DefaultGroupMax+1)
	for n := 1; n <= DefaultGroupMax; n++ {
		sps[n] = makeSavepointSQL(n)
	}
	return sps
})

// savepointSQL returns the statements of savepoint gcN.
func savepointSQL(n int) savepointStmts {
	if sps := savepoints(); n < len(sps) {
		return sps[n]
	}
	return makeSavepointSQL(n)
}

func makeSavepointSQL(n int) savepointStmts {
	name := "gc" + strconv.Itoa(n)
	return savepointStmts{set: "SAVEPOINT " + name, release: "RELEASE SAVEPOINT " + name,
		releaseSetNext: "RELEASE SAVEPOINT " + name + "; SAVEPOINT gc" + strconv.Itoa(n+1),
		rollback:       "ROLLBACK TO SAVEPOINT " + name}
}

// call runs c's fn on tx, unless c's caller has already given up, and
// catches a panic so that it reaches its own caller, not the leader.
func call(c *groupCall, tx *Tx) {
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return
	}
	c.ran = true
	c.attempts++
	defer func() {
		if p := recover(); p != nil {
			c.panicked = p
		}
	}()
	pending := tx.CallStart()
	// The caller's events are chained with the whole group's before the
	// commit (run), not here: sealing per caller would lock the chain
	// head from the group's first caller to its commit.
	if c.err = c.fn(tx); c.err != nil {
		tx.Discard(pending)
	}
}

// Detach returns the context a statement of a shared transaction runs
// with: ctx without its cancellation, so that a caller giving up cannot
// interrupt a statement others depend on (SQLite rolls back the whole
// transaction on an interrupted write, and pgx closes the connection of a
// cancelled query). A caller that has already given up gets its own
// context back, which the drivers refuse before touching the connection.
func Detach(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// StmtContext is the context a statement of an engine transaction runs
// with: ctx itself, or Detach(ctx) when the transaction is a group's and
// so shared by callers who may give up one by one.
func StmtContext(ctx context.Context, shared bool) context.Context {
	if shared {
		return Detach(ctx)
	}
	return ctx
}
