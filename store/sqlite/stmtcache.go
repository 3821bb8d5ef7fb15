package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a stmtCache. The store's queries are a fixed set
// but for IN lists of varying length; past the bound, queries run
// unprepared as before.
const maxCachedStmts = 512

// stmtCache keeps the readers' statements prepared (the writer's are a
// driverStmts, prepared on its driver connection). The pure-Go driver
// compiles every statement it is given (SQLite has no statement cache of
// its own), and compiling costs more than running most of memberd's
// statements: measured with bench/, preparing once cut the CPU time of a
// removal by about a third. database/sql then keeps one prepared copy per
// connection and reuses it inside transactions (Tx.StmtContext).
//
// database/sql prepares a statement on a free connection of the pool,
// and a transaction holds its connection while its statements run. So a
// query seen inside a transaction is noted and prepared before the next
// transaction begins.
//
// The cache is keyed by the store's own text of a query (PostgreSQL's $N
// placeholders) and keeps its SQLite text too, so that a cached query is
// not rewritten on every run: the access check's statement is two
// kilobytes, and Rebind copied it on each check.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	stmts   map[string]cachedStmt
	pending map[string]bool
}

// cachedStmt is a query's SQLite text and its prepared statement (nil
// until prepare has run).
type cachedStmt struct {
	query string
	st    *sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]cachedStmt{}, pending: map[string]bool{}}
}

// get returns the SQLite text of query and its prepared statement, or nil
// (and notes query for prepare) if there is none yet.
func (c *stmtCache) get(query string) (string, *sql.Stmt) {
	if c == nil {
		return Rebind(query), nil
	}
	c.mu.RLock()
	e, ok := c.stmts[query]
	c.mu.RUnlock()
	if ok && e.st != nil {
		return e.query, e.st
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok = c.stmts[query]
	switch {
	case ok:
	case len(c.stmts) < maxCachedStmts:
		e = cachedStmt{query: Rebind(query)}
		c.stmts[query] = e
		c.pending[query] = true
	default:
		return Rebind(query), nil
	}
	return e.query, e.st
}

// prepare prepares the queries noted since the last call. It must be
// called without a transaction of c.db open in this goroutine. A query
// that fails to prepare is left to run unprepared.
func (c *stmtCache) prepare(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.RLock()
	n := len(c.pending)
	c.mu.RUnlock()
	if n == 0 {
		return
	}
	c.mu.Lock()
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		c.mu.RLock()
		e := c.stmts[q]
		c.mu.RUnlock()
		st, err := c.db.PrepareContext(ctx, e.query)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if e = c.stmts[q]; e.st == nil {
			e.st, st = st, nil
			c.stmts[q] = e
		}
		c.mu.Unlock()
		if st != nil {
			st.Close() // another goroutine prepared it first
		}
	}
}

// The conn methods run a query through its prepared statement when there
// is one. query is the store's text, with PostgreSQL's placeholders.

func (c conn) execContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	query, st := c.stmts.get(query)
	if c.single != nil {
		if st != nil {
			return st.ExecContext(ctx, args...)
		}
		return c.single.db.ExecContext(ctx, query, args...)
	}
	if st != nil {
		return c.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return c.tx.ExecContext(ctx, query, args...)
}

func (c conn) queryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, st := c.stmts.get(query)
	if c.single != nil {
		if st != nil {
			return st.QueryContext(ctx, args...)
		}
		return c.single.db.QueryContext(ctx, query, args...)
	}
	if st != nil {
		return c.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return c.tx.QueryContext(ctx, query, args...)
}

func (c conn) queryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query, st := c.stmts.get(query)
	if c.single != nil {
		if st != nil {
			return st.QueryRowContext(ctx, args...)
		}
		return c.single.db.QueryRowContext(ctx, query, args...)
	}
	if st != nil {
		return c.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return c.tx.QueryRowContext(ctx, query, args...)
}
