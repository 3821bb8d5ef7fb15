package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

func TestOperation(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()
		n := startNode(t, db, testConfig(), svcConfig())
		o := setupOrg(t, n.svc, "acme")
		start := func(roles ...string) (*membership.Operation, error) {
			return n.svc.StartOperation(ctx, o.owner, membership.StartOperationRequest{
				Request: membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: roles}},
			})
		}
		roles := func() []string {
			sm, err := n.svc.SpaceMembership(ctx, o.owner, o.sm.ID)
			if err != nil {
				t.Fatal(err)
			}
			return sm.Roles
		}

		t.Run("Succeeds", func(t *testing.T) {
			op, err := start("viewer")
			if err != nil {
				t.Fatal(err)
			}
			if op.Status != membership.OperationQueued {
				t.Fatalf("status %s, want queued", op.Status)
			}
			op = waitOperation(t, n.svc, o.owner, op.UUID, 10*time.Second)
			if op.Status != membership.OperationSucceeded || op.Result == nil || op.Attempts != 1 {
				t.Fatalf("operation %+v", op)
			}
			if diff := cmp.Diff([]string{"approver", "editor"}, roles()); diff != "" {
				t.Fatalf("roles (-want +got):\n%s", diff)
			}
		})

		t.Run("FailsAtomically", func(t *testing.T) {
			op, err := start("editor", "viewer")
			if err != nil {
				t.Fatal(err)
			}
			op = waitOperation(t, n.svc, o.owner, op.UUID, 10*time.Second)
			if op.Status != membership.OperationFailed || op.Error == nil || op.Error.Code != membership.CodeConflict {
				t.Fatalf("operation %+v error %+v", op, op.Error)
			}
			if diff := cmp.Diff([]string{"approver", "editor"}, roles()); diff != "" {
				t.Fatalf("roles changed (-want +got):\n%s", diff)
			}
		})

		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := n.svc.StartOperation(ctx, o.owner, membership.StartOperationRequest{
				Request: membership.OperationRequest{RevokeRoles: &membership.RevokeRolesRequest{SpaceMemberID: 99999, Roles: []string{"x"}}},
			})
			if membership.ErrorCode(err) != membership.CodeNotFound {
				t.Fatalf("err %v, want not found", err)
			}
		})
	})
}
