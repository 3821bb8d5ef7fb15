package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
	"github.com/memberd/memberd/store/storetest"
)

// directoryPlan is SQLite's plan for the page query of a directory
// listing, one step a line.
func directoryPlan(t *testing.T, p *membership.DirectoryQuery) string {
	t.Helper()
	s := openPlanStore(t)
	q, args, err := sqlstore.DirectoryUserSQL(p)
	if err != nil {
		t.Fatal(err)
	}
	return explainQueryPlan(t, s.reader, q, args...)
}

// TestDirectoryLookupPlans checks that the lookups identity providers make
// before every create (userName eq, externalId eq) read an index within
// the organization instead of walking its members.
func TestDirectoryLookupPlans(t *testing.T) {
	for _, tc := range []struct {
		name  string
		field membership.Field
		index string
	}{
		{"userName", membership.FieldEmail, "(email=?)"},
		{"externalId", membership.FieldExternalID, "member_profiles_external (org_id=? AND external_id=?)"},
	} {
		got := directoryPlan(t, &membership.DirectoryQuery{OrgID: 1, Limit: 100,
			Filter: &membership.Filter{Op: membership.FilterEq, Field: tc.field, Value: "x", CaseExact: true}})
		if !strings.Contains(got, tc.index) || strings.Contains(got, "(org_id=?)\n") {
			t.Errorf("%s lookup plan:\n%s\nwant a search using %s", tc.name, got, tc.index)
		}
	}
}

// TestDirectoryPagePlan checks that a page of an unfiltered listing reads
// members in id order from an index instead of sorting the organization.
func TestDirectoryPagePlan(t *testing.T) {
	if got := directoryPlan(t, &membership.DirectoryQuery{OrgID: 1, Limit: 100, Offset: 200}); strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("page plan sorts:\n%s", got)
	}
}

// statusPlans runs fn in a transaction of a fresh store and returns
// SQLite's plan of each statement it ran that reads members.
func statusPlans(t *testing.T, fn func(ctx context.Context, tx membership.Tx) error) []string {
	t.Helper()
	ctx := context.Background()
	s := openPlanStore(t)
	var rec sqlstore.Recorder
	err := s.View(ctx, func(tx membership.Tx) error {
		defer tx.(*sqlstore.Tx).Record(&rec)()
		return fn(ctx, tx)
	})
	if err != nil {
		t.Fatal(err)
	}
	var plans []string
	for _, st := range rec.Statements() {
		plans = append(plans, explainQueryPlan(t, s.reader, st.Query, st.Args...))
	}
	return plans
}

// TestMemberStatusPlans checks that every list by status reads an index
// in id order within the organization and sorts nothing: removed members
// from removed_members alone, so that an organization with few of them
// never walks its active ones, and active members along members_org_id.
// members has no index of status (migration 00017), so a removal's UPDATE
// is a HOT update on PostgreSQL.
func TestMemberStatusPlans(t *testing.T) {
	for _, read := range storetest.StatusReads(500) {
		want := "SEARCH m USING INDEX members_org_id (org_id=?"
		if read.Removed {
			want = "SEARCH r USING PRIMARY KEY (org_id=?"
		}
		plans := statusPlans(t, func(ctx context.Context, tx membership.Tx) error { return read.Run(ctx, tx, 1) })
		if len(plans) == 0 {
			t.Fatalf("%s: no statements", read.Name)
		}
		for _, plan := range plans {
			if !strings.HasPrefix(plan, want) || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN ") {
				t.Errorf("%s plan:\n%s\nwant it to start with %s and sort and scan nothing", read.Name, plan, want)
			}
		}
	}
}
