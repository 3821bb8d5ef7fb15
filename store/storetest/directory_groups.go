package storetest

import (
	"strings"
	"testing"

	"github.com/memberd/memberd/membership"
)

// userGroupNames names the groups a provider sees u in, in ID order.
func userGroupNames(u *membership.DirectoryUser) string {
	var names []string
	for _, g := range u.Groups {
		names = append(names, g.Name)
	}
	return strings.Join(names, " ")
}

// testDirectoryUserGroups checks a SCIM User's groups (RFC 7643 §4.1.2):
// the member's active group memberships in its own organization, among
// the groups providers see, read for a whole page in one statement, and
// gone the moment a membership or the member is removed.
func testDirectoryUserGroups(t *testing.T, open Opener) {
	var rs *recordingStore
	w := newWorld(t, func(tb testing.TB) membership.Store {
		rs = &recordingStore{Store: open(tb)}
		return rs
	})
	// Bob's user is a member of Globex too, in a group of Globex's.
	globexEng, err := w.svc.CreateGroup(w.ctx, w.globexOwner, "Eng")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.AddGroupMember(w.ctx, w.globexOwner, membership.Ref{ID: globexEng.ID}, membership.MemberRef{ID: w.globexBob.ID}); err != nil {
		t.Fatal(err)
	}
	groupsOf := func(a membership.Actor, m *membership.Member) string {
		t.Helper()
		u, err := w.svc.DirectoryUser(w.ctx, a, m.UUID)
		if err != nil {
			t.Fatalf("DirectoryUser %s: %v", m.Email, err)
		}
		if u.Groups == nil {
			t.Fatalf("DirectoryUser %s: groups not read", m.Email)
		}
		return userGroupNames(u)
	}
	if got := groupsOf(w.owner, w.bob); got != "Eng Ops" {
		t.Errorf("bob's groups: %q, want Eng Ops", got)
	}
	if got := groupsOf(w.owner, w.carol); got != "Eng" {
		t.Errorf("carol's groups: %q, want Eng", got)
	}
	if got := groupsOf(w.globexOwner, w.globexBob); got != "Eng" {
		t.Errorf("bob's groups at Globex: %q, want Globex's Eng alone", got)
	} else if u, _ := w.svc.DirectoryUser(w.ctx, w.globexOwner, w.globexBob.UUID); u.Groups[0].ID != globexEng.ID {
		t.Errorf("bob's group at Globex is %d, want Globex's %d", u.Groups[0].ID, globexEng.ID)
	}

	// The store read itself keeps to the organization it is asked about,
	// whatever member ids it is given.
	if err := w.store.View(w.ctx, func(tx membership.Tx) error {
		mgs, err := tx.MemberGroupList(w.ctx, &membership.MemberGroupListParams{OrgID: w.globex.ID,
			MemberIDs: []int64{w.bob.ID, w.carol.ID, w.globexBob.ID}})
		if err != nil {
			return err
		}
		if len(mgs) != 1 || mgs[0].MemberID != w.globexBob.ID || mgs[0].Group.ID != globexEng.ID || mgs[0].Group.OrgID != w.globex.ID {
			t.Errorf("Globex's groups of acme's and Globex's members: %+v, want Globex's Eng of Globex's bob alone", mgs)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A page reads every user's groups in one statement, however many.
	page := func(withGroups bool, f *membership.Filter) (*membership.DirectoryUserPage, int) {
		t.Helper()
		rs.rec.Reset()
		p, err := w.svc.DirectoryUsers(w.ctx, w.owner, membership.DirectoryQuery{Limit: 100, Filter: f}, withGroups)
		if err != nil {
			t.Fatalf("DirectoryUsers: %v", err)
		}
		return p, len(rs.rec.Queries())
	}
	without, n0 := page(false, nil)
	with, n1 := page(true, nil)
	if n1 != n0+1 || len(with.Users) < 4 {
		t.Errorf("a page of %d users with groups ran %d statements, without %d: want one more", len(with.Users), n1, n0)
	}
	for i, u := range with.Users {
		if without.Users[i].Groups != nil {
			t.Errorf("%s: groups read without being asked for", u.Member.Email)
		}
		want := map[int64]string{w.bob.ID: "Eng Ops", w.carol.ID: "Eng"}[u.Member.ID]
		if got := userGroupNames(u); got != want || u.Groups == nil {
			t.Errorf("%s in a page: groups %q, want %q", u.Member.Email, got, want)
		}
	}

	// A filter on a group's UUID finds the users whose groups list it, in
	// the filtering organization alone; UUIDs compare case-insensitively.
	inGroup := func(a membership.Actor, g *membership.Group) string {
		return directoryEmails(w, a, cond(membership.FilterEq, membership.FieldGroup, strings.ToUpper(g.UUID)))
	}
	if got := inGroup(w.owner, w.eng); got != "bob@acme.test carol@acme.test" {
		t.Errorf("users in Eng: %q", got)
	}
	if got := inGroup(w.globexOwner, w.eng); got != "" {
		t.Errorf("Globex's users in acme's Eng: %q, want none", got)
	}
	if got := inGroup(w.owner, globexEng); got != "" {
		t.Errorf("acme's users in Globex's Eng: %q, want none", got)
	}
	if _, err := w.svc.DirectoryUsers(w.ctx, w.owner, membership.DirectoryQuery{Limit: 1,
		Filter: cond(membership.FilterCo, membership.FieldGroup, "a")}, false); membership.ErrorCode(err) != membership.CodeInvalid {
		t.Errorf("groups co: %v, want invalid", err)
	}

	// A provider's deactivation (Okta's and Entra's PATCH, no If-Match)
	// reads no groups: the removal ends them, so the answer has none.
	rs.rec.Reset()
	u, err := w.svc.ChangeUser(w.ctx, w.owner, w.admin.UUID, false, func(_ *membership.DirectoryUser, in *membership.UserInput) error {
		in.Active = false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if u.Groups == nil || len(u.Groups) != 0 {
		t.Errorf("deactivated admin's groups: %v, want an empty list", u.Groups)
	}
	for _, q := range rs.rec.Queries() {
		if strings.Contains(q, "FROM group_members gm JOIN user_groups g") {
			t.Errorf("a deactivation read the member's groups: %s", q)
		}
	}

	// Leaving a group takes it from the next read; a removed member has
	// no groups at all, and no filter finds it by one.
	if _, err := w.svc.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{
		Group: membership.Ref{ID: w.ops.ID}, Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(w.owner, w.bob); got != "Eng" {
		t.Errorf("bob's groups after leaving Ops: %q, want Eng", got)
	}
	if got := inGroup(w.owner, w.ops); got != "" {
		t.Errorf("users in Ops after bob left: %q", got)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(w.owner, w.carol); got != "" {
		t.Errorf("removed carol's groups: %q, want none", got)
	}
	if got := inGroup(w.owner, w.eng); got != "bob@acme.test" {
		t.Errorf("users in Eng after carol's removal: %q", got)
	}
	// Restoring her gives back the group her removal took.
	if _, err := w.svc.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	if got := groupsOf(w.owner, w.carol); got != "Eng" {
		t.Errorf("restored carol's groups: %q, want Eng", got)
	}

	// A group a provider deleted is not one of anyone's groups, even if a
	// member joins it natively afterwards: /Groups no longer serves it.
	if err := w.svc.DeleteGroup(w.ctx, w.owner, w.eng.UUID, func(*membership.DirectoryGroup) error { return nil }); err != nil {
		t.Fatal(err)
	}
	w.addToGroup(w.owner, w.eng, w.bob)
	if got := groupsOf(w.owner, w.bob); got != "" {
		t.Errorf("bob's groups after Eng was deleted by a provider: %q, want none", got)
	}
	if got := inGroup(w.owner, w.eng); got != "" {
		t.Errorf("users in a deleted group: %q", got)
	}

	// A provider's DELETE without If-Match (Entra's deprovisioning when
	// set to delete) reads no groups either: nothing compares a version.
	rs.rec.Reset()
	if err := w.svc.DeleteUser(w.ctx, w.owner, w.bob.UUID, false, func(*membership.DirectoryUser) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, q := range rs.rec.Queries() {
		if strings.Contains(q, "FROM group_members gm JOIN user_groups g") {
			t.Errorf("a DELETE without If-Match read the member's groups: %s", q)
		}
	}
}
