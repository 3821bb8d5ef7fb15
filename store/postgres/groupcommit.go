package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberd/memberd/store/sqlstore"
)

// DefaultGroupCommit is whether Open turns group commit on: concurrent
// Update calls of this process share one transaction and one WAL flush
// (see sqlstore.Group). Every commit waits for its WAL flush
// (synchronous_commit on), so a change costs a flush unless it shares one.
const DefaultGroupCommit = true

// DefaultGroupLanes is how many group transactions run at once: 0 means
// one per connection the pool may open. PostgreSQL flushes the WAL for
// concurrent commits together already, so what memberd's grouping adds is
// fewer commits and round trips; run one group at a time and all writes
// queue on one connection (measured with bench/ at 20k members on 2 cores:
// 324 removals/s at concurrency 64 with one lane, 847 with four, 820 with
// group commit off).
const DefaultGroupLanes = 0

// Option changes one of Open's optional settings.
type Option func(*options)

type options struct {
	groupCommit bool
	groupMax    int
	observe     sqlstore.CommitObserver
	groupLanes  int
	savepoints  bool
}

// WithGroupCommit turns group commit on (the default) or off. Off, every
// Update is its own transaction on its own pooled connection; the
// benchmark uses it to measure what group commit buys.
func WithGroupCommit(on bool) Option { return func(o *options) { o.groupCommit = on } }

// WithCommitObserver has fn told of every group commit's size and
// duration (see sqlstore.Group.Observe).
func WithCommitObserver(fn sqlstore.CommitObserver) Option {
	return func(o *options) { o.observe = fn }
}

// WithGroupMax caps how many Update calls one group commit holds
// (sqlstore.DefaultGroupMax unless set).
func WithGroupMax(n int) Option { return func(o *options) { o.groupMax = n } }

// WithGroupLanes sets how many group transactions run at once, each on
// its own pooled connection (DefaultGroupLanes unless set). Groups in
// different lanes can deadlock on rows of the same members; the server
// then aborts one statement and that call alone runs again.
func WithGroupLanes(n int) Option { return func(o *options) { o.groupLanes = n } }

// WithCallSavepoints has every call of a group of several run in its own
// savepoint from the start (off by default: see sqlstore.Group.Optimistic),
// so that the benchmark can measure what running them without buys.
func WithCallSavepoints(on bool) Option { return func(o *options) { o.savepoints = on } }

// newGroup returns the group committer opts ask for, or nil. A group's
// calls lock rows in no order fixed in advance, so a group can deadlock
// with another node's transaction; the server then aborts one statement,
// its savepoint is rolled back and that call alone runs again in the next
// group, as UpdatePgx runs a whole transaction again.
func newGroup(pool *pgxpool.Pool, configs *sqlstore.ConfigCache, opts []Option) *sqlstore.Group {
	o := options{groupCommit: DefaultGroupCommit, groupLanes: DefaultGroupLanes}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.groupCommit {
		return nil
	}
	lanes := o.groupLanes
	if lanes <= 0 {
		lanes = int(pool.Config().MaxConns)
	}
	g := sqlstore.NewGroup(func(ctx context.Context) (sqlstore.GroupTx, error) {
		tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return nil, err
		}
		mtx := sqlstore.NewTx(conn{tx: tx, shared: true}, dialect)
		mtx.UseConfigCache(configs)
		return sqlstore.NewGroupTx(mtx, tx.Commit,
			func(ctx context.Context) error { return ignoreClosed(tx.Rollback(ctx)) }), nil
	}, o.groupMax, lanes)
	g.Retryable = retryable
	// pgx sends a statement without arguments by the simple protocol,
	// which takes several in one round trip.
	g.ChainSavepoints = true
	// A savepoint per call was a round trip and a subtransaction for
	// every call of a group, for a call that fails, which is rare (S2
	// at 100k members on 2 cores: see docs/decisions.md).
	g.Optimistic = !o.savepoints
	g.Observe = o.observe
	return g
}

// GroupCommitStats reports what group commit did, zero when it is off.
func (s *Store) GroupCommitStats() sqlstore.GroupStats {
	return s.group.Stats()
}
