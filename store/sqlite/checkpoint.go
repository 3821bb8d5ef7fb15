package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Checkpoint settings. The writer runs with wal_autocheckpoint off, so a
// commit never copies the WAL back into the database inside the
// committing call (6.6% of a removal's CPU when it did); a goroutine on a
// connection of its own does it instead.
const (
	// checkpointEvery is how often the checkpointer looks at the WAL.
	checkpointEvery = 50 * time.Millisecond
	// checkpointBytes is the WAL size above which it checkpoints while
	// the writer keeps committing (PASSIVE: it never blocks the writer or
	// a reader, and copies what no reader still needs).
	checkpointBytes = 4 << 20
	// restartBytes is the WAL content at which it stops waiting for a
	// PASSIVE checkpoint to catch up. Under a steady stream of commits a
	// PASSIVE checkpoint never finds the WAL wholly copied when the next
	// transaction begins, so SQLite never starts the WAL over and it
	// would grow without end. A checkpoint that waits for that from
	// another connection would starve, its busy handler polling while the
	// writer takes the lock back after each commit; so it queues on the
	// writer's pool instead, between two transactions, and the writer
	// waits for that copy once per restartBytes of WAL, not in every
	// commit.
	//
	// That checkpoint is a RESTART, not a TRUNCATE: the next transaction
	// writes the WAL from its start again, over blocks the file already
	// has. Truncated, the file grew again under every commit, and an
	// fdatasync that also allocates blocks costs a journal commit: on this
	// machine's ext4, 1.0 ms against 0.26 ms for a commit of 10 pages, 6.0
	// against 4.8 ms for 600 (medians of 20 rounds of 20).
	restartBytes = 16 << 20
	// idleAfter is how long the writer must have had no transaction before
	// the checkpointer empties the WAL (TRUNCATE). Emptying it holds the
	// write lock while it copies, syncs the database and cuts the file,
	// 80-260 ms on a loaded machine; run when the WAL's file had merely not
	// changed for one look (50 ms), it ran between two group commits of a
	// steady load whenever one group took longer than that, and stalled
	// every caller queued behind it (the stall in docs/performance.md's S2).
	idleAfter = 500 * time.Millisecond
)

// walLimitBytes is the size the first commit after a restart cuts the
// WAL's file back to (journal_size_limit), when one large transaction (a
// bulk import) grew it past that: otherwise the file would stay at that
// transaction's size, on disk and in the page cache. It is four times
// restartBytes, above the 23 MiB the WAL reached under TestCheckpointBoundsWAL's
// churn, so that under a steady load the file is not cut and regrown.
const walLimitBytes = 4 * restartBytes

// checkpointSizes are the checkpointer's thresholds and the WAL's file
// limit: checkpointBytes, restartBytes and walLimitBytes, smaller in tests.
type checkpointSizes struct{ checkpoint, restart, limit int64 }

var defaultCheckpointSizes = checkpointSizes{checkpoint: checkpointBytes, restart: restartBytes, limit: walLimitBytes}

// withCheckpointSizes sets the checkpointer's thresholds and the WAL's
// file limit (tests only).
func withCheckpointSizes(checkpoint, restart, limit int64) Option {
	return func(o *options) {
		o.checkpoint = checkpointSizes{checkpoint: checkpoint, restart: restart, limit: limit}
	}
}

// checkpointer keeps the WAL short from outside the writer.
type checkpointer struct {
	db     *sql.DB
	writer *sql.DB
	// writes is the writer's transaction count (writeCount): the
	// checkpointer reads from it whether the writer is idle.
	writes *writeCount
	wal    string
	frame  int64    // bytes of a WAL frame, once read (by run only)
	shm    *os.File // the wal-index, once opened (by run only)
	sizes  checkpointSizes
	stop   chan struct{}
	once   sync.Once
	done   sync.WaitGroup
}

// startCheckpointer opens its connection to path and starts it.
func startCheckpointer(path string, writer *sql.DB, writes *writeCount, sizes checkpointSizes) (*checkpointer, error) {
	db, err := sql.Open(driverName, dsn(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, writer: writer, writes: writes, wal: path + "-wal", sizes: sizes, stop: make(chan struct{})}
	c.done.Add(1)
	go c.run()
	return c, nil
}

func (c *checkpointer) run() {
	defer c.done.Done()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last os.FileInfo
	var lastWrites uint64
	quiet := time.Now() // since when neither the writer nor the file changed
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
		// The file's size and time catch a writer of another process
		// (the job queue's statements run on the writer pool too, outside
		// writeCount); the count catches a transaction still open.
		writes := c.writes.n.Load()
		if last == nil || size != last.Size() || !fi.ModTime().Equal(last.ModTime()) || writes != lastWrites || writes%2 == 1 {
			quiet = time.Now()
		}
		lastWrites = writes
		idle := time.Since(quiet) >= idleAfter
		content, known := c.content()
		switch {
		case size > 0 && idle:
			// Idle: TRUNCATE copies everything and empties the file, so an
			// idle database is whole in its main file. The PASSIVE
			// checkpoint first copies and syncs without the write lock;
			// the TRUNCATE then queues on the writer's pool, between two
			// transactions, as RESTART does: from its own connection it
			// would make a writer that came meanwhile poll in SQLite's
			// busy handler, whose sleeps outlast the checkpoint.
			c.passive()
			c.onWriter("TRUNCATE")
		case known && content > c.sizes.restart:
			// PASSIVE first, as for TRUNCATE: it copies and syncs what
			// committed since the last look without the write lock, so the
			// RESTART holding the writer copies only what committed in
			// between (traced: a RESTART that itself copied 490 frames and
			// synced the database held the writer 121 ms).
			c.passive()
			c.onWriter("RESTART")
		case known && content > c.sizes.checkpoint:
			c.checkpoint(c.db, "PASSIVE")
		case !known && size > c.sizes.checkpoint:
			// The file's size says how far the WAL once grew, not what it
			// holds now, which the PASSIVE checkpoint reports.
			if frames := c.passive(); frames*c.frameBytes() > c.sizes.restart {
				c.onWriter("RESTART")
			}
		}
		last = fi
	}
}

// content returns how many bytes of frames the WAL holds, read from the
// wal-index header in the -shm file (https://sqlite.org/walformat.html):
// after a restart the WAL's file keeps its size, so its size no longer
// says it. The header is kept twice; a look that finds the copies
// differing (a commit was writing it) or an unknown version knows nothing.
func (c *checkpointer) content() (int64, bool) {
	if c.shm == nil {
		f, err := os.Open(c.wal[:len(c.wal)-len("-wal")] + "-shm")
		if err != nil {
			return 0, false
		}
		c.shm = f
	}
	var h [2 * walIndexHeader]byte
	if _, err := c.shm.ReadAt(h[:], 0); err != nil {
		return 0, false
	}
	if !bytes.Equal(h[:walIndexHeader], h[walIndexHeader:]) {
		return 0, false
	}
	ne := binary.NativeEndian
	if ne.Uint32(h[0:]) != walIndexVersion || h[12] != 1 {
		return 0, false
	}
	sz := uint32(ne.Uint16(h[14:]))
	page := int64(sz&0xfe00) + int64(sz&1)<<16
	return int64(ne.Uint32(h[16:])) * (page + walFrameHeader), true
}

// The wal-index header: its size, and the version of its format.
const walIndexHeader, walIndexVersion = 48, 3007000

// passive runs a PASSIVE checkpoint on the checkpointer's connection and
// returns how many frames the WAL holds (0 when it could not tell).
func (c *checkpointer) passive() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var busy, frames, copied int64
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		return 0
	}
	return max(frames, 0)
}

// frameBytes is the size of one WAL frame: a page and its header.
func (c *checkpointer) frameBytes() int64 {
	if c.frame == 0 {
		var page int64
		if err := c.db.QueryRow("PRAGMA page_size").Scan(&page); err != nil || page <= 0 {
			return 4096 + walFrameHeader
		}
		c.frame = page + walFrameHeader
	}
	return c.frame
}

// writeCount counts the writer's transactions as they begin and end, so
// that it is odd while one is open.
type writeCount struct{ n atomic.Uint64 }

func (w *writeCount) add() { w.n.Add(1) }

// walFrameHeader is the size of a WAL frame's header.
const walFrameHeader = 24

func (c *checkpointer) checkpoint(db *sql.DB, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A failed checkpoint (a reader held an old snapshot, the busy
	// timeout passed) costs nothing: the next look tries again.
	_, _ = db.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
}

// writerBusy is how long a checkpoint on the writer's pool (RESTART,
// TRUNCATE) waits for readers to leave the WAL. It holds the single
// writer meanwhile: with the connection's own busy timeout (10 s), a
// reader on an old snapshot (a long export) stopped every write for that
// long at each attempt (TestCheckpointSparesWriterFromOldReader), and a
// reader that merely had not finished held a group commit's callers 10-50
// ms. A checkpoint that gives up costs nothing; the next look tries again.
const writerBusy = 10 * time.Millisecond

// onWriter runs a checkpoint of mode on the writer's pool, between two
// transactions, with the busy timeout cut to writerBusy for it.
func (c *checkpointer) onWriter(mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := c.writer.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	var busy int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy); err != nil {
		return
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(writerBusy.Milliseconds(), 10)); err != nil {
		return
	}
	// A failed checkpoint, as in checkpoint, costs nothing.
	_, _ = conn.ExecContext(ctx, "PRAGMA wal_checkpoint("+mode+")")
	if _, err := conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.FormatInt(busy, 10)); err != nil {
		// The writer must not go on without its busy timeout: the pool
		// drops the connection and opens one with the DSN's.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// close stops the checkpointer and closes its connection; closing a
// closed Store again is harmless, as database/sql's Close is.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.stop) })
	c.done.Wait()
	if c.shm != nil {
		c.shm.Close()
	}
	return c.db.Close()
}
