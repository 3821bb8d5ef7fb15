package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// TestWriterScan holds the writer's own Scan (rawRows) to database/sql's
// conversions, NULLs included, on every driver this package builds with.
func TestWriterScan(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "memberd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	type role string
	err = st.UpdateSQL(ctx, func(_ *sql.Tx, tx membership.Tx) error {
		c := tx.(*sqlstore.Tx).Conn()
		var (
			i     int64
			n     int
			s     string
			r     role
			b     []byte
			ok    bool
			ns    sql.NullString
			ps    *string
			pi    *int64
			nb    []byte
			a     any
			total int64
		)
		row := c.QueryRow(ctx, `SELECT 42, '7', 'text', 'admin', X'0102', 1, NULL, NULL, 5, NULL, 'x'`)
		if err := row.Scan(&i, &n, &s, &r, &b, &ok, &ns, &ps, &pi, &nb, &a); err != nil {
			return err
		}
		if i != 42 || n != 7 || s != "text" || r != "admin" || string(b) != "\x01\x02" || !ok || ns.Valid ||
			ps != nil || pi == nil || *pi != 5 || nb != nil || a != "x" {
			t.Errorf("scanned %v %v %q %q %v %v %v %v %v %v %v", i, n, s, r, b, ok, ns, ps, pi, nb, a)
		}
		if err := c.QueryRow(ctx, `SELECT NULL`).Scan(&s); err == nil {
			t.Error("NULL scanned into a string without an error")
		}
		if err := c.QueryRow(ctx, `SELECT 1 WHERE 0`).Scan(&i); !errors.Is(err, sql.ErrNoRows) {
			t.Errorf("no row: got %v, want sql.ErrNoRows", err)
		}
		at := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
		if _, err := c.Exec(ctx, `CREATE TEMP TABLE scan_t (n INTEGER, at TEXT)`); err != nil {
			return err
		}
		for k := range 3 {
			if _, err := c.Exec(ctx, `INSERT INTO scan_t VALUES ($1, $2)`, int64(k), at); err != nil {
				return err
			}
		}
		rows, err := c.Query(ctx, `SELECT n FROM scan_t ORDER BY n`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k int64
			if err := rows.Scan(&k); err != nil {
				return err
			}
			total += k
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if total != 3 {
			t.Errorf("summed %d over the rows, want 3", total)
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM scan_t WHERE n = $1`, int64(2)).Scan(&i); err != nil || i != 1 {
			t.Errorf("bound argument: %d, %v", i, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriterSQLTx: what the job queue writes through the *sql.Tx of a
// writer's transaction (SQLTx) commits or rolls back with the store's
// own statements, in the group commit's transaction too.
func TestWriterSQLTx(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "memberd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Writer().ExecContext(ctx, `CREATE TABLE q (who TEXT)`); err != nil {
		t.Fatal(err)
	}
	both := func(who string, fail bool) error {
		return st.Update(ctx, func(tx membership.Tx) error {
			stx, ok := SQLTx(tx)
			if !ok {
				t.Fatal("SQLTx: not a writer's transaction")
			}
			if _, err := stx.ExecContext(ctx, `INSERT INTO q VALUES (?)`, who+"-queue"); err != nil {
				return err
			}
			if _, err := tx.(*sqlstore.Tx).Conn().Exec(ctx, `INSERT INTO q VALUES ($1)`, who+"-store"); err != nil {
				return err
			}
			if fail {
				return errors.New("refused")
			}
			return nil
		})
	}
	if err := both("kept", false); err != nil {
		t.Fatal(err)
	}
	if err := both("dropped", true); err == nil {
		t.Fatal("a failing update succeeded")
	}
	var n int
	var who string
	if err := st.Reader().QueryRowContext(ctx, `SELECT count(*), group_concat(who, ',') FROM (SELECT who FROM q ORDER BY who)`).Scan(&n, &who); err != nil {
		t.Fatal(err)
	}
	if n != 2 || who != "kept-queue,kept-store" {
		t.Errorf("committed %d rows %q, want kept-queue,kept-store", n, who)
	}
}
