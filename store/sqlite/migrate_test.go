package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/memberd/memberd/store/sqlstore"
)

// eventsSchema returns the definitions of the events table's indexes, by
// name, and the columns each covers.
func eventsSchema(t *testing.T, db *sql.DB) (defs map[string]string, cols map[string][]string) {
	t.Helper()
	ctx := context.Background()
	defs, cols = map[string]string{}, map[string][]string{}
	rows, err := db.QueryContext(ctx, `SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		defs[name] = def
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	for name := range defs {
		rows, err := db.QueryContext(ctx, `SELECT COALESCE(name, '') FROM pragma_index_info(?)`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var col string
			if err := rows.Scan(&col); err != nil {
				t.Fatal(err)
			}
			cols[name] = append(cols[name], col)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return defs, cols
}

// TestWriteIndexesMigration checks migration 00012 on a database that an
// older build left with events in it: the table is rebuilt without the
// uuid's unique index, every row and every other index is kept as it was,
// and ids go on above the highest ever used, also after the newest event
// was deleted; removals_org is gone.
func TestWriteIndexesMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open(driverName, writerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectSQLite3, types, 11); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`)
	for i, org := range []any{1, nil, 1, 1} {
		exec(`INSERT INTO events (uuid, org_id, at, actor_member_id, interface, request_id, action, outcome, target_type,
			target_id, target_member_id, target_ref, message, before_state, after_state, seq, prev_hash, hash)
			VALUES ('ev-' || $1, $2, $1, 7, 'native', 'req', 'member.removed', 'ok', 'member', 9, 9, NULL, 'm', '{}', '{"s":1}', $1, 'p', 'h')`,
			i+1, org)
	}
	exec(`DELETE FROM events WHERE id = 4`)
	if _, err := db.ExecContext(ctx, `INSERT INTO events (uuid, at, interface, action, outcome) VALUES ('ev-1', 1, 'cli', 'x', 'ok')`); err == nil {
		t.Fatal("before 00012: a second event with one uuid was stored")
	}
	dump := func() []string {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT id || '|' || uuid || '|' || COALESCE(org_id, '-') || '|' || at || '|' || actor_member_id
			|| '|' || interface || '|' || request_id || '|' || action || '|' || outcome || '|' || target_type || '|' || target_id
			|| '|' || target_member_id || '|' || COALESCE(target_ref, '-') || '|' || message || '|' || before_state || '|' || after_state
			|| '|' || seq || '|' || prev_hash || '|' || hash FROM events ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	before := dump()
	oldDefs, _ := eventsSchema(t, db)

	if err := sqlstore.Migrate(ctx, db, goose.DialectSQLite3, types); err != nil {
		t.Fatal(err)
	}
	if after := dump(); !slices.Equal(after, before) {
		t.Errorf("events after the rebuild:\n%s\nwant\n%s", strings.Join(after, "\n"), strings.Join(before, "\n"))
	}
	defs, cols := eventsSchema(t, db)
	for name, def := range oldDefs {
		if strings.HasPrefix(name, "sqlite_autoindex_") {
			continue
		}
		if defs[name] != def {
			t.Errorf("index %s: got %q, want %q as before", name, defs[name], def)
		}
	}
	for name, c := range cols {
		if slices.Contains(c, "uuid") {
			t.Errorf("index %s still covers uuid: %v", name, c)
		}
		if _, ok := oldDefs[name]; !ok {
			t.Errorf("index %s was not there before", name)
		}
	}
	if len(defs) != len(oldDefs)-1 {
		t.Errorf("events has %d indexes, want %d (all but the uuid's)", len(defs), len(oldDefs)-1)
	}
	var id int64
	if err := db.QueryRowContext(ctx, `INSERT INTO events (uuid, at, interface, action, outcome) VALUES ('ev-5', 5, 'cli', 'x', 'ok') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id != 5 {
		t.Errorf("first event after the rebuild: id %d, want 5 (4 was used and deleted)", id)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE name = 'removals_org'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("removals_org after 00012: %d, %v; want none", n, err)
	}
	var fk int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_list('events') WHERE "table" = 'organizations' AND "from" = 'org_id'`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("events.org_id references organizations: %d, %v", fk, err)
	}
}

// openMigrated opens a fresh store, migrated to this build's head.
func openMigrated(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// indexColumns lists the key columns of index name, in order.
func indexColumns(t *testing.T, s *Store, name string) []string {
	t.Helper()
	rows, err := s.writer.QueryContext(context.Background(), `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// TestGroupMemberIndexMigration checks migration 00013: the member index
// of group_members no longer holds status, so a removal's UPDATE of status
// rewrites the row and no index entry.
func TestGroupMemberIndexMigration(t *testing.T) {
	s := openMigrated(t)
	if cols := indexColumns(t, s, "group_members_member"); !slices.Equal(cols, []string{"member_id"}) {
		t.Errorf("group_members_member covers %v, want [member_id]", cols)
	}
}

// TestGrantResourceIndexMigration checks migration 00014: the grant
// indexes are keyed by member or group and then resource, so that an
// access check reads the grants of its one resource only, and still hold
// only the rows of their kind.
func TestGrantResourceIndexMigration(t *testing.T) {
	s := openMigrated(t)
	for name, want := range map[string][]string{"grants_member": {"member_id", "resource_id"}, "grants_group": {"group_id", "resource_id"}} {
		if cols := indexColumns(t, s, name); !slices.Equal(cols, want) {
			t.Errorf("%s covers %v, want %v", name, cols, want)
		}
		var partial int
		if err := s.writer.QueryRow(`SELECT partial FROM pragma_index_list('grants') WHERE name = ?`, name).Scan(&partial); err != nil || partial != 1 {
			t.Errorf("%s partial = %d, %v; want 1", name, partial, err)
		}
	}
}
