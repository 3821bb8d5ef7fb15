package sqlite

import (
	"context"
	"database/sql"
	"os"
	"sync"
	"time"
)

// Checkpoint settings. The writer runs with wal_autocheckpoint off, so a
// commit never copies the WAL back into the database inside the
// committing call (6.6% of a removal's CPU when it did); a goroutine on a
// connection of its own does it instead.
const (
	// checkpointEvery is how often the checkpointer looks at the WAL's size.
	checkpointEvery = 50 * time.Millisecond
	// checkpointBytes is the WAL size above which it checkpoints while
	// the writer keeps committing (PASSIVE: it never blocks the writer or
	// a reader, and copies what no reader still needs).
	checkpointBytes = 4 << 20
	// truncateBytes is the WAL size at which it stops waiting for a
	// PASSIVE checkpoint to catch up. Under a steady stream of commits a
	// PASSIVE checkpoint never finds the WAL wholly copied when the next
	// transaction begins, so the WAL is never restarted and would grow
	// without end. A TRUNCATE from another connection would starve, its
	// busy handler polling while the writer takes the lock back after each
	// commit; so it queues on the writer's pool instead, between two
	// transactions, and the writer waits for that copy once per
	// truncateBytes of WAL, not in every commit.
	truncateBytes = 16 << 20
)

// checkpointer keeps the WAL short from outside the writer.
type checkpointer struct {
	db     *sql.DB
	writer *sql.DB
	wal    string
	stop   chan struct{}
	once   sync.Once
	done   sync.WaitGroup
}

// startCheckpointer opens its connection to path and starts it.
func startCheckpointer(path string, writer *sql.DB) (*checkpointer, error) {
	db, err := sql.Open(driverName, dsn(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, writer: writer, wal: path + "-wal", stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.done.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last os.FileInfo
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		fi, err := os.Stat(c.wal)
		if err != nil {
			continue // no WAL yet, or it is being recreated
		}
		size := fi.Size()
		idle := last != nil && size == last.Size() && fi.ModTime().Equal(last.ModTime())
		switch {
		case size > 0 && idle:
			// Idle since the last look: TRUNCATE copies everything and
			// empties the file, so an idle database is whole in its main
			// file.
			c.checkpoint(c.db, "TRUNCATE")
		case size > truncateBytes:
			c.checkpoint(c.writer, "TRUNCATE")
		case size > checkpointBytes:
			c.checkpoint(c.db, "PASSIVE")
		}
		last = fi
	}
}

func (c *checkpointer) checkpoint(db *sql.DB, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A failed checkpoint (a reader held an old snapshot, the busy
	// timeout passed) costs nothing: the next look tries again.
	_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
}

// close stops the checkpointer and closes its connection; closing a
// closed Store again is harmless, as database/sql's Close is.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	c.done.Wait()
	return c.db.Close()
}
