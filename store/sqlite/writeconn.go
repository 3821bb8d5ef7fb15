package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sync"
	"time"

	"github.com/memberd/memberd/store/sqlstore"
)

// The writer's transactions run memberd's statements on the driver's
// connection itself (sql.Conn.Raw), with statements the driver prepared
// once, not through the *sql.Tx. Through the Tx, database/sql cost each
// query a goroutine (its Rows watch the transaction's context, which
// BeginTx always makes cancellable: 8% of a bulk removal's server CPU)
// and each statement a dependency-map update and a list entry
// (Tx.StmtContext: 5%), all on the single writer that bounds every
// write's throughput.
//
// The transaction is still begun, committed and rolled back as a *sql.Tx
// on a *sql.Conn of the writer pool: the job queue (River) inserts its
// jobs through that Tx (SQLTx), in the same transaction as the change
// they follow, and its statements and memberd's meet on the one driver
// connection. Conn.Raw locks that connection for one statement at a
// time, so the two never run at once.

// writeTx is one transaction of the writer.
type writeTx struct {
	c      *sql.Conn
	tx     *sql.Tx
	mtx    *sqlstore.Tx
	writes *writeCount // counted once at the end too
	store  *Store      // told when the transaction has ended (Store.ended)
	done   bool
}

// beginWrite begins a write transaction (BEGIN IMMEDIATE, from the
// writer's DSN). shared says several callers' work shares it (group
// commit): its statements then run detached from ctx's cancellation.
func (s *Store) beginWrite(ctx context.Context, shared bool) (*writeTx, error) {
	c, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return nil, errors.Join(err, c.Close())
	}
	mtx := sqlstore.NewTx(conn{tx: tx, raw: &rawConn{c: c, stmts: s.wstmts, txctx: ctx}, shared: shared}, dialect)
	mtx.UseWriterCache(s.cache)
	s.writes.add()
	w := &writeTx{c: c, tx: tx, mtx: mtx, writes: &s.writes, store: s}
	if s.memory.Load() != nil {
		if err := s.hookWriter(w); err != nil {
			return nil, errors.Join(err, w.rollback())
		}
	}
	return w, nil
}

// commit commits and hands the connection back to the writer pool.
func (w *writeTx) commit() error {
	w.store.committing()
	err := w.tx.Commit()
	w.end()
	return errors.Join(err, w.release())
}

// rollback rolls back and hands the connection back to the writer pool;
// after a commit, even a failed one, it does nothing.
func (w *writeTx) rollback() error {
	err := ignoreDone(w.tx.Rollback())
	w.end()
	return errors.Join(err, w.release())
}

// end counts the transaction's end, once.
func (w *writeTx) end() {
	if !w.done {
		w.done = true
		w.writes.add()
		w.store.ended()
	}
}

// release hands the connection back once the transaction has ended.
func (w *writeTx) release() error {
	if err := w.c.Close(); err != nil && !errors.Is(err, sql.ErrConnDone) {
		return err
	}
	return nil
}

// rawConn runs statements on one *sql.Conn's driver connection.
type rawConn struct {
	c     *sql.Conn
	stmts *driverStmts
	// txctx is the context the transaction began with. When it ends,
	// database/sql rolls the transaction back on its own; a statement
	// that ran after that would commit by itself, so none may.
	txctx context.Context
	// detachedFrom and detached are the last context detach was given
	// and its detached form: a group's caller runs all its statements
	// with one context, which was detached anew, an allocation inside
	// the writer, for each of them.
	detachedFrom, detached context.Context
	// nvs is the arguments' buffer, reused: the connection runs one
	// statement at a time, and the driver is done with the arguments
	// when the statement has run (a query's rows are read whole).
	nvs []driver.NamedValue
}

// detach is sqlstore.Detach(ctx), the same context for the same ctx while
// it has not ended.
func (r *rawConn) detach(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx
	}
	if r.detachedFrom != ctx {
		r.detachedFrom, r.detached = ctx, sqlstore.Detach(ctx)
	}
	return r.detached
}

func (r *rawConn) exec(ctx context.Context, query string, args []any) (n int64, err error) {
	err = r.run(ctx, query, args, func(st driver.Stmt, nv []driver.NamedValue) error {
		se, ok := st.(driver.StmtExecContext)
		if !ok {
			return fmt.Errorf("sqlite driver statement %T has no ExecContext", st)
		}
		res, err := se.ExecContext(ctx, nv)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// query runs query and reads up to limit rows of its result (all when
// limit < 0) before it lets the connection go.
func (r *rawConn) query(ctx context.Context, query string, args []any, limit int) (*rawRows, error) {
	rows := &rawRows{}
	err := r.run(ctx, query, args, func(st driver.Stmt, nv []driver.NamedValue) error {
		sq, ok := st.(driver.StmtQueryContext)
		if !ok {
			return fmt.Errorf("sqlite driver statement %T has no QueryContext", st)
		}
		dr, err := sq.QueryContext(ctx, nv)
		if err != nil {
			return err
		}
		rows.read(dr, limit)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// run hands fn query's prepared statement and its arguments, converted,
// while it holds the driver connection.
func (r *rawConn) run(ctx context.Context, query string, args []any, fn func(driver.Stmt, []driver.NamedValue) error) error {
	return r.c.Raw(func(dc any) error {
		// database/sql refuses a statement whose context has ended before
		// it touches the connection; and once the transaction's own
		// context has ended, database/sql has rolled it back, so a
		// statement would run outside it.
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := r.txctx.Err(); err != nil {
			return err
		}
		st, done, err := r.stmts.get(ctx, dc, query)
		if err != nil {
			return err
		}
		defer done()
		nv, err := namedValues(r.nvs[:0], dc, st, args)
		if err != nil {
			return err
		}
		r.nvs = nv
		err = fn(st, nv)
		clear(nv) // the arguments' values are not kept alive
		return err
	})
}

// rawRows is a result read whole, as sqlstore.Rows. Errors while reading
// surface through Err once the rows read before them are consumed, as
// they do through *sql.Rows.
type rawRows struct {
	cols []string
	rows [][]driver.Value
	next int // rows[next-1] is the current row
	err  error
}

func (r *rawRows) read(dr driver.Rows, limit int) {
	r.cols = dr.Columns()
	for limit < 0 || len(r.rows) < limit {
		vals := make([]driver.Value, len(r.cols))
		if err := dr.Next(vals); err != nil {
			if err != io.EOF {
				r.err = err
			}
			break
		}
		for i, v := range vals {
			// A driver may hand out its own buffers (ncruces points into
			// SQLite's memory), valid only until its next step.
			if b, ok := v.([]byte); ok {
				vals[i] = append([]byte(nil), b...)
			}
		}
		r.rows = append(r.rows, vals)
	}
	if err := dr.Close(); err != nil && r.err == nil {
		r.err = err
	}
}

func (r *rawRows) Next() bool {
	if r.next >= len(r.rows) {
		r.next = len(r.rows) + 1
		return false
	}
	r.next++
	return true
}

func (r *rawRows) Scan(dest ...any) error {
	if r.next < 1 || r.next > len(r.rows) {
		return errors.New("sql: Scan called without calling Next")
	}
	row := r.rows[r.next-1]
	if len(dest) != len(row) {
		return fmt.Errorf("sql: expected %d destination arguments in Scan, not %d", len(row), len(dest))
	}
	for i, d := range dest {
		if err := assign(d, row[i]); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d, name %q: %w", i, r.cols[i], err)
		}
	}
	return nil
}

func (r *rawRows) Err() error {
	if r.next > len(r.rows) {
		return r.err
	}
	return nil
}

func (r *rawRows) Close() { r.rows = nil }

// rawRow is QueryRow's result, as *sql.Row.
type rawRow struct {
	rows *rawRows
	err  error
}

func (r rawRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

// namedValues converts args for st as database/sql does: the
// statement's or else the connection's NamedValueChecker, falling back to
// driver.DefaultParameterConverter (which also calls driver.Valuer). It
// returns them in buf when it is large enough.
func namedValues(buf []driver.NamedValue, dc any, st driver.Stmt, args []any) ([]driver.NamedValue, error) {
	nvc, ok := st.(driver.NamedValueChecker)
	if !ok {
		nvc, _ = dc.(driver.NamedValueChecker)
	}
	// Converted in place, as database/sql does: a NamedValue of its own
	// would escape to the heap through CheckNamedValue, one per argument.
	nvs := buf[:0]
	if cap(nvs) < len(args) {
		nvs = make([]driver.NamedValue, len(args))
	}
	nvs = nvs[:len(args)]
	n := 0
	for _, a := range args {
		nv := &nvs[n]
		*nv = driver.NamedValue{Ordinal: n + 1, Value: a}
		if na, ok := a.(sql.NamedArg); ok {
			nv.Name, nv.Value = na.Name, na.Value
		}
		err := driver.ErrSkip
		if nvc != nil {
			err = nvc.CheckNamedValue(nv)
		}
		if err == driver.ErrSkip {
			nv.Value, err = driver.DefaultParameterConverter.ConvertValue(nv.Value)
		}
		switch err {
		case nil:
			n++
		case driver.ErrRemoveArgument: // its slot takes the next argument
		default:
			return nil, fmt.Errorf("sql: converting argument $%d type: %w", nv.Ordinal, err)
		}
	}
	nvs = nvs[:n]
	if want := st.NumInput(); want != -1 && len(nvs) != want {
		return nil, fmt.Errorf("sql: expected %d arguments, got %d", want, len(nvs))
	}
	return nvs, nil
}

// assign stores src in dest as (*sql.Rows).Scan does. The conversion
// itself is database/sql's: sql.Null[T].Scan runs its convertAssign.
func assign(dest any, src driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *any:
		*d = src // already the rows' own copy
		return nil
	case *[]byte:
		if src == nil {
			*d = nil
			return nil
		}
		return assignNotNull(d, src)
	case *string:
		return assignNotNull(d, src)
	case *int64:
		return assignNotNull(d, src)
	case *int:
		return assignNotNull(d, src)
	case *bool:
		return assignNotNull(d, src)
	case *float64:
		return assignNotNull(d, src)
	case *time.Time:
		return assignNotNull(d, src)
	}
	return assignReflect(dest, src)
}

// assignNotNull stores non-NULL src in d, and refuses NULL as
// database/sql does for a destination that cannot hold it.
func assignNotNull[T any](d *T, src driver.Value) error {
	var n sql.Null[T]
	if err := n.Scan(src); err != nil {
		return err
	}
	if !n.Valid {
		return fmt.Errorf("converting NULL to %s is unsupported", reflect.TypeFor[T]().Kind())
	}
	*d = n.V
	return nil
}

// assignReflect stores src in a pointer to a pointer (NULL: nil) or to a
// type whose underlying type is a basic one (a named string type).
func assignReflect(dest any, src driver.Value) error {
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return errors.New("destination not a pointer")
	}
	ev := dv.Elem()
	if ev.Kind() == reflect.Pointer {
		if src == nil {
			ev.SetZero()
			return nil
		}
		p := reflect.New(ev.Type().Elem())
		if err := assign(p.Interface(), src); err != nil {
			return err
		}
		ev.Set(p)
		return nil
	}
	switch ev.Kind() {
	case reflect.String:
		var v string
		if err := assignNotNull(&v, src); err != nil {
			return err
		}
		ev.SetString(v)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var v int64
		if err := assignNotNull(&v, src); err != nil {
			return err
		}
		if ev.OverflowInt(v) {
			return fmt.Errorf("converting driver.Value type %T (%v) to a %s: value out of range", src, src, ev.Kind())
		}
		ev.SetInt(v)
		return nil
	case reflect.Bool:
		var v bool
		if err := assignNotNull(&v, src); err != nil {
			return err
		}
		ev.SetBool(v)
		return nil
	case reflect.Float32, reflect.Float64:
		var v float64
		if err := assignNotNull(&v, src); err != nil {
			return err
		}
		ev.SetFloat(v)
		return nil
	}
	return fmt.Errorf("unsupported Scan, storing driver.Value type %T into type %T", src, dest)
}

// driverStmts keeps the writer's statements prepared on its driver
// connection, keyed by the store's text of a query (PostgreSQL's $N
// placeholders). Unlike database/sql's, a driver statement can be
// prepared in the middle of a transaction, so none waits for the next.
type driverStmts struct {
	mu    sync.Mutex
	conn  any // the driver connection stmts were prepared on
	stmts map[string]driver.Stmt
}

func newDriverStmts() *driverStmts { return &driverStmts{stmts: map[string]driver.Stmt{}} }

func noop() {}

// get returns query's statement on dc, and done to call once it has run
// (which closes a statement past the cache's bound).
func (c *driverStmts) get(ctx context.Context, dc any, query string) (st driver.Stmt, done func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != dc {
		// The pool replaced the connection, which closed the old
		// statements with it.
		c.conn, c.stmts = dc, map[string]driver.Stmt{}
	}
	if st, ok := c.stmts[query]; ok {
		return st, noop, nil
	}
	if p, ok := dc.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, Rebind(query))
	} else {
		st, err = dc.(driver.Conn).Prepare(Rebind(query))
	}
	if err != nil {
		return nil, nil, err
	}
	if len(c.stmts) >= maxCachedStmts {
		// A variable of its own: capturing the named result would put it
		// on the heap on every call, cached statement or not.
		once := st
		return st, func() { _ = once.Close() }, nil
	}
	c.stmts[query] = st
	return st, noop, nil
}

// close closes the statements, which must precede closing the writer
// pool: a SQLite connection with statements left open stays open.
func (c *driverStmts) close(ctx context.Context, writer *sql.DB) error {
	conn, err := writer.Conn(ctx)
	if err != nil {
		return nil // closed already: nothing to do
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		if dc != c.conn {
			return nil
		}
		var errs []error
		for q, st := range c.stmts {
			errs = append(errs, st.Close())
			delete(c.stmts, q)
		}
		return errors.Join(errs...)
	})
}
