package bench

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgCounters are PostgreSQL's cumulative counters that tell one S1
// measurement's database state from another's: at 1M members, before
// settlePostgres, S1 over HTTP (right after the load and S5) read 2.0
// blocks a removal from outside shared buffers, the floors (after S2 and
// S3) 0.6 and 0.1; in another such run autovacuum vacuumed the loaded
// tables through S1 over HTTP, which then read 9.8 blocks a removal
// (727 ms of reads) and wrote twice the WAL records of the floors.
type pgCounters struct {
	walRecords, walFPI, walBytes          int64
	blksRead, blksHit                     int64
	readTime                              float64 // ms spent reading blocks (track_io_timing)
	bufCheckpoint, bufClean, bufBackend   int64
	checkpoints                           int64
	autovacuums, autoanalyzes, deadTuples int64
}

// pgStatsFlush is how long to wait before reading PostgreSQL's cumulative
// counters after a measurement: backends flush their statistics at most
// once a second.
const pgStatsFlush = 1100 * time.Millisecond

func readPGCounters(ctx context.Context, c *pgx.Conn) (pgCounters, error) {
	var p pgCounters
	err := c.QueryRow(ctx, `SELECT w.wal_records, w.wal_fpi, w.wal_bytes::bigint,
		d.blks_read, d.blks_hit, d.blk_read_time,
		b.buffers_checkpoint, b.buffers_clean, b.buffers_backend, b.checkpoints_timed + b.checkpoints_req,
		(SELECT coalesce(sum(autovacuum_count), 0)::bigint FROM pg_stat_user_tables),
		(SELECT coalesce(sum(autoanalyze_count), 0)::bigint FROM pg_stat_user_tables),
		(SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables)
		FROM pg_stat_wal w, pg_stat_database d, pg_stat_bgwriter b WHERE d.datname = current_database()`).Scan(
		&p.walRecords, &p.walFPI, &p.walBytes, &p.blksRead, &p.blksHit, &p.readTime,
		&p.bufCheckpoint, &p.bufClean, &p.bufBackend, &p.checkpoints, &p.autovacuums, &p.autoanalyzes, &p.deadTuples)
	return p, err
}

// watchPG logs, for a measurement labelled label, which tables were due
// for autovacuum when it began, how PostgreSQL's counters moved while it
// ran (blocks read outside shared buffers, full-page images) and which
// autovacuum workers were at work, so that the log shows whether S1's
// three measurements met the same database state; call the returned
// function when the measurement ends. It costs a second after each: the
// backends report their counters at most once a second.
func (r *runner) watchPG(ctx context.Context, label string) func() {
	if r.e.Name != "postgres" {
		return func() {}
	}
	c, err := pgx.Connect(ctx, r.e.DSN)
	if err != nil {
		r.logf("watch %s: %v", label, err)
		return func() {}
	}
	before, err := readPGCounters(ctx, c)
	if err != nil {
		r.logf("watch %s: %v", label, err)
	}
	var due string
	_ = c.QueryRow(ctx, `SELECT coalesce(string_agg(relname || ' ins ' || n_ins_since_vacuum || ' dead ' || n_dead_tup || ' live ' || n_live_tup || ' vac ' || coalesce(to_char(last_autovacuum, 'HH24:MI:SS'), '-'), ', '), '')
		FROM pg_stat_user_tables WHERE n_ins_since_vacuum > 1000 + 0.2 * n_live_tup OR n_dead_tup > 50 + 0.2 * n_live_tup`).Scan(&due)
	r.logf("watch %s: tables due for autovacuum: %s", label, due)
	sc, err := pgx.Connect(ctx, r.e.DSN)
	if err != nil {
		r.logf("watch %s: %v", label, err)
		return func() { c.Close(ctx) }
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	var samples, busy int
	seen := map[string]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			rows, err := sc.Query(ctx, `SELECT query FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`)
			if err != nil {
				return
			}
			qs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
			samples++
			if len(qs) > 0 {
				busy++
			}
			for _, q := range qs {
				seen[q] = true
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		sc.Close(ctx)
		time.Sleep(pgStatsFlush)
		after, err := readPGCounters(ctx, c)
		c.Close(ctx)
		if err != nil {
			r.logf("watch %s: %v", label, err)
			return
		}
		var qs []string
		for q := range seen {
			qs = append(qs, q)
		}
		r.logf("watch %s: WAL %d records %d FPI %d KB; blocks read %d (%.0f ms) hit %d; buffers written by checkpoint %d bgwriter %d backends %d; checkpoints %d; autovacuums %d autoanalyzes %d; dead tuples %d→%d; autovacuum worker busy in %d of %d samples: %s",
			label, after.walRecords-before.walRecords, after.walFPI-before.walFPI, (after.walBytes-before.walBytes)>>10,
			after.blksRead-before.blksRead, after.readTime-before.readTime, after.blksHit-before.blksHit,
			after.bufCheckpoint-before.bufCheckpoint, after.bufClean-before.bufClean, after.bufBackend-before.bufBackend,
			after.checkpoints-before.checkpoints, after.autovacuums-before.autovacuums, after.autoanalyzes-before.autoanalyzes,
			before.deadTuples, after.deadTuples, busy, samples, strings.Join(qs, " | "))
	}
}
