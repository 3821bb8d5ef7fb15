package storetest

import (
	"testing"

	"github.com/memberd/memberd/membership"
)

var emailTests = []test{
	{"StoredAndEchoedLowerCase", testEmailLowerCase},
	{"ErrConflictOtherCase", testEmailConflict},
	{"RemoveAndRestoreByAnyCase", testEmailRemoveRestore},
}

func testEmailLowerCase(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if w.ownerMember.Email != "owner@acme.test" || w.bob.Email != "bob@acme.test" {
		t.Errorf("e-mails as added: got %q and %q, want lower case", w.ownerMember.Email, w.bob.Email)
	}
	m := w.addMember(w.owner, "Grace.Hopper@Example.TEST", membership.RoleMember)
	if m.Email != "grace.hopper@example.test" {
		t.Errorf("AddMember echo: got %q, want lower case", m.Email)
	}
	for _, email := range []string{"GRACE.HOPPER@EXAMPLE.TEST", "grace.hopper@example.test", " Grace.Hopper@example.test "} {
		got, err := w.svc.Member(w.ctx, w.owner, membership.MemberRef{Email: email})
		if err != nil || got.ID != m.ID || got.Email != "grace.hopper@example.test" {
			t.Errorf("Member(%q): got %+v, %v; want grace in lower case", email, got, err)
		}
	}
	sm := w.addToSpace(w.owner, w.hq, m)
	list, err := w.svc.SpaceMembers(w.ctx, w.owner, membership.Ref{ID: w.hq.ID}, membership.StatusActive)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.ID == sm.ID && l.Email != "grace.hopper@example.test" {
			t.Errorf("space membership e-mail: got %q, want lower case", l.Email)
		}
	}
	found, err := w.svc.Members(w.ctx, w.owner, membership.MemberListParams{Query: "GRACE"})
	if err != nil || len(found) != 1 || found[0].ID != m.ID {
		t.Errorf("search GRACE: got %d members, %v; want grace", len(found), err)
	}
	// A removal's report names the space memberships it ended with the
	// member's address, in each of the statement forms a store may use.
	w.addToSpace(w.owner, w.lab, m)
	for _, dry := range []bool{true, false} {
		rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}, DryRun: dry})
		if err != nil {
			t.Fatalf("remove grace (dry run %v): %v", dry, err)
		}
		if len(rep.Spaces) != 2 {
			t.Errorf("remove grace (dry run %v): %d space memberships, want 2", dry, len(rep.Spaces))
		}
		for _, sm := range rep.Spaces {
			if sm.Email != "grace.hopper@example.test" {
				t.Errorf("remove grace (dry run %v): space membership e-mail %q, want grace's", dry, sm.Email)
			}
		}
	}
}

func testEmailConflict(t *testing.T, open Opener) {
	w := newWorld(t, open)
	before := w.state()
	_, err := w.svc.AddMember(w.ctx, w.owner, membership.AddMemberRequest{Email: "BOB@acme.TEST"})
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(before, "member.added")
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	before = w.state()
	_, err = w.svc.AddMember(w.ctx, w.owner, membership.AddMemberRequest{Email: "Bob@Acme.Test"})
	wantCode(t, err, membership.CodeConflict)
	w.assertRefused(before, "member.added")
}

func testEmailRemoveRestore(t *testing.T, open Opener) {
	w := newWorld(t, open)
	rep, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{Email: "BoB@aCmE.tEsT"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Member.ID != w.bob.ID || rep.Member.Email != "bob@acme.test" {
		t.Errorf("removed: got %d %q, want bob in lower case", rep.Member.ID, rep.Member.Email)
	}
	res, err := w.svc.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{Email: "BOB@ACME.TEST"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Member.ID != w.bob.ID || res.Member.Email != "bob@acme.test" {
		t.Errorf("restored: got %d %q, want bob in lower case", res.Member.ID, res.Member.Email)
	}
}
