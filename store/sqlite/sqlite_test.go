package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// TestStore runs the conformance suite on a fresh database file per test.
func TestStore(t *testing.T) {
	storetest.Run(t, func(tb testing.TB) membership.Store {
		tb.Helper()
		st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "memberd.db"))
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
}
