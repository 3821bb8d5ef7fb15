package jobs

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// countingExecutor counts the claims that reach the writer.
type countingExecutor struct {
	riverdriver.Executor
	claims int
}

func (c *countingExecutor) JobGetAvailable(ctx context.Context, p *riverdriver.JobGetAvailableParams) (*riverdriver.JobGetAvailableResult, error) {
	c.claims++
	return c.Executor.JobGetAvailable(ctx, p)
}

// TestSQLiteDriverIdlePollSparesWriter checks that polling an idle queue
// never claims through the writer, and that a due job is claimed.
func TestSQLiteDriverIdlePollSparesWriter(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "memberd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := NewQueue(ctx, SQLiteDriver(st.Writer(), st.Reader()), sqlite.SQLTx, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	inner := &countingExecutor{Executor: SQLiteDriver(st.Writer(), st.Reader()).(*sqliteDriver).Driver.GetExecutor()}
	exec := &readFirstExecutor{Executor: inner, reader: st.Reader()}
	poll := func() int {
		t.Helper()
		res, err := exec.JobGetAvailable(ctx, &riverdriver.JobGetAvailableParams{ClientID: "test", MaxAttemptedBy: 100, MaxToLock: 10, Queue: "default"})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Jobs)
	}
	for range 5 {
		if n := poll(); n != 0 {
			t.Fatalf("idle poll: got %d jobs, want 0", n)
		}
	}
	if inner.claims != 0 {
		t.Errorf("idle polls that took the writer: got %d, want 0", inner.claims)
	}
	if err := st.Update(ctx, func(tx membership.Tx) error { return q.EnqueueDelivery(ctx, tx, 1, time.Now().Add(-time.Second)) }); err != nil {
		t.Fatal(err)
	}
	if n := poll(); n != 1 || inner.claims != 1 {
		t.Errorf("poll with a due job: got %d jobs in %d claims, want 1 in 1", n, inner.claims)
	}
}
