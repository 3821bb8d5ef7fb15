// Package sqlite is memberd's embedded default store: one SQLite file in
// WAL mode. All writes go through a single connection whose transactions
// begin IMMEDIATE, so writers never deadlock or hit SQLITE_BUSY, and with
// synchronous=FULL a commit is on disk before Update returns (promise 1).
// Reads use a separate pool of read-only connections that see every
// committed write (promise 2) without waiting for the writer.
//
// The driver is chosen at build time: github.com/mattn/go-sqlite3 (cgo)
// when cgo is enabled, which the go command decides by finding a C compiler,
// else modernc.org/sqlite (pure Go), so a machine without a compiler still
// builds and runs memberd with one command. The sqlite_modernc and
// sqlite_mattn build tags force either one, sqlite_ncruces selects
// github.com/ncruces/go-sqlite3 (wasm2go, pure Go). The driver_*.go files
// hold what differs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// Store is a membership.Store on one SQLite file.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	group  *sqlstore.Group // nil when group commit is off
	// wstmts keeps the writer's statements prepared on its driver
	// connection (see rawConn), rstmts the readers' (see stmtCache).
	wstmts *driverStmts
	rstmts *stmtCache
	ckpt   *checkpointer
	writes writeCount // the writer's transactions begun and ended
	// cache keeps webhook endpoints and removal policies for the
	// writer's transactions, the only ones that change them (see
	// sqlstore.WriterCache).
	cache *sqlstore.WriterCache
	// counter counts commits across processes (nil: not on this
	// platform, or not a file); memory, once enabled, answers access
	// checks from a copy it keeps current from changes, the rows the
	// writer's current transaction changed (see accessMemory).
	counter *commitCounter
	memory  atomic.Pointer[accessMemory]
	changes changeSource // the writer's, once hooked
	hooked  any          // the writer's driver connection the update hook is on
	taken   []rowKey     // changes taken, reused by the writer
	// maxChanges bounds the rows one transaction lists (defaultMaxChanges).
	maxChanges int
}

var _ membership.Store = (*Store)(nil)

var dialect = &sqlstore.Dialect{
	LockRows:    false, // the single IMMEDIATE writer already serializes changes
	CountOnLock: true,
	// Events are numbered in the writer's transaction, which holds the
	// write lock from its first statement to its commit, and written once,
	// chained, when it seals them: inserted, then updated with their chain
	// fields, they cost a removal an INSERT of its own and the rewrite of
	// the row and of its chain index entry. A transaction that numbered
	// events it then rolled back leaves the high-water mark where it was.
	LastEventID:       `SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)`,
	IsNoRows:          func(err error) bool { return errors.Is(err, sql.ErrNoRows) },
	IsUniqueViolation: IsUniqueViolation,
}

var types = sqlstore.Types{ID: "INTEGER PRIMARY KEY AUTOINCREMENT", Bytes: "BLOB"}

// Open opens (creating if needed) the database file at path and migrates it.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := newOptions(opts)
	writer, err := sql.Open(driverName, writerDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxLifetime(0)
	// Checking the schema opens the file, creating it if needed, so that
	// the commit counter beside it can be found.
	pending := sqlstore.CheckMigrated(ctx, writer, goose.DialectSQLite3, types) != nil
	counter, err := openCommitCounter(path)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	err = sqlstore.Migrate(ctx, writer, goose.DialectSQLite3, types)
	if pending && counter != nil {
		counter.add() // a migration, even one that failed halfway, may change rows a server's copy holds
	}
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// The writer only commits; the checkpointer copies the WAL back.
	if _, err := writer.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	// A RESTART keeps the WAL's file, so that commits overwrite blocks it
	// already has; the limit cuts back a file one large transaction grew
	// (walLimitBytes in checkpoint.go).
	if _, err := writer.ExecContext(ctx, "PRAGMA journal_size_limit = "+strconv.FormatInt(o.checkpoint.limit, 10)); err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	reader, err := sql.Open(driverName, readerDSN(path))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := &Store{writer: writer, reader: reader, wstmts: newDriverStmts(), rstmts: newStmtCache(reader),
		cache: sqlstore.NewWriterCache(), counter: counter, maxChanges: o.maxChanges}
	ckpt, err := startCheckpointer(path, writer, &s.writes, o.checkpoint)
	if err != nil {
		writer.Close()
		reader.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Half as many readers with twice the page cache each (the same RSS)
	// was measured at 1M members (memberd-bench S3 alone, two alternating
	// pairs): the server's CPU a check 1.09x and 1.21x, p99 1.73-1.81x the
	// floor's against 1.39-1.43x, as checks then wait for a connection.
	readers := max(4, runtime.GOMAXPROCS(0)*2)
	reader.SetMaxOpenConns(readers)
	// Keep every reader open: database/sql keeps only two idle by default,
	// and a reopened connection parses the whole schema and re-prepares
	// every statement, which cost a third of an access check's CPU.
	reader.SetMaxIdleConns(readers)
	reader.SetConnMaxLifetime(0)
	s.ckpt = ckpt
	s.group = s.newGroup(o)
	return s, nil
}

// Ready returns an error unless the database answers and its schema is
// at this build's head. It reads through the reader pool, so a busy
// writer does not make a healthy node look unready.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	return sqlstore.CheckMigrated(ctx, s.reader, goose.DialectSQLite3, types)
}

// DBStats reports the writer's and the readers' connection pools.
func (s *Store) DBStats() map[string]sql.DBStats {
	return map[string]sql.DBStats{"writer": s.writer.Stats(), "reader": s.reader.Stats()}
}

// Writer is the single write connection pool, for the job queue's driver,
// which must share it so its inserts join memberd's transactions.
func (s *Store) Writer() *sql.DB { return s.writer }

// Reader is the read-only connection pool, for the job queue's check for
// due jobs, which need not wait for the writer.
func (s *Store) Reader() *sql.DB { return s.reader }

// SQLTx returns the *sql.Tx under a transaction this engine opened (in
// Update or UpdateSQL), so that the job queue can insert its jobs in the
// same transaction as the change that causes them.
func SQLTx(tx membership.Tx) (*sql.Tx, bool) {
	st, ok := tx.(*sqlstore.Tx)
	if !ok {
		return nil, false
	}
	c, ok := st.Conn().(conn)
	return c.tx, ok
}

// Close implements membership.Store.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if m := s.memory.Swap(nil); m != nil {
		m.close()
	}
	return errors.Join(s.ckpt.close(), s.reader.Close(), s.wstmts.close(ctx, s.writer), s.writer.Close())
}

// Update implements membership.Store.
func (s *Store) Update(ctx context.Context, fn func(membership.Tx) error) error {
	if s.group != nil {
		return s.group.Update(ctx, fn)
	}
	return s.UpdateSQL(ctx, func(tx *sql.Tx, mtx membership.Tx) error { return fn(mtx) })
}

// UpdateSQL is Update that also hands fn the *sql.Tx, so that work outside
// the membership model (enqueuing a job) commits in the same transaction.
func (s *Store) UpdateSQL(ctx context.Context, fn func(*sql.Tx, membership.Tx) error) error {
	w, err := s.beginWrite(ctx, false)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(w.tx, w.mtx); err != nil {
		return errors.Join(err, w.rollback())
	}
	if err := w.mtx.Seal(ctx); err != nil {
		return errors.Join(err, w.rollback())
	}
	if err := w.commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// View implements membership.Store.
func (s *Store) View(ctx context.Context, fn func(membership.Tx) error) error {
	s.rstmts.prepare(ctx)
	if membership.OneStatement(ctx) {
		return fn(sqlstore.NewTx(conn{single: &singleRead{db: s.reader}, stmts: s.rstmts}, dialect))
	}
	tx, err := s.reader.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin read: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a read-only transaction has nothing to lose
	return fn(sqlstore.NewTx(conn{tx: tx, stmts: s.rstmts}, dialect))
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// conn adapts a transaction to sqlstore.Conn, rewriting $N placeholders
// to SQLite's equivalent ?N: a writer's transaction runs its statements
// on the driver's connection (raw), a reader's through its *sql.Tx, or
// a one-statement view on the reader pool (single).
type conn struct {
	tx     *sql.Tx
	raw    *rawConn   // the writer's: see beginWrite
	shared bool       // a group commit's transaction: see sqlstore.StmtContext
	stmts  *stmtCache // nil: prepare every statement anew
	single *singleRead
}

// singleRead runs a one-statement view (membership.OneStatement) on the
// reader pool without a transaction. A lone statement reads one snapshot
// of its own, so BEGIN and ROLLBACK, two of the three driver calls such a
// view made, bought nothing: an access check request is two such views.
// A second statement is refused, since it would read another snapshot.
type singleRead struct {
	db  *sql.DB
	ran bool
}

// errSecondStatement is a view marked as one statement running another.
var errSecondStatement = errors.New("a one-statement view ran a second statement")

func (s *singleRead) use() error {
	if s.ran {
		return errSecondStatement
	}
	s.ran = true
	return nil
}

// errRow is a Row whose statement never ran.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if c.single != nil {
		if err := c.single.use(); err != nil {
			return 0, err
		}
	}
	if c.raw != nil {
		return c.raw.exec(c.stmtContext(ctx), query, args)
	}
	res, err := c.execContext(c.stmtContext(ctx), query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if c.single != nil {
		if err := c.single.use(); err != nil {
			return nil, err
		}
	}
	if c.raw != nil {
		rows, err := c.raw.query(c.stmtContext(ctx), query, args, -1)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	rows, err := c.queryContext(c.stmtContext(ctx), query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if c.single != nil {
		if err := c.single.use(); err != nil {
			return errRow{err}
		}
	}
	if c.raw != nil {
		rows, err := c.raw.query(c.stmtContext(ctx), query, args, 1)
		return rawRow{rows: rows, err: err}
	}
	return c.queryRowContext(c.stmtContext(ctx), query, args...)
}

// stmtContext is the context a statement runs with: see
// sqlstore.StmtContext for a group's transaction. A one-statement view's
// statement (an access check, a credential lookup) is detached too: it is
// a point read that ends in microseconds, and a cancellable context cost
// each one a goroutine in database/sql (Rows watching the context) and a
// context watch in the driver. A request already cancelled still fails.
func (c conn) stmtContext(ctx context.Context) context.Context {
	if c.shared && c.raw != nil {
		return c.raw.detach(ctx)
	}
	return sqlstore.StmtContext(ctx, c.shared || c.single != nil)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() } // errors surface through Err

// Rebind rewrites PostgreSQL's $N placeholders as SQLite's ?N, which bind
// the same positional argument.
func Rebind(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	return strings.ReplaceAll(query, "$", "?")
}
