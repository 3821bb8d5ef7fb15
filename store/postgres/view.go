package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberd/memberd/store/sqlstore"
)

// beginRead opens a view's snapshot. REPEATABLE READ takes the snapshot at
// the first statement, not at BEGIN, so sending BEGIN together with that
// statement reads exactly what a separate BEGIN would have.
const beginRead = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

// viewConn runs a view's statements on one pooled connection and begins
// its transaction lazily: BEGIN travels in one batch, one network round
// trip, with the first statement. An access check is two views (one
// statement, then three), so this takes it from 8 round trips to 6.
type viewConn struct {
	// conn is acquired from pool at the first statement, so that a
	// one-statement view whose check is batched never holds one.
	pool  *pgxpool.Pool
	conn  *pgxpool.Conn
	batch *sqlstore.AccessBatcher // nil: checks run on conn
	began bool
	err   error // from closing the first statement's batch
	// single runs the view's one statement on its own, without BEGIN or
	// ROLLBACK: one round trip (see membership.OneStatement). ran refuses
	// a second statement, which would not share the first one's snapshot.
	single, ran bool
}

// errSecondStatement is a view marked as one statement running another.
var errSecondStatement = errors.New("a one-statement view ran a second statement")

// AccessBatcher implements sqlstore.AccessBatchConn: a one-statement
// view's check may go with concurrent ones.
func (v *viewConn) AccessBatcher() *sqlstore.AccessBatcher {
	if !v.single || v.ran {
		return nil
	}
	return v.batch
}

// direct says whether the next statement runs on the connection as it
// is; a one-statement view's second statement is an error.
func (v *viewConn) direct(ctx context.Context) (bool, error) {
	if v.conn == nil {
		c, err := v.pool.Acquire(ctx)
		if err != nil {
			return false, fmt.Errorf("begin read: %w", err)
		}
		v.conn = c
	}
	if !v.single {
		return v.began, nil
	}
	if v.ran {
		return false, errSecondStatement
	}
	v.ran = true
	return true, nil
}

// firstBatch sends BEGIN and the first statement; the caller reads the
// statement's result from the batch and then closes it.
func (v *viewConn) firstBatch(ctx context.Context, query string, args []any) (pgx.BatchResults, error) {
	v.began = true
	b := &pgx.Batch{}
	b.Queue(beginRead)
	b.Queue(query, args...)
	br := v.conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close() //nolint:errcheck // it returns the same error again
		return nil, err
	}
	return br, nil
}

func (v *viewConn) closeBatch(br pgx.BatchResults) error {
	err := br.Close()
	v.err = errors.Join(v.err, err)
	return err
}

func (v *viewConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	if direct, err := v.direct(ctx); err != nil {
		return 0, err
	} else if direct {
		tag, err := v.conn.Exec(ctx, query, args...)
		return tag.RowsAffected(), err
	}
	br, err := v.firstBatch(ctx, query, args)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := v.closeBatch(br); err == nil {
		err = cerr
	}
	return tag.RowsAffected(), err
}

func (v *viewConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	if direct, err := v.direct(ctx); err != nil {
		return nil, err
	} else if direct {
		rows, err := v.conn.Query(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}
	br, err := v.firstBatch(ctx, query, args)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		v.closeBatch(br) //nolint:errcheck // the same error again, also kept in v.err
		return nil, err
	}
	return &batchRows{Rows: rows, br: br, v: v}, nil
}

func (v *viewConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	if direct, err := v.direct(ctx); err != nil {
		return errRow{err}
	} else if direct {
		return v.conn.QueryRow(ctx, query, args...)
	}
	br, err := v.firstBatch(ctx, query, args)
	if err != nil {
		return errRow{err}
	}
	return batchRow{row: br.QueryRow(), close: func() error { return v.closeBatch(br) }}
}

// end rolls the snapshot back and returns the connection to the pool,
// which destroys it rather than reuse it if the rollback did not leave it
// idle.
func (v *viewConn) end(ctx context.Context) {
	if v.conn == nil {
		return
	}
	if v.began {
		v.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK") //nolint:errcheck // a read-only transaction has nothing to lose
	}
	v.conn.Release()
}

// batchRows closes the first statement's batch with its rows; an error
// from that is kept for View to return.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
	v  *viewConn
}

func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.v.closeBatch(r.br) //nolint:errcheck // kept in v.err
		r.br = nil
	}
}

// batchRow closes the first statement's batch once its row is scanned.
type batchRow struct {
	row   pgx.Row
	close func() error
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.close(); err == nil {
		err = cerr
	}
	return err
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// accessBatchInFlight is how many statements of one check shape run at a
// time before further checks wait to go together. One: S3's checks
// through the store at concurrency 16 on 2 cores and 100k members took
// 0.3-0.45x the backend CPU per check of unbatched ones at 1.3-2x the
// rate; two in flight gave smaller batches, 0.6-0.7x the CPU. Over HTTP
// (the bench's S3) the backends spent 0.55x the CPU per check.
const accessBatchInFlight = 1

// newAccessBatcher batches one-statement checks, run on pool.
func newAccessBatcher(pool *pgxpool.Pool) *sqlstore.AccessBatcher {
	return sqlstore.NewAccessBatcher(func(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
		rows, err := pool.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	}, accessBatchInFlight)
}
