package jobs

import (
	"context"
	"database/sql"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// SQLiteDriver is River's SQLite driver on the store's single writer, whose
// producer asks reader, a read-only pool of the same database, whether
// any job is due before it takes the writer to claim jobs. An idle node
// then polls without ever holding up a commit: the claim (an UPDATE) is
// the only fetch statement that needs the writer, and it runs only when
// the read found work. A job committed by the writer is visible to the
// next read at once (WAL), so no job starts later than it did.
func SQLiteDriver(writer, reader *sql.DB) riverdriver.Driver[*sql.Tx] {
	return &sqliteDriver{Driver: riversqlite.New(writer), reader: reader}
}

type sqliteDriver struct {
	*riversqlite.Driver
	reader *sql.DB
}

func (d *sqliteDriver) GetExecutor() riverdriver.Executor {
	return &readFirstExecutor{Executor: d.Driver.GetExecutor(), reader: d.reader}
}

// readFirstExecutor is River's executor whose JobGetAvailable reads first.
type readFirstExecutor struct {
	riverdriver.Executor
	reader *sql.DB
}

func (e *readFirstExecutor) JobGetAvailable(ctx context.Context, p *riverdriver.JobGetAvailableParams) (*riverdriver.JobGetAvailableResult, error) {
	// A stubbed clock or a schema of its own is River's to interpret:
	// those claims go straight to the writer, as they always did.
	if p.Now == nil && p.Schema == "" && p.MaxToLock > 0 {
		var due bool
		err := e.reader.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
			WHERE state = 'available' AND queue = ? AND priority >= 0 AND scheduled_at <= datetime('now', 'subsec'))`, p.Queue).Scan(&due)
		if err == nil && !due {
			return &riverdriver.JobGetAvailableResult{}, nil
		}
	}
	return e.Executor.JobGetAvailable(ctx, p)
}
