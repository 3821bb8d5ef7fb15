package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var idempotencyTests = []test{
	{"SameKeyOneEffect", testIdempotencySameKey},
	{"BatchReplaysOutcomes", testIdempotencyBatch},
	{"ErrUnprocessableOtherRequest", testIdempotencyOtherRequest},
	{"KeysBelongToTheCredential", testIdempotencyPerCredential},
	{"RefusalIsNotStored", testIdempotencyRefusal},
}

func testIdempotencySameKey(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := membership.WithIdempotency(w.ctx, "remove-bob", "hash-1")
	first, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	w.clock.Advance(time.Second)
	before := w.state()
	second, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)})
	if err != nil {
		t.Fatalf("repeated call: got %v, want the first call's result", err)
	}
	if diff := cmp.Diff(second, first); diff != "" {
		t.Errorf("repeated call's result (-got +want):\n%s", diff)
	}
	w.assertUnchanged(before)
	if n := countEvents(w.events(w.org.ID), "member.removed", membership.OutcomeOK); n != 1 {
		t.Errorf("member.removed events: got %d, want 1", n)
	}
}

func testIdempotencyBatch(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := membership.WithIdempotency(w.ctx, "offboard", "hash-1")
	req := membership.BatchRequest{Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.bob.ID}, {ID: 1 << 40}, {ID: w.carol.ID}}}
	first, err := w.svc.RemoveBatch(ctx, w.owner, req)
	if err != nil {
		t.Fatal(err)
	}
	before := w.state()
	second, err := w.svc.RemoveBatch(ctx, w.owner, req)
	if err != nil {
		t.Fatal(err)
	}
	// A plain repeat would say already_removed; the retry gets the original.
	if diff := cmp.Diff(second, first); diff != "" {
		t.Errorf("repeated batch (-got +want):\n%s", diff)
	}
	if first.Removed != 2 {
		t.Errorf("removed: got %d, want 2", first.Removed)
	}
	w.assertUnchanged(before)
}

func testIdempotencyOtherRequest(t *testing.T, open Opener) {
	w := newWorld(t, open)
	if _, err := w.svc.RemoveMember(membership.WithIdempotency(w.ctx, "k", "hash-1"), w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	before := w.state()
	_, err := w.svc.RemoveMember(membership.WithIdempotency(w.ctx, "k", "hash-2"), w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}})
	wantCode(t, err, membership.CodeUnprocessable)
	w.assertRefused(before, "member.removed")
	if !w.member(w.carol.ID).Active() {
		t.Errorf("carol was removed under a reused key")
	}
}

func testIdempotencyPerCredential(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := membership.WithIdempotency(w.ctx, "same-key", "hash-1")
	if _, err := w.svc.RemoveMember(ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.RemoveMember(ctx, w.adminActor, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.carol.ID}})
	if err != nil {
		t.Fatalf("another credential's call with the same key: %v", err)
	}
	if rep.Member.ID != w.carol.ID || w.member(w.carol.ID).Active() {
		t.Errorf("another credential's call got bob's answer instead of removing carol")
	}
}

func testIdempotencyRefusal(t *testing.T, open Opener) {
	w := newWorld(t, open)
	ctx := membership.WithIdempotency(w.ctx, "k", "hash-1")
	carol := w.actorFor(w.owner, w.carol)
	_, err := w.svc.RemoveMember(ctx, carol, membership.RemoveMemberRequest{Member: bobRef(w)})
	wantCode(t, err, membership.CodeForbidden)
	before := w.state()
	_, err = w.svc.RemoveMember(ctx, carol, membership.RemoveMemberRequest{Member: bobRef(w)})
	wantCode(t, err, membership.CodeForbidden)
	w.assertRefused(before, "member.removed")
}
