// Package jobstest builds the job queue on whichever engine a test opened,
// as cmd/memberd does for the server, so that tests of the packages above
// the core run operations and webhooks the way production does.
package jobstest

import (
	"context"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
	"github.com/memberd/memberd/store/sqlite"
)

// NewQueue returns the job queue on River's driver for st's engine, or
// fails tb.
func NewQueue(tb testing.TB, st membership.Store, cfg jobs.Config) *jobs.Queue {
	tb.Helper()
	var q *jobs.Queue
	var err error
	ctx := context.Background()
	switch st := st.(type) {
	case *sqlite.Store:
		cfg.PollOnly = true // as cmd/memberd runs it
		q, err = jobs.NewQueue(ctx, jobs.SQLiteDriver(st.Writer(), st.Reader()), sqlite.SQLTx, cfg)
	case *postgres.Store:
		q, err = jobs.NewQueue(ctx, riverpgxv5.New(st.Pool()), postgres.PgxTx, cfg)
	default:
		tb.Fatalf("store %T has no job queue driver", st)
	}
	if err != nil {
		tb.Fatalf("job queue: %v", err)
	}
	return q
}
