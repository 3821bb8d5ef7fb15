package postgres_test

import (
	"testing"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/storetest"
)

// TestGroupCommit runs the group commit suite on a fresh database per
// test (TestMain in postgres_test.go stops the cluster): the arranged
// cases in one lane, and the concurrent one in the default lanes too.
func TestGroupCommit(t *testing.T) {
	open := func(opts ...postgres.Option) storetest.Opener {
		return opener(pgtest.NewDatabase, append([]postgres.Option{postgres.WithGroupCommit(true)}, opts...)...)
	}
	storetest.RunGroupCommit(t, open(postgres.WithGroupLanes(1)), `INSERT INTO gc_rows (caller) SELECT 'bulk' || pg_sleep(0.3)::text`)
	t.Run("Lanes", func(t *testing.T) { storetest.RunGroupCommitConcurrent(t, open()) })
}
