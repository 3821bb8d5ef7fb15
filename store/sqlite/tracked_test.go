package sqlite

import "testing"

// TestTrackedTablesAgree holds the C update hook's numbering of the
// tables an access check reads to Go's, which reads its buffer.
func TestTrackedTablesAgree(t *testing.T) {
	for _, table := range []string{"members", "resources", "event_chain_heads", "space_members", "group_members", "grants",
		"users", "events", "removed_members", "memberships", "grant", "member"} {
		if c, g := trackedInC(table), tracked(table); c != g {
			t.Errorf("table %s: the C hook says %d, Go %d", table, c, g)
		}
	}
	if tracked("grants") == 0 || tracked("users") != 0 {
		t.Error("tracked does not know which tables a check reads")
	}
}
