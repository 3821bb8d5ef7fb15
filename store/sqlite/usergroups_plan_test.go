package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// TestUserGroupsPlans checks that a page's groups (SCIM's User groups) are
// read through each member's group memberships, and that a filter on a
// group's UUID is led by that group's memberships: neither walks the
// organization's members, however many it has.
func TestUserGroupsPlans(t *testing.T) {
	plans := statusPlans(t, func(ctx context.Context, tx membership.Tx) error {
		if _, err := tx.MemberGroupList(ctx, &membership.MemberGroupListParams{OrgID: 1, MemberIDs: []int64{1, 2, 3}}); err != nil {
			return err
		}
		_, _, err := tx.DirectoryUserList(ctx, &membership.DirectoryQuery{OrgID: 1, Limit: 100,
			Filter: &membership.Filter{Op: membership.FilterEq, Field: membership.FieldGroup, Value: "x"}})
		return err
	})
	if len(plans) != 3 {
		t.Fatalf("%d statements, want the groups read, the filter's count and its page", len(plans))
	}
	if !strings.HasPrefix(plans[0], "SEARCH gm USING INDEX group_members_member (member_id=?)") {
		t.Errorf("groups of a page:\n%s\nwant a search of group_members_member", plans[0])
	}
	for _, plan := range plans[1:] {
		if !strings.Contains(plan, "members_org_id (org_id=? AND id=?)") || !strings.Contains(plan, "(uuid=?)") ||
			strings.Contains(plan, "SCAN ") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("filter on a group:\n%s\nwant members looked up by id from the group's memberships, nothing scanned or sorted", plan)
		}
	}
}
