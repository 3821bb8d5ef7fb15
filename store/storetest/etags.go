package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/memberd/memberd/membership"
)

var etagTests = []test{
	{"UpdateHonoursIfMatch", testETagUpdate},
	{"EveryChangeMakesANewTag", testETagEveryChange},
	{"RemovalsHonourTheResourcesTag", testETagRemovals},
	{"ConcurrentUpdatesOneWins", testETagConcurrentUpdates},
	{"ConcurrentRemovalsOneWins", testETagConcurrentRemovals},
}

// ifMatch is ctx carrying If-Match tag to the core, as the native API's
// middleware hands it over.
func ifMatch(ctx context.Context, tag string) context.Context {
	return membership.WithGuard(ctx, &membership.Guard{IfMatch: tag})
}

// rename changes bob's name under If-Match tag.
func rename(w *world, tag, name string) (*membership.Member, error) {
	return w.svc.UpdateMember(ifMatch(w.ctx, tag), w.owner, membership.UpdateMemberRequest{Member: bobRef(w), Name: &name})
}

func testETagUpdate(t *testing.T, open Opener) {
	w := newWorld(t, open)
	tag := membership.ETagOf(w.member(w.bob.ID))
	if _, err := rename(w, `"stale"`, "Robert"); membership.ErrorCode(err) != membership.CodePreconditionFailed {
		t.Fatalf("update with a stale If-Match: got %v, want %s", err, membership.CodePreconditionFailed)
	}
	if got := w.member(w.bob.ID); got.Name != w.bob.Name || membership.ETagOf(got) != tag {
		t.Fatalf("after the 412: bob is %+v, want him unchanged", got)
	}
	m, err := rename(w, `"stale", `+tag, "Robert")
	if err != nil {
		t.Fatalf("update with the current tag among others: %v", err)
	}
	next := membership.ETagOf(m)
	if next == tag || next != membership.ETagOf(w.member(w.bob.ID)) {
		t.Fatalf("tag after the update: got %s (read back %s), want a new one, the one read back", next, membership.ETagOf(w.member(w.bob.ID)))
	}
	if _, err := rename(w, tag, "Bobby"); membership.ErrorCode(err) != membership.CodePreconditionFailed {
		t.Errorf("update with the tag before the last update: got %v, want %s", err, membership.CodePreconditionFailed)
	}
	if _, err := rename(w, "*", "Bobby"); err != nil {
		t.Errorf("update with If-Match *: %v", err)
	}
	if _, err := rename(w, "W/"+membership.ETagOf(w.member(w.bob.ID)), "Bob"); membership.ErrorCode(err) != membership.CodePreconditionFailed {
		t.Errorf("update with a weak tag: got %v, want %s (If-Match compares strongly)", err, membership.CodePreconditionFailed)
	}
	if _, err := rename(w, "unquoted", "Bob"); membership.ErrorCode(err) != membership.CodeInvalid {
		t.Errorf("update with a malformed If-Match: got %v, want %s", err, membership.CodeInvalid)
	}
}

// testETagEveryChange changes bob by other calls, within one tick of the
// clock (the suite's clock stands still): each change makes a new tag, so
// a tag read before it is stale.
func testETagEveryChange(t *testing.T, open Opener) {
	w := newWorld(t, open)
	seen := map[string]bool{}
	tag := membership.ETagOf(w.member(w.bob.ID))
	seen[tag] = true
	changes := []func() error{
		func() error { _, err := rename(w, "", "B"); return err },
		func() error { _, err := rename(w, "", "C"); return err },
		func() error {
			_, err := w.svc.UpdateMember(w.ctx, w.owner, membership.UpdateMemberRequest{Member: bobRef(w), Role: membership.RoleAdmin})
			return err
		},
	}
	for i, change := range changes {
		if err := change(); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		now := membership.ETagOf(w.member(w.bob.ID))
		if seen[now] {
			t.Fatalf("change %d: tag %s was seen before", i, now)
		}
		seen[now] = true
		if _, err := rename(w, tag, "Z"); membership.ErrorCode(err) != membership.CodePreconditionFailed {
			t.Fatalf("after change %d, the tag read before it: got %v, want %s", i, err, membership.CodePreconditionFailed)
		}
		tag = now
	}
}

func testETagRemovals(t *testing.T, open Opener) {
	w := newWorld(t, open)
	// Each removal is tried with the tag read before a change another
	// call made to the resource (or, where no call changes it, a tag it
	// never had), then with the tag read after.
	type removal struct {
		action string
		tag    func() string
		change func()
		remove func(ctx context.Context) error
		gone   func() bool
	}
	smTag := func(id int64) string {
		sm, err := w.svc.SpaceMembership(w.ctx, w.owner, id)
		if err != nil {
			t.Fatal(err)
		}
		return membership.ETagOf(sm)
	}
	gmTag := func(g *membership.Group) string {
		gm, err := w.svc.GroupMembership(w.ctx, w.owner, membership.Ref{ID: g.ID}, bobRef(w))
		if err != nil {
			t.Fatal(err)
		}
		return membership.ETagOf(gm)
	}
	removals := []removal{
		{membership.ActionSpaceMemberRemoved, func() string { return smTag(w.bobLab.ID) }, func() { w.addRole(w.bobLab, "approver") }, func(ctx context.Context) error {
			_, err := w.svc.RemoveSpaceMember(ctx, w.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.lab.ID}, Member: bobRef(w)})
			return err
		}, func() bool { return spaceMember(t, w, w.bobLab.ID).Status == membership.StatusRemoved }},
		{membership.ActionRolesRevoked, func() string { return smTag(w.bobHQ.ID) }, func() { w.addRole(w.bobHQ, "approver") }, func(ctx context.Context) error {
			_, err := w.svc.RevokeRoles(ctx, w.owner, membership.RevokeRolesRequest{SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor"}})
			return err
		}, func() bool { return !spaceMember(t, w, w.bobHQ.ID).HasRole("editor") }},
		{membership.ActionGroupMemberRemoved, func() string { return gmTag(w.ops) }, nil, func(ctx context.Context) error {
			_, err := w.svc.RemoveGroupMember(ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.ops.ID}, Member: bobRef(w)})
			return err
		}, func() bool { return gmStatus(t, w, w.ops) == membership.StatusRemoved }},
		{membership.ActionMemberRemoved, func() string { return membership.ETagOf(w.member(w.bob.ID)) }, func() {
			if _, err := rename(w, "", "Robert"); err != nil {
				t.Fatal(err)
			}
		}, func(ctx context.Context) error {
			_, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
			return err
		}, func() bool { return !w.member(w.bob.ID).Active() }},
	}
	for _, r := range removals {
		stale := `"0123456789abcdef0123456789abcdef"`
		if r.change != nil {
			stale = r.tag()
			r.change()
		}
		before := w.state()
		err := r.remove(ifMatch(w.ctx, stale))
		wantCode(t, err, membership.CodePreconditionFailed)
		w.assertRefused(before, r.action)
		if err := r.remove(ifMatch(w.ctx, r.tag())); err != nil {
			t.Fatalf("%s: removal with the resource's current tag: %v", r.action, err)
		}
		if !r.gone() {
			t.Fatalf("%s: not removed", r.action)
		}
	}
}

func spaceMember(t *testing.T, w *world, id int64) *membership.SpaceMember {
	t.Helper()
	sm, err := w.svc.SpaceMembership(w.ctx, w.owner, id)
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func gmStatus(t *testing.T, w *world, g *membership.Group) membership.Status {
	t.Helper()
	gm, err := w.svc.GroupMembership(w.ctx, w.owner, membership.Ref{ID: g.ID}, bobRef(w))
	if err != nil {
		t.Fatal(err)
	}
	return gm.Status
}

// oneWins runs change workers times at once and checks that exactly one
// call succeeded and every other was refused with 412.
func oneWins(t *testing.T, change func(i int) error) {
	t.Helper()
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { errs[i] = change(i) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch membership.ErrorCode(err) {
		case membership.CodePreconditionFailed:
		default:
			if err != nil {
				t.Errorf("call %d: %v, want success or %s", i, err, membership.CodePreconditionFailed)
				continue
			}
			won++
		}
	}
	if won != 1 {
		t.Errorf("calls that went ahead with the same If-Match: got %d, want 1", won)
	}
}

func testETagConcurrentUpdates(t *testing.T, open Opener) {
	w := newWorld(t, open)
	tag := membership.ETagOf(w.member(w.bob.ID))
	oneWins(t, func(i int) error {
		_, err := rename(w, tag, fmt.Sprintf("Bob %d", i))
		return err
	})
	if n := countEvents(w.events(w.org.ID), membership.ActionMemberUpdated, membership.OutcomeOK); n != 1 {
		t.Errorf("member.updated events: got %d, want 1", n)
	}
}

func testETagConcurrentRemovals(t *testing.T, open Opener) {
	w := newWorld(t, open)
	tag := membership.ETagOf(w.member(w.bob.ID))
	oneWins(t, func(int) error {
		_, err := w.svc.RemoveMember(ifMatch(w.ctx, tag), w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
		return err
	})
	if n := countEvents(w.events(w.org.ID), membership.ActionMemberRemoved, membership.OutcomeOK); n != 1 {
		t.Errorf("member.removed events: got %d, want 1", n)
	}
}
