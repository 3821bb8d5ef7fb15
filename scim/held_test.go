package scim

import (
	"context"
	"regexp"
	"testing"

	"github.com/memberd/memberd/internal/demo"
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

// TestGroupRemovalsPoliced: members a provider takes out of a group (a
// PATCH remove, a PUT of fewer members, a DELETE of the group) count
// against the organization's limits like any other removal: above them
// nothing changes and the answer is 409 naming a plan, which runs the
// removals once forced; within them the removal is logged and undone.
func TestGroupRemovalsPoliced(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		ctx := context.Background()
		e := newEnv(t, engine)
		group := "/Groups/" + demo.TedeeGroupUUID
		members := e.groupMembers(t, demo.GroupDoors)
		if len(members) < 3 {
			t.Fatalf("the door group has %d members, want 3 or more", len(members))
		}
		removalRows := func() (n int) {
			e.Rows(t, `SELECT COUNT(*) FROM removals`, nil, func(scan func(...any) error) error { return scan(&n) })
			return n
		}

		// Within the limits: logged as one removal, which undo reverses.
		rows := removalRows()
		body := `{` + patchSchema + `,"Operations":[{"op":"remove","path":"members[value eq \"` + e.uuid(t, members[0]) + `\"]"}]}`
		e.want(t, e.do(t, "PATCH", group, body), 204)
		if got := len(e.groupMembers(t, demo.GroupDoors)); got != len(members)-1 {
			t.Fatalf("after the PATCH: %d members, want %d", got, len(members)-1)
		}
		if removalRows() != rows+1 {
			t.Fatalf("removals logged: %d, want %d", removalRows(), rows+1)
		}
		var id string
		e.Rows(t, `SELECT uuid FROM removals ORDER BY id DESC LIMIT 1`, nil, func(scan func(...any) error) error { return scan(&id) })
		if _, err := e.Svc.UndoRemoval(ctx, e.Owner, id); err != nil {
			t.Fatalf("undo: %v", err)
		}
		if got := len(e.groupMembers(t, demo.GroupDoors)); got != len(members) {
			t.Fatalf("after the undo: %d members, want %d", got, len(members))
		}
		// An add alone logs no removal.
		e.want(t, e.do(t, "PATCH", group, `{`+patchSchema+`,"Operations":[{"op":"add","path":"members","value":[{"value":"`+e.uuid(t, members[0])+`"}]}]}`), 204)
		if removalRows() != rows+1 {
			t.Fatalf("an add logged a removal")
		}

		// Above the limits: nothing changes, and the plan holds the removals.
		if _, err := e.Svc.SetPolicy(ctx, e.Owner, membership.Policy{MaxPerCall: 1}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ method, body string }{
			{"PATCH", `{` + patchSchema + `,"Operations":[{"op":"replace","path":"members","value":[]}]}`},
			{"PUT", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"` + demo.GroupDoors + `","members":[]}`},
			{"DELETE", ""},
		} {
			res := e.do(t, c.method, group, c.body)
			e.want(t, res, 409)
			m := planRef.FindStringSubmatch(res.json["detail"].(string))
			if m == nil {
				t.Fatalf("%s: the error names no plan: %s", c.method, res.Body)
			}
			if got := e.groupMembers(t, demo.GroupDoors); len(got) != len(members) {
				t.Fatalf("%s: a held change left %d members, want %d", c.method, len(got), len(members))
			}
			if c.method != "DELETE" {
				continue
			}
			if _, err := e.Svc.ForcePlan(ctx, e.Owner, m[1]); err != nil {
				t.Fatalf("force plan %s: %v", m[1], err)
			}
			if got := e.groupMembers(t, demo.GroupDoors); len(got) != 0 {
				t.Errorf("after the plan ran: members %v, want none", got)
			}
		}
	})
}
