package jobs_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/membership"
)

// TestDeadEndpoint drives 10,000 removals at an organization whose one
// webhook endpoint is dead (a closed port on loopback, allowed) and holds
// the bounds: the endpoint is tried as one paced stream, not once per
// delivery; its breaker opens and says why; it never holds more than the
// bound of pending deliveries, and counts and audits what it dropped; and
// enabling it again delivers what it held, in order.
func TestDeadEndpoint(t *testing.T) {
	const removals, maxPending = 10000, 100
	if testing.Short() {
		t.Skip("10,000 removals")
	}
	// SQLite: the pacing, breaker and bound are the core's, the same on
	// both engines, whose store methods storetest holds alike.
	db := engines()[0].db(t)
	ctx := context.Background()

	var dials atomic.Int64
	cfg := testConfig()
	dialer := &net.Dialer{Timeout: time.Second, Control: func(network, address string, c syscall.RawConn) error {
		dials.Add(1)
		return loopback.Control(network, address, c)
	}}
	cfg.HTTPClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	const backoff, period, failures = 20 * time.Millisecond, 300 * time.Millisecond, 5
	cfg.Webhook = membership.WebhookRetryPolicy{MaxAttempts: 3, Backoff: func(int) time.Duration { return backoff },
		BreakerFailures: failures, BreakerPeriod: period}
	svcCfg := svcConfig()
	svcCfg.WebhookMaxPending = maxPending
	n := startNode(t, db, cfg, svcCfg)
	o := setupOrg(t, n.svc, "dead")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: every dial is refused
	rc := &receiver{failFirst: map[string]int{}, attempts: map[string]int{}}
	created, err := n.svc.CreateWebhookEndpoint(ctx, o.owner, membership.CreateWebhookEndpointRequest{URL: "http://" + addr + "/hooks", Events: []string{membership.WebhookMemberRemoved}})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = created.Secret
	ep := created.Endpoint

	start := time.Now()
	ref := membership.MemberRef{ID: o.member.ID}
	for i := 0; i < removals; i++ {
		if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: ref}); err != nil {
			t.Fatalf("removal %d: %v", i, err)
		}
		if _, err := n.svc.RestoreMember(ctx, o.owner, membership.RestoreMemberRequest{Member: ref}); err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
	}
	took := time.Since(start)

	got, err := n.svc.WebhookEndpoint(ctx, o.owner, ep.UUID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != membership.WebhookDisabled || got.DisabledReason != membership.DisabledFailing || got.DisabledAt == nil ||
		got.Failures < failures || got.FailingSince == nil || got.DisabledAt.Sub(*got.FailingSince) < period || got.LastError == "" {
		t.Fatalf("endpoint after %d removals: %+v", removals, got)
	}
	all, err := n.svc.WebhookDeliveries(ctx, o.owner, ep.UUID, membership.WebhookDeliveryListParams{Limit: membership.MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	var pending, attempts int
	for _, d := range all {
		if d.Status == membership.DeliveryPending {
			pending++
		}
		attempts += d.Attempts
	}
	if pending != maxPending || len(all) >= 2*maxPending {
		t.Fatalf("%d pending of %d deliveries, want the bound %d", pending, len(all), maxPending)
	}
	if got.Dropped != int64(removals-len(all)) || got.DroppingSince == nil || got.LastDroppedAt == nil {
		t.Fatalf("dropped %d (since %v), want %d", got.Dropped, got.DroppingSince, removals-len(all))
	}
	// One stream: attempts come one at a time, every backoff at most,
	// until the breaker's period is over, whatever the number of removals.
	bound := failures + int(period/backoff) + 2
	if attempts > bound || int(dials.Load()) > bound {
		t.Fatalf("%d attempts, %d dials in %s, want at most %d", attempts, dials.Load(), took, bound)
	}
	for action, want := range map[string]int{"webhook_endpoint.disabled": 1, "webhook_endpoint.dropping": 1} {
		evs, err := n.svc.Events(ctx, o.owner, membership.EventListParams{Action: action})
		if err != nil || len(evs) != want {
			t.Fatalf("%s events: %d %v, want %d", action, len(evs), err, want)
		}
	}
	t.Logf("%d removals in %s: %d attempts, %d dials, %d pending, %d failed, %d dropped", removals, took.Round(time.Millisecond),
		attempts, dials.Load(), pending, len(all)-pending, got.Dropped)

	// The receiver comes back on the same address; enabling the endpoint
	// delivers what it held, oldest first.
	if l, err = net.Listen("tcp", addr); err != nil {
		t.Skipf("the address was taken meanwhile: %v", err)
	}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	rc.srv.Listener.Close()
	rc.srv.Listener = l
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	if _, err := n.svc.EnableWebhookEndpoint(ctx, o.owner, ep.UUID); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.EnableWebhookEndpoint(ctx, o.owner, ep.UUID); membership.ErrorCode(err) != membership.CodeConflict {
		t.Fatalf("enabling an active endpoint: %v", err)
	}
	var want, arrived []string
	for i := len(all) - 1; i >= 0; i-- { // all is newest first
		if all[i].Status == membership.DeliveryPending {
			want = append(want, all[i].Message)
		}
	}
	for _, r := range rc.waitFor(t, maxPending) {
		arrived = append(arrived, r.ID)
	}
	if diff := cmp.Diff(want, arrived); diff != "" {
		t.Fatalf("held deliveries (-want +got):\n%s", diff)
	}
	if got, _ := n.svc.WebhookEndpoint(ctx, o.owner, ep.UUID); got.Status != membership.WebhookActive || got.Failures != 0 || got.DroppingSince != nil {
		t.Fatalf("endpoint after enabling: %+v", got)
	}
}
