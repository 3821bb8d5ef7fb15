package scim

import (
	"context"
	"regexp"
	"testing"

	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// planRef finds the plan a held removal's message names.
var planRef = regexp.MustCompile(`saved as plan ([0-9a-f-]{36})`)

// TestHeldAbovePolicy: a deprovisioning above the organization's hourly
// limit, by PATCH active=false or by DELETE, removes nothing and answers
// 409 in SCIM's error format naming the plan it is held as.
func TestHeldAbovePolicy(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		e := newEnv(t, engine)
		if _, err := e.Svc.SetPolicy(ctx, e.Owner, membership.Policy{MaxPerHour: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Svc.RemoveMember(ctx, e.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 30}}); err != nil {
			t.Fatal(err)
		}
		user := e.uuid(t, 31)
		for _, c := range []struct{ method, body string }{
			{"PATCH", `{` + patchSchema + `,"Operations":[{"op":"replace","value":{"active":false}}]}`},
			{"DELETE", ""},
		} {
			res := e.do(t, c.method, "/Users/"+user, c.body)
			e.want(t, res, 409)
			if res.json["status"] != "409" || res.json["schemas"].([]any)[0] != msgError {
				t.Errorf("%s: not a SCIM error: %s", c.method, res.Body)
			}
			detail, _ := res.json["detail"].(string)
			m := planRef.FindStringSubmatch(detail)
			if m == nil {
				t.Fatalf("%s: the error names no plan: %s", c.method, res.Body)
			}
			plan, err := e.Svc.Plan(ctx, e.Owner, m[1])
			if err != nil || plan.Status != membership.PlanAwaitingApproval {
				t.Errorf("%s: plan %s: %+v, %v", c.method, m[1], plan, err)
			}
			if mem := e.Member(t, 31); !mem.Active() {
				t.Fatalf("%s: the held user was removed", c.method)
			}
		}
	})
}
