package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
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

// TestRemovalPlansSearchTheMember checks that an offboarding's statements
// on a member's space memberships, grants and group memberships find them
// through the member's index, on PostgreSQL's planner with sequential
// scans discouraged: a statement that can only be answered by reading a whole
// table (or a whole index) still plans so. A removal once planned such a
// scan of all space memberships (350 ms at 1M members in the bench).
func TestRemovalPlansSearchTheMember(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, pgtest.NewDatabase(t), WithGroupCommit(false))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer st.Close()
	tx, err := st.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // nothing is kept
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
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
