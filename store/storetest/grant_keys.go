package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var grantKeyTests = []test{
	{"SameGrantsAsGrantList", testGrantKeysLikeGrantList},
	{"ListCountedLikeListAndCount", testGrantListCounted},
}

// GrantListCounted lists what GrantList lists and counts what GrantCount
// counts, and its keys are GrantKeys' with the largest limit, whatever
// the limit of the list.
func testGrantListCounted(t *testing.T, open Opener) {
	w := newWorld(t, open)
	groups := []int64{w.eng.ID, w.ops.ID}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []membership.GrantListParams{
		{GroupIDs: groups, Status: membership.StatusActive},
		{GroupIDs: groups[:1], Status: membership.StatusActive},
		{MemberID: w.bob.ID, Status: membership.StatusActive},
		{Status: membership.StatusActive},
		{MemberID: w.carol.ID, Status: membership.StatusActive}, // none
		{MemberID: w.carol.ID},
	} {
		for _, limit := range []int{0, 1, 2, 100} {
			for _, withKeys := range []bool{false, true} {
				p.OrgID, p.Limit = w.org.ID, limit
				all := p
				all.Limit = membership.MaxReportLimit
				var wantList, gotList []*membership.Grant
				var wantKeys, gotKeys []membership.GrantKey
				var wantN, gotN int
				err := w.store.View(w.ctx, func(tx membership.Tx) error {
					var err error
					if wantList, err = tx.GrantList(w.ctx, &p); err != nil {
						return err
					}
					if wantN, err = tx.GrantCount(w.ctx, &p); err != nil {
						return err
					}
					if wantKeys, err = tx.GrantKeys(w.ctx, &all); err != nil {
						return err
					}
					var keys *[]membership.GrantKey
					if withKeys {
						keys = &gotKeys
					}
					gotList, gotN, err = tx.GrantListCounted(w.ctx, &p, keys)
					return err
				})
				if err != nil {
					t.Fatalf("%+v: %v", p, err)
				}
				if diff := cmp.Diff(wantList, gotList); diff != "" {
					t.Errorf("%+v: list differs from GrantList's (-GrantList +GrantListCounted):\n%s", p, diff)
				}
				if gotN != wantN {
					t.Errorf("%+v: counted %d, GrantCount %d", p, gotN, wantN)
				}
				if withKeys {
					if diff := cmp.Diff(wantKeys, gotKeys); diff != "" {
						t.Errorf("%+v: keys differ from GrantKeys' (-GrantKeys +GrantListCounted):\n%s", p, diff)
					}
				}
			}
		}
	}
}

// GrantKeys is what a plan tag digests of the grants GrantList lists: the
// same grants, in the same order, cut at the same limit.
func testGrantKeysLikeGrantList(t *testing.T, open Opener) {
	w := newWorld(t, open)
	groups := []int64{w.eng.ID, w.ops.ID}
	// carol's direct grant is revoked: a status filter must leave it out.
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []membership.GrantListParams{
		{MemberID: w.bob.ID, Status: membership.StatusActive},
		{GroupIDs: groups, Status: membership.StatusActive},
		{MemberID: w.bob.ID, GroupIDs: groups},
		{Status: membership.StatusActive},
		{MemberID: w.carol.ID, Status: membership.StatusActive}, // none
		{MemberID: w.carol.ID},
	} {
		for _, limit := range []int{0, 1, 2, 100} {
			p.OrgID, p.Limit = w.org.ID, limit
			var want, got []membership.GrantKey
			err := w.store.View(w.ctx, func(tx membership.Tx) error {
				listed, err := tx.GrantList(w.ctx, &p)
				if err != nil {
					return err
				}
				for _, g := range listed {
					want = append(want, membership.GrantKey{ID: g.ID, ResourceID: g.ResourceID, MemberID: g.MemberID, GroupID: g.GroupID})
				}
				got, err = tx.GrantKeys(w.ctx, &p)
				return err
			})
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%+v: keys differ from the listed grants (-listed +keys):\n%s", p, diff)
			}
		}
	}
}
