package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

func removeMemberAt(o *org, at time.Time) membership.StartOperationRequest {
	return membership.StartOperationRequest{
		Request:     membership.OperationRequest{RemoveMember: &membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}},
		EffectiveAt: &at,
	}
}

func memberStatus(tb testing.TB, svc *membership.Service, o *org) membership.Status {
	tb.Helper()
	m, err := svc.Member(context.Background(), o.owner, membership.MemberRef{ID: o.member.ID})
	if err != nil {
		tb.Fatal(err)
	}
	return m.Status
}

func TestScheduledRemoval(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()

		t.Run("ExecutesOnTime", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "ontime")
			due := time.Now().Add(1500 * time.Millisecond)
			op, err := n.svc.StartOperation(ctx, o.owner, removeMemberAt(o, due))
			if err != nil {
				t.Fatal(err)
			}
			if op.Status != membership.OperationScheduled {
				t.Fatalf("status %s", op.Status)
			}
			list, err := n.svc.Operations(ctx, o.owner, membership.OperationListParams{Scheduled: true})
			if err != nil || len(list) != 1 || list[0].UUID != op.UUID {
				t.Fatalf("list %v %v", list, err)
			}
			preview, err := n.svc.PreviewOperation(ctx, o.owner, op.UUID)
			if err != nil || !preview.DryRun || len(preview.Spaces) != 1 || len(preview.Groups) != 1 {
				t.Fatalf("preview %+v %v", preview, err)
			}
			if s := memberStatus(t, n.svc, o); s != membership.StatusActive {
				t.Fatalf("removed before due: %s", s)
			}
			op = waitOperation(t, n.svc, o.owner, op.UUID, 10*time.Second)
			if op.Status != membership.OperationSucceeded || op.StartedAt == nil {
				t.Fatalf("operation %+v", op)
			}
			if late := op.StartedAt.Sub(due); late < -100*time.Millisecond || late > time.Second {
				t.Fatalf("started %s after its time", late)
			}
			if s := memberStatus(t, n.svc, o); s != membership.StatusRemoved {
				t.Fatalf("member %s after the scheduled removal", s)
			}
			if _, err := n.svc.CancelOperation(ctx, o.owner, op.UUID); membership.ErrorCode(err) != membership.CodeConflict {
				t.Fatalf("cancel after execution: %v", err)
			}
			events, err := n.svc.Events(ctx, o.owner, membership.EventListParams{Action: "scheduled_removal.executed"})
			if err != nil || len(events) != 1 {
				t.Fatalf("executed events %v %v", events, err)
			}
		})

		t.Run("Cancel", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "cancel")
			op, err := n.svc.StartOperation(ctx, o.owner, removeMemberAt(o, time.Now().Add(700*time.Millisecond)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := n.svc.StartOperation(ctx, o.owner, removeMemberAt(o, time.Now().Add(time.Hour))); membership.ErrorCode(err) != membership.CodeConflict {
				t.Fatalf("second schedule of the same removal: %v", err)
			}
			c, err := n.svc.CancelOperation(ctx, o.owner, op.UUID)
			if err != nil || c.Status != membership.OperationCancelled {
				t.Fatalf("cancel %+v %v", c, err)
			}
			time.Sleep(1500 * time.Millisecond)
			if s := memberStatus(t, n.svc, o); s != membership.StatusActive {
				t.Fatalf("cancelled removal ran: %s", s)
			}
			if op, _ = n.svc.Operation(ctx, o.owner, op.UUID); op.Status != membership.OperationCancelled {
				t.Fatalf("status %s", op.Status)
			}
			if _, err := n.svc.PreviewOperation(ctx, o.owner, op.UUID); membership.ErrorCode(err) != membership.CodeConflict {
				t.Fatalf("preview of a cancelled removal: %v", err)
			}
		})

		t.Run("SurvivesRestart", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "restart")
			due := time.Now().Add(2 * time.Second)
			op, err := n.svc.StartOperation(ctx, o.owner, removeMemberAt(o, due))
			if err != nil {
				t.Fatal(err)
			}
			n.stop() // the node goes away before the removal is due
			time.Sleep(time.Until(due) + 300*time.Millisecond)
			// Read before the second node starts: once it is up, the
			// overdue removal may rightly run before a read after it.
			down := db.open(t)
			s := memberStatus(t, membership.NewService(down, svcConfig()), o)
			_ = down.Close()
			if s != membership.StatusActive {
				t.Fatalf("ran with no node up: %s", s)
			}
			n2 := startNode(t, db, testConfig(), svcConfig())
			op = waitOperation(t, n2.svc, o.owner, op.UUID, 10*time.Second)
			if op.Status != membership.OperationSucceeded {
				t.Fatalf("operation %+v", op)
			}
			if late := op.StartedAt.Sub(due); late > 2*time.Second {
				t.Fatalf("ran %s after its time, with a node up since %s", late, 300*time.Millisecond)
			}
			if s := memberStatus(t, n2.svc, o); s != membership.StatusRemoved {
				t.Fatalf("member %s", s)
			}
		})

		t.Run("Refusals", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "refuse")
			past := time.Now().Add(-time.Hour)
			if _, err := n.svc.StartOperation(ctx, o.owner, removeMemberAt(o, past)); membership.ErrorCode(err) != membership.CodeInvalid {
				t.Fatalf("past effective_at: %v", err)
			}
			req := removeMemberAt(o, time.Now().Add(time.Hour))
			req.Request.RemoveMember.Member = membership.MemberRef{ID: 424242}
			if _, err := n.svc.StartOperation(ctx, o.owner, req); membership.ErrorCode(err) != membership.CodeNotFound {
				t.Fatalf("unknown member: %v", err)
			}
			bob := membership.Actor{OrgID: o.owner.OrgID, MemberID: o.member.ID, Interface: "test"}
			if _, err := n.svc.StartOperation(ctx, bob, removeMemberAt(o, time.Now().Add(time.Hour))); membership.ErrorCode(err) != membership.CodeForbidden {
				t.Fatalf("plain member scheduling: %v", err)
			}
			for _, r := range []membership.OperationRequest{
				{RemoveSpaceMember: &membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: o.space.ID}, Member: membership.MemberRef{ID: o.member.ID}}},
				{RemoveGroupMember: &membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: o.group.ID}, Member: membership.MemberRef{ID: o.member.ID}}},
			} {
				at := time.Now().Add(300 * time.Millisecond)
				op, err := n.svc.StartOperation(ctx, o.owner, membership.StartOperationRequest{Request: r, EffectiveAt: &at})
				if err != nil {
					t.Fatal(err)
				}
				if op = waitOperation(t, n.svc, o.owner, op.UUID, 10*time.Second); op.Status != membership.OperationSucceeded {
					t.Fatalf("%s: %+v %+v", op.Kind, op, op.Error)
				}
			}
		})
	})
}
