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

// stmtCache keeps the store's statements prepared. The pure-Go driver
// compiles every statement it is given (SQLite has no statement cache of
// its own), and compiling costs more than running most of memberd's
// statements: measured with bench/, preparing once cut the CPU time of a
// removal by about a third. database/sql then keeps one prepared copy per
// connection and reuses it inside transactions (Tx.StmtContext).
//
// A statement can only be prepared on a free connection, and the writer
// has just one, which a transaction holds while its statements run. So a
// query seen inside a transaction is noted and prepared before the next
// transaction begins, when the connection is free.
type stmtCache struct {
	db      *sql.DB
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
}

// get returns the prepared statement of query, or nil (and notes query
// for prepare) if there is none yet.
func (c *stmtCache) get(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stmts[query]
	if st == nil && len(c.stmts)+len(c.pending) < maxCachedStmts {
		c.pending[query] = true
	}
	return st
}

// prepare prepares the queries noted since the last call. It must be
// called without a transaction of c.db open in this goroutine. A query
// that fails to prepare is left to run unprepared.
func (c *stmtCache) prepare(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if c.stmts[q] == nil {
			c.stmts[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close() // another goroutine prepared it first
		}
	}
}

// The conn methods run a query through its prepared statement when there
// is one. query is already rebound to SQLite's placeholders.

func (c conn) execContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st := c.stmts.get(query)
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
	st := c.stmts.get(query)
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
	st := c.stmts.get(query)
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
