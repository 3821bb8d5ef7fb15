package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestSettlePostgres: before each S1 measurement nothing is left for
// autovacuum to do on the loaded tables and every page of members' heap
// and indexes is in shared buffers, so that S1 over HTTP right after a
// load starts from the state the floors start from after other scenarios.
func TestSettlePostgres(t *testing.T) {
	ctx := context.Background()
	e, c := grownPostgres(t)
	did, err := e.prepareS1(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(did, "prewarmed in") || !strings.Contains(did, "autovacuum idle") {
		t.Errorf("prepareS1 said %q, want the prewarm and an idle autovacuum", did)
	}
	if _, err := c.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_buffercache"); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"members", "members_pkey", "space_members"} {
		var pages, cached int64
		err := c.QueryRow(ctx, `SELECT pg_relation_size($1::regclass) / 8192,
			(SELECT count(*) FROM pg_buffercache b WHERE b.relfilenode = pg_relation_filenode($1::regclass)
				AND b.reldatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))`, rel).Scan(&pages, &cached)
		if err != nil {
			t.Fatal(err)
		}
		if pages == 0 || cached < pages {
			t.Errorf("%s: %d of its %d pages in shared buffers, want all", rel, cached, pages)
		}
	}
	// Its own vacuum, not autovacuum's: n_ins_since_vacuum would lag, as
	// the loading backend reports its inserts up to seconds later.
	var vacuums int64
	if err := c.QueryRow(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'members'`).Scan(&vacuums); err != nil {
		t.Fatal(err)
	}
	if vacuums == 0 {
		t.Error("members was not vacuumed")
	}
}

// TestSettleVacuumsLoad: what each size's measurements start from on
// PostgreSQL, after a load, is vacuumed (hint bits and visibility map
// set, nothing due for autovacuum), not only analyzed.
func TestSettleVacuumsLoad(t *testing.T) {
	ctx := context.Background()
	e, c := grownPostgres(t)
	did, err := e.Settle(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(did, "VACUUM (ANALYZE)") || !strings.Contains(did, "autovacuum idle") {
		t.Errorf("Settle said %q, want a vacuum and an idle autovacuum", did)
	}
	for _, rel := range []string{"members", "space_members", "group_members"} {
		var vacuums, pages, visible int64
		if err := c.QueryRow(ctx, `SELECT vacuum_count, (SELECT relpages FROM pg_class WHERE oid = $1::regclass),
			(SELECT relallvisible FROM pg_class WHERE oid = $1::regclass) FROM pg_stat_user_tables WHERE relid = $1::regclass`, rel).Scan(&vacuums, &pages, &visible); err != nil {
			t.Fatal(err)
		}
		if vacuums == 0 || pages == 0 || visible < pages {
			t.Errorf("%s: %d vacuums, %d of %d pages all-visible; want vacuumed and all visible", rel, vacuums, visible, pages)
		}
	}
}

// grownPostgres is a PostgreSQL engine loaded with 5,000 members, as a
// size's load leaves it, and a connection to its database.
func grownPostgres(t *testing.T) (*Engine, *pgx.Conn) {
	t.Helper()
	e := openEngine(t, "postgres", t.TempDir())
	ctx := context.Background()
	d, err := Setup(ctx, e.Store, DefaultShape(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Grow(ctx, e, 5000, func(int) {}); err != nil {
		t.Fatal(err)
	}
	c, err := pgx.Connect(ctx, e.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return e, c
}
