//go:build !sqlite_ncruces && !sqlite_modernc && (sqlite_mattn || cgo)

package sqlite

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestPageCacheTruncateShortcut holds the page cache wrapper to its two
// sides: commits whose B-tree splits parked a page above the cache's
// pages do not walk the cache (SQLite's own would have, every time), and
// a rollback that leaves pages above the database's size still has them
// dropped, so the file stays sound.
func TestPageCacheTruncateShortcut(t *testing.T) {
	if !pcacheInstalled {
		t.Fatal("the page cache wrapper is not installed: SQLite was initialized before this package")
	}
	ctx := context.Background()
	db, err := sql.Open(driverName, writerDSN(filepath.Join(t.TempDir(), "pcache.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	mustExec(`CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL)`)
	mustExec(`CREATE INDEX t_k ON t (k)`)
	rng := rand.New(rand.NewPCG(1, 2))
	key := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	insert := func(tx *sql.Tx, rows, size int) {
		t.Helper()
		for range rows {
			if _, err := tx.ExecContext(ctx, `INSERT INTO t (k) VALUES (?)`, key(size)); err != nil {
				t.Fatal(err)
			}
		}
	}

	passed0, skipped0, parked0 := pageCacheCounts()
	const commits = 200
	for range commits {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		insert(tx, 50, 100) // random keys: the index splits in its middle
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	passed, skipped, parked := pageCacheCounts()
	if parked == parked0 {
		t.Fatal("no B-tree split parked a page above the cache's pages: the test no longer makes the case it is about")
	}
	if passed != passed0 || skipped-skipped0 < commits {
		t.Fatalf("after %d commits (%d pages parked): %d truncations reached SQLite's cache, %d answered by the wrapper; want 0 and at least %d",
			commits, parked-parked0, passed-passed0, skipped-skipped0, commits)
	}

	var before int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	passed0 = passed
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insert(tx, 500, 3000) // grows the file by hundreds of pages
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if passed, _, _ = pageCacheCounts(); passed == passed0 {
		t.Fatal("a rollback that left pages above the database's size did not have them dropped")
	}
	tx, err = db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	insert(tx, 300, 2000) // reuses the page numbers the rollback gave back
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		t.Fatal(err)
	}
	var after int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if check != "ok" || after != before+300 {
		t.Fatalf("after the rollback and a commit: integrity_check %q, %d rows; want ok, %d", check, after, before+300)
	}
}
