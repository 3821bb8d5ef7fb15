package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var auditTests = []test{
	{"EveryChangeItsEvents", testAuditChanges},
	{"EveryRefusalRecorded", testAuditRefusals},
	{"ChangeAndEventCommitTogether", testAuditAtomic},
}

// op is one call of the service with what its audit trail must show.
type op struct {
	name    string
	call    func(w *world, a membership.Actor) error
	actions []string // the ok events a change writes, or the refused one
}

func testAuditChanges(t *testing.T, open Opener) {
	w := newWorld(t, open)
	a := w.owner
	a.RequestID = "req-audit"
	ops := []op{
		{"AddMember", func(w *world, a membership.Actor) error {
			_, err := w.svc.AddMember(w.ctx, a, membership.AddMemberRequest{Email: "hank@acme.test"})
			return err
		}, []string{"member.added"}},
		{"RevokeRoles", func(w *world, a membership.Actor) error {
			_, err := revoke(w, a, w.bobHQ.ID, "editor")
			return err
		}, []string{"roles.revoked"}},
		{"RemoveSpaceMember", func(w *world, a membership.Actor) error {
			_, err := removeFromSpace(w, a, w.lab, w.bob)
			return err
		}, []string{"space_member.removed"}},
		{"RemoveGroupMember", func(w *world, a membership.Actor) error {
			_, err := removeFromGroup(w, a, w.ops, w.bob)
			return err
		}, []string{"group_member.removed"}},
		{"RemoveMember", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveMember(w.ctx, a, membership.RemoveMemberRequest{Member: bobRef(w)})
			return err
		}, []string{"member.removed"}},
		{"RestoreMember", func(w *world, a membership.Actor) error {
			_, err := restore(w, a, w.bob)
			return err
		}, []string{"member.restored"}},
		{"RemoveBatch", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveBatch(w.ctx, a, membership.BatchRequest{Scope: membership.ScopeOrganization,
				Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}}})
			return err
		}, []string{"member.removed", "member.removed"}},
	}
	for _, o := range ops {
		w.clock.Advance(time.Second)
		ev0 := w.lastEventID(w.org.ID)
		if err := o.call(w, a); err != nil {
			t.Fatalf("%s: %v", o.name, err)
		}
		evs := w.eventsAfter(w.org.ID, ev0)
		if len(evs) != len(o.actions) {
			t.Errorf("%s: got events %s, want %v", o.name, describeEvents(evs), o.actions)
			continue
		}
		for i, ev := range evs {
			if ev.Action != o.actions[i] || ev.Outcome != membership.OutcomeOK || ev.OrgID != w.org.ID ||
				ev.ActorMemberID != a.MemberID || ev.CredentialID != a.CredentialID || ev.Interface != a.Interface ||
				ev.RequestID != a.RequestID || !ev.At.Equal(w.clock.Now()) || ev.TargetMemberID == 0 || ev.UUID == "" {
				t.Errorf("%s: event %d: got %s, want %s ok by the owner's credential now", o.name, i, jsonString(ev), o.actions[i])
			}
		}
	}
}

func testAuditRefusals(t *testing.T, open Opener) {
	w := newWorld(t, open, batchLimit(2))
	carol := w.actorFor(w.owner, w.carol)
	carol.RequestID = "req-refused"
	ops := []op{
		{"RemoveMemberForbidden", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveMember(w.ctx, a, membership.RemoveMemberRequest{Member: bobRef(w)})
			return err
		}, []string{"member.removed"}},
		{"RemoveSpaceMemberForbidden", func(w *world, a membership.Actor) error {
			_, err := removeFromSpace(w, a, w.hq, w.bob)
			return err
		}, []string{"space_member.removed"}},
		{"RemoveGroupMemberForbidden", func(w *world, a membership.Actor) error {
			_, err := removeFromGroup(w, a, w.eng, w.bob)
			return err
		}, []string{"group_member.removed"}},
		{"RevokeRolesForbidden", func(w *world, a membership.Actor) error {
			_, err := revoke(w, a, w.bobHQ.ID, "editor")
			return err
		}, []string{"roles.revoked"}},
		{"RevokeRolesNoRoles", func(w *world, a membership.Actor) error {
			_, err := revoke(w, a, w.bobHQ.ID)
			return err
		}, []string{"roles.revoked"}},
		{"RevokeRolesInvalidRole", func(w *world, a membership.Actor) error {
			_, err := revoke(w, a, w.bobHQ.ID, "editor", "")
			return err
		}, []string{"roles.revoked"}},
		{"RestoreMemberActive", func(w *world, a membership.Actor) error {
			_, err := restore(w, a, w.bob)
			return err
		}, []string{"member.restored"}},
		{"RemoveBatchOverLimit", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveBatch(w.ctx, a, membership.BatchRequest{Scope: membership.ScopeOrganization,
				Items: []membership.MemberRef{{ID: 1}, {ID: 2}, {ID: 3}}})
			return err
		}, []string{"batch.removed"}},
		{"RemoveBatchEmpty", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveBatch(w.ctx, a, membership.BatchRequest{Scope: membership.ScopeOrganization})
			return err
		}, []string{"batch.removed"}},
		{"RemoveBatchItemForbidden", func(w *world, a membership.Actor) error {
			_, err := w.svc.RemoveBatch(w.ctx, a, membership.BatchRequest{Scope: membership.ScopeOrganization,
				Items: []membership.MemberRef{{ID: w.bob.ID}}})
			if err == nil {
				err = membership.Errorf(membership.CodeForbidden, "item refused") // the item, not the call, is refused
			}
			return err
		}, []string{"member.removed"}},
	}
	for _, o := range ops {
		w.clock.Advance(time.Second)
		before := w.state()
		err := o.call(w, carol)
		if err == nil {
			t.Errorf("%s: succeeded, want refused", o.name)
			continue
		}
		if membership.ErrorCode(err) == membership.CodeInternal {
			t.Errorf("%s: internal error %v, want a refusal", o.name, err)
		}
		w.assertRefused(before, o.actions[0])
		evs := w.eventsAfter(w.org.ID, w.lastEventID(w.org.ID)-1)
		if ev := evs[len(evs)-1]; ev.ActorMemberID != carol.MemberID || ev.CredentialID != carol.CredentialID ||
			ev.RequestID != carol.RequestID || ev.Interface != carol.Interface || !ev.At.Equal(w.clock.Now()) {
			t.Errorf("%s: refusal event %s does not name carol's request", o.name, jsonString(ev))
		}
	}
}

// faultyStore is the real store whose transactions fail to append the
// events appendErr picks: a change must then fail whole (or, as a batch
// item, alone), never commit without its audit record.
type faultyStore struct {
	membership.Store
	appendErr func(*membership.Event) error
}

type faultyTx struct {
	membership.Tx
	appendErr func(*membership.Event) error
}

var errAuditDown = errors.New("event log unavailable")

func (tx faultyTx) EventAppend(ctx context.Context, e *membership.Event) error {
	if err := tx.appendErr(e); err != nil {
		return err
	}
	return tx.Tx.EventAppend(ctx, e)
}

func (s faultyStore) Update(ctx context.Context, fn func(membership.Tx) error) error {
	return s.Store.Update(ctx, func(tx membership.Tx) error { return fn(faultyTx{tx, s.appendErr}) })
}

func testAuditAtomic(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := removeFromGroup(w, w.owner, w.ops, w.carol); !errors.Is(err, membership.ErrNotMember) {
		t.Fatalf("setup: %v", err)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.admin.ID}}); err != nil {
		t.Fatal(err)
	}
	failing := membership.NewService(faultyStore{w.store, func(*membership.Event) error { return errAuditDown }}, membership.Config{Now: w.clock.Now})
	calls := map[string]func() error{
		"RemoveMember": func() error {
			_, err := failing.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
			return err
		},
		"RemoveSpaceMember": func() error {
			_, err := failing.RemoveSpaceMember(w.ctx, w.owner, membership.RemoveSpaceMemberRequest{Space: membership.Ref{ID: w.hq.ID}, Member: bobRef(w)})
			return err
		},
		"RemoveGroupMember": func() error {
			_, err := failing.RemoveGroupMember(w.ctx, w.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: w.eng.ID}, Member: bobRef(w)})
			return err
		},
		"RevokeRoles": func() error {
			_, err := failing.RevokeRoles(w.ctx, w.owner, membership.RevokeRolesRequest{SpaceMemberID: w.bobHQ.ID, Roles: []string{"editor"}})
			return err
		},
		"RestoreMember": func() error {
			_, err := failing.RestoreMember(w.ctx, w.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: w.admin.ID}})
			return err
		},
		"RemoveBatch": func() error {
			_, err := failing.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization,
				Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: w.carol.ID}}})
			return err
		},
	}
	for name, call := range calls {
		before := w.state()
		err := call()
		if !errors.Is(err, errAuditDown) || membership.ErrorCode(err) != membership.CodeInternal {
			t.Errorf("%s without an event log: got %v, want the internal failure", name, err)
		}
		w.assertUnchanged(before)
	}
}
