package storetest

import (
	"slices"
	"testing"

	"github.com/memberd/memberd/membership"
)

var memberStatusTests = []test{
	{"ListsFollowEveryStatusChange", testMemberStatusLists},
}

// testMemberStatusLists checks the lists by status after every way a
// status changes (a single removal, a batch, a dry run, a restore, a member
// created removed) and in every reader of them: MemberList and MemberCount
// (native API), MemberSearch in both directions (the console) and the
// directory's active filter (SCIM). The removed lists are read from their
// own table on both engines (migration 00017), so this is where that table
// drifting from members' status would show.
func testMemberStatusLists(t *testing.T, open Opener) {
	w := newWorld(t, open)
	all := []int64{w.ownerMember.ID, w.admin.ID, w.bob.ID, w.carol.ID}
	check := func(when string, removed []int64) {
		t.Helper()
		var active []int64
		for _, id := range all {
			if !slices.Contains(removed, id) {
				active = append(active, id)
			}
		}
		err := w.store.View(w.ctx, func(tx membership.Tx) error {
			for _, tc := range []struct {
				status membership.Status
				want   []int64
			}{{membership.StatusRemoved, removed}, {membership.StatusActive, active}} {
				p := &membership.MemberListParams{OrgID: w.org.ID, Status: tc.status, Limit: 100}
				list, err := tx.MemberList(w.ctx, p)
				if err != nil {
					return err
				}
				if got := ids(list); !slices.Equal(got, tc.want) {
					t.Errorf("%s: MemberList %s = %v, want %v", when, tc.status, got, tc.want)
				}
				n, err := tx.MemberCount(w.ctx, p)
				if err != nil {
					return err
				}
				if n != len(tc.want) {
					t.Errorf("%s: MemberCount %s = %d, want %d", when, tc.status, n, len(tc.want))
				}
				// The console's keyset pages of one, forwards from the
				// start and backwards from the end.
				walk := func(backwards bool) ([]int64, error) {
					var seen []int64
					for id := int64(0); ; {
						p := &membership.MemberSearchParams{OrgID: w.org.ID, Status: tc.status, AfterID: id, Limit: 1}
						if backwards {
							if id == 0 {
								id = all[len(all)-1] + 1
							}
							p.AfterID, p.BeforeID = 0, id
						}
						ms, err := tx.MemberSearch(w.ctx, p)
						if err != nil || len(ms) == 0 {
							return seen, err
						}
						id = ms[0].ID
						seen = append(seen, id)
					}
				}
				fwd, err := walk(false)
				if err != nil {
					return err
				}
				back, err := walk(true)
				if err != nil {
					return err
				}
				slices.Reverse(back)
				if !slices.Equal(fwd, tc.want) || !slices.Equal(back, tc.want) {
					t.Errorf("%s: MemberSearch %s pages forwards %v, backwards %v, want %v", when, tc.status, fwd, back, tc.want)
				}
				// SCIM: active eq, active ne, and either within an "and".
				b := tc.status == membership.StatusActive
				for _, f := range []*membership.Filter{
					{Op: membership.FilterEq, Field: membership.FieldActive, Value: b},
					{Op: membership.FilterNe, Field: membership.FieldActive, Value: !b},
					{Op: membership.FilterAnd, Sub: []*membership.Filter{
						{Op: membership.FilterPr, Field: membership.FieldEmail},
						{Op: membership.FilterEq, Field: membership.FieldActive, Value: b}}},
				} {
					users, total, err := tx.DirectoryUserList(w.ctx, &membership.DirectoryQuery{OrgID: w.org.ID, Filter: f, Limit: 100})
					if err != nil {
						return err
					}
					var got []int64
					for _, u := range users {
						got = append(got, u.Member.ID)
					}
					if !slices.Equal(got, tc.want) || total != len(tc.want) {
						t.Errorf("%s: directory %s %v: %v of %d, want %v", when, f.Op, b, got, total, tc.want)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("at first", nil)

	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	check("after a dry run", nil)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	check("after bob's removal", []int64{w.bob.ID})
	// Globex's removals are not Acme's.
	if _, err := w.svc.RemoveMember(w.ctx, w.globexOwner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.globexBob.ID}}); err != nil {
		t.Fatal(err)
	}
	res, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
		Items: []membership.MemberRef{{ID: w.carol.ID}, {ID: w.admin.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed != 2 {
		t.Fatalf("batch removed %d of 2: %+v", res.Removed, res.Items)
	}
	check("after the batch", []int64{w.admin.ID, w.bob.ID, w.carol.ID})
	if _, err := w.svc.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	check("after bob's restore", []int64{w.admin.ID, w.carol.ID})
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	check("after bob's second removal", []int64{w.admin.ID, w.bob.ID, w.carol.ID})

	// A member written removed, as an import may, is listed removed.
	dave := &membership.Member{UUID: "0b8f6f2e-8c1e-4b7a-9c57-3f0e8f1d2a01", OrgID: w.org.ID, Email: "dave@acme.test",
		Role: membership.RoleMember, Status: membership.StatusRemoved, CreatedAt: T0, UpdatedAt: T0}
	err = w.store.Update(w.ctx, func(tx membership.Tx) error {
		u, err := tx.UserUpsert(w.ctx, dave.Email, "Dave")
		if err != nil {
			return err
		}
		return tx.MemberCreate(w.ctx, u.ID, dave)
	})
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, dave.ID)
	check("after dave was created removed", []int64{w.admin.ID, w.bob.ID, w.carol.ID, dave.ID})
}
