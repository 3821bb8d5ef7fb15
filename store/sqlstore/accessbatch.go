package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// AccessBatcher runs concurrent one-statement access checks of one shape
// as one statement, the way group commit runs concurrent changes as one
// transaction. On PostgreSQL most of a check's cost is fixed per
// statement (plan setup and teardown, the backend's wake-up and context
// switches), not per row; a check that arrives while its shape's
// statements are in flight waits for one to return and then goes with the
// others that waited, as one statement that takes their arguments as
// arrays and runs the check once per row (LATERAL). When accessBatchEarly
// checks wait, they go at once, one statement more than the bound, rather
// than two statement times after the first of them arrived. A lone check
// runs at once, on its view's connection, as it would without a batcher.
//
// A batched statement is sent after every check in it arrived, so each
// check still reads a snapshot taken after its request (promise 2).
type AccessBatcher struct {
	query    func(ctx context.Context, q string, args ...any) (Rows, error)
	inFlight int
	mu       sync.Mutex
	lanes    map[accessCheckShape]*accessLane
}

// AccessBatchConn is a Conn that can hand a one-statement access check to
// a batcher; it returns nil when the check must run on the Conn itself.
type AccessBatchConn interface {
	AccessBatcher() *AccessBatcher
}

// maxAccessBatch bounds the checks of one batched statement: larger
// batches gain little and delay their first check's answer.
const maxAccessBatch = 64

// accessBatchEarly is how many waiting checks start a batch of their own
// while their shape's statements are all in flight, one more statement
// at most. At 8, S3 over HTTP at concurrency 16, 100k members, alternating
// runs against the bound alone on a loaded 2-core machine (load 2-4.3):
// backend CPU per check 0.90x (65 against 72 microseconds, means of 7
// and 9 runs), server CPU 0.93x (107 against 115). Once checks with and
// without Since shared a lane, batches were larger and 8 waiting started
// a second statement often: 16 against 8, TestS3CPU at 100k members,
// three runs of 8-10 abba rounds (medians of the rounds' ratios):
// statements a check 0.69-0.75x, backend CPU a check 0.76-0.79x, server
// CPU 0.83-1.01x, checks/s 1.00-1.17x; p99 not told apart under that load
// (0.96-1.22x). 64 (never before the batch is full) was not told apart
// from 16 (backends 0.80x against 0.79x).
const accessBatchEarly = 16

// NewAccessBatcher returns a batcher that runs batched statements with
// query, at most inFlight statements of a shape at a time; query must take
// its snapshot when the statement starts (one statement outside a
// transaction).
func NewAccessBatcher(query func(ctx context.Context, q string, args ...any) (Rows, error), inFlight int) *AccessBatcher {
	return &AccessBatcher{query: query, inFlight: max(inFlight, 1), lanes: map[accessCheckShape]*accessLane{}}
}

type accessLane struct {
	busy  int // statements of the shape in flight
	queue []*accessCall
}

// accessCall is one waiting check.
type accessCall struct {
	args []any
	rows []accessRow
	err  error
	done chan struct{}
	// gone says its caller stopped waiting; batch is the batch it went
	// in, if any. Both under AccessBatcher.mu.
	gone  bool
	batch *accessBatch
}

// accessBatch is a batched statement in flight; it is cancelled once none
// of its callers waits for it any more.
type accessBatch struct {
	waiting int // under AccessBatcher.mu
	cancel  context.CancelFunc
}

// accessRow is one row of an access check's statement.
type accessRow struct {
	kind       int
	a, b, c, d sql.NullInt64
}

// check runs one check of shape sh: alone, through alone, when fewer
// than inFlight statements of sh are in flight, else batched with others
// (rows is then its rows, and alone is not called).
func (b *AccessBatcher) check(ctx context.Context, sh accessCheckShape, args []any, alone func() error) (rows []accessRow, batched bool, err error) {
	b.mu.Lock()
	l := b.lanes[sh]
	if l == nil {
		l = &accessLane{}
		b.lanes[sh] = l
	}
	if l.busy < b.inFlight {
		l.busy++
		b.mu.Unlock()
		err := alone()
		b.release(sh, l)
		return nil, false, err
	}
	c := &accessCall{args: args, done: make(chan struct{})}
	l.queue = append(l.queue, c)
	if len(l.queue) >= accessBatchEarly && l.busy < b.inFlight+1 {
		// A full enough batch need not wait for the statement in
		// flight: waiting for it is what puts a check two statement
		// times behind its arrival.
		l.busy++
		b.start(sh, l)
	}
	b.mu.Unlock()
	select {
	case <-c.done:
		return c.rows, true, c.err
	case <-ctx.Done():
		// The batch goes on for the others; its rows for c are dropped.
		b.mu.Lock()
		c.gone = true
		if c.batch != nil {
			if c.batch.waiting--; c.batch.waiting == 0 {
				c.batch.cancel()
			}
		}
		b.mu.Unlock()
		return nil, true, ctx.Err()
	}
}

// release ends a statement of sh: the checks that waited meanwhile go
// next, as one statement, in the slot the ended one leaves.
func (b *AccessBatcher) release(sh accessCheckShape, l *accessLane) {
	b.mu.Lock()
	b.start(sh, l)
	b.mu.Unlock()
}

// start sends the checks that wait in l, as one statement, in a slot of
// sh already counted in l.busy; with none waiting it frees the slot.
// b.mu is held.
func (b *AccessBatcher) start(sh accessCheckShape, l *accessLane) {
	var calls []*accessCall
	for len(l.queue) > 0 && len(calls) < maxAccessBatch {
		if c := l.queue[0]; !c.gone {
			calls = append(calls, c)
		}
		l.queue = l.queue[1:]
	}
	if len(calls) == 0 {
		l.busy--
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	batch := &accessBatch{waiting: len(calls), cancel: cancel}
	for _, c := range calls {
		c.batch = batch
	}
	go func() {
		b.run(ctx, sh, calls)
		cancel()
		b.release(sh, l)
	}()
}

// run runs calls as one statement and hands each its rows or the error.
// No caller's cancellation may fail the others, so the statement runs
// until all of them stopped waiting.
func (b *AccessBatcher) run(ctx context.Context, sh accessCheckShape, calls []*accessCall) {
	q, args := accessBatchQuery(sh, calls)
	err := b.collect(ctx, q, args, calls)
	for _, c := range calls {
		c.err = err
		close(c.done)
	}
}

func (b *AccessBatcher) collect(ctx context.Context, q string, args []any, calls []*accessCall) error {
	rows, err := b.query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("batched access check: %w", err)
	}
	defer rows.Close()
	var i int
	for rows.Next() {
		var r accessRow
		if err := rows.Scan(&i, &r.kind, &r.a, &r.b, &r.c, &r.d); err != nil {
			return fmt.Errorf("batched access check: %w", err)
		}
		if i < 1 || i > len(calls) {
			return fmt.Errorf("batched access check: row for check %d of %d", i, len(calls))
		}
		calls[i-1].rows = append(calls[i-1].rows, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("batched access check: %w", err)
	}
	return nil
}

// accessBatchSQL keeps the batched statement of each shape, in its two
// forms.
var accessBatchSQL sync.Map // accessBatchKey → string

type accessBatchKey struct {
	sh     accessCheckShape
	shared bool
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// accessBatchQuery is the statement that runs calls, all of shape sh, and
// its arguments: one array per placeholder of the shape's statement, but
// for the request's context (the organization, Since, the credential)
// when every call has the same, which then goes once (accessBatchShared).
func accessBatchQuery(sh accessCheckShape, calls []*accessCall) (string, []any) {
	first := calls[0].args
	shared := accessBatchShared(sh, calls)
	args := make([]any, len(first))
	for k, v := range first {
		if shared != nil && shared[k] {
			args[k] = v
			continue
		}
		switch v.(type) {
		case int64:
			col := make([]int64, len(calls))
			for i, c := range calls {
				col[i] = c.args[k].(int64)
			}
			args[k] = col
		default:
			col := make([]string, len(calls))
			for i, c := range calls {
				col[i] = c.args[k].(string)
			}
			args[k] = col
		}
	}
	key := accessBatchKey{sh, shared != nil}
	if q, ok := accessBatchSQL.Load(key); ok {
		return q.(string), args
	}
	q := accessBatchStatement(accessCheckStatement(sh), first, shared)
	accessBatchSQL.Store(key, q)
	return q, args
}

// accessBatchShared says which arguments of sh's statement are the
// request's context rather than what it checks (the organization, the
// credential's id and epoch), when every call in calls has the same
// context; else nil. A batch of one client's checks (S3's: one key, one
// organization) then reads the epoch once, not once a check, and its
// credential branch is decided once: PostgreSQL re-evaluates a
// correlated subquery each time the row it depends on changes, but one
// that depends on a parameter alone only once a statement. Since is
// the check's own: a batch mixes checks with and without (noEpoch).
func accessBatchShared(sh accessCheckShape, calls []*accessCall) []bool {
	first := calls[0].args
	shared := make([]bool, len(first))
	checked := 1 // org, then the member and the resource if named, and Since
	if sh.member != 0 {
		checked++
	}
	if sh.resource != 0 {
		checked++
	}
	if checked == 1 {
		return nil // nothing varies by check to unnest
	}
	if sh.since {
		checked++
	}
	for k := range first {
		if k > 0 && k < checked {
			continue
		}
		for _, c := range calls[1:] {
			if c.args[k] != first[k] {
				return nil
			}
		}
		shared[k] = true
	}
	return shared
}

// accessBatchStatement runs the check statement single once per element
// of the arrays its placeholders become, each typed as the argument of
// first at its position; a placeholder shared names one argument of that
// type for every check (shared may be nil).
func accessBatchStatement(single string, first []any, shared []bool) string {
	var arrays, names, cols []string
	for k, v := range first {
		if k < len(shared) && shared[k] {
			continue
		}
		n := strconv.Itoa(k + 1)
		arrays = append(arrays, "$"+n+"::"+argType(v)+"[] AS a"+n)
		names = append(names, "arr.a"+n)
		cols = append(cols, "p"+n)
	}
	// The arrays are read through a subquery kept apart (OFFSET 0), so
	// that the planner cannot count their elements: a plan made for the
	// arguments at hand would then cost what the generic plan does, and
	// PostgreSQL keeps the generic one. Counting them, it planned every
	// batch afresh, as small batches look cheaper than the generic plan's
	// estimate: S3 over HTTP then spent more backend CPU per check than
	// without batching (160-270 against 110-140 microseconds).
	lateral := placeholder.ReplaceAllStringFunc(single, func(ph string) string {
		if k, _ := strconv.Atoi(ph[1:]); k <= len(shared) && shared[k-1] {
			return "CAST(" + ph + " AS " + argType(first[k-1]) + ")"
		}
		return "b.p" + ph[1:]
	})
	q := `SELECT b.i, x.kind, x.a, x.b, x.c, x.d
  FROM (SELECT ` + strings.Join(arrays, ", ") + ` OFFSET 0) arr
 CROSS JOIN LATERAL unnest(` + strings.Join(names, ", ") + `) WITH ORDINALITY AS b(` + strings.Join(cols, ", ") + `, i)
 CROSS JOIN LATERAL (` + lateral + `) x`
	return q
}

// argType is the SQL type a check's argument v is passed as.
func argType(v any) string {
	if _, ok := v.(int64); ok {
		return "bigint"
	}
	return "text"
}

// sliceRows reads a batched check's rows as its own statement's.
type sliceRows struct {
	rows []accessRow
	at   int
}

func (r *sliceRows) Next() bool { r.at++; return r.at <= len(r.rows) }

func (r *sliceRows) Scan(dest ...any) error {
	row := r.rows[r.at-1]
	*dest[0].(*int) = row.kind
	*dest[1].(*sql.NullInt64), *dest[2].(*sql.NullInt64), *dest[3].(*sql.NullInt64), *dest[4].(*sql.NullInt64) = row.a, row.b, row.c, row.d
	return nil
}

func (r *sliceRows) Err() error { return nil }
func (r *sliceRows) Close()     {}
