package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

var directoryTests = []test{
	{"Filters", testDirectoryFilters},
	{"PagingAndSort", testDirectoryPaging},
	{"DeactivateIsRemoval", testDirectoryDeactivate},
	{"DeleteKeepsHistory", testDirectoryDelete},
	{"GroupRemoveOnlyListed", testDirectoryGroupRemove},
	{"UserGroups", testDirectoryUserGroups},
}

// directoryEmails lists the e-mails of the directory users f matches in
// a's organization, in ID order.
func directoryEmails(w *world, a membership.Actor, f *membership.Filter) string {
	w.tb.Helper()
	page, err := w.svc.DirectoryUsers(w.ctx, a, membership.DirectoryQuery{Filter: f, Limit: 100}, false)
	if err != nil {
		w.tb.Fatalf("DirectoryUsers: %v", err)
	}
	var emails []string
	for _, u := range page.Users {
		emails = append(emails, u.Member.Email)
	}
	if page.Total != len(emails) {
		w.tb.Errorf("total %d for %d users", page.Total, len(emails))
	}
	return strings.Join(emails, " ")
}

func cond(op membership.FilterOp, field membership.Field, v any) *membership.Filter {
	return &membership.Filter{Op: op, Field: field, Value: v}
}

func testDirectoryFilters(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.ChangeUser(w.ctx, w.owner, w.bob.UUID, false, func(_ *membership.DirectoryUser, in *membership.UserInput) error {
		in.ExternalID, in.GivenName = "Ext-Bob", "Robert"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	exact := cond(membership.FilterEq, membership.FieldExternalID, "ext-bob")
	exact.CaseExact = true
	before := T0.Add(30 * time.Minute) // after setup, before the changes above
	for _, tc := range []struct {
		name string
		f    *membership.Filter
		want string
	}{
		{"email eq any case", cond(membership.FilterEq, membership.FieldEmail, "BOB@acme.test"), "bob@acme.test"},
		{"externalId exact", exact, ""},
		{"externalId caseless", cond(membership.FilterEq, membership.FieldExternalID, "ext-bob"), "bob@acme.test"},
		{"name co", cond(membership.FilterCo, membership.FieldName, "O"), "owner@acme.test bob@acme.test carol@acme.test"},
		{"name sw", cond(membership.FilterSw, membership.FieldName, "b"), "bob@acme.test"},
		{"name ew", cond(membership.FilterEw, membership.FieldName, "N"), "admin@acme.test"},
		{"co takes % literally", cond(membership.FilterCo, membership.FieldName, "%"), ""},
		{"co takes _ literally", cond(membership.FilterSw, membership.FieldEmail, "_"), ""},
		{"pr", cond(membership.FilterPr, membership.FieldGivenName, nil), "bob@acme.test"},
		{"ne includes absent", cond(membership.FilterNe, membership.FieldExternalID, "Ext-Bob"), "owner@acme.test admin@acme.test carol@acme.test"},
		{"inactive", cond(membership.FilterEq, membership.FieldActive, false), "carol@acme.test"},
		{"updated after", cond(membership.FilterGt, membership.FieldUpdated, before), "bob@acme.test carol@acme.test"},
		{"gt strings", cond(membership.FilterGt, membership.FieldEmail, "bob@acme.test"), "owner@acme.test carol@acme.test"},
		{"not", &membership.Filter{Op: membership.FilterNot, Sub: []*membership.Filter{
			cond(membership.FilterPr, membership.FieldExternalID, nil)}}, "owner@acme.test admin@acme.test carol@acme.test"},
		{"and or", &membership.Filter{Op: membership.FilterOr, Sub: []*membership.Filter{
			cond(membership.FilterEq, membership.FieldEmail, "admin@acme.test"),
			{Op: membership.FilterAnd, Sub: []*membership.Filter{
				cond(membership.FilterSw, membership.FieldEmail, "c"), cond(membership.FilterEq, membership.FieldActive, false)}},
		}}, "admin@acme.test carol@acme.test"},
		{"nothing", &membership.Filter{Op: membership.FilterNothing}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := directoryEmails(w, w.owner, tc.f); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// Tenant wall: Globex sees its own Bob only.
	if got := directoryEmails(w, w.globexOwner, cond(membership.FilterEq, membership.FieldEmail, "bob@acme.test")); got != "bob@acme.test" {
		t.Errorf("globex: %q", got)
	}
	page, _ := w.svc.DirectoryUsers(w.ctx, w.globexOwner, membership.DirectoryQuery{Limit: 100}, false)
	for _, u := range page.Users {
		if u.Member.OrgID != w.globex.ID {
			t.Errorf("globex lists member %d of organization %d", u.Member.ID, u.Member.OrgID)
		}
	}
	if _, err := w.svc.DirectoryUser(w.ctx, w.globexOwner, w.bob.UUID); membership.ErrorCode(err) != membership.CodeNotFound {
		t.Errorf("another organization's member: %v, want not found", err)
	}
	if _, err := w.svc.DirectoryUsers(w.ctx, w.owner, membership.DirectoryQuery{Limit: 1,
		Filter: cond(membership.FilterEq, membership.FieldGroupName, "x")}, false); membership.ErrorCode(err) != membership.CodeInvalid {
		t.Errorf("a group field on users: %v, want invalid", err)
	}
}

func testDirectoryPaging(t *testing.T, open Opener) {
	w := newWorld(t, open)
	page, err := w.svc.DirectoryUsers(w.ctx, w.owner, membership.DirectoryQuery{SortBy: membership.FieldEmail, Descending: true, Offset: 1, Limit: 2}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range page.Users {
		got = append(got, u.Member.Email)
	}
	if page.Total != 4 || strings.Join(got, " ") != "carol@acme.test bob@acme.test" {
		t.Errorf("page: total %d, %v", page.Total, got)
	}
	page, err = w.svc.DirectoryUsers(w.ctx, w.owner, membership.DirectoryQuery{Limit: 0}, false)
	if err != nil || page.Total != 4 || len(page.Users) != 0 {
		t.Errorf("count only: %+v %v", page, err)
	}
}

func testDirectoryDeactivate(t *testing.T, open Opener) {
	w := newWorld(t, open)
	had := w.memberAccess(w.bob)
	deactivate := func(active bool) *membership.DirectoryUser {
		t.Helper()
		u, err := w.svc.ChangeUser(w.ctx, w.owner, w.bob.UUID, false, func(_ *membership.DirectoryUser, in *membership.UserInput) error {
			in.Active = active
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if u := deactivate(false); u.Member.Active() {
		t.Fatal("still active")
	}
	for _, r := range w.resources() {
		if w.access(w.bob, r).Allowed {
			t.Errorf("bob keeps %s after deactivation", r.Name)
		}
	}
	// Deactivated members stay readable.
	if u, err := w.svc.DirectoryUser(w.ctx, w.owner, w.bob.UUID); err != nil || u.Member.Active() {
		t.Errorf("deactivated user: %+v %v", u, err)
	}
	// A create of their userName is a duplicate, not a reactivation.
	if _, err := w.svc.ProvisionUser(w.ctx, w.owner, membership.UserInput{Email: "bob@acme.test", Active: true}); !errors.Is(err, membership.ErrUserNameDeactivated) {
		t.Errorf("create of a deactivated userName: %v, want ErrUserNameDeactivated", err)
	}
	if w.member(w.bob.ID).Active() {
		t.Error("a create reactivated bob")
	}
	deactivate(true)
	if diff := cmp.Diff(w.memberAccess(w.bob), had); diff != "" {
		t.Errorf("reactivation differs from what the deactivation took (-got +want):\n%s", diff)
	}
	// The last owner cannot be deactivated.
	_, err := w.svc.ChangeUser(w.ctx, w.owner, w.ownerMember.UUID, false, func(_ *membership.DirectoryUser, in *membership.UserInput) error {
		in.Active = false
		return nil
	})
	if !errors.Is(err, membership.ErrLastOwner) {
		t.Errorf("last owner: %v", err)
	}
}

func testDirectoryDelete(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if err := w.svc.DeleteUser(w.ctx, w.owner, w.bob.UUID, false, func(*membership.DirectoryUser) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.DirectoryUser(w.ctx, w.owner, w.bob.UUID); membership.ErrorCode(err) != membership.CodeNotFound {
		t.Errorf("deleted user: %v, want not found", err)
	}
	if got := directoryEmails(w, w.owner, nil); strings.Contains(got, "bob") {
		t.Errorf("deleted user listed: %s", got)
	}
	if m := w.member(w.bob.ID); m.Active() {
		t.Error("deleted member is active")
	}
	u, err := w.svc.ProvisionUser(w.ctx, w.owner, membership.UserInput{Email: "BOB@acme.test", Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.Member.ID != w.bob.ID || !u.Member.Active() {
		t.Errorf("re-create: member %d active %v, want %d active", u.Member.ID, u.Member.Active(), w.bob.ID)
	}
	if h := w.history(w.bob.ID); len(h.Periods) != 2 {
		t.Errorf("periods %d, want 2", len(h.Periods))
	}
	// The provider created a new user, who may be another person with the
	// same address: none of the deleted user's access comes back, not
	// even through a later deactivation and reactivation.
	for _, next := range []bool{false, true} {
		if len(u.Groups) != 0 {
			t.Errorf("re-created user has groups %s", jsonString(u.Groups))
		}
		if got := w.memberAccess(w.bob); len(got.Spaces)+len(got.Groups)+len(got.Direct)+len(got.Access) != 0 {
			t.Errorf("re-created user (active %v) has the deleted user's access: %s", u.Member.Active(), jsonString(got))
		}
		u, err = w.svc.ChangeUser(w.ctx, w.owner, w.bob.UUID, false, func(_ *membership.DirectoryUser, in *membership.UserInput) error {
			in.Active = next
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := w.memberAccess(w.bob); len(got.Access) != 0 || !u.Member.Active() {
		t.Errorf("re-created user, deactivated and reactivated: active %v, access %s", u.Member.Active(), jsonString(got.Access))
	}
	if _, err := w.svc.ProvisionUser(w.ctx, w.owner, membership.UserInput{Email: "bob@acme.test", Active: true}); !errors.Is(err, membership.ErrUserNameTaken) {
		t.Errorf("second create: %v", err)
	}
	// Nor does a role: a new user is a member.
	if err := w.svc.DeleteUser(w.ctx, w.owner, w.admin.UUID, false, func(*membership.DirectoryUser) error { return nil }); err != nil {
		t.Fatal(err)
	}
	u, err = w.svc.ProvisionUser(w.ctx, w.owner, membership.UserInput{Email: w.admin.Email, Active: true})
	if err != nil || u.Member.Role != membership.RoleMember || w.member(w.admin.ID).Role != membership.RoleMember {
		t.Errorf("re-created admin: %+v %v, want role member", u, err)
	}
}

func testDirectoryGroupRemove(t *testing.T, open Opener) {
	w := newWorld(t, open)
	g, err := w.svc.ChangeGroup(w.ctx, w.owner, w.eng.UUID, true, func(cur *membership.DirectoryGroup, c *membership.GroupChange) error {
		if len(cur.Members) != 2 {
			t.Errorf("eng has %d members, want 2", len(cur.Members))
		}
		c.Remove = []string{w.bob.UUID}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 1 || g.Members[0].ID != w.carol.ID {
		t.Errorf("eng after removing bob: %s", jsonString(g.Members))
	}
	if w.access(w.bob, w.deskHQ).Allowed {
		t.Error("bob keeps the desk that came through eng")
	}
	for _, r := range []*membership.Resource{w.printer, w.shared, w.lockOps, w.parkHQ} {
		if !w.access(w.bob, r).Allowed {
			t.Errorf("bob lost %s, which did not come only through eng", r.Name)
		}
	}
}
