package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

// The operation and outbox groups call the store directly, as a driver
// suite does: the service reaches these methods only through the job
// queue, which the suite does not run. Each test was seen to fail, in both
// commit modes, with the sqlstore method it covers broken:
//
//   - Create: OperationCreate dropping Original.
//   - LockKeyConflict: OperationCreate not translating the unique
//     violation into CodeConflict.
//   - GetAcrossOrganizations: OperationGet ignoring p.OrgID.
//   - List: OperationList oldest first, or ignoring Status or Scheduled.
//   - Update: OperationUpdate not storing attempts, or not reporting a
//     missing row.
//   - PerMemberOrder: WebhookDeliveryPrev oldest first or ignoring the
//     status; WebhookDeliveryNext ignoring the endpoint or the order key.
//   - Attempts: WebhookAttemptList newest first or ignoring the delivery;
//     WebhookDeliveryUpdate not storing the last status.
//   - Redelivery: WebhookDeliveryCreate dropping Redelivers;
//     WebhookDeliveryGet ignoring orgID; WebhookDeliveryList ignoring
//     EndpointID.
var operationTests = []test{
	{"Create", testOperationCreate},
	{"LockKeyConflict", testOperationLockKey},
	{"GetAcrossOrganizations", testOperationGetAcrossOrgs},
	{"List", testOperationList},
	{"Update", testOperationUpdate},
}

// asyncTx is the part of the store transaction that holds operations and
// the webhook outbox. It names the methods rather than a membership
// interface so that it compiles whether they sit on membership.Tx or on
// a separate interface reached by assertion.
type asyncTx interface {
	OperationCreate(ctx context.Context, op *membership.Operation) error
	OperationGet(ctx context.Context, p *membership.OperationGetParams) (*membership.Operation, error)
	OperationList(ctx context.Context, p *membership.OperationListParams) ([]*membership.Operation, error)
	OperationUpdate(ctx context.Context, op *membership.Operation) error

	WebhookEndpointCreate(ctx context.Context, e *membership.WebhookEndpoint) error
	WebhookEndpointGet(ctx context.Context, orgID, id int64, uuid string) (*membership.WebhookEndpoint, error)
	WebhookEndpointUpdate(ctx context.Context, e *membership.WebhookEndpoint) error
	WebhookEndpointDropped(ctx context.Context, id int64, at time.Time) (bool, error)
	WebhookDeliveryCountPending(ctx context.Context, endpointID int64, limit int) (int, error)
	WebhookMessageCreate(ctx context.Context, m *membership.WebhookMessage) error
	WebhookDeliveryCreate(ctx context.Context, d *membership.WebhookDelivery) error
	WebhookDeliveryGet(ctx context.Context, orgID, id int64, uuid string) (*membership.WebhookDelivery, error)
	WebhookDeliveryList(ctx context.Context, p *membership.WebhookDeliveryListParams) ([]*membership.WebhookDelivery, error)
	WebhookDeliveryUpdate(ctx context.Context, d *membership.WebhookDelivery) error
	WebhookDeliveryPrev(ctx context.Context, endpointID int64, orderKey string, beforeID int64) (*membership.WebhookDelivery, error)
	WebhookDeliveryNext(ctx context.Context, endpointID int64, orderKey string, afterID int64) (*membership.WebhookDelivery, error)
	WebhookAttemptAppend(ctx context.Context, a *membership.WebhookAttempt) error
	WebhookAttemptList(ctx context.Context, deliveryID int64) ([]*membership.WebhookAttempt, error)
}

// async returns tx's operation and outbox methods, failing the test if
// the engine has none.
func async(tb testing.TB, tx membership.Tx) asyncTx {
	tb.Helper()
	at, ok := tx.(asyncTx)
	if !ok {
		tb.Fatalf("store transaction %T stores no operations or webhooks", tx)
	}
	return at
}

// update runs fn in one write transaction of the env's store.
func (e *env) update(fn func(at asyncTx) error) error {
	return e.store.Update(e.ctx, func(tx membership.Tx) error { return fn(async(e.tb, tx)) })
}

// view runs fn in one read transaction and fails the test on its error.
func (e *env) view(fn func(at asyncTx) error) {
	e.tb.Helper()
	if err := e.store.View(e.ctx, func(tx membership.Tx) error { return fn(async(e.tb, tx)) }); err != nil {
		e.tb.Fatalf("view: %v", err)
	}
}

// newOperation is a queued removal of target in org, asked by actor, that
// holds lockKey; every field the store keeps is set.
func (e *env) newOperation(org *membership.Organization, actor *membership.Member, target int64, lockKey string) *membership.Operation {
	now := e.clock.Now()
	return &membership.Operation{
		UUID: membership.NewUUID(), OrgID: org.ID, Kind: "remove_member", Status: membership.OperationQueued,
		Interface: "storetest", RequestID: "req-" + lockKey, ActorMemberID: actor.ID, CredentialID: 7,
		TargetMemberID: target, SpaceID: 11, LockKey: lockKey,
		Request: membership.OperationRequest{Kind: "remove_member", RemoveMember: &membership.RemoveMemberRequest{
			Member: membership.MemberRef{ID: target}, ReportLimit: 5,
		}},
		Original:  json.RawMessage(`{"member":{"id":1}}`),
		CreatedAt: now, UpdatedAt: now,
	}
}

// createOperation stores op and fails the test on error.
func (e *env) createOperation(op *membership.Operation) *membership.Operation {
	e.tb.Helper()
	if err := e.update(func(at asyncTx) error { return at.OperationCreate(e.ctx, op) }); err != nil {
		e.tb.Fatalf("create operation %s: %v", op.LockKey, err)
	}
	return op
}

// getOperation reads op back by UUID in orgID (0: any organization).
func (e *env) getOperation(orgID int64, uuid string) (*membership.Operation, error) {
	var op *membership.Operation
	err := e.store.View(e.ctx, func(tx membership.Tx) error {
		var err error
		op, err = async(e.tb, tx).OperationGet(e.ctx, &membership.OperationGetParams{OrgID: orgID, UUID: uuid})
		return err
	})
	return op, err
}

func ptr[T any](v T) *T { return &v }

// An operation reads back as it was written, every field included.
func testOperationCreate(t *testing.T, open Opener) {
	e := newEnv(t, open)
	op := e.newOperation(e.org, e.ownerMember, 42, "member:42")
	op.Status = membership.OperationScheduled
	op.EffectiveAt = ptr(T0.Add(24 * time.Hour))
	e.createOperation(op)
	if op.ID == 0 {
		t.Fatal("OperationCreate left the ID unset")
	}
	got, err := e.getOperation(e.org.ID, op.UUID)
	if err != nil {
		t.Fatalf("get operation: %v", err)
	}
	if diff := cmp.Diff(got, op); diff != "" {
		t.Errorf("stored operation (-got +want):\n%s", diff)
	}
}

// At most one waiting or running operation holds a lock key; a finished
// one frees it.
func testOperationLockKey(t *testing.T, open Opener) {
	e := newEnv(t, open)
	first := e.createOperation(e.newOperation(e.org, e.ownerMember, 42, "member:42"))
	for _, st := range []membership.OperationStatus{membership.OperationQueued, membership.OperationScheduled} {
		second := e.newOperation(e.org, e.ownerMember, 42, "member:42")
		second.Status = st
		err := e.update(func(at asyncTx) error { return at.OperationCreate(e.ctx, second) })
		wantCode(t, err, membership.CodeConflict)
		if _, err := e.getOperation(0, second.UUID); membership.ErrorCode(err) != membership.CodeNotFound {
			t.Errorf("refused %s operation: got %v, want it not stored", st, err)
		}
	}
	e.createOperation(e.newOperation(e.org, e.ownerMember, 43, "member:43"))

	for _, st := range []membership.OperationStatus{membership.OperationRunning, membership.OperationSucceeded} {
		first.Status = st
		if err := e.update(func(at asyncTx) error { return at.OperationUpdate(e.ctx, first) }); err != nil {
			t.Fatalf("mark first %s: %v", st, err)
		}
		next := e.newOperation(e.org, e.ownerMember, 42, "member:42")
		err := e.update(func(at asyncTx) error { return at.OperationCreate(e.ctx, next) })
		if st == membership.OperationRunning {
			wantCode(t, err, membership.CodeConflict)
		} else if err != nil {
			t.Errorf("after the first %s: got %v, want the key free", st, err)
		}
	}
}

// An organization cannot read another's operation; the job runner
// (organization 0) reads any.
func testOperationGetAcrossOrgs(t *testing.T, open Opener) {
	e := newEnv(t, open)
	other, _, otherOwner := e.bootstrap("Globex", "owner@globex.test")
	op := e.createOperation(e.newOperation(e.org, e.ownerMember, 42, "member:42"))
	theirs := e.createOperation(e.newOperation(other, otherOwner, 43, "member:43"))

	_, err := e.getOperation(other.ID, op.UUID)
	wantCode(t, err, membership.CodeNotFound)
	_, err = e.getOperation(e.org.ID, theirs.UUID)
	wantCode(t, err, membership.CodeNotFound)
	_, err = e.getOperation(e.org.ID, membership.NewUUID())
	wantCode(t, err, membership.CodeNotFound)
	for _, orgID := range []int64{e.org.ID, 0} {
		got, err := e.getOperation(orgID, op.UUID)
		if err != nil || got.ID != op.ID {
			t.Errorf("get in organization %d: got %v, %v; want operation %d", orgID, got, err, op.ID)
		}
	}
}

// OperationList answers one organization's operations newest first,
// filtered and paged.
func testOperationList(t *testing.T, open Opener) {
	e := newEnv(t, open)
	other, _, otherOwner := e.bootstrap("Globex", "owner@globex.test")
	var ops []*membership.Operation // oldest first
	for i := range 5 {
		op := e.newOperation(e.org, e.ownerMember, int64(100+i), fmt.Sprintf("member:%d", 100+i))
		if i%2 == 1 {
			op.Status, op.EffectiveAt = membership.OperationScheduled, ptr(T0.Add(time.Hour))
		}
		ops = append(ops, e.createOperation(op))
		e.createOperation(e.newOperation(other, otherOwner, int64(200+i), fmt.Sprintf("member:%d", 200+i)))
	}
	list := func(p membership.OperationListParams) []int64 {
		t.Helper()
		var ids []int64
		e.view(func(at asyncTx) error {
			got, err := at.OperationList(e.ctx, &p)
			for _, op := range got {
				ids = append(ids, op.ID)
			}
			return err
		})
		return ids
	}
	ids := func(idx ...int) []int64 {
		var out []int64
		for _, i := range idx {
			out = append(out, ops[i].ID)
		}
		return out
	}
	for _, c := range []struct {
		name string
		p    membership.OperationListParams
		want []int64
	}{
		{"all", membership.OperationListParams{OrgID: e.org.ID, Limit: 100}, ids(4, 3, 2, 1, 0)},
		{"limit", membership.OperationListParams{OrgID: e.org.ID, Limit: 2}, ids(4, 3)},
		{"before", membership.OperationListParams{OrgID: e.org.ID, BeforeID: ops[3].ID, Limit: 2}, ids(2, 1)},
		{"status", membership.OperationListParams{OrgID: e.org.ID, Status: membership.OperationQueued, Limit: 100}, ids(4, 2, 0)},
		{"scheduled", membership.OperationListParams{OrgID: e.org.ID, Scheduled: true, Limit: 100}, ids(3, 1)},
	} {
		if diff := cmp.Diff(list(c.p), c.want); diff != "" {
			t.Errorf("%s: operation IDs (-got +want):\n%s", c.name, diff)
		}
	}
}

// OperationUpdate stores the outcome fields and refuses an unknown row.
func testOperationUpdate(t *testing.T, open Opener) {
	e := newEnv(t, open)
	op := e.createOperation(e.newOperation(e.org, e.ownerMember, 42, "member:42"))
	e.clock.Advance(time.Minute)
	op.Status, op.Attempts = membership.OperationFailed, 3
	op.StartedAt, op.FinishedAt, op.UpdatedAt = ptr(T0.Add(time.Second)), ptr(e.clock.Now()), e.clock.Now()
	op.Result = &membership.Report{Counts: membership.ReportCounts{Spaces: 2, Groups: 1}, EventID: 9}
	op.Error = &membership.OperationError{Code: membership.CodeConflict, Message: "member changed meanwhile"}
	if err := e.update(func(at asyncTx) error { return at.OperationUpdate(e.ctx, op) }); err != nil {
		t.Fatalf("update operation: %v", err)
	}
	got, err := e.getOperation(e.org.ID, op.UUID)
	if err != nil {
		t.Fatalf("get operation: %v", err)
	}
	if diff := cmp.Diff(got, op); diff != "" {
		t.Errorf("updated operation (-got +want):\n%s", diff)
	}
	missing := *op
	missing.ID = op.ID + 1000
	err = e.update(func(at asyncTx) error { return at.OperationUpdate(e.ctx, &missing) })
	wantCode(t, err, membership.CodeNotFound)
}
