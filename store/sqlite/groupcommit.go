package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/memberd/memberd/store/sqlstore"
)

// DefaultGroupCommit is whether Open turns group commit on: concurrent
// Update calls share one transaction and one fsync (see sqlstore.Group).
// With synchronous=FULL every commit waits for the disk, so without it
// the single writer commits at most the disk's flush rate of changes per
// second, whatever the number of clients.
const DefaultGroupCommit = true

// Option changes one of Open's optional settings.
type Option func(*options)

type options struct {
	groupCommit bool
	groupMax    int
}

// WithGroupCommit turns group commit on (the default) or off. Off, every
// Update is its own transaction and its own fsync; the benchmark uses it
// to measure what group commit buys.
func WithGroupCommit(on bool) Option { return func(o *options) { o.groupCommit = on } }

// WithGroupMax caps how many Update calls one group commit holds
// (sqlstore.DefaultGroupMax unless set).
func WithGroupMax(n int) Option { return func(o *options) { o.groupMax = n } }

// newGroup returns the group committer opts ask for, or nil.
func newGroup(writer *sql.DB, stmts *stmtCache, opts []Option) *sqlstore.Group {
	o := options{groupCommit: DefaultGroupCommit}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.groupCommit {
		return nil
	}
	return sqlstore.NewGroup(func(ctx context.Context) (sqlstore.GroupTx, error) {
		stmts.prepare(ctx)
		tx, err := writer.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		return groupTx{tx: tx, mtx: sqlstore.NewTx(conn{tx: tx, shared: true, stmts: stmts}, dialect)}, nil
	}, o.groupMax, 1) // one writer: one group at a time
}

// groupTx is the single writer's transaction that a group runs in.
type groupTx struct {
	tx  *sql.Tx
	mtx *sqlstore.Tx
}

func (g groupTx) Tx() *sqlstore.Tx { return g.mtx }

func (g groupTx) Commit(context.Context) error { return g.tx.Commit() }

func (g groupTx) Rollback(context.Context) error {
	if err := ignoreDone(g.tx.Rollback()); err != nil {
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// GroupCommitStats reports what group commit did, zero when it is off.
func (s *Store) GroupCommitStats() sqlstore.GroupStats {
	if s.group == nil {
		return sqlstore.GroupStats{}
	}
	return s.group.Stats()
}

// stmtCtx is the context c runs a statement with: in a group transaction,
// one that no single caller's cancellation can interrupt, because an
// interrupted write makes SQLite roll back the whole shared transaction.
func (c conn) stmtCtx(ctx context.Context) context.Context {
	if c.shared {
		return sqlstore.Detach(ctx)
	}
	return ctx
}
