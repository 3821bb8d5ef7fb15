package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// slowWrite takes a few hundred milliseconds on SQLite.
const slowWrite = `INSERT INTO gc_rows (caller)
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT 'bulk' || i FROM n`

func TestGroupCommit(t *testing.T) {
	storetest.RunGroupCommit(t, func(tb testing.TB) membership.Store {
		tb.Helper()
		st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "memberd.db"), sqlite.WithGroupCommit(true))
		if err != nil {
			tb.Fatalf("open sqlite: %v", err)
		}
		tb.Cleanup(func() {
			if err := st.Close(); err != nil {
				tb.Errorf("close sqlite: %v", err)
			}
		})
		return st
	}, slowWrite)
}
