package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestDSN checks that the connection settings each driver's DSN spells in
// its own way are in force on the connections the store opens: durability
// and foreign keys everywhere, the page cache on the writer, read-only
// readers, and a writer whose transactions take the write lock at BEGIN.
func TestDSN(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "dsn.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pragma := func(db *sql.DB, name string) string {
		t.Helper()
		var v string
		if err := db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		return v
	}
	for name, db := range map[string]*sql.DB{"writer": s.writer, "reader": s.reader} {
		for p, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "temp_store": "2"} {
			if got := pragma(db, p); got != want {
				t.Errorf("%s: %s = %s, want %s", name, p, got, want)
			}
		}
	}
	if got, want := pragma(s.writer, "cache_size"), "-65536"; got != want {
		t.Errorf("writer: cache_size = %s, want %s", got, want)
	}
	if got, want := pragma(s.reader, "cache_size"), "-8192"; got != want {
		t.Errorf("reader: cache_size = %s, want %s", got, want)
	}
	if got := pragma(s.writer, "query_only"); got != "0" {
		t.Errorf("writer: query_only = %s, want 0", got)
	}
	if got := pragma(s.reader, "query_only"); got != "1" {
		t.Errorf("reader: query_only = %s, want 1", got)
	}

	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback() //nolint:errcheck // only held open
	other, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err == nil {
		t.Error("BEGIN IMMEDIATE succeeded while the writer held a transaction: the writer's BEGIN is not IMMEDIATE")
		_, _ = c.ExecContext(ctx, "ROLLBACK")
	}
}
