package wiggledesk

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
// removes nothing and answers 409 in Django REST framework's error format,
// naming the plan it is held as.
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
		m := b.Member(t, 31)
		r := b.Do(t, http.MethodPost, Path, b.Demo.OwnerToken, jsonType, `{"email_invited":"`+m.Email+`"}`)
		if r.Status != http.StatusConflict {
			t.Fatalf("removal above the limit: %d %s", r.Status, r.Body)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.Body)
		}
		ref := regexp.MustCompile(`saved as plan ([0-9a-f-]{36})`).FindStringSubmatch(r.Body)
		if ref == nil {
			t.Fatalf("the error names no plan: %s", r.Body)
		}
		if plan, err := b.Svc.Plan(ctx, b.Owner, ref[1]); err != nil || plan.Status != membership.PlanAwaitingApproval {
			t.Errorf("plan %s: %+v, %v", ref[1], plan, err)
		}
		if !b.Member(t, 31).Active() {
			t.Fatal("the held member was removed")
		}
		t.Logf("%d %s", r.Status, r.Body)
	})
}
