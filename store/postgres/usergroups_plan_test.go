package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// TestUserGroupsPlans checks PostgreSQL's plans of SCIM's User groups on
// a database of one organization, 100,000 members in 100 groups of 1,000,
// after ANALYZE: a page's groups are read by the page's members, and a
// filter on a group's UUID is led by that group's memberships, members
// then found by their key; neither walks the organization's members
// (members_org_id) or reads a table whole, so the cost follows the page
// and the group, not the organization. One organization is the case
// self-hosting makes common, and the one whose page bound PostgreSQL
// misestimated (userListing).
func TestUserGroupsPlans(t *testing.T) {
	ctx := context.Background()
	tx := planTx(t,
		`INSERT INTO organizations (id, uuid, name, created_at) VALUES (1, 'org-1', 'Org', 1)`,
		`INSERT INTO users (id, uuid, email, created_at) SELECT i, 'u-' || i, i || '@example.com', 1 FROM generate_series(1, 100000) i`,
		`INSERT INTO members (id, uuid, org_id, user_id, role, status, created_at, updated_at)
			SELECT i, 'm-' || i, 1, i, 'member', 'active', 1, 1 FROM generate_series(1, 100000) i`,
		`INSERT INTO user_groups (id, uuid, org_id, name, created_at) SELECT i, 'g-' || i, 1, 'group ' || i, 1 FROM generate_series(1, 100) i`,
		`INSERT INTO group_members (org_id, group_id, member_id, status, created_at)
			SELECT 1, i % 100 + 1, i, 'active', 1 FROM generate_series(1, 100000) i`,
		`ANALYZE`)
	var plans []string
	mtx := sqlstore.NewTx(explainingConn{conn{tx: tx}, t, &plans}, dialect)
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(50000 + i)
	}
	mgs, err := mtx.MemberGroupList(ctx, &membership.MemberGroupListParams{OrgID: 1, MemberIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	if len(mgs) != len(ids) {
		t.Errorf("%d groups of %d members, want one each", len(mgs), len(ids))
	}
	users, n, err := mtx.DirectoryUserList(ctx, &membership.DirectoryQuery{OrgID: 1, Limit: 100,
		Filter: &membership.Filter{Op: membership.FilterEq, Field: membership.FieldGroup, Value: "g-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000 || len(users) != 100 {
		t.Errorf("filter on a group of 1,000: %d in all, %d on the page; want 1000 and 100", n, len(users))
	}
	if len(plans) != 3 {
		t.Fatalf("%d statements, want the groups read, the filter's count and its page:\n%s", len(plans), strings.Join(plans, "\n\n"))
	}
	// Led by the members (group_members_member) or by the organization's
	// groups, each probed for the page's members, by the planner's count
	// of groups: either way group_members is searched by member.
	if !strings.Contains(plans[0], "member_id = ANY") {
		t.Errorf("groups of a page:\n%s\nwant group_members searched by the page's members", plans[0])
	}
	for _, plan := range plans {
		for _, table := range []string{"members", "group_members", "user_groups"} {
			if scans := unboundedScans(plan, table); len(scans) > 0 {
				t.Errorf("%s read whole (%s):\n%s", table, strings.Join(scans, "; "), plan)
			}
		}
	}
	for _, plan := range plans[1:] {
		if strings.Contains(plan, "using members_org_id on") || !strings.Contains(plan, "group_members_group_id_member_id_key") {
			t.Errorf("filter on a group:\n%s\nwant the group's memberships first (group_members_group_id_member_id_key), not a walk of the organization's members", plan)
		}
	}

	// Okta's lookup before it creates a user: userName eq, by the user's
	// e-mail address, then the organization's membership of that user.
	plans = nil
	if _, _, err := mtx.DirectoryUserList(ctx, &membership.DirectoryQuery{OrgID: 1, Limit: 100,
		Filter: &membership.Filter{Op: membership.FilterEq, Field: membership.FieldEmail, Value: "77@example.com"}}); err != nil {
		t.Fatal(err)
	}
	for _, plan := range plans {
		if strings.Contains(plan, "using members_org_id on") || !strings.Contains(plan, "users_email_key") {
			t.Errorf("filter on userName:\n%s\nwant the user by users_email_key, not a walk of the organization's members", plan)
		}
	}
}
