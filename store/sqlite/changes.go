package sqlite

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/memberd/memberd/membership"
)

// defaultMaxChanges bounds the rows one transaction's changes list; a
// transaction that changes more (a bulk import) makes the copy read again
// whole instead.
const defaultMaxChanges = 1 << 17

// withMaxChanges sets the bound (tests only).
func withMaxChanges(n int) Option { return func(o *options) { o.maxChanges = n } }

// changeSource hands over the tracked rows (trackedTable) the writer's
// connection changed since the last take, appended to dst; overflow: more
// than maxChanges, not all listed.
type changeSource interface {
	take(dst []rowKey) (rows []rowKey, overflow bool)
}

// committing runs right before a writer's COMMIT, while the transaction
// holds SQLite's write lock: the commit is counted for every process
// before it can be seen, so a process that keeps a copy learns of it
// before the writer can answer anyone, even if the writer dies at once.
func (s *Store) committing() {
	if m := s.memory.Load(); m != nil {
		m.counting()
	} else if s.counter != nil {
		s.counter.add()
	}
}

// ended runs when a writer's transaction has ended (committed, rolled
// back or failed to commit) and before any caller is answered: the copy
// learns which of its rows changed. A rolled-back transaction's rows are
// marked too: reading them back finds them as they were.
func (s *Store) ended() {
	if m := s.memory.Load(); m != nil {
		var overflow bool
		s.taken = s.taken[:0]
		if s.changes != nil {
			s.taken, overflow = s.changes.take(s.taken)
		}
		m.changed(s.taken, overflow)
	}
}

// hookWriter has the writer's driver connection report its changes to
// s.changes, once per connection (database/sql replaces a broken one).
func (s *Store) hookWriter(w *writeTx) error { return w.c.Raw(s.hook) }

// hook puts the update hook on the writer's driver connection dc, unless
// it is there already (the writer's connection held).
func (s *Store) hook(dc any) error {
	if dc == s.hooked {
		return nil
	}
	src, err := registerUpdateHook(dc, s.maxChanges)
	if err != nil {
		return err
	}
	s.hooked, s.changes = dc, src
	return nil
}

// DefaultAccessMemory is the most members EnableAccessMemory's copy holds
// unless told otherwise: about 70 MB of memory at the benchmark's shape.
const DefaultAccessMemory = 2_000_000

// EnableAccessMemory has the store answer access checks by numeric ids
// from a copy in memory of the rows they read (see accessMemory), once it
// has read it: it returns when the copy is loaded, or turned itself off
// because the database holds more than maxMembers members. Only a server
// wants it; every process that writes the database counts its commits
// for it all the same.
func (s *Store) EnableAccessMemory(ctx context.Context, maxMembers int, log *slog.Logger) error {
	if s.counter == nil {
		return errors.New("access memory: no commit counter shared between processes here")
	}
	// Holding the writer's only connection, no transaction is under way:
	// every later one is hooked and reported to the copy, which loads
	// after this.
	c, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	err = c.Raw(s.hook)
	if err == nil && s.memory.Load() == nil {
		s.memory.Store(newAccessMemory(s.writer, s.reader, s.counter, maxMembers, log))
	}
	if err := errors.Join(err, c.Close()); err != nil {
		return err
	}
	m := s.memory.Load()
	if m == nil {
		return errors.New("access memory: the store is closed")
	}
	for {
		m.mu.RLock()
		done := m.valid || m.off != nil
		m.mu.RUnlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// AccessInMemory implements membership.AccessMemory.
func (s *Store) AccessInMemory(orgID, memberID, resourceID int64) (*membership.AccessAnswer, bool) {
	m := s.memory.Load()
	if m == nil {
		return nil, false
	}
	return m.check(orgID, memberID, resourceID)
}

// AccessMemoryStats reports how many checks the copy in memory answered
// and how many it left to the database (all zero when it is not enabled).
func (s *Store) AccessMemoryStats() (answered, declined uint64) {
	m := s.memory.Load()
	if m == nil {
		return 0, 0
	}
	return m.answered.Load(), m.declined.Load()
}

// AccessMemoryOn reports whether EnableAccessMemory has been called.
func (s *Store) AccessMemoryOn() bool { return s.memory.Load() != nil }
