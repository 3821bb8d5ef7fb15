package sqlite

import (
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
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
