package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/memberd/memberd/membership"
)

var outboxTests = []test{
	{"PerMemberOrder", testOutboxOrder},
	{"Attempts", testOutboxAttempts},
	{"Redelivery", testOutboxRedelivery},
	{"EndpointStream", testOutboxStream},
	{"EndpointBreaker", testOutboxBreaker},
}

// outbox is an organization with two webhook endpoints.
type outbox struct {
	*env
	ep, ep2 *membership.WebhookEndpoint
}

func newOutbox(tb testing.TB, open Opener) *outbox {
	tb.Helper()
	o := &outbox{env: newEnv(tb, open)}
	o.ep, o.ep2 = o.endpoint(o.org), o.endpoint(o.org)
	return o
}

func (o *outbox) endpoint(org *membership.Organization) *membership.WebhookEndpoint {
	o.tb.Helper()
	now := o.clock.Now()
	ep := &membership.WebhookEndpoint{UUID: membership.NewUUID(), OrgID: org.ID, URL: "https://127.0.0.1/hook",
		Events: membership.WebhookEventTypes(), Secret: "whsec_test", Status: membership.WebhookActive, CreatedAt: now, UpdatedAt: now}
	if err := o.update(func(at asyncTx) error { return at.WebhookEndpointCreate(o.ctx, ep) }); err != nil {
		o.tb.Fatalf("create endpoint: %v", err)
	}
	return ep
}

// deliver appends a message about orderKey to the outbox and queues it
// for ep, as the change it reports would, and returns the delivery.
func (o *outbox) deliver(ep *membership.WebhookEndpoint, orderKey, redelivers string) *membership.WebhookDelivery {
	o.tb.Helper()
	now := o.clock.Now()
	msg := &membership.WebhookMessage{UUID: membership.NewUUID(), OrgID: ep.OrgID, Type: membership.WebhookMemberRemoved,
		OrderKey: orderKey, Payload: json.RawMessage(`{"member":"` + orderKey + `"}`), CreatedAt: now}
	d := &membership.WebhookDelivery{UUID: membership.NewUUID(), OrgID: ep.OrgID, EndpointID: ep.ID, Endpoint: ep.UUID,
		Type: msg.Type, OrderKey: orderKey, Status: membership.DeliveryPending, Redelivers: redelivers, CreatedAt: now, UpdatedAt: now}
	err := o.update(func(at asyncTx) error {
		if err := at.WebhookMessageCreate(o.ctx, msg); err != nil {
			return err
		}
		d.MessageID, d.Message = msg.ID, msg.UUID
		return at.WebhookDeliveryCreate(o.ctx, d)
	})
	if err != nil {
		o.tb.Fatalf("queue delivery: %v", err)
	}
	o.clock.Advance(time.Second)
	return d
}

func (o *outbox) get(orgID int64, uuid string) (*membership.WebhookDelivery, error) {
	var d *membership.WebhookDelivery
	err := o.store.View(o.ctx, func(tx membership.Tx) error {
		var err error
		d, err = async(o.tb, tx).WebhookDeliveryGet(o.ctx, orgID, 0, uuid)
		return err
	})
	return d, err
}

func (o *outbox) save(d *membership.WebhookDelivery) {
	o.tb.Helper()
	if err := o.update(func(at asyncTx) error { return at.WebhookDeliveryUpdate(o.ctx, d) }); err != nil {
		o.tb.Fatalf("update delivery: %v", err)
	}
}

// Deliveries of one endpoint and one member form a line in ID order;
// Prev and Next walk its pending deliveries only, never another
// endpoint's or another member's.
func testOutboxOrder(t *testing.T, open Opener) {
	o := newOutbox(t, open)
	a1 := o.deliver(o.ep, "member:1", "")
	b1 := o.deliver(o.ep, "member:2", "")
	a2 := o.deliver(o.ep, "member:1", "")
	other := o.deliver(o.ep2, "member:1", "")
	a3 := o.deliver(o.ep, "member:1", "")

	type step struct {
		name string
		fn   func(at asyncTx) (*membership.WebhookDelivery, error)
		want *membership.WebhookDelivery // nil: CodeNotFound
	}
	check := func(steps []step) {
		t.Helper()
		for _, s := range steps {
			var got *membership.WebhookDelivery
			err := o.update(func(at asyncTx) error {
				var err error
				got, err = s.fn(at)
				return err
			})
			switch {
			case s.want == nil:
				if membership.ErrorCode(err) != membership.CodeNotFound {
					t.Errorf("%s: got %v, %v; want not found", s.name, got, err)
				}
			case err != nil || got.ID != s.want.ID:
				t.Errorf("%s: got %v, %v; want delivery %d", s.name, got, err, s.want.ID)
			}
		}
	}
	prev := func(ep *membership.WebhookEndpoint, key string, before int64) func(asyncTx) (*membership.WebhookDelivery, error) {
		return func(at asyncTx) (*membership.WebhookDelivery, error) {
			return at.WebhookDeliveryPrev(o.ctx, ep.ID, key, before)
		}
	}
	next := func(ep *membership.WebhookEndpoint, key string, after int64) func(asyncTx) (*membership.WebhookDelivery, error) {
		return func(at asyncTx) (*membership.WebhookDelivery, error) {
			return at.WebhookDeliveryNext(o.ctx, ep.ID, key, after)
		}
	}
	check([]step{
		{"prev of a3", prev(o.ep, "member:1", a3.ID), a2},
		{"prev of a2", prev(o.ep, "member:1", a2.ID), a1},
		{"prev of a1", prev(o.ep, "member:1", a1.ID), nil},
		{"newest of member 1", prev(o.ep, "member:1", 0), a3},
		{"newest of member 2", prev(o.ep, "member:2", 0), b1},
		{"newest on the other endpoint", prev(o.ep2, "member:1", 0), other},
		{"next of a1", next(o.ep, "member:1", a1.ID), a2},
		{"next of a3", next(o.ep, "member:1", a3.ID), nil},
		{"oldest of member 2", next(o.ep, "member:2", 0), b1},
		{"next on the other endpoint", next(o.ep2, "member:1", other.ID), nil},
	})

	// Once a delivery leaves the line (delivered or failed), it no longer
	// holds back the ones behind it.
	a1.Status, a1.DeliveredAt = membership.DeliveryDelivered, ptr(o.clock.Now())
	o.save(a1)
	a2.Status = membership.DeliveryFailed
	o.save(a2)
	check([]step{
		{"prev of a3 after a1 and a2 left", prev(o.ep, "member:1", a3.ID), nil},
		{"oldest of member 1", next(o.ep, "member:1", 0), a3},
	})
}

// A delivery's attempts are kept oldest first, apart from other
// deliveries', and its last outcome is stored with it.
func testOutboxAttempts(t *testing.T, open Opener) {
	o := newOutbox(t, open)
	d := o.deliver(o.ep, "member:1", "")
	e := o.deliver(o.ep, "member:2", "")
	want := []*membership.WebhookAttempt{
		{DeliveryID: d.ID, At: T0.Add(time.Second), StatusCode: 500, DurationMS: 12, Response: "boom"},
		{DeliveryID: d.ID, At: T0.Add(2 * time.Second), Error: "connection refused", DurationMS: 3},
		{DeliveryID: d.ID, At: T0.Add(3 * time.Second), StatusCode: 204, DurationMS: 7},
	}
	theirs := &membership.WebhookAttempt{DeliveryID: e.ID, At: T0, StatusCode: 410, DurationMS: 1}
	for _, a := range append([]*membership.WebhookAttempt{want[0], theirs}, want[1:]...) {
		if err := o.update(func(at asyncTx) error { return at.WebhookAttemptAppend(o.ctx, a) }); err != nil {
			t.Fatalf("append attempt: %v", err)
		}
		if a.ID == 0 {
			t.Fatal("WebhookAttemptAppend left the ID unset")
		}
	}
	var got []*membership.WebhookAttempt
	o.view(func(at asyncTx) error {
		var err error
		got, err = at.WebhookAttemptList(o.ctx, d.ID)
		return err
	})
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("attempts of delivery %d (-got +want):\n%s", d.ID, diff)
	}

	d.Status, d.Attempts, d.LastStatus, d.LastError = membership.DeliveryDelivered, 3, 204, "connection refused"
	d.NextAt, d.DeliveredAt, d.UpdatedAt = ptr(T0.Add(time.Hour)), ptr(T0.Add(3*time.Second)), T0.Add(3*time.Second)
	o.save(d)
	stored, err := o.get(o.org.ID, d.UUID)
	if err != nil {
		t.Fatalf("get delivery: %v", err)
	}
	if diff := cmp.Diff(stored, d); diff != "" {
		t.Errorf("stored delivery (-got +want):\n%s", diff)
	}
}

// A redelivery by hand is a new delivery that names the one it repeats
// and queues behind the member's pending deliveries; another
// organization cannot see either.
func testOutboxRedelivery(t *testing.T, open Opener) {
	o := newOutbox(t, open)
	other, _, _ := o.bootstrap("Globex", "owner@globex.test")
	o.endpoint(other)
	failed := o.deliver(o.ep, "member:1", "")
	failed.Status, failed.Attempts = membership.DeliveryFailed, 5
	o.save(failed)
	pending := o.deliver(o.ep, "member:1", "")
	o.deliver(o.ep2, "member:1", "")
	again := o.deliver(o.ep, "member:1", failed.UUID)

	got, err := o.get(o.org.ID, again.UUID)
	if err != nil {
		t.Fatalf("get redelivery: %v", err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("redelivery (-got +want):\n%s", diff)
	}
	if got.Redelivers != failed.UUID || got.Status != membership.DeliveryPending || got.Attempts != 0 {
		t.Errorf("redelivery: got redelivers %q, %s after %d attempts; want %q, pending, 0",
			got.Redelivers, got.Status, got.Attempts, failed.UUID)
	}
	// Prev locks on PostgreSQL, so it runs in a write transaction.
	err = o.update(func(at asyncTx) error {
		prev, err := at.WebhookDeliveryPrev(o.ctx, o.ep.ID, "member:1", again.ID)
		if err != nil || prev.ID != pending.ID {
			t.Errorf("ahead of the redelivery: got %v, %v; want delivery %d", prev, err, pending.ID)
		}
		list, err := at.WebhookDeliveryList(o.ctx, &membership.WebhookDeliveryListParams{OrgID: o.org.ID, EndpointID: o.ep.ID, Limit: 10})
		if err != nil {
			return err
		}
		var uuids []string
		for _, d := range list {
			uuids = append(uuids, d.UUID)
		}
		if diff := cmp.Diff(uuids, []string{again.UUID, pending.UUID, failed.UUID}); diff != "" {
			t.Errorf("deliveries newest first (-got +want):\n%s", diff)
		}
		failedOnly, err := at.WebhookDeliveryList(o.ctx, &membership.WebhookDeliveryListParams{OrgID: o.org.ID, Status: membership.DeliveryFailed, Limit: 10})
		if err != nil {
			return err
		}
		if len(failedOnly) != 1 || failedOnly[0].ID != failed.ID {
			t.Errorf("failed deliveries: got %v, want only delivery %d", failedOnly, failed.ID)
		}
		theirs, err := at.WebhookDeliveryList(o.ctx, &membership.WebhookDeliveryListParams{OrgID: other.ID, Limit: 10})
		if err != nil || len(theirs) != 0 {
			t.Errorf("other organization's deliveries: got %v, %v; want none", theirs, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list deliveries: %v", err)
	}
	_, err = o.get(other.ID, again.UUID)
	wantCode(t, err, membership.CodeNotFound)
}

// With no order key, Prev and Next walk the endpoint's whole line of
// pending deliveries, whoever they concern (one stream per endpoint), and
// CountPending counts it, up to a limit.
func testOutboxStream(t *testing.T, open Opener) {
	o := newOutbox(t, open)
	a1 := o.deliver(o.ep, "member:1", "")
	b1 := o.deliver(o.ep, "member:2", "")
	o.deliver(o.ep2, "member:1", "")
	c1 := o.deliver(o.ep, "member:3", "")
	a1.Status = membership.DeliveryFailed
	o.save(a1)
	err := o.update(func(at asyncTx) error {
		if prev, err := at.WebhookDeliveryPrev(o.ctx, o.ep.ID, "", 0); err != nil || prev.ID != c1.ID {
			t.Errorf("last in the endpoint's line: got %v, %v; want delivery %d", prev, err, c1.ID)
		}
		if prev, err := at.WebhookDeliveryPrev(o.ctx, o.ep.ID, "", c1.ID); err != nil || prev.ID != b1.ID {
			t.Errorf("ahead of c1: got %v, %v; want delivery %d", prev, err, b1.ID)
		}
		if next, err := at.WebhookDeliveryNext(o.ctx, o.ep.ID, "", 0); err != nil || next.ID != b1.ID {
			t.Errorf("head of the endpoint's line: got %v, %v; want delivery %d", next, err, b1.ID)
		}
		if next, err := at.WebhookDeliveryNext(o.ctx, o.ep.ID, "", b1.ID); err != nil || next.ID != c1.ID {
			t.Errorf("after b1: got %v, %v; want delivery %d", next, err, c1.ID)
		}
		for limit, want := range map[int]int{10: 2, 2: 2, 1: 1} {
			if n, err := at.WebhookDeliveryCountPending(o.ctx, o.ep.ID, limit); err != nil || n != want {
				t.Errorf("pending up to %d: got %d, %v; want %d", limit, n, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An endpoint's breaker state is stored by Update; drops are counted by
// Dropped alone, which opens a run only when none is open, and Update
// never loses a count it did not read.
func testOutboxBreaker(t *testing.T, open Opener) {
	o := newOutbox(t, open)
	get := func() *membership.WebhookEndpoint {
		t.Helper()
		var ep *membership.WebhookEndpoint
		o.view(func(at asyncTx) error {
			var err error
			ep, err = at.WebhookEndpointGet(o.ctx, o.org.ID, 0, o.ep.UUID)
			return err
		})
		return ep
	}
	dropped := func(at time.Time) bool {
		t.Helper()
		var opened bool
		if err := o.update(func(tx asyncTx) error {
			var err error
			opened, err = tx.WebhookEndpointDropped(o.ctx, o.ep.ID, at)
			return err
		}); err != nil {
			t.Fatalf("drop: %v", err)
		}
		return opened
	}
	ep := *o.ep
	ep.Status, ep.DisabledReason, ep.DisabledAt = membership.WebhookDisabled, membership.DisabledFailing, ptr(T0.Add(time.Hour))
	ep.Failures, ep.FailingSince, ep.LastError, ep.UpdatedAt = 11, ptr(T0), "connection refused", T0.Add(time.Hour)
	if err := o.update(func(at asyncTx) error { return at.WebhookEndpointUpdate(o.ctx, &ep) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(get(), &ep); diff != "" {
		t.Errorf("stored endpoint (-got +want):\n%s", diff)
	}
	if !dropped(T0.Add(time.Minute)) || dropped(T0.Add(2*time.Minute)) {
		t.Error("only the first drop opens a run")
	}
	got := get()
	if got.Dropped != 2 || !got.DroppingSince.Equal(T0.Add(time.Minute)) || !got.LastDroppedAt.Equal(T0.Add(2*time.Minute)) {
		t.Errorf("after two drops: %d since %v, last %v", got.Dropped, got.DroppingSince, got.LastDroppedAt)
	}
	ep.DroppingSince = nil // a delivery got through: the run ends
	if err := o.update(func(at asyncTx) error { return at.WebhookEndpointUpdate(o.ctx, &ep) }); err != nil {
		t.Fatal(err)
	}
	if got := get(); got.Dropped != 2 || got.DroppingSince != nil {
		t.Errorf("after the run ended: %d since %v; want 2, none", got.Dropped, got.DroppingSince)
	}
	if !dropped(T0.Add(3 * time.Minute)) {
		t.Error("a drop after the run ended opens a new one")
	}
	var err error
	o.update(func(at asyncTx) error {
		_, err = at.WebhookEndpointDropped(o.ctx, -1, T0)
		return nil
	})
	wantCode(t, err, membership.CodeNotFound)
}
