package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
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
// of group_members no longer holds status, so a removal's UPDATE of
// status can be HOT (the room for it on the page: 00018).
func TestGroupMemberIndexMigration(t *testing.T) {
	db := migratedDB(t)
	var def string
	if err := db.QueryRow(`SELECT pg_get_indexdef('group_members_member'::regclass)`).Scan(&def); err != nil {
		t.Fatal(err)
	}
	if want := "CREATE INDEX group_members_member ON public.group_members USING btree (member_id)"; def != want {
		t.Errorf("index: %s, want %s", def, want)
	}
}

// TestOffboardFillfactorMigration checks migration 00018: a member's
// space and group memberships, written together so that they fill their
// pages, are all ended by HOT updates, which write no index entry. At
// the fillfactor of 00004 and 00013 some of each page's rows found no
// room for their new version.
func TestOffboardFillfactorMigration(t *testing.T) {
	db := migratedDB(t)
	for _, q := range []string{
		`INSERT INTO organizations (uuid, name, created_at) VALUES ('o1', 'o1', 0)`,
		`INSERT INTO users (uuid, email, created_at) VALUES ('u1', 'u1@example.com', 0)`,
		`INSERT INTO members (uuid, org_id, user_id, role, status, created_at, updated_at)
			SELECT 'm1', o.id, u.id, 'member', 'active', 0, 0 FROM organizations o, users u`,
		`INSERT INTO spaces (uuid, org_id, name, created_at) SELECT 's' || i, o.id, 's', 0 FROM organizations o, generate_series(1, 300) i`,
		`INSERT INTO space_members (uuid, org_id, space_id, member_id, status, added_by, created_at)
			SELECT gen_random_uuid()::text, s.org_id, s.id, m.id, 'active', m.id, 0 FROM spaces s, members m ORDER BY s.id`,
		`INSERT INTO user_groups (uuid, org_id, name, created_at) SELECT 'g' || i, o.id, 'g', 0 FROM organizations o, generate_series(1, 300) i`,
		`INSERT INTO group_members (org_id, group_id, member_id, status, added_by, created_at)
			SELECT g.org_id, g.id, m.id, 'active', m.id, 0 FROM user_groups g, members m ORDER BY g.id`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for _, table := range []string{"space_members", "group_members"} {
		// As the offboarding ends them (deactivatedStmt).
		if _, err := tx.Exec(`UPDATE ` + table + ` SET status = 'removed', removed_at = 1765000000000, cause = 'member_removed'
			WHERE org_id = (SELECT id FROM organizations) AND member_id = (SELECT id FROM members) AND status = 'active'`); err != nil {
			t.Fatal(err)
		}
		var updated, hot int
		if err := tx.QueryRow(`SELECT pg_stat_get_xact_tuples_updated($1::regclass), pg_stat_get_xact_tuples_hot_updated($1::regclass)`,
			table).Scan(&updated, &hot); err != nil {
			t.Fatal(err)
		}
		if updated != 300 || hot != updated {
			t.Errorf("%s: %d HOT updates of %d, want all of 300", table, hot, updated)
		}
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

// TestConfigVersionsMigration checks migration 00016 on a database that
// an older build left with a removal policy: its organization starts at a
// version, and every later change of a policy or webhook endpoint, by
// whatever session, moves its organization's version to one never taken.
func TestConfigVersionsMigration(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("pgx", pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, types, 14); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO organizations (uuid, name, created_at) VALUES ('o1', 'one', 1), ('o2', 'two', 1)`,
		`INSERT INTO removal_policies (org_id, max_per_call, max_per_hour, updated_at) SELECT id, 1, 0, 1 FROM organizations WHERE uuid = 'o1'`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, types); err != nil {
		t.Fatal(err)
	}
	version := func(org string) int64 {
		t.Helper()
		var v sql.NullInt64
		if err := db.QueryRowContext(ctx, `SELECT (SELECT version FROM config_versions c WHERE c.org_id = o.id)
			FROM organizations o WHERE uuid = $1`, org).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v.Int64
	}
	seen := map[int64]bool{0: true}
	moved := func(org, what string) {
		t.Helper()
		v := version(org)
		if seen[v] {
			t.Errorf("%s: organization %s at version %d, taken before", what, org, v)
		}
		seen[v] = true
	}
	moved("o1", "an older build's policy")
	if v := version("o2"); v != 0 {
		t.Errorf("organization without configuration at version %d, want 0 (none)", v)
	}
	for _, step := range []struct{ org, what, q string }{
		{"o1", "policy updated", `UPDATE removal_policies SET max_per_call = 2`},
		{"o2", "endpoint created", `INSERT INTO webhook_endpoints (uuid, org_id, url, description, events, secret, status, created_at, updated_at)
			SELECT 'e1', id, 'http://x', '', '[]', 's', 'active', 1, 1 FROM organizations WHERE uuid = 'o2'`},
		{"o2", "endpoint updated", `UPDATE webhook_endpoints SET status = 'disabled'`},
		{"o2", "endpoint deleted", `DELETE FROM webhook_endpoints`},
		{"o1", "policies truncated", `TRUNCATE removal_policies`},
	} {
		if _, err := db.ExecContext(ctx, step.q); err != nil {
			t.Fatalf("%s: %v", step.what, err)
		}
		moved(step.org, step.what)
	}
	// A change rolled back leaves the version as it was, and the version
	// it took is not taken again.
	before := version("o1")
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO removal_policies (org_id, max_per_call, max_per_hour, updated_at) SELECT id, 1, 0, 1 FROM organizations WHERE uuid = 'o1'`); err != nil {
		t.Fatal(err)
	}
	var rolledBack int64
	if err := tx.QueryRowContext(ctx, `SELECT version FROM config_versions c JOIN organizations o ON o.id = c.org_id WHERE o.uuid = 'o1'`).Scan(&rolledBack); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if v := version("o1"); v != before {
		t.Errorf("after a rollback: version %d, want %d", v, before)
	}
	seen[rolledBack] = true
	if _, err := db.ExecContext(ctx, `INSERT INTO removal_policies (org_id, max_per_call, max_per_hour, updated_at) SELECT id, 1, 0, 1 FROM organizations WHERE uuid = 'o1'`); err != nil {
		t.Fatal(err)
	}
	moved("o1", "policy created after a rollback")
}

// TestRemovedMembersMigration checks migration 00017 on a database an
// older build left with members in it: removed_members holds exactly the
// removed ones; no index of members holds a column a removal or restore
// changes; members keeps room on its pages; and so, on rows loaded by COPY
// after the migration, every removal and every restore, each in its own
// transaction with the store's statement, is a HOT update while
// removed_members stays exact.
func TestRemovedMembersMigration(t *testing.T) {
	ctx := context.Background()
	db, dsn := migratedTo(t, 16)
	pc, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pc.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const n = 2000
	exec(`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`)
	exec(`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, i || '@example.com', 1 FROM generate_series(1, $1::int) i`, 2*n)
	// load COPYs members i..j-1, every 10th of the first n removed.
	load := func(from, to int) {
		t.Helper()
		rows := make([][]any, 0, to-from)
		for i := from; i < to; i++ {
			status, removedAt := "active", any(nil)
			if i <= n && i%10 == 0 {
				status, removedAt = "removed", int64(2)
			}
			rows = append(rows, []any{int64(i), fmt.Sprintf("m-%d", i), int64(1), int64(i), "member", status, int64(1), int64(1), removedAt})
		}
		if _, err := pc.CopyFrom(ctx, pgx.Identifier{"members"}, []string{"id", "uuid", "org_id", "user_id", "role", "status", "created_at", "updated_at", "removed_at"},
			pgx.CopyFromRows(rows)); err != nil {
			t.Fatal(err)
		}
	}
	load(1, n+1)
	if err := sqlstore.Migrate(ctx, db, goose.DialectPostgres, types); err != nil {
		t.Fatal(err)
	}
	// A migration that rewrites members' rows (00023) leaves its updates
	// in its connection's statistics, which an idle backend sends up to
	// ten seconds later, into the counts below: its backends end first,
	// sending them as they exit.
	db.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var others int
		if err := pc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&others); err != nil {
			t.Fatal(err)
		}
		if others == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d other backends still on the database after the migration", others)
		}
	}
	removed := func() []int64 {
		t.Helper()
		rows, _ := pc.Query(ctx, `SELECT member_id FROM removed_members WHERE org_id = 1 ORDER BY member_id`)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	var want []int64
	for i := int64(10); i <= n; i += 10 {
		want = append(want, i)
	}
	if got := removed(); !slices.Equal(got, want) {
		t.Errorf("removed_members after 00017: %d rows, want the %d removed members", len(got), len(want))
	}

	var opts string
	if err := pc.QueryRow(ctx, `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE relname = 'members'`).Scan(&opts); err != nil {
		t.Fatal(err)
	}
	if opts != "fillfactor=80" {
		t.Errorf("members options %q, want fillfactor=80", opts)
	}
	rows, _ := pc.Query(ctx, `SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'members'::regclass`)
	defs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range defs {
		for _, col := range []string{"status", "removed_at", "removed_by", "updated_at"} {
			if strings.Contains(def, col) {
				t.Errorf("%s: indexes %s, which a removal changes, so that no removal is a HOT update", def, col)
			}
		}
	}

	load(n+1, 2*n+1)
	for _, status := range []membership.Status{membership.StatusRemoved, membership.StatusActive} {
		exec(`SELECT pg_stat_reset_single_table_counters('members'::regclass)`)
		for i := n + 1; i <= 2*n; i++ {
			// The store's own statement, one transaction a member.
			tx, err := pc.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			err = sqlstore.NewTx(conn{tx: tx}, dialect).MemberSetStatus(ctx, &membership.MemberSetStatusParams{
				ID: int64(i), Status: status, At: time.UnixMicro(int64(i)), By: 1})
			if err == nil {
				err = tx.Commit(ctx)
			}
			if err != nil {
				t.Fatalf("set member %d %s: %v", i, status, err)
			}
		}
		exec(`SELECT pg_stat_force_next_flush()`)
		var upd, hot int64
		if err := pc.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'members'`).Scan(&upd, &hot); err != nil {
			t.Fatal(err)
		}
		if upd != n || hot != n {
			t.Errorf("%s: %d updates of members, %d of them HOT; want %d and %d", status, upd, hot, n, n)
		}
		if status == membership.StatusRemoved {
			got := removed()
			if len(got) != len(want)+n || !slices.Equal(got[:len(want)], want) || got[len(got)-1] != 2*n {
				t.Errorf("removed_members after the removals: %d rows, want %d", len(got), len(want)+n)
			}
		} else if got := removed(); !slices.Equal(got, want) {
			t.Errorf("removed_members after the restores: %d rows, want the %d removed before", len(got), len(want))
		}
	}
}

// TestPeriodEndMigration checks migration 00019 on PostgreSQL: a removal
// writes no row of member_periods (the member's UPDATE is its one heap
// write there, and HOT), the member's history still ends the period at
// the removal, and Down writes that end into the period.
func TestPeriodEndMigration(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pool := st.Pool()
	for _, q := range []string{
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'o1', 'o1', 0)`,
		`INSERT INTO users (id, uuid, email, created_at) VALUES (1, 'u1', 'u1@example.com', 0), (2, 'u2', 'u2@example.com', 0)`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at) VALUES (1, 'm1', 1, 1, 'owner', 'active', 0, 0), (2, 'm2', 1, 2, 'member', 'active', 0, 0)`,
		`INSERT INTO member_periods (member_id, started_at, started_by) VALUES (1, 0, NULL), (2, 0, 1)`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	removedAt := time.UnixMicro(7).UTC()
	if err := st.UpdatePgx(ctx, func(tx pgx.Tx, mtx membership.Tx) error {
		// The backend's counters may still hold the set-up's writes
		// (PostgreSQL flushes them at most once a second): the removal's
		// are the difference.
		counts := func() (c [3]int, err error) {
			err = tx.QueryRow(ctx, `SELECT pg_stat_get_xact_tuples_updated('member_periods'::regclass) + pg_stat_get_xact_tuples_inserted('member_periods'::regclass),
				pg_stat_get_xact_tuples_updated('members'::regclass), pg_stat_get_xact_tuples_hot_updated('members'::regclass)`).Scan(&c[0], &c[1], &c[2])
			return c, err
		}
		before, err := counts()
		if err != nil {
			return err
		}
		if err := mtx.MemberSetStatus(ctx, &membership.MemberSetStatusParams{ID: 2, Status: membership.StatusRemoved, At: removedAt, By: 1}); err != nil {
			return err
		}
		after, err := counts()
		if err != nil {
			return err
		}
		periods, members, hot := after[0]-before[0], after[1]-before[1], after[2]-before[2]
		if periods != 0 || members != 1 || hot != 1 {
			t.Errorf("removal: %d rows of member_periods written, %d of members updated (%d HOT), want 0 and 1 (HOT)", periods, members, hot)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.View(ctx, func(tx membership.Tx) error {
		ps, err := tx.MemberPeriodList(ctx, 2)
		if err != nil {
			return err
		}
		if len(ps) != 1 || ps[0].EndedAt == nil || !ps[0].EndedAt.Equal(removedAt) || ps[0].EndedBy != 1 {
			t.Errorf("history after the removal: %+v, want one period ended at %s by 1", ps, removedAt)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Down, as goose runs it: the section's one statement.
	file, err := os.ReadFile("../sqlstore/migrations/00019_period_end.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, down, _ := strings.Cut(string(file), "-- +goose Down\n")
	if _, err := pool.Exec(ctx, strings.TrimSpace(down)); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := pool.QueryRow(ctx, `SELECT string_agg(member_id || ':' || COALESCE(ended_at::text, '-') || ':' || COALESCE(ended_by::text, '-'), ' ' ORDER BY id) FROM member_periods`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := "1:-:- 2:7:1"; got != want {
		t.Errorf("after 00019 down: %s, want %s", got, want)
	}
}

// TestRemovalResultCompressionMigration checks migration 00020: a
// removal's stored answer, as large as an offboarding's report, is
// compressed with lz4 on a server built with it (as the tests' is).
func TestRemovalResultCompressionMigration(t *testing.T) {
	db := migratedDB(t)
	var lz4 bool
	if err := db.QueryRow(`SELECT 'lz4' = ANY (enumvals) FROM pg_settings WHERE name = 'default_toast_compression'`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	if !lz4 {
		t.Skip("this server has no lz4: the migration keeps pglz")
	}
	for _, q := range []string{
		`INSERT INTO organizations (uuid, name, created_at) VALUES ('o1', 'o1', 0)`,
		`INSERT INTO removals (uuid, org_id, kind, interface, actor_member_id, created_at, item_count, items, result)
			SELECT 'r1', id, 'member.remove', 'test', 1, 0, 1, '[]', repeat('{"grant":{"id":1,"status":"active"}},', 2000) FROM organizations`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var method string
	if err := db.QueryRow(`SELECT pg_column_compression(result) FROM removals`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if method != "lz4" {
		t.Errorf("removals.result compressed with %q, want lz4", method)
	}
}

// TestRemovalPagesMigration migrates a database with members, grants and
// bookings in every state to 00023 and checks that it flags exactly the
// members with an active direct grant or booking (a flag left unset
// would let a removal skip one) and copies every member's e-mail.
func TestRemovalPagesMigration(t *testing.T) {
	ctx := context.Background()
	db, _ := migratedTo(t, 22)
	for _, q := range []string{
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, 'user' || i || '@example.com', 1 FROM generate_series(1, 6) i`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at) SELECT i, 'm-' || i, 1, i, 'member', 'active', 1, 1 FROM generate_series(1, 6) i`,
		`INSERT INTO user_groups (id, uuid, org_id, name, created_at) VALUES (1, 'g-1', 1, 'g', 1)`,
		`INSERT INTO resources (id, uuid, org_id, kind, name, created_at) VALUES (1, 'r-1', 1, 'desk', 'd', 1)`,
		// Member 1 an active grant, 2 a revoked one, 3 an active booking,
		// 4 a cancelled one, 5 both active; 6 only its group's grant.
		`INSERT INTO grants (id, uuid, org_id, resource_id, member_id, group_id, status, created_at) VALUES
			(1, 'gr-1', 1, 1, 1, NULL, 'active', 1), (2, 'gr-2', 1, 1, 2, NULL, 'removed', 1), (3, 'gr-3', 1, 1, 5, NULL, 'active', 1),
			(4, 'gr-4', 1, 1, NULL, 1, 'active', 1)`,
		`INSERT INTO group_members (org_id, group_id, member_id, status, added_by, created_at) VALUES (1, 1, 6, 'active', 1, 1)`,
		`INSERT INTO bookings (id, uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at) VALUES
			(1, 'b-1', 1, 1, 3, 1, 2, 'active', 1), (2, 'b-2', 1, 1, 4, 1, 2, 'cancelled', 1), (3, 'b-3', 1, 1, 5, 1, 2, 'active', 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := sqlstore.MigrateTo(ctx, db, goose.DialectPostgres, types, 23); err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, `SELECT id, holds_grants, holds_bookings, email FROM members ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[int64][2]bool{1: {true, false}, 2: {false, false}, 3: {false, true}, 4: {false, false}, 5: {true, true}, 6: {false, false}}
	n := 0
	for rows.Next() {
		var id int64
		var h [2]bool
		var email string
		if err := rows.Scan(&id, &h[0], &h[1], &email); err != nil {
			t.Fatal(err)
		}
		n++
		if h != want[id] {
			t.Errorf("member %d: holds (grants, bookings) %v, want %v", id, h, want[id])
		}
		if w := fmt.Sprintf("user%d@example.com", id); email != w {
			t.Errorf("member %d: e-mail %q, want %q", id, email, w)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("%d members after the migration, want %d", n, len(want))
	}
}

// migratedTo returns a new database migrated up to version, and its DSN;
// the database is closed when the test ends.
func migratedTo(t *testing.T, version int64) (*sql.DB, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.MigrateTo(context.Background(), db, goose.DialectPostgres, types, version); err != nil {
		t.Fatal(err)
	}
	return db, dsn
}
