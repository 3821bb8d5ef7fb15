package postgres_test

import (
	"context"
	"testing"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkRemovals runs storetest.BenchRemovals with group commit on and
// off: CI=true go test -run - -bench Removals -benchtime 1x ./store/postgres/
func BenchmarkRemovals(b *testing.B) {
	for _, gc := range []bool{true, false} {
		name := "GroupCommit"
		if !gc {
			name = "TxPerUpdate"
		}
		b.Run(name, func(b *testing.B) {
			st, err := postgres.Open(context.Background(), pgtest.NewDatabase(b), postgres.WithGroupCommit(gc))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			storetest.BenchRemovals(b, st, 2000, 32)
		})
	}
}
