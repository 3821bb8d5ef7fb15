package postgres

import (
	"context"
	"database/sql"
	"maps"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/store/sqlstore"
)

// eventIndexes returns the definitions of the events table's indexes by
// name, primary key included.
func eventIndexes(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
		WHERE x.indrelid = 'events'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	defs := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		defs[name] = def
	}
	return defs
}

// TestWriteIndexesMigration checks migration 00012 on a database that an
// older build left with events in it: the uuid's unique constraint is
// dropped, every other index of events stays as it was, and so do the
// rows; removals_org is gone.
func TestWriteIndexesMigration(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, types, 11); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO events (uuid, at, interface, action, outcome, seq, hash)
		VALUES ('ev-1', 1, 'cli', 'member.removed', 'ok', 1, 'h')`); err != nil {
		t.Fatal(err)
	}
	before := eventIndexes(t, db)
	if _, ok := before["events_uuid_key"]; !ok {
		t.Fatalf("before 00012: no events_uuid_key among %v", before)
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, types); err != nil {
		t.Fatal(err)
	}
	want := maps.Clone(before)
	delete(want, "events_uuid_key")
	if got := eventIndexes(t, db); !maps.Equal(got, want) {
		t.Errorf("indexes of events after 00012:\n%v\nwant\n%v", got, want)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype = 'u'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("unique constraints on events: %d, %v; want none", n, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_class WHERE relname = 'removals_org'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("removals_org after 00012: %d, %v; want none", n, err)
	}
	var uuid string
	if err := db.QueryRowContext(ctx, `SELECT uuid FROM events WHERE seq = 1 AND hash = 'h'`).Scan(&uuid); err != nil || uuid != "ev-1" {
		t.Errorf("event after 00012: %q, %v", uuid, err)
	}
}

// migratedDB is a fresh database, migrated to this build's head.
func migratedDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(context.Background(), db, goose.DialectPostgres, types); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestGroupMemberIndexMigration checks migration 00013: the member index
// of group_members no longer holds status and the table keeps half of
// each page free, so a removal's UPDATE of status can be HOT.
func TestGroupMemberIndexMigration(t *testing.T) {
	db := migratedDB(t)
	var def, opts string
	if err := db.QueryRow(`SELECT pg_get_indexdef('group_members_member'::regclass),
		COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'group_members'`).Scan(&def, &opts); err != nil {
		t.Fatal(err)
	}
	if want := "CREATE INDEX group_members_member ON public.group_members USING btree (member_id)"; def != want {
		t.Errorf("index: %s, want %s", def, want)
	}
	if opts != "fillfactor=50" {
		t.Errorf("group_members options %q, want fillfactor=50", opts)
	}
}

// TestGrantResourceIndexMigration checks migration 00014: the grant
// indexes are keyed by member or group and then resource, so that an
// access check reads the grants of its one resource only, and still hold
// only the rows of their kind.
func TestGrantResourceIndexMigration(t *testing.T) {
	db := migratedDB(t)
	for name, want := range map[string]string{
		"grants_member": "CREATE INDEX grants_member ON public.grants USING btree (member_id, resource_id) WHERE (member_id IS NOT NULL)",
		"grants_group":  "CREATE INDEX grants_group ON public.grants USING btree (group_id, resource_id) WHERE (group_id IS NOT NULL)",
	} {
		var def string
		if err := db.QueryRow(`SELECT pg_get_indexdef($1::regclass)`, name).Scan(&def); err != nil {
			t.Fatal(err)
		}
		if def != want {
			t.Errorf("index: %s, want %s", def, want)
		}
	}
}
