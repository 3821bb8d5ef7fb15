package sqlite

import (
	"context"
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// TestAccessCheckPlan checks that an access check finds the resource's
// group grants in grants_resource_group (migration 00021) without reading
// a row of grants, instead of walking every grant of the resource along
// grants_resource and reading each one's row.
func TestAccessCheckPlan(t *testing.T) {
	ctx := context.Background()
	s := openPlanStore(t)
	for _, since := range []bool{false, true} {
		p := &membership.AccessCheckRefParams{Member: membership.MemberGetParams{OrgID: 1, ID: 2}, Resource: membership.RefParams{OrgID: 1, ID: 3}}
		if since {
			p.Since = new(int64)
		}
		var rec sqlstore.Recorder
		err := s.View(ctx, func(tx membership.Tx) error {
			defer tx.(*sqlstore.Tx).Record(&rec)()
			_, err := tx.AccessCheckRef(ctx, p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		sts := rec.Statements()
		if len(sts) != 1 {
			t.Fatalf("since %v: %d statements, want 1", since, len(sts))
		}
		plan := explainQueryPlan(t, s.reader, sts[0].Query, sts[0].Args...)
		if !strings.Contains(plan, "USING COVERING INDEX grants_resource_group (resource_id=?)") || strings.Contains(plan, "grants_resource (") {
			t.Errorf("since %v: access check plan:\n%s\nwant the group grants read from grants_resource_group alone", since, plan)
		}
	}
}
