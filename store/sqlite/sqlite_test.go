package sqlite_test

import (
	"context"
	"log/slog"
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
		name   string
		opt    sqlite.Option
		memory bool
	}{
		{"GroupCommit", sqlite.WithGroupCommit(true), false},
		{"TxPerUpdate", sqlite.WithGroupCommit(false), false},
		// The copy in memory answers every check it can: the suite's
		// access tests then hold it to the statement's answers, and its
		// staleness tests to promise 2.
		{"AccessMemory", sqlite.WithGroupCommit(true), true},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			storetest.Run(t, func(tb testing.TB) membership.Store {
				tb.Helper()
				st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "memberd.db"), mode.opt)
				if err != nil {
					tb.Fatalf("open sqlite: %v", err)
				}
				if mode.memory {
					if err := st.EnableAccessMemory(context.Background(), sqlite.DefaultAccessMemory, slog.New(slog.DiscardHandler)); err != nil {
						tb.Fatalf("access memory: %v", err)
					}
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
