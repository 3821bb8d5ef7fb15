package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/sqlstore"
)

// Engine is one storage engine under test: the database the server is
// started on, the same database opened in-process for loading and for the
// floors, and the engine-specific ways to replay and explain SQL.
type Engine struct {
	Name    string
	DSN     string // memberd serve --db
	DataDir string // where the database's files are, for the fsync floor
	Store   membership.Store
	// Settings are the server settings the bench chose, for the report
	// ("" when the engine runs with the store's own).
	Settings string

	// storeTx runs fn on the store's own write transaction (its dialect,
	// and the caches the store's writes use) and commits it unless fn
	// fails.
	storeTx func(ctx context.Context, fn func(*sqlstore.Tx) error) error
	// dialect, when set, is a test's own form of the store's SQL, which
	// Record uses on inTx's connection instead of the store's transaction.
	dialect *sqlstore.Dialect
	// inTx runs fn on a write transaction's connection and commits it
	// unless fn fails.
	inTx    func(ctx context.Context, fn func(sqlstore.Conn) error) error
	replay  func(ctx context.Context, stmts []Stmt) error
	explain func(ctx context.Context, s Stmt) ([]string, error)
	reopen  func(ctx context.Context, g GroupMode) error
	bulk    func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error
	// endBulk, if set, undoes what bulk set up for loading.
	endBulk func(ctx context.Context) error
	size    func(ctx context.Context) (int64, error)
	// vacuum, if set, leaves nothing of a load for the engine's own
	// maintenance to do (PostgreSQL: vacuumIdle) and says what it did.
	vacuum func(ctx context.Context) (string, error)
	// checkpoint writes the log a load left behind into the database
	// files (SQLite's WAL, PostgreSQL's checkpoint) and says how.
	checkpoint func(ctx context.Context) (string, error)
	// prepareS1, if set, brings the database to the state each S1
	// measurement starts from, and says what it did.
	prepareS1 func(ctx context.Context) (string, error)
	// detach, if set, closes the in-process store while a server has the
	// database, and attach opens it again as it was (see withServer).
	detach func() error
	attach func(ctx context.Context) error
	close  func() error
}

// Settle makes what a load wrote durable and idle before a measurement:
// a checkpoint (on PostgreSQL after a vacuum), then sync(2) for the whole
// machine, and says what it did. Measured right after a 10M-member load,
// every commit's fsync otherwise queues behind gigabytes of the load's
// dirty pages and S5 measures the writeback.
func (e *Engine) Settle(ctx context.Context) (string, error) { return e.settle(ctx, true) }

// settle is Settle, without the vacuum when vacuum is false (S1's
// prepareS1 has just run one).
func (e *Engine) settle(ctx context.Context, vacuum bool) (string, error) {
	var did []string
	if vacuum && e.vacuum != nil {
		v, err := e.vacuum(ctx)
		if err != nil {
			return "", err
		}
		did = append(did, v)
	}
	cp, err := e.checkpoint(ctx)
	if err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	syscall.Sync()
	return strings.Join(append(did, cp), ", "), nil
}

// queryRow runs a one-row query in a transaction of its own.
func (e *Engine) queryRow(ctx context.Context, q string, dest ...any) error {
	return e.inTx(ctx, func(c sqlstore.Conn) error { return c.QueryRow(ctx, q).Scan(dest...) })
}

// tables lists the database's tables.
func (e *Engine) tables(ctx context.Context) (map[string]bool, error) {
	// Not SQLite's own tables: sqlite_sequence, read whole by every
	// AUTOINCREMENT insert, holds a row per such table.
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'`
	if e.Name == "postgres" {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	out := map[string]bool{}
	err := e.inTx(ctx, func(c sqlstore.Conn) error {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				return err
			}
			out[name] = true
		}
		return rows.Err()
	})
	return out, err
}

// GroupMode is a group commit setting of the in-process store.
type GroupMode struct {
	On    bool
	Lanes int // PostgreSQL only: groups run at once (0: the store's default)
}

func (g GroupMode) String() string {
	switch {
	case !g.On:
		return "group commit off"
	case g.Lanes == 1:
		return "group commit on, one lane"
	case g.Lanes > 1:
		return fmt.Sprintf("group commit on, %d lanes", g.Lanes)
	}
	return "group commit on"
}

// groupModes are the settings the in-process S2 comparison runs.
func (e *Engine) groupModes() []GroupMode { return groupModes(e.Name) }

// groupModes are the settings the in-process S2 comparison runs on the
// engine named engine.
func groupModes(engine string) []GroupMode {
	if engine == "postgres" {
		return []GroupMode{{On: true}, {On: true, Lanes: 1}, {On: false}}
	}
	return []GroupMode{{On: true}, {On: false}}
}

// Reopen closes the in-process store and opens it again with group
// commit set as g says.
func (e *Engine) Reopen(ctx context.Context, g GroupMode) error { return e.reopen(ctx, g) }

// Size is the database's size on disk in bytes.
func (e *Engine) Size(ctx context.Context) (int64, error) { return e.size(ctx) }

// Close closes the store and removes the database.
func (e *Engine) Close() error { return e.close() }

// OpenSQLite creates a fresh SQLite database in a new directory under base.
func OpenSQLite(ctx context.Context, base string) (*Engine, error) {
	dir, err := os.MkdirTemp(base, "memberd-bench-sqlite-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bench.db")
	e := &Engine{Name: "sqlite", DSN: "sqlite:" + path, DataDir: dir}
	var st *sqlite.Store
	prepared := map[string]*sql.Stmt{}
	mode := GroupMode{On: true}
	e.reopen = func(ctx context.Context, g GroupMode) error {
		if st != nil {
			if err := st.Close(); err != nil {
				return err
			}
		}
		clear(prepared)
		mode = g
		st, err = sqlite.Open(ctx, path, sqlite.WithGroupCommit(g.On))
		e.Store = st
		return err
	}
	// A store left open beside the server keeps its own checkpointer on
	// the file, whose checkpoints made the server's RESTART wait for the
	// lock (34 ms traced in an S2 run); an operator's server is alone on
	// its file, so the bench's is too.
	e.detach = func() error {
		if st == nil {
			return nil
		}
		err := st.Close()
		st, e.Store = nil, nil
		clear(prepared)
		return err
	}
	e.attach = func(ctx context.Context) error {
		if st != nil {
			return nil
		}
		return e.reopen(ctx, mode)
	}
	if err := e.reopen(ctx, GroupMode{On: true}); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	var loader sqliteLoader
	e.bulk = func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
		return loader.bulk(ctx, st, build)
	}
	e.endBulk = func(ctx context.Context) error { return loader.end(ctx, st) }
	e.checkpoint = func(ctx context.Context) (string, error) {
		if st == nil {
			// Detached (a server has the database, S1 settling before a
			// measurement): a store of its own for this one checkpoint,
			// closed again before the measurement starts.
			tmp, err := sqlite.Open(ctx, path)
			if err != nil {
				return "", err
			}
			_, err = tmp.Writer().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
			return "WAL checkpointed by a store of its own", errors.Join(err, tmp.Close())
		}
		_, err := st.Writer().ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		return "WAL checkpointed", err
	}
	e.inTx = func(ctx context.Context, fn func(sqlstore.Conn) error) error {
		return st.UpdateSQL(ctx, func(tx *sql.Tx, _ membership.Tx) error { return fn(sqlConn{tx}) })
	}
	e.storeTx = func(ctx context.Context, fn func(*sqlstore.Tx) error) error {
		return st.UpdateSQL(ctx, func(_ *sql.Tx, mtx membership.Tx) error { return fn(mtx.(*sqlstore.Tx)) })
	}
	e.replay = func(ctx context.Context, stmts []Stmt) error {
		// Prepared once per query, before the transaction takes the
		// single writer connection: the floor pays no parsing.
		for _, s := range stmts {
			if _, ok := prepared[s.Query]; !ok {
				p, err := st.Writer().PrepareContext(ctx, sqlite.Rebind(s.Query))
				if err != nil {
					return fmt.Errorf("prepare %s: %w", describe(s.Query), err)
				}
				prepared[s.Query] = p
			}
		}
		tx, err := st.Writer().BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
		for _, s := range stmts {
			p := tx.StmtContext(ctx, prepared[s.Query])
			if s.Rows {
				rows, err := p.QueryContext(ctx, s.Args...)
				if err != nil {
					return fmt.Errorf("%s: %w", describe(s.Query), err)
				}
				for rows.Next() {
				}
				err = errors.Join(rows.Err(), rows.Close())
				if err != nil {
					return fmt.Errorf("%s: %w", describe(s.Query), err)
				}
			} else if _, err := p.ExecContext(ctx, s.Args...); err != nil {
				return fmt.Errorf("%s: %w", describe(s.Query), err)
			}
		}
		return tx.Commit()
	}
	e.explain = func(ctx context.Context, s Stmt) ([]string, error) {
		rows, err := st.Writer().QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlite.Rebind(s.Query), s.Args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		depth := map[int]int{}
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				return nil, err
			}
			depth[id] = depth[parent] + 1
			out = append(out, strings.Repeat("  ", depth[id]-1)+detail)
		}
		return out, rows.Err()
	}
	e.size = func(context.Context) (int64, error) {
		var total int64
		for _, suffix := range []string{"", "-wal"} {
			fi, err := os.Stat(path + suffix)
			if err == nil {
				total += fi.Size()
			}
		}
		return total, nil
	}
	e.close = func() error {
		err := e.detach()
		return errors.Join(err, os.RemoveAll(dir))
	}
	return e, nil
}

// postgresSettings configure the bench's server as an operator would a
// dedicated database machine with memMB of memory (fsync stays on). With
// the tests' 128 MB of shared buffers the random-UUID unique indexes stop
// fitting past a million members, and loading then reads index pages back
// and writes a full page image to the WAL for nearly every row: growing
// from 1M to 1.5M ran at 12,092 members/s with these, 6,744 without
// (TestLoadRate, back to back on a busy machine; 0 to 1M was the same).
// WAL compression is left off for the server (its default) and turned on
// by the loading transactions alone (bulkPostgres): on 2 cores, with a
// flush rate far above what the CPU can commit, compressing full-page
// images costs CPU and saves nothing the scenarios wait for. The first
// offboarding of an S4 member after a checkpoint writes about 230 of
// them, and spent 4 to 10 ms more backend CPU with lz4 than without
// (37.7 against 27.2 ms at the least, 53.1 against 46.8 at the median,
// 12 turns each at 1M members).
func postgresSettings(memMB int64) [][2]string {
	shared := max(128, min(memMB/4, 4096))
	return [][2]string{
		{"shared_buffers", strconv.FormatInt(shared, 10) + "MB"},
		{"effective_cache_size", strconv.FormatInt(max(shared, memMB*3/4), 10) + "MB"},
		{"maintenance_work_mem", "512MB"},
		{"max_wal_size", "16GB"},
		{"checkpoint_timeout", "30min"},
		// The time spent reading blocks into shared buffers, which the
		// log of each S1 measurement shows (watchPG).
		{"track_io_timing", "on"},
	}
}

// OpenPostgres starts a throwaway PostgreSQL cluster (internal/pgtest)
// configured by postgresSettings, and then extra, and creates a fresh
// database in it.
func OpenPostgres(ctx context.Context, extra ...[2]string) (*Engine, error) {
	var opts []pgtest.Option
	var settings []string
	for _, kv := range append(postgresSettings(memoryMB()), extra...) {
		opts = append(opts, pgtest.WithSetting(kv[0], kv[1]))
		settings = append(settings, kv[0]+"="+kv[1])
	}
	cluster, err := pgtest.Start(opts...)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	dsn, err := cluster.CreateDatabase(ctx, "bench")
	if err != nil {
		cluster.Stop()
		return nil, err
	}
	e := &Engine{Name: "postgres", DSN: dsn, DataDir: filepath.Dir(cluster.DataDir()), Settings: strings.Join(settings, " ")}
	var st *postgres.Store
	e.reopen = func(ctx context.Context, g GroupMode) error {
		if st != nil {
			if err := st.Close(); err != nil {
				return err
			}
		}
		opts := []postgres.Option{postgres.WithGroupCommit(g.On)}
		if g.Lanes > 0 {
			opts = append(opts, postgres.WithGroupLanes(g.Lanes))
		}
		st, err = postgres.Open(ctx, dsn, opts...)
		e.Store = st
		return err
	}
	if err := e.reopen(ctx, GroupMode{On: true}); err != nil {
		cluster.Stop()
		return nil, err
	}
	e.bulk = func(ctx context.Context, build func(sqlstore.Conn) ([]bulkTable, error)) error {
		return bulkPostgres(st)(ctx, build)
	}
	// Loading commits 250,000 members a transaction, faster than
	// autovacuum analyzes, so that the first scenarios after a load would
	// plan with the statistics of a tenth of the rows while autovacuum
	// catches up beside them; and it leaves every loaded table due for
	// autovacuum (vacuumIdle). An import is followed by VACUUM (ANALYZE)
	// in production too.
	e.vacuum = func(ctx context.Context) (string, error) { return vacuumIdle(ctx, st.Pool()) }
	e.checkpoint = func(ctx context.Context) (string, error) {
		_, err := st.Pool().Exec(ctx, "CHECKPOINT")
		return "checkpoint", err
	}
	e.prepareS1 = func(ctx context.Context) (string, error) { return settlePostgres(ctx, st.Pool()) }
	e.inTx = func(ctx context.Context, fn func(sqlstore.Conn) error) error {
		return st.UpdatePgx(ctx, func(tx pgx.Tx, _ membership.Tx) error { return fn(pgConn{tx}) })
	}
	e.storeTx = func(ctx context.Context, fn func(*sqlstore.Tx) error) error {
		return st.UpdatePgx(ctx, func(_ pgx.Tx, mtx membership.Tx) error { return fn(mtx.(*sqlstore.Tx)) })
	}
	e.replay = func(ctx context.Context, stmts []Stmt) error {
		// pgx prepares and caches each statement per connection itself.
		return pgx.BeginTxFunc(ctx, st.Pool(), pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
			for _, s := range stmts {
				if s.Rows {
					if err := queryAll(ctx, tx, s); err != nil {
						return err
					}
				} else if _, err := tx.Exec(ctx, s.Query, s.Args...); err != nil {
					return fmt.Errorf("%s: %w", describe(s.Query), err)
				}
			}
			return nil
		})
	}
	e.explain = func(ctx context.Context, s Stmt) ([]string, error) {
		rows, err := st.Pool().Query(ctx, "EXPLAIN "+s.Query, s.Args...)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	e.size = func(ctx context.Context) (int64, error) {
		var n int64
		err := st.Pool().QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return n, err
	}
	e.close = func() error {
		err := st.Close()
		return errors.Join(err, cluster.Stop())
	}
	return e, nil
}

// sqlConn adapts *sql.Tx on SQLite to sqlstore.Conn, as store/sqlite does.
type sqlConn struct{ tx *sql.Tx }

func (c sqlConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.tx.ExecContext(ctx, sqlite.Rebind(q), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c sqlConn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.tx.QueryContext(ctx, sqlite.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c sqlConn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return c.tx.QueryRowContext(ctx, sqlite.Rebind(q), args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { _ = r.Rows.Close() }

// pgConn adapts pgx.Tx to sqlstore.Conn, as store/postgres does.
type pgConn struct{ tx pgx.Tx }

func (c pgConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.tx.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

func (c pgConn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.tx.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c pgConn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	return c.tx.QueryRow(ctx, q, args...)
}

// queryAll runs s on tx and reads every row it returns, as the store would.
func queryAll(ctx context.Context, tx pgx.Tx, s Stmt) error {
	rows, err := tx.Query(ctx, s.Query, s.Args...)
	if err != nil {
		return fmt.Errorf("%s: %w", describe(s.Query), err)
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", describe(s.Query), err)
	}
	return nil
}
