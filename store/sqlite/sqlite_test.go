package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// TestStore runs the conformance suite on a fresh database file per test,
// with group commit (the default) and with a transaction per Update.
func TestStore(t *testing.T) {
	modes := []struct {
		name string
		opt  sqlite.Option
	}{
		{"GroupCommit", sqlite.WithGroupCommit(true)},
		{"TxPerUpdate", sqlite.WithGroupCommit(false)},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(tb testing.TB) membership.Store {
				tb.Helper()
				st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "memberd.db"), mode.opt)
				if err != nil {
					tb.Fatalf("open sqlite: %v", err)
				}
				tb.Cleanup(func() {
					if err := st.Close(); err != nil {
						tb.Errorf("close sqlite: %v", err)
					}
				})
				return st
			})
		})
	}
}
