package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
	"github.com/memberd/memberd/store/storetest"
)

// explainingConn is a sqlstore.Conn that explains each statement before
// running it, so a test reads the plans of the very statements a Tx
// method makes, with their arguments.
type explainingConn struct {
	conn
	t     *testing.T
	plans *[]string
}

func (c explainingConn) explain(ctx context.Context, q string, args ...any) {
	c.t.Helper()
	rows, err := c.tx.Query(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		c.t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			c.t.Fatal(err)
		}
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		c.t.Fatalf("explain %s: %v", q, err)
	}
	*c.plans = append(*c.plans, q+"\n"+strings.Join(lines, "\n"))
}

func (c explainingConn) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	c.explain(ctx, q, args...)
	return c.conn.Exec(ctx, q, args...)
}

func (c explainingConn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	c.explain(ctx, q, args...)
	return c.conn.Query(ctx, q, args...)
}

func (c explainingConn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	c.explain(ctx, q, args...)
	return c.conn.QueryRow(ctx, q, args...)
}

// unboundedScans returns the plan's scans of table that do not search an
// index: a Seq Scan, or an index walked whole with a filter (what
// "id IN (a) OR id IN (b)" planned as, b859de0).
func unboundedScans(plan, table string) []string {
	lines := strings.Split(plan, "\n")
	var out []string
	for i, l := range lines {
		node := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "->"))
		if !strings.Contains(node, "Scan") || !strings.Contains(node+" ", " on "+table+" ") {
			continue
		}
		if strings.HasPrefix(node, "Seq Scan") {
			out = append(out, node)
			continue
		}
		if strings.HasPrefix(node, "Bitmap Heap Scan") {
			continue // its Bitmap Index Scan child carries the condition
		}
		depth := len(l) - len(strings.TrimLeft(l, " "))
		searched := false
		for _, d := range lines[i+1:] {
			if len(d)-len(strings.TrimLeft(d, " ")) <= depth || strings.Contains(d, "->") {
				break
			}
			searched = searched || strings.Contains(d, "Index Cond:")
		}
		if !searched {
			out = append(out, node)
		}
	}
	return out
}

// planTx opens a store on a fresh database, runs setup's statements in it
// and returns a transaction with sequential scans discouraged (a statement
// that can only be answered by reading a whole table still plans so),
// rolled back when t ends.
func planTx(t *testing.T, setup ...string) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, pgtest.NewDatabase(t), WithGroupCommit(false))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	for _, q := range setup {
		if _, err := st.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(ctx) }) //nolint:errcheck // nothing is kept
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// TestRemovalPlansSearchTheMember checks that an offboarding's statements
// on a member's space memberships, grants and group memberships find them
// through the member's index, on PostgreSQL's planner with sequential
// scans discouraged: a statement that can only be answered by reading a whole
// table (or a whole index) still plans so. A removal once planned such a
// scan of all space memberships (350 ms at 1M members in the bench).
func TestRemovalPlansSearchTheMember(t *testing.T) {
	ctx := context.Background()
	tx := planTx(t)
	var plans []string
	mtx := sqlstore.NewTx(explainingConn{conn{tx: tx}, t, &plans}, dialect)
	p := &membership.DeactivateParams{OrgID: 1, MemberID: 2, Cause: membership.CauseMemberRemoved, At: time.Now(), Limit: membership.DefaultReportLimit}
	if _, _, _, err := mtx.SpaceMembersDeactivate(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := mtx.GrantsDeactivate(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := mtx.GroupMembersDeactivate(ctx, p); err != nil {
		t.Fatal(err)
	}
	if len(plans) != 3 {
		t.Errorf("%d statements, want one for space memberships, one for grants and one for groups:\n%s", len(plans), strings.Join(plans, "\n\n"))
	}
	for _, plan := range plans {
		for _, table := range []string{"space_members", "grants", "space_member_roles", "group_members"} {
			if scans := unboundedScans(plan, table); len(scans) > 0 {
				t.Errorf("%s read whole (%s):\n%s", table, strings.Join(scans, "; "), plan)
			}
		}
	}
}

// TestUnboundedScans holds the plan reader to the plans it must tell
// apart: b859de0's "id IN (a) OR id IN (b)", planned with sequential
// scans off, and a search of the member's index.
func TestUnboundedScans(t *testing.T) {
	or := `Update on space_members  (cost=10000000891.25..10000072344.36 rows=0 width=0)
  ->  Seq Scan on space_members  (cost=10000000891.25..10000072344.36 rows=188006 width=38)
        Filter: ((hashed SubPlan 1) OR (hashed SubPlan 2))
        SubPlan 1
          ->  Limit  (cost=75.34..75.59 rows=100 width=8)
                ->  Index Scan using space_members_member on space_members space_members_1  (cost=0.42..69.18 rows=167 width=8)
                      Index Cond: (member_id = 5)`
	walked := `Update on space_members  (cost=0.42..1000.00 rows=0 width=0)
  ->  Index Scan using space_members_pkey on space_members  (cost=0.42..1000.00 rows=100 width=38)
        Filter: ((hashed SubPlan 1) OR (hashed SubPlan 2))`
	searched := `Update on space_members  (cost=0.43..71.99 rows=0 width=0)
  ->  Index Scan using space_members_member on space_members  (cost=0.43..71.99 rows=1003 width=78)
        Index Cond: (member_id = '2'::bigint)
        Filter: ((org_id = '1'::bigint) AND (status = 'active'::text))`
	for _, tc := range []struct {
		name, plan string
		want       int
	}{{"or", or, 1}, {"walked", walked, 1}, {"searched", searched, 0}} {
		if got := unboundedScans(tc.plan, "space_members"); len(got) != tc.want {
			t.Errorf("%s: unbounded scans %q, want %d", tc.name, got, tc.want)
		}
	}
}

// TestMemberStatusPlans checks PostgreSQL's plans of every list by status
// (the console's pages forwards and backwards, the native list and its
// count, SCIM's active filter) on an organization of 100,000 members, one
// in a hundred removed, beside one of 30,000, after ANALYZE: removed
// members are read from removed_members' key, each member then by its own
// key (migration 00017 took status out of members' indexes, so that a
// removal is a HOT update), never by a merge join along members' key;
// active ones along an index of members in id order (members_org_id, or
// the primary key where the planner finds the organization most of the
// table); no page sorts. Both organizations: the later one is where a merge
// join would walk the earlier one's members.
func TestMemberStatusPlans(t *testing.T) {
	ctx := context.Background()
	tx := planTx(t,
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1), (2, 'org-2', 'Other', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, i || '@example.com', 1 FROM generate_series(1, 130000) i`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at)
			SELECT i, 'm-' || i, CASE WHEN i <= 10000 THEN 1 ELSE 2 END, i, 'member', CASE WHEN i % 20 = 0 THEN 'removed' ELSE 'active' END, 1, 1
			FROM generate_series(1, 130000) i`,
		`ANALYZE`)
	removedIndex, activeIndex := "removed_members_pkey", "using members_org_id on members m"
	for _, pr := range []struct{ org, before int64 }{{1, 90000}, {2, 125000}} {
		for _, read := range storetest.StatusReads(pr.before) {
			var plans []string
			if err := read.Run(ctx, sqlstore.NewTx(explainingConn{conn{tx: tx}, t, &plans}, dialect), pr.org); err != nil {
				t.Fatalf("%s: %v", read.Name, err)
			}
			for _, plan := range plans {
				// A count reads every match whatever the plan; the
				// planner picks its join by the organization's size.
				count := strings.HasPrefix(plan, "SELECT count(*)")
				ok := count || !strings.Contains(plan, "Sort")
				if read.Removed {
					// A page's merge join walks members' key from the
					// page's first id, through every organization before it.
					ok = ok && strings.Contains(plan, removedIndex) &&
						(count || len(unboundedScans(plan, "members")) == 0 && !strings.Contains(plan, "Merge Join"))
				} else {
					ok = ok && (count || strings.Contains(plan, activeIndex) || strings.Contains(plan, "Bitmap Index Scan on members_org_id") ||
						strings.Contains(plan, "using members_pkey on members m"))
				}
				if !ok {
					t.Errorf("organization %d, %s plan:\n%s\nwant %s or %s and no sort", pr.org, read.Name, plan, removedIndex, activeIndex)
				}
			}
		}
	}
}

// recordingConn runs statements and keeps each one's text and arguments.
type recordingConn struct {
	conn
	seen *[]recordedQuery
}

type recordedQuery struct {
	q    string
	args []any
}

func (c recordingConn) Query(ctx context.Context, q string, args ...any) (sqlstore.Rows, error) {
	*c.seen = append(*c.seen, recordedQuery{q, args})
	return c.conn.Query(ctx, q, args...)
}

func (c recordingConn) QueryRow(ctx context.Context, q string, args ...any) sqlstore.Row {
	*c.seen = append(*c.seen, recordedQuery{q, args})
	return c.conn.QueryRow(ctx, q, args...)
}

// TestActivePagesGenericPlan checks the console's and the native list's
// pages of active members under PostgreSQL's generic plan, which a
// statement pgx has prepared gets after five runs: it estimates the
// organization's share of members from the number of organizations, and
// when a page's bound compared members' id alone it walked members' primary
// key and filtered organization and state (through every other
// organization's members for an organization almost all removed). Pages,
// SCIM's by offset among them, must walk members_org_id.
func TestActivePagesGenericPlan(t *testing.T) {
	ctx := context.Background()
	tx := planTx(t,
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1), (2, 'org-2', 'Other', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, i || '@example.com', 1 FROM generate_series(1, 130000) i`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at)
			SELECT i, 'm-' || i, CASE WHEN i <= 120000 THEN 1 ELSE 2 END, i, 'member', 'active', 1, 1
			FROM generate_series(1, 130000) i`,
		`ANALYZE`)
	if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
		t.Fatal(err)
	}
	for _, read := range storetest.StatusReads(125000) {
		if read.Removed {
			continue // removed pages walk removed_members
		}
		var seen []recordedQuery
		if err := read.Run(ctx, sqlstore.NewTx(recordingConn{conn{tx: tx}, &seen}, dialect), 2); err != nil {
			t.Fatalf("%s: %v", read.Name, err)
		}
		for i, r := range seen {
			if strings.HasPrefix(r.q, "SELECT count(*)") {
				continue
			}
			name := fmt.Sprintf("active_page_%d", i)
			if _, err := tx.Exec(ctx, "PREPARE "+name+" AS "+r.q); err != nil {
				t.Fatalf("%s: prepare %s: %v", read.Name, r.q, err)
			}
			params := make([]string, len(r.args))
			for j, a := range r.args {
				params[j] = fmt.Sprintf("'%v'", a)
			}
			var plans []string
			explainingConn{conn{tx: tx}, t, &plans}.explain(ctx, "EXECUTE "+name+"("+strings.Join(params, ", ")+")")
			if _, err := tx.Exec(ctx, "DEALLOCATE "+name); err != nil {
				t.Fatal(err)
			}
			text := plans[0]
			if !strings.Contains(text, "members_org_id on members m") || strings.Contains(text, "members_pkey on members m") {
				t.Errorf("%s, generic plan:\n%s\n%s\nwant a walk of members_org_id", read.Name, r.q, text)
			}
		}
	}
}

// explainingBatcher is an explainingConn that takes MemberOffboard's
// batch as the store's connection does, one statement after another.
type explainingBatcher struct{ explainingConn }

func (c explainingBatcher) Batch(ctx context.Context, qs []sqlstore.Queued) error {
	return sqlstore.RunQueued(ctx, c, qs)
}

// TestRemovalReadsOneMemberIndex checks that a single removal finds its
// member along one of members' indexes, in the statement that locks it
// and in every statement of its offboarding: reading it once by
// (org_id, id) and once by id alone cost a removal a second index page,
// outside the caches, as at 10M members (TestS5Pages with
// MEMBERD_S5_COLD at 1M: 11.2 blocks read a removal against 12.2).
func TestRemovalReadsOneMemberIndex(t *testing.T) {
	plans := singleRemovalPlans(t)
	indexes := map[string]bool{}
	for _, plan := range plans {
		for _, l := range strings.Split(plan, "\n") {
			if _, rest, ok := strings.Cut(l, " using "); ok && strings.Contains(rest, " on members ") {
				indexes[strings.Fields(rest)[0]] = true
			}
		}
	}
	if len(indexes) != 1 {
		t.Errorf("the removal's member found along %d indexes of members %v, want one:\n%s", len(indexes), indexes, strings.Join(plans, "\n\n"))
	}
}

// TestRemovalReadsNoUsers checks that a single removal reads its
// member's e-mail from the member's row (members.email, migration 00023),
// in the statement that locks the member as in the space memberships'
// RETURNING: users_id_email (00022) is a page of its own, outside the
// caches at 10M members.
func TestRemovalReadsNoUsers(t *testing.T) {
	plans := singleRemovalPlans(t)
	for _, plan := range plans {
		for _, l := range strings.Split(plan, "\n") {
			if strings.Contains(l, " on users ") {
				t.Errorf("users read by %s, want the e-mail from members:\n%s", strings.TrimSpace(l), plan)
			}
		}
	}
}

// singleRemovalPlans returns the plans of a single removal's statements,
// the one that locks the member and its offboarding's, on 20,000 members.
func singleRemovalPlans(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	tx := planTx(t,
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, i || '@example.com', 1 FROM generate_series(1, 20000) i`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at)
			SELECT i, 'm-' || i, 1, i, CASE WHEN i = 1 THEN 'owner' ELSE 'member' END, 'active', 1, 1 FROM generate_series(1, 20000) i`,
		`VACUUM ANALYZE`)
	var plans []string
	mtx := sqlstore.NewTx(explainingBatcher{explainingConn{conn{tx: tx}, t, &plans}}, dialect)
	if _, _, err := mtx.MemberGetActing(ctx, &membership.MemberGetParams{OrgID: 1, ID: 2, Lock: true}, 1); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	off := membership.DeactivateParams{OrgID: 1, MemberID: 2, Cause: membership.CauseMemberRemoved, At: now, Limit: membership.DefaultReportLimit}
	if _, err := mtx.MemberOffboard(ctx, &membership.MemberOffboardParams{
		Status: membership.MemberSetStatusParams{ID: 2, Status: membership.StatusRemoved, At: now, By: 1},
		Spaces: off, Off: off,
	}); err != nil {
		t.Fatal(err)
	}
	return plans
}
