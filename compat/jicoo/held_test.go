package jicoo

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// TestHeldAbovePolicy: a removal above the organization's hourly limit
// removes nothing and answers 409 in Jicoo's error format, naming the plan
// it is held as.
func TestHeldAbovePolicy(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		b := newBundle(t, engine, auth.Limits{})
		if _, err := b.Svc.SetPolicy(ctx, b.Owner, membership.Policy{MaxPerHour: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Svc.RemoveMember(ctx, b.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 30}}); err != nil {
			t.Fatal(err)
		}
		r := b.Do(t, http.MethodDelete, "/v1/organization_users/31", b.Demo.OwnerToken, "", "")
		if r.Status != http.StatusConflict {
			t.Fatalf("DELETE above the limit: %d %s", r.Status, r.Body)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.Body)
		}
		m := regexp.MustCompile(`saved as plan ([0-9a-f-]{36})`).FindStringSubmatch(r.Body)
		if m == nil {
			t.Fatalf("the error names no plan: %s", r.Body)
		}
		if plan, err := b.Svc.Plan(ctx, b.Owner, m[1]); err != nil || plan.Status != membership.PlanAwaitingApproval {
			t.Errorf("plan %s: %+v, %v", m[1], plan, err)
		}
		if !b.Member(t, 31).Active() {
			t.Fatal("the held member was removed")
		}
		t.Logf("%d %s", r.Status, r.Body)
	})
}
