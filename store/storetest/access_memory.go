package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// testAccessMemoryAgrees holds a store's copy of access in memory
// (membership.AccessMemory) to the check's statement: after each of a few
// hundred random changes of every kind that moves access (memberships,
// grants, removals, restores, undos, new members and resources), the copy
// must answer again once it has caught up, and answer every pair of
// members and resources, another tenant's and ids that name nothing
// included, exactly as the statement does.
func testAccessMemoryAgrees(t *testing.T, open Opener) {
	e := newEnv(t, open)
	mem, ok := e.store.(membership.AccessMemory)
	if on, known := e.store.(interface{ AccessMemoryOn() bool }); !ok || !known || !on.AccessMemoryOn() {
		t.Skip("this store keeps no copy of access in memory")
	}
	rng := rand.New(rand.NewPCG(16, 3))
	var members []*membership.Member
	for i := range 5 {
		members = append(members, e.addMember(e.owner, fmt.Sprintf("m%d@acme.test", i), membership.RoleMember))
	}
	spaces := []*membership.Space{e.createSpace("A"), e.createSpace("B")}
	groups := []*membership.Group{e.createGroup("G1"), e.createGroup("G2"), e.createGroup("G3")}
	resources := []*membership.Resource{e.createResource("lock", "r0", nil), e.createResource("desk", "r1", spaces[0]),
		e.createResource("room", "r2", spaces[1]), e.createResource("lock", "r3", nil)}
	_, globex, _ := e.bootstrap("Globex", "owner@globex.test")
	foreignMember := e.addMember(globex, "x@globex.test", membership.RoleMember)
	foreignResource, err := e.svc.CreateResource(e.ctx, globex, membership.CreateResourceRequest{Kind: "lock", Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	pick := func() *membership.Member { return members[rng.IntN(len(members))] }
	ref := func(m *membership.Member) membership.MemberRef { return membership.MemberRef{ID: m.ID} }
	var lastRemoval string
	changes := []struct {
		name string
		do   func() error
	}{
		{"add to space", func() error {
			_, err := e.svc.AddSpaceMember(e.ctx, e.owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: spaces[rng.IntN(2)].ID}, Member: ref(pick()), Roles: []string{"desk"}})
			return err
		}},
		{"remove from space", func() error {
			_, err := e.svc.RemoveSpaceMember(e.ctx, e.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: spaces[rng.IntN(2)].ID}, Member: ref(pick())})
			return err
		}},
		{"add to group", func() error {
			_, err := e.svc.AddGroupMember(e.ctx, e.owner, membership.Ref{ID: groups[rng.IntN(3)].ID}, ref(pick()))
			return err
		}},
		{"remove from group", func() error {
			_, err := e.svc.RemoveGroupMember(e.ctx, e.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: groups[rng.IntN(3)].ID}, Member: ref(pick())})
			return err
		}},
		{"grant a member", func() error {
			m := ref(pick())
			_, err := e.svc.CreateGrant(e.ctx, e.owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: resources[rng.IntN(len(resources))].ID}, Member: &m})
			return err
		}},
		{"grant a group", func() error {
			g := membership.Ref{ID: groups[rng.IntN(3)].ID}
			_, err := e.svc.CreateGrant(e.ctx, e.owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: resources[rng.IntN(len(resources))].ID}, Group: &g})
			return err
		}},
		{"remove a member", func() error {
			_, err := e.svc.RemoveMember(e.ctx, e.owner, membership.RemoveMemberRequest{Member: ref(pick())})
			return err
		}},
		{"restore a member", func() error {
			_, err := e.svc.RestoreMember(e.ctx, e.owner, membership.RestoreMemberRequest{Member: ref(pick())})
			return err
		}},
		{"batch removal", func() error {
			g := &membership.Guard{}
			_, err := e.svc.RemoveBatch(membership.WithGuard(e.ctx, g), e.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
				Items: []membership.MemberRef{ref(pick()), ref(pick())}})
			lastRemoval = g.RemovalID
			return err
		}},
		{"undo the last batch removal", func() error {
			if lastRemoval == "" {
				return nil
			}
			_, err := e.svc.UndoRemoval(e.ctx, e.owner, lastRemoval)
			lastRemoval = ""
			return err
		}},
		{"new member", func() error {
			members = append(members, e.addMember(e.owner, fmt.Sprintf("new%d@acme.test", len(members)), membership.RoleMember))
			return nil
		}},
		{"new resource", func() error {
			var in *membership.Space
			if rng.IntN(2) == 0 {
				in = spaces[rng.IntN(2)]
			}
			resources = append(resources, e.createResource("desk", fmt.Sprintf("r%d", len(resources)), in))
			return nil
		}},
	}
	for round := range 300 {
		c := changes[rng.IntN(len(changes))]
		if err := c.do(); err != nil {
			switch membership.ErrorCode(err) {
			case membership.CodeConflict, membership.CodeNotFound, membership.CodeInvalid:
			default:
				t.Fatalf("round %d: %s: %v", round, c.name, err)
			}
		}
		when := fmt.Sprintf("round %d, after %s", round, c.name)
		ids := []int64{foreignMember.ID, 1 << 30}
		for _, m := range members {
			ids = append(ids, m.ID)
		}
		rids := []int64{foreignResource.ID, 1 << 30}
		for _, r := range resources {
			rids = append(rids, r.ID)
		}
		waitForMemory(t, mem, e.org.ID, ids[len(ids)-1], rids[len(rids)-1], when)
		for _, m := range ids {
			for _, r := range rids {
				compareMemory(t, e.ctx, e.store, mem, e.org.ID, m, r, when)
			}
		}
	}
}

// waitForMemory waits until the copy answers a check again, as it does
// once it has read back what the last change changed.
func waitForMemory(t *testing.T, mem membership.AccessMemory, org, member, resource int64, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := mem.AccessInMemory(org, member, resource); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the copy in memory did not catch up in 10 s", when)
		}
		time.Sleep(time.Millisecond)
	}
}

// compareMemory fails unless the copy answers the check, and as the
// statement does.
func compareMemory(t *testing.T, ctx context.Context, store membership.Store, mem membership.AccessMemory, org, member, resource int64, when string) {
	t.Helper()
	got, ok := mem.AccessInMemory(org, member, resource)
	if !ok {
		t.Fatalf("%s: the copy declined member %d, resource %d with no change under way", when, member, resource)
	}
	var want *membership.AccessAnswer
	err := store.View(ctx, func(tx membership.Tx) (err error) {
		want, err = tx.AccessCheckRef(ctx, &membership.AccessCheckRefParams{Member: membership.MemberGetParams{OrgID: org, ID: member},
			Resource: membership.RefParams{OrgID: org, ID: resource}})
		return err
	})
	if err != nil {
		t.Fatalf("%s: statement: %v", when, err)
	}
	if g, w := describeAnswer(got), describeAnswer(want); g != w {
		t.Fatalf("%s: member %d, resource %d: the copy says %s, the statement %s", when, member, resource, g, w)
	}
}

func describeAnswer(a *membership.AccessAnswer) string {
	return fmt.Sprintf("found %v/%v epoch %d access %+v", a.MemberFound, a.ResourceFound, a.Epoch, *a.Access)
}

// memoryRecordingStore is a recordingStore that lets the service see the
// store's copy of access in memory.
type memoryRecordingStore struct {
	*recordingStore
	mem membership.AccessMemory
}

func (r memoryRecordingStore) AccessInMemory(org, member, resource int64) (*membership.AccessAnswer, bool) {
	return r.mem.AccessInMemory(org, member, resource)
}

// testStatementsFromMemory holds a check the store's copy of access in
// memory answers to no statement at all, a request authenticated from the
// credential cache included, so that the copy cannot stop answering
// unnoticed; a name the copy does not keep (an e-mail address) and the
// first check after a change, while the copy catches up, cost one.
func testStatementsFromMemory(t *testing.T, open Opener) {
	var rs *recordingStore
	var mem membership.AccessMemory
	e := newEnv(t, func(tb testing.TB) membership.Store {
		st := open(tb)
		rs = &recordingStore{Store: st}
		m, ok := st.(membership.AccessMemory)
		if on, known := st.(interface{ AccessMemoryOn() bool }); !ok || !known || !on.AccessMemoryOn() {
			return rs
		}
		mem = m
		return memoryRecordingStore{recordingStore: rs, mem: m}
	})
	if mem == nil {
		t.Skip("this store keeps no copy of access in memory")
	}
	m, r, issued := e.grantedDoor()
	request := func(ref membership.MemberRef, want bool, statements int64, when string) {
		t.Helper()
		rs.take()
		a, err := requestActor(membership.WithDeferredAuthentication(e.ctx), e.svc, issued.Secret)
		if err != nil {
			t.Fatalf("%s: authenticate: %v", when, err)
		}
		e.checkCounted(rs, a, ref, r.ID, want, statements, when) // authentication's statements too
	}
	byID := membership.MemberRef{ID: m.ID}
	waitForMemory(t, mem, e.org.ID, m.ID, r.ID, "before the removal")
	request(byID, true, 1, "credential not cached yet: its statement")
	request(byID, true, 0, "credential cached, the copy current")
	request(membership.MemberRef{Email: m.Email}, true, 1, "by e-mail")
	if _, err := e.svc.RemoveMember(e.ctx, e.owner, membership.RemoveMemberRequest{Member: byID}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	// The copy answers only once it has read the removal back, and the
	// credential was cached at the epoch before it: the first request
	// reads the database.
	request(byID, false, 1, "right after the removal")
	waitForMemory(t, mem, e.org.ID, m.ID, r.ID, "after the removal")
	request(byID, false, 0, "after the removal, the copy current")
}
