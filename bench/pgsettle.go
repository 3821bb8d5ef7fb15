package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// autovacuumWait bounds how long settlePostgres waits for autovacuum's
// workers to finish before a measurement.
const autovacuumWait = 2 * time.Minute

// settlePostgres brings the database to the state each of S1's three
// measurements starts from, whatever ran before it. A full run measures S1
// over HTTP right after the main size's load (COPY, which keeps the loaded
// pages out of shared buffers and leaves their hint bits unset) and the
// floors minutes later, after S2–S6 have read most of the hot pages into
// shared buffers and autovacuum has visited the loaded tables; the raw
// floor's recording reads every page its replay touches. So first VACUUM
// (ANALYZE), which sets the hint bits and visibility map of everything
// loaded or changed since the last and leaves no table due for
// autovacuum (at 1M members, without it, autovacuum's insert-triggered
// vacuums of every loaded table ran through all of S1 over HTTP in one
// run, and had finished before the floors); then wait until no
// autovacuum worker runs; then read every
// table and index of the schema into shared buffers (pg_prewarm) when
// they fit in three quarters of them. It says what it did.
func settlePostgres(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	did, err := vacuumIdle(ctx, pool)
	if err != nil {
		return "", err
	}
	const relations = `FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'i')`
	var size, buffers int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(pg_relation_size(oid)), 0)::bigint, (SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers') `+relations).Scan(&size, &buffers); err != nil {
		return "", fmt.Errorf("relation sizes: %w", err)
	}
	if size > buffers/4*3 {
		return did + fmt.Sprintf(", not prewarmed (%d MB of tables and indexes, shared buffers %d MB)", size>>20, buffers>>20), nil
	}
	t := time.Now()
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_prewarm"); err != nil {
		return "", fmt.Errorf("pg_prewarm: %w", err)
	}
	var blocks int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(pg_prewarm(oid)), 0)::bigint `+relations).Scan(&blocks); err != nil {
		return "", fmt.Errorf("prewarm: %w", err)
	}
	return did + fmt.Sprintf(", %d MB prewarmed in %s", blocks*8192>>20, time.Since(t).Round(time.Millisecond)), nil
}

// vacuumIdle runs VACUUM (ANALYZE) and then waits, at most
// autovacuumWait, until no autovacuum worker runs, and says what it did.
// After a load it sets the hint bits and visibility map of every loaded
// page and leaves no table due for autovacuum, so that a measurement
// after it meets neither: without it, S5 at 10M members ran right after
// the load, while autovacuum's insert-triggered vacuums of the loaded
// tables could still be reading them, and each removal's first read of a
// page set its hint bits (dirtying it) and read the heap where an
// index-only scan reads the visibility map (12.19 against 11.17 blocks a
// removal at 1M with cold caches, TestS5Pages). Every size gets it alike.
func vacuumIdle(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	t := time.Now()
	if _, err := pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return "", fmt.Errorf("vacuum: %w", err)
	}
	vacuum := time.Since(t)
	t = time.Now()
	idle := false
	for time.Since(t) < autovacuumWait {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'`).Scan(&n); err != nil {
			return "", fmt.Errorf("autovacuum workers: %w", err)
		}
		if idle = n == 0; idle {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	waited := time.Since(t)
	if !idle {
		return fmt.Sprintf("VACUUM (ANALYZE) %s, autovacuum still running after %s", vacuum.Round(time.Millisecond), waited.Round(time.Millisecond)), nil
	}
	return fmt.Sprintf("VACUUM (ANALYZE) %s, autovacuum idle after %s", vacuum.Round(time.Millisecond), waited.Round(time.Millisecond)), nil
}
