package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

// world is what two identical members are built in: spaces, groups with
// grants, and resources each member is granted directly and books.
type world struct {
	spaces    []*membership.Space
	groups    []*membership.Group
	resources []*membership.Resource
}

func buildWorld(tb testing.TB, svc *membership.Service, a membership.Actor, spaces, groups, resources int) *world {
	tb.Helper()
	ctx := context.Background()
	w := &world{}
	for i := range spaces {
		sp, err := svc.CreateSpace(ctx, a, fmt.Sprintf("space %d", i))
		if err != nil {
			tb.Fatal(err)
		}
		w.spaces = append(w.spaces, sp)
	}
	for i := range resources {
		r, err := svc.CreateResource(ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: fmt.Sprintf("desk %d", i)})
		if err != nil {
			tb.Fatal(err)
		}
		w.resources = append(w.resources, r)
	}
	for i := range groups {
		g, err := svc.CreateGroup(ctx, a, fmt.Sprintf("group %d", i))
		if err != nil {
			tb.Fatal(err)
		}
		w.groups = append(w.groups, g)
		for _, r := range w.resources[i%len(w.resources) : i%len(w.resources)+1] {
			if _, err := svc.CreateGrant(ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: g.ID}}); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return w
}

// populate adds a member everywhere in w: every space (with roles), every
// group, a direct grant of every resource and a future booking of two,
// on its own day.
func (w *world) populate(tb testing.TB, svc *membership.Service, a membership.Actor, email string, day int) *membership.Member {
	tb.Helper()
	ctx := context.Background()
	m, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: email})
	if err != nil {
		tb.Fatal(err)
	}
	ref := membership.MemberRef{ID: m.ID}
	for i, sp := range w.spaces {
		roles := []string{"viewer"}
		if i%3 == 0 {
			roles = append(roles, "editor")
		}
		if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: roles}); err != nil {
			tb.Fatal(err)
		}
	}
	for _, g := range w.groups {
		if _, err := svc.AddGroupMember(ctx, a, membership.Ref{ID: g.ID}, ref); err != nil {
			tb.Fatal(err)
		}
	}
	for _, r := range w.resources {
		if _, err := svc.CreateGrant(ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref}); err != nil {
			tb.Fatal(err)
		}
	}
	start := time.Now().Add(time.Duration(48+24*day) * time.Hour).Truncate(time.Hour)
	for i, r := range w.resources[:2] {
		at := start.Add(time.Duration(i) * time.Hour)
		if _, err := svc.CreateBooking(ctx, a, membership.CreateBookingRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref,
			StartsAt: at, EndsAt: at.Add(30 * time.Minute)}); err != nil {
			tb.Fatal(err)
		}
	}
	return m
}

// state is a member's end state in terms two identical members share.
type state struct {
	Status   membership.Status
	Spaces   map[int64]string // space ID → status and roles
	Groups   map[int64]membership.Status
	Grants   map[int64]membership.Status // resource ID → direct grant status
	Bookings []string
	Access   int
}

func endState(tb testing.TB, svc *membership.Service, a membership.Actor, id int64) state {
	tb.Helper()
	ctx := context.Background()
	h, err := svc.History(ctx, a, membership.MemberRef{ID: id})
	if err != nil {
		tb.Fatal(err)
	}
	st := state{Status: h.Member.Status, Spaces: map[int64]string{}, Groups: map[int64]membership.Status{}, Grants: map[int64]membership.Status{}}
	for _, sm := range h.Spaces {
		st.Spaces[sm.SpaceID] = fmt.Sprintf("%s %v", sm.Status, sm.Roles)
	}
	for _, gm := range h.Groups {
		st.Groups[gm.GroupID] = gm.Status
	}
	for _, b := range h.Bookings {
		st.Bookings = append(st.Bookings, fmt.Sprintf("%d %s", b.ResourceID, b.Status))
	}
	grants, err := svc.Grants(ctx, a, membership.GrantListParams{MemberID: id})
	if err != nil {
		tb.Fatal(err)
	}
	for _, g := range grants {
		st.Grants[g.ResourceID] = g.Status
	}
	access, err := svc.MemberAccess(ctx, a, membership.MemberRef{ID: id})
	if err != nil {
		tb.Fatal(err)
	}
	st.Access = len(access)
	return st
}

// shape is a report in terms two identical members share.
type shape struct {
	Counts    membership.ReportCounts
	Truncated bool
	Spaces    []int64
	Roles     []string
	Groups    []int64
	Grants    []string
	Bookings  int
	Status    membership.Status
}

func shapeOf(r *membership.Report) shape {
	s := shape{Counts: r.Counts, Truncated: r.Truncated, Bookings: len(r.Bookings), Status: r.Member.Status}
	for _, sm := range r.Spaces {
		s.Spaces = append(s.Spaces, sm.SpaceID)
	}
	for _, rc := range r.Roles {
		s.Roles = append(s.Roles, fmt.Sprintf("%d %v", rc.SpaceID, rc.Roles))
	}
	for _, gm := range r.Groups {
		s.Groups = append(s.Groups, gm.GroupID)
	}
	for _, g := range r.Grants {
		s.Grants = append(s.Grants, fmt.Sprintf("%s %d %d", g.Origin, g.Grant.ResourceID, g.Grant.GroupID))
	}
	return s
}

// TestOffboardAsync holds a background offboarding, run in chunks, to the
// synchronous one on an identical member: the same report and the same
// end state, progress that says what is done, and an undo that gives back
// the same as the synchronous one's.
func TestOffboardAsync(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()
		svcCfg := svcConfig()
		svcCfg.OffboardChunk = 7
		n := startNode(t, db, testConfig(), svcCfg)
		o := setupOrg(t, n.svc, "acme")
		w := buildWorld(t, n.svc, o.owner, 23, 9, 12)
		syncM := w.populate(t, n.svc, o.owner, "sync@acme.test", 0)
		asyncM := w.populate(t, n.svc, o.owner, "async@acme.test", 1)

		g := &membership.Guard{}
		rep, err := n.svc.RemoveMember(membership.WithGuard(ctx, g), o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: syncM.ID}, ReportLimit: 5})
		if err != nil {
			t.Fatal(err)
		}
		op, err := n.svc.OffboardAsync(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: asyncM.ID}, ReportLimit: 5})
		if err != nil {
			t.Fatal(err)
		}
		op = waitOperation(t, n.svc, o.owner, op.UUID, 30*time.Second)
		if op.Status != membership.OperationSucceeded || op.Result == nil {
			t.Fatalf("operation %s: %+v", op.Status, op.Error)
		}
		if diff := cmp.Diff(shapeOf(rep), shapeOf(op.Result)); diff != "" {
			t.Errorf("report (-sync +async):\n%s", diff)
		}
		wantSync, gotAsync := endState(t, n.svc, o.owner, syncM.ID), endState(t, n.svc, o.owner, asyncM.ID)
		if diff := cmp.Diff(wantSync, gotAsync); diff != "" {
			t.Errorf("end state (-sync +async):\n%s", diff)
		}
		if wantSync.Access != 0 || wantSync.Status != membership.StatusRemoved {
			t.Errorf("synchronous end state %+v", wantSync)
		}
		p := op.Progress
		if p == nil {
			t.Fatal("no progress")
		}
		total := 23 + 9 + 12 + 1
		if p.Total != total || p.Done != total || p.Chunks < total/7 || len(p.SpacesDone) != 23 || len(p.GroupsDone) != 9 || p.RemovalID == "" {
			t.Errorf("progress %+v", p)
		}
		for _, part := range p.Parts {
			if !part.Complete || part.Done != part.Total {
				t.Errorf("part %+v not complete", part)
			}
		}
		// Every chunk but the final one is recorded as it commits, which
		// advances the access epoch: an access index cannot answer from
		// before a chunk that took access away.
		progressed, err := n.svc.Events(ctx, o.owner, membership.EventListParams{Action: membership.ActionOperationProgressed, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(progressed) != p.Chunks-1 {
			t.Errorf("%d chunk events for %d chunks, want one for each but the final", len(progressed), p.Chunks)
		}

		// Undo both: each comes back exactly as it was.
		syncUndo, err := n.svc.UndoRemoval(ctx, o.owner, g.RemovalID)
		if err != nil {
			t.Fatal(err)
		}
		asyncUndo, err := n.svc.UndoRemoval(ctx, o.owner, p.RemovalID)
		if err != nil {
			t.Fatal(err)
		}
		if syncUndo.Undo.Restored != 1 || asyncUndo.Undo.Restored != 1 {
			t.Errorf("restored %d (sync) and %d (async), want 1 each", syncUndo.Undo.Restored, asyncUndo.Undo.Restored)
		}
		wantSync, gotAsync = endState(t, n.svc, o.owner, syncM.ID), endState(t, n.svc, o.owner, asyncM.ID)
		if diff := cmp.Diff(wantSync, gotAsync); diff != "" {
			t.Errorf("state after undo (-sync +async):\n%s", diff)
		}
		if wantSync.Status != membership.StatusActive || wantSync.Access == 0 {
			t.Errorf("after undo: %+v", wantSync)
		}
	})
}

// TestOffboardAsyncRefused: what a background offboarding refuses before
// acceptance changes nothing, and its limits hold it as a plan.
func TestOffboardAsyncRefused(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()
		n := startNode(t, db, testConfig(), svcConfig())
		o := setupOrg(t, n.svc, "acme")
		if _, err := n.svc.OffboardAsync(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.ownerID}}); membership.ErrorCode(err) != membership.CodeConflict {
			t.Fatalf("last owner: %v, want conflict", err)
		}
		if _, err := n.svc.SetPolicy(ctx, o.owner, membership.Policy{MaxPerHour: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
			t.Fatal(err)
		}
		other, err := n.svc.AddMember(ctx, o.owner, membership.AddMemberRequest{Email: "carol@acme.test"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.svc.OffboardAsync(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: other.ID}})
		var held *membership.ApprovalRequired
		if !errors.As(err, &held) || held.PlanID == "" {
			t.Fatalf("over the hourly limit: %v, want a held plan", err)
		}
		if st := endState(t, n.svc, o.owner, other.ID); st.Status != membership.StatusActive {
			t.Fatalf("held member is %s", st.Status)
		}
	})
}

// TestUndoAsync undoes a batch removal as an operation in chunks: every
// item gets its outcome, and a member re-added since is reported and left
// as it is.
func TestUndoAsync(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()
		svcCfg := svcConfig()
		svcCfg.OffboardChunk = 2
		n := startNode(t, db, testConfig(), svcCfg)
		o := setupOrg(t, n.svc, "acme")
		refs := []membership.MemberRef{{ID: o.member.ID}}
		for i := range 4 {
			m, err := n.svc.AddMember(ctx, o.owner, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@acme.test", i)})
			if err != nil {
				t.Fatal(err)
			}
			refs = append(refs, membership.MemberRef{ID: m.ID})
		}
		g := &membership.Guard{}
		if _, err := n.svc.RemoveBatch(membership.WithGuard(ctx, g), o.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: refs}); err != nil {
			t.Fatal(err)
		}
		readded := refs[2]
		if _, err := n.svc.RestoreMember(ctx, o.owner, membership.RestoreMemberRequest{Member: readded}); err != nil {
			t.Fatal(err)
		}
		op, err := n.svc.UndoRemovalAsync(ctx, o.owner, g.RemovalID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.svc.UndoRemovalAsync(ctx, o.owner, g.RemovalID); membership.ErrorCode(err) != membership.CodeConflict {
			t.Errorf("a second undo while one runs: %v, want conflict", err)
		}
		op = waitOperation(t, n.svc, o.owner, op.UUID, 30*time.Second)
		if op.Status != membership.OperationSucceeded || op.Progress == nil || op.Progress.Done != 5 || op.Progress.Chunks != 3 {
			t.Fatalf("operation %s %+v progress %+v", op.Status, op.Error, op.Progress)
		}
		rm, err := n.svc.Removal(ctx, o.owner, g.RemovalID)
		if err != nil {
			t.Fatal(err)
		}
		if rm.Undo == nil || rm.Undo.Restored != 4 || rm.Undo.Left != 1 || len(rm.Undo.Items) != 5 {
			t.Fatalf("undo %+v", rm.Undo)
		}
		for _, it := range rm.Undo.Items {
			want := membership.UndoRestored
			if it.MemberID == readded.ID {
				want = membership.UndoChanged
			}
			if it.Outcome != want {
				t.Errorf("member %d: %s, want %s", it.MemberID, it.Outcome, want)
			}
		}
		for _, ref := range refs {
			if st := endState(t, n.svc, o.owner, ref.ID); st.Status != membership.StatusActive {
				t.Errorf("member %d is %s after undo", ref.ID, st.Status)
			}
		}
		if _, err := n.svc.UndoRemoval(ctx, o.owner, g.RemovalID); membership.ErrorCode(err) != membership.CodeConflict {
			t.Errorf("undo after the operation: %v, want conflict", err)
		}
	})
}
