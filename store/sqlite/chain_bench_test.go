package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkRemovals runs storetest.BenchRemovals with group commit on and
// off: go test -run - -bench Removals -benchtime 1x ./store/sqlite/
func BenchmarkRemovals(b *testing.B) {
	for _, gc := range []bool{true, false} {
		name := "GroupCommit"
		if !gc {
			name = "TxPerUpdate"
		}
		b.Run(name, func(b *testing.B) {
			st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), sqlite.WithGroupCommit(gc))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			storetest.BenchRemovals(b, st, 2000, 32)
		})
	}
}
