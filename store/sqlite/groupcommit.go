package sqlite

import (
	"context"

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
	observe     sqlstore.CommitObserver
	checkpoint  checkpointSizes
	maxChanges  int
}

// newOptions returns Open's settings with opts applied.
func newOptions(opts []Option) options {
	o := options{groupCommit: DefaultGroupCommit, checkpoint: defaultCheckpointSizes, maxChanges: defaultMaxChanges}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithGroupCommit turns group commit on (the default) or off. Off, every
// Update is its own transaction and its own fsync; the benchmark uses it
// to measure what group commit buys.
func WithGroupCommit(on bool) Option { return func(o *options) { o.groupCommit = on } }

// WithCommitObserver has fn told of every group commit's size and
// duration (see sqlstore.Group.Observe).
func WithCommitObserver(fn sqlstore.CommitObserver) Option {
	return func(o *options) { o.observe = fn }
}

// WithGroupMax caps how many Update calls one group commit holds
// (sqlstore.DefaultGroupMax unless set).
func WithGroupMax(n int) Option { return func(o *options) { o.groupMax = n } }

// newGroup returns the group committer o asks for, or nil.
func (s *Store) newGroup(o options) *sqlstore.Group {
	if !o.groupCommit {
		return nil
	}
	g := sqlstore.NewGroup(func(ctx context.Context) (sqlstore.GroupTx, error) {
		w, err := s.beginWrite(ctx, true)
		if err != nil {
			return nil, err
		}
		return sqlstore.NewGroupTx(w.mtx,
			func(context.Context) error { return w.commit() },
			func(context.Context) error { return w.rollback() }), nil
	}, o.groupMax, 1) // one writer: one group at a time
	// A savepoint's SET and RELEASE are two statements on the one writer
	// for every call of a group, for the rare call that fails; a failure
	// runs the group again with them (docs/decisions.md).
	g.Optimistic = true
	g.Observe = o.observe
	return g
}

// GroupCommitStats reports what group commit did, zero when it is off.
func (s *Store) GroupCommitStats() sqlstore.GroupStats {
	return s.group.Stats()
}
