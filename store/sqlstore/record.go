package sqlstore

import (
	"context"
	"sync"
)

// Recorder keeps the statements a Tx ran while recording, in order, so a
// test can bound how many statements a call takes and the benchmark can
// show them.
type Recorder struct {
	mu      sync.Mutex
	queries []string
}

// Queries returns the statements recorded so far.
func (r *Recorder) Queries() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.queries...)
}

// Reset forgets the statements recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = nil
}

func (r *Recorder) add(q string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, q)
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
	c.r.add(q)
	return c.c.Exec(ctx, q, args...)
}

func (c recConn) Query(ctx context.Context, q string, args ...any) (Rows, error) {
	c.r.add(q)
	return c.c.Query(ctx, q, args...)
}

func (c recConn) QueryRow(ctx context.Context, q string, args ...any) Row {
	c.r.add(q)
	return c.c.QueryRow(ctx, q, args...)
}
