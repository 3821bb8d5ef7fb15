package sqlstore

import (
	"context"
	"sync"
)

// Recorder keeps the statements a Tx ran while recording, in order, so a
// test can bound how many statements a call takes and the benchmark can
// show them.
type Recorder struct {
	mu         sync.Mutex
	statements []Statement
	trips      int
}

// Statement is one recorded statement with the arguments it ran with, so
// that a plan test can explain exactly what the store ran.
type Statement struct {
	Query string
	Args  []any
	Rows  bool // run with Query or QueryRow: its rows were read
}

// Queries returns the statements recorded so far.
func (r *Recorder) Queries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	qs := make([]string, len(r.statements))
	for i, s := range r.statements {
		qs[i] = s.Query
	}
	return qs
}

// Statements returns the statements recorded so far with their arguments.
func (r *Recorder) Statements() []Statement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Statement(nil), r.statements...)
}

// RoundTrips returns how many times the statements recorded so far went
// to the server: once each, except those sent together (Batcher).
func (r *Recorder) RoundTrips() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.trips
}

// Reset forgets the statements recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statements, r.trips = nil, 0
}

func (r *Recorder) add(q string, args []any, rows bool) {
	r.addBatch(Statement{Query: q, Args: args, Rows: rows})
}

// addBatch records statements sent in one round trip.
func (r *Recorder) addBatch(sts ...Statement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statements = append(r.statements, sts...)
	r.trips++
}

// Record has t add every statement it runs to r until stop is called.
// It swaps t's connection in place, so the events t has pending stay its
// own and are sealed as usual.
func (t *Tx) Record(r *Recorder) (stop func()) {
	c := t.c
	t.c = recConn{c: c, r: r}
	return func() { t.c = c }
}

// recConn is a Conn that tells a Recorder of each statement it runs.
type recConn struct {
	c Conn
	r *Recorder
}

func (c recConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.r.add(q, args, false)
	return c.c.Exec(ctx, q, args...)
}

func (c recConn) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	c.r.add(q, args, true)
	return c.c.Query(ctx, q, args...)
}

func (c recConn) QueryRow(ctx context.Context, q string, args ...any) Row {
	c.r.add(q, args, true)
	return c.c.QueryRow(ctx, q, args...)
}

// Batch records each of qs and sends them on as one batch when the
// recorded connection can (Batcher).
func (c recConn) Batch(ctx context.Context, qs []Queued) error {
	b, ok := c.c.(Batcher)
	if !ok {
		return RunQueued(ctx, c, qs)
	}
	sts := make([]Statement, len(qs))
	for i, q := range qs {
		sts[i] = Statement{Query: q.Query, Args: q.Args, Rows: true}
	}
	c.r.addBatch(sts...)
	return b.Batch(ctx, qs)
}
