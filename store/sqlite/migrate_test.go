package sqlite

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/memberd/memberd/membership"
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
	db, _ := openOld(t, 11)
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
		return queryStrings(t, db, `SELECT id || '|' || uuid || '|' || COALESCE(org_id, '-') || '|' || at || '|' || actor_member_id
			|| '|' || interface || '|' || request_id || '|' || action || '|' || outcome || '|' || target_type || '|' || target_id
			|| '|' || target_member_id || '|' || COALESCE(target_ref, '-') || '|' || message || '|' || before_state || '|' || after_state
			|| '|' || seq || '|' || prev_hash || '|' || hash FROM events ORDER BY id`)
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

// openOld opens a new database file migrated to version, as an older
// build left it, on a writer connection, and returns its path too.
func openOld(t *testing.T, version int64) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open(driverName, writerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.MigrateTo(context.Background(), db, goose.DialectSQLite3, types, version); err != nil {
		t.Fatal(err)
	}
	return db, path
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
	return queryStrings(t, s.writer, `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, name)
}

// queryStrings returns the one column of q's rows.
func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
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

// TestMemberRemoverCheckMigration checks migration 00015 on a database
// with members in it: removed_by no longer references members as a
// foreign key, so that a removal's UPDATE rewrites members_org_status
// alone instead of every index of the table; triggers refuse a removed_by
// that names no member, as the key did; and down puts the key back.
func TestMemberRemoverCheckMigration(t *testing.T) {
	ctx := context.Background()
	db, path := openOld(t, 14)
	for _, q := range []string{
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) VALUES (1, 'u-1', 'a@example.com', 1), (2, 'u-2', 'b@example.com', 1)`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at) VALUES (1, 'm-1', 1, 1, 'owner', 'active', 1, 1)`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, added_by, created_at, updated_at) VALUES (2, 'm-2', 1, 2, 'member', 'active', 1, 1, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// An other connection, open across the migration, must see the new
	// definition too.
	other, err := sql.Open(driverName, readerDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	keys := func(db *sql.DB) []string {
		t.Helper()
		return queryStrings(t, db, `SELECT "from" FROM pragma_foreign_key_list('members') ORDER BY "from"`)
	}
	// indexWrites counts the index entries a removal's UPDATE of members
	// writes.
	indexWrites := func() int {
		t.Helper()
		rows, err := db.QueryContext(ctx, `EXPLAIN UPDATE members SET status = 'removed', removed_at = 2, removed_by = 1, updated_at = 2 WHERE id = 2`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		n := 0
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			if op, _ := v[1].(string); op == "IdxInsert" {
				n++
			}
		}
		return n
	}
	if got, want := keys(other), []string{"added_by", "org_id", "removed_by", "user_id"}; !slices.Equal(got, want) {
		t.Fatalf("before 00015: members keys %v, want %v", got, want)
	}
	if n := indexWrites(); n != 5 {
		t.Errorf("before 00015: a removal writes %d index entries of members, want 5 (this test's premise)", n)
	}

	if err := sqlstore.MigrateTo(ctx, db, goose.DialectSQLite3, types, 15); err != nil {
		t.Fatal(err)
	}
	want := []string{"added_by", "org_id", "user_id"}
	if got := keys(db); !slices.Equal(got, want) {
		t.Errorf("after 00015: members keys %v, want %v", got, want)
	}
	if got := keys(other); !slices.Equal(got, want) {
		t.Errorf("after 00015, on the other connection: members keys %v, want %v", got, want)
	}
	if n := indexWrites(); n != 1 {
		t.Errorf("after 00015: a removal writes %d index entries of members, want 1 (members_org_status)", n)
	}
	if _, err := db.ExecContext(ctx, `UPDATE members SET status = 'removed', removed_at = 2, removed_by = 99, updated_at = 2 WHERE id = 2`); err == nil {
		t.Error("a removal by member 99, who does not exist, was stored")
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO members (uuid, org_id, user_id, role, status, created_at, updated_at, removed_at, removed_by)
		VALUES ('m-3', 1, 2, 'member', 'removed', 1, 1, 1, 99)`); err == nil {
		t.Error("a member removed by member 99, who does not exist, was stored")
	}
	for _, q := range []string{
		`UPDATE members SET status = 'removed', removed_at = 2, removed_by = 1, updated_at = 2 WHERE id = 2`,
		`UPDATE members SET status = 'active', removed_at = NULL, removed_by = NULL, updated_at = 3 WHERE id = 2`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
	var status string
	if err := other.QueryRowContext(ctx, `SELECT status FROM members WHERE id = 2`).Scan(&status); err != nil || status != "active" {
		t.Errorf("member 2 is %q, %v; want active", status, err)
	}

	// Down, as goose runs it: the section's statements in order.
	file, err := os.ReadFile("../sqlstore/migrations/00015_member_remover_check.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, down, _ := strings.Cut(string(file), "-- +goose Down\n")
	conn, err := db.Conn(ctx) // writable_schema is the connection's
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, line := range strings.Split(strings.TrimSpace(down), "\n") {
		if _, err := conn.ExecContext(ctx, strings.TrimPrefix(line, "@SQLITE@")); err != nil {
			t.Fatalf("down: %s: %v", line, err)
		}
	}
	if got, want := keys(other), []string{"added_by", "org_id", "removed_by", "user_id"}; !slices.Equal(got, want) {
		t.Errorf("after 00015 down: members keys %v, want %v", got, want)
	}
	var triggers int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'trigger'`).Scan(&triggers); err != nil || triggers != 0 {
		t.Errorf("after 00015 down: %d triggers, %v; want none", triggers, err)
	}
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check: %q, %v", check, err)
	}
}

// TestRemovedMembersMigration checks migration 00017 on a database with
// members in it: removed_members holds exactly the removed ones and its
// triggers keep it so through removals, restores and inserts; no index of
// members holds a column a removal changes (so a removal's UPDATE writes
// no index entry of members); and down puts members_org_status back.
func TestRemovedMembersMigration(t *testing.T) {
	ctx := context.Background()
	db, _ := openOld(t, 16)
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`)
	exec(`INSERT INTO users (id, uuid, email, created_at) VALUES (1, 'u-1', 'a@example.com', 1), (2, 'u-2', 'b@example.com', 1), (3, 'u-3', 'c@example.com', 1), (4, 'u-4', 'd@example.com', 1)`)
	exec(`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at) VALUES (1, 'm-1', 1, 1, 'owner', 'active', 1, 1), (2, 'm-2', 1, 2, 'member', 'active', 1, 1)`)
	exec(`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at, removed_at, removed_by) VALUES (3, 'm-3', 1, 3, 'member', 'removed', 1, 2, 2, 1)`)
	if err := sqlstore.Migrate(ctx, db, goose.DialectSQLite3, types); err != nil {
		t.Fatal(err)
	}
	removed := func(when string, want ...string) {
		t.Helper()
		if got := queryStrings(t, db, `SELECT org_id || '/' || member_id FROM removed_members ORDER BY org_id, member_id`); !slices.Equal(got, want) {
			t.Errorf("%s: removed_members %v, want %v", when, got, want)
		}
	}
	removed("after 00017", "1/3")
	for _, index := range queryStrings(t, db, `SELECT name FROM pragma_index_list('members')`) {
		cols := queryStrings(t, db, `SELECT COALESCE(name, '(expression)') FROM pragma_index_xinfo(?) WHERE key`, index)
		where := strings.Join(queryStrings(t, db, `SELECT COALESCE(sql, '') FROM sqlite_schema WHERE name = ?`, index), "")
		for _, col := range []string{"status", "removed_at", "removed_by", "updated_at", "(expression)"} {
			if slices.Contains(cols, col) || strings.Contains(where, col) {
				t.Errorf("index %s of members (%v %s) holds %s, which a removal changes", index, cols, where, col)
			}
		}
	}
	exec(`UPDATE members SET status = 'removed', removed_at = 3, removed_by = 1, updated_at = 3 WHERE id = 2`)
	removed("after a removal", "1/2", "1/3")
	exec(`UPDATE members SET status = 'active', removed_at = NULL, removed_by = NULL, updated_at = 4 WHERE id = 3`)
	removed("after a restore", "1/2")
	exec(`UPDATE members SET name = 'x', updated_at = 5 WHERE id = 2`)
	removed("after a change of name", "1/2")
	exec(`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at, removed_at, removed_by) VALUES (4, 'm-4', 1, 4, 'member', 'removed', 1, 2, 2, 1)`)
	removed("after a removed member's insert", "1/2", "1/4")

	// Down, as goose runs it: the section's statements in order.
	file, err := os.ReadFile("../sqlstore/migrations/00017_removed_members.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, down, _ := strings.Cut(string(file), "-- +goose Down\n")
	for _, line := range strings.Split(strings.TrimSpace(down), "\n") {
		if strings.HasPrefix(line, "@PG@") {
			continue
		}
		exec(strings.TrimPrefix(line, "@SQLITE@"))
	}
	if got := queryStrings(t, db, `SELECT name FROM sqlite_schema WHERE name LIKE 'removed_members%' OR name = 'members_org_status'`); !slices.Equal(got, []string{"members_org_status"}) {
		t.Errorf("after 00017 down: %v, want members_org_status alone", got)
	}
}

// TestPeriodEndMigration checks migration 00019 on a database an older
// build left: a period that build ended keeps its end; a removal now
// leaves the member's period open in member_periods and its history
// reads the end from the member row; Down writes that end into the
// period, as the older build expects.
func TestPeriodEndMigration(t *testing.T) {
	ctx := context.Background()
	db, path := openOld(t, 18)
	exec := func(q string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`)
	exec(`INSERT INTO users (id, uuid, email, created_at) VALUES (1, 'u-1', 'a@example.com', 1), (2, 'u-2', 'b@example.com', 1), (3, 'u-3', 'c@example.com', 1)`)
	exec(`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at) VALUES (1, 'm-1', 1, 1, 'owner', 'active', 1, 1), (3, 'm-3', 1, 3, 'member', 'active', 1, 1)`)
	exec(`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at, removed_at, removed_by) VALUES (2, 'm-2', 1, 2, 'member', 'removed', 1, 2, 2, 1)`)
	exec(`INSERT INTO member_periods (id, member_id, started_at, started_by, ended_at, ended_by) VALUES (1, 1, 1, NULL, NULL, NULL), (2, 2, 1, 1, 2, 1), (3, 3, 1, 1, NULL, NULL)`)
	periods := func(when string, want ...string) {
		t.Helper()
		got := queryStrings(t, db, `SELECT member_id || ':' || COALESCE(ended_at, '-') || ':' || COALESCE(ended_by, '-') FROM member_periods ORDER BY id`)
		if !slices.Equal(got, want) {
			t.Errorf("%s: member_periods %v, want %v", when, got, want)
		}
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	removedAt := time.UnixMicro(5).UTC()
	if err := s.Update(ctx, func(tx membership.Tx) error {
		return tx.MemberSetStatus(ctx, &membership.MemberSetStatusParams{ID: 3, Status: membership.StatusRemoved, At: removedAt, By: 1})
	}); err != nil {
		t.Fatal(err)
	}
	periods("after a removal", "1:-:-", "2:2:1", "3:-:-")
	history := func(member int64) []*membership.MemberPeriod {
		t.Helper()
		var ps []*membership.MemberPeriod
		if err := s.View(ctx, func(tx membership.Tx) (err error) {
			ps, err = tx.MemberPeriodList(ctx, member)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if ps := history(3); len(ps) != 1 || ps[0].EndedAt == nil || !ps[0].EndedAt.Equal(removedAt) || ps[0].EndedBy != 1 {
		t.Errorf("member 3's history after its removal: %+v, want one period ended at %s by 1", ps, removedAt)
	}
	if ps := history(2); len(ps) != 1 || ps[0].EndedAt == nil || !ps[0].EndedAt.Equal(time.UnixMicro(2).UTC()) || ps[0].EndedBy != 1 {
		t.Errorf("member 2's history (ended before 00019): %+v, want one period ended at 2 µs by 1", ps)
	}
	if ps := history(1); len(ps) != 1 || ps[0].EndedAt != nil {
		t.Errorf("member 1's history: %+v, want one open period", ps)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Down, as goose runs it: the section's one statement.
	file, err := os.ReadFile("../sqlstore/migrations/00019_period_end.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, down, _ := strings.Cut(string(file), "-- +goose Down\n")
	exec(strings.TrimSpace(down))
	periods("after 00019 down", "1:-:-", "2:2:1", "3:5:1")
}
