package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
)

// received is one webhook a receiver accepted.
type received struct {
	ID       string
	Type     string
	MemberID int64
}

// receiver is a webhook endpoint on loopback that verifies every
// signature and answers 500 to the first failFirst[type] attempts of each
// event type.
type receiver struct {
	srv    *httptest.Server
	secret string

	mu        sync.Mutex
	failFirst map[string]int
	failAll   bool
	attempts  map[string]int // by webhook-id
	got       []received
	bad       []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{failFirst: map[string]int{}, attempts: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := jobs.VerifyWebhook(rc.secret, r.Header, body, time.Now(), jobs.DefaultWebhookTolerance); err != nil {
		rc.bad = append(rc.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			MemberID int64 `json:"member_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		rc.bad = append(rc.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.Header.Get("webhook-id")
	rc.attempts[id]++
	if rc.failAll || rc.attempts[id] <= rc.failFirst[msg.Type] {
		http.Error(w, "try again", http.StatusInternalServerError)
		return
	}
	rc.got = append(rc.got, received{ID: id, Type: msg.Type, MemberID: msg.Data.MemberID})
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) waitFor(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := rc.received()
		if len(got) >= n {
			rc.mu.Lock()
			bad := rc.bad
			rc.mu.Unlock()
			if len(bad) > 0 {
				t.Fatalf("receiver refused deliveries: %v", bad)
			}
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d webhooks, want %d: %+v", len(got), n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func register(t *testing.T, n *node, o *org, rc *receiver, events ...string) *membership.WebhookEndpoint {
	t.Helper()
	ep, err := n.svc.CreateWebhookEndpoint(context.Background(), o.owner, membership.CreateWebhookEndpointRequest{URL: rc.srv.URL + "/hooks", Events: events})
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = ep.Secret
	return ep.Endpoint
}

func TestWebhooks(t *testing.T) {
	forEngines(t, func(t *testing.T, db engine) {
		ctx := context.Background()

		t.Run("SignedAndRetried", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "signed")
			rc := newReceiver(t)
			rc.failFirst[membership.WebhookMemberRemoved] = 2
			ep := register(t, n, o, rc, membership.WebhookMemberRemoved, membership.WebhookMemberRestored)
			if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
				t.Fatal(err)
			}
			got := rc.waitFor(t, 1)
			if got[0].Type != membership.WebhookMemberRemoved || got[0].MemberID != o.member.ID {
				t.Fatalf("received %+v", got)
			}
			rc.mu.Lock()
			attempts := rc.attempts[got[0].ID]
			rc.mu.Unlock()
			if attempts != 3 {
				t.Fatalf("%d attempts, want 3 (two 500s, then success)", attempts)
			}
			ds, err := n.svc.WebhookDeliveries(ctx, o.owner, ep.UUID, membership.WebhookDeliveryListParams{})
			if err != nil || len(ds) != 1 {
				t.Fatalf("deliveries %v %v", ds, err)
			}
			log := waitDelivery(t, n, o, ds[0].UUID, membership.DeliveryDelivered)
			var codes []int
			for _, a := range log.Attempts {
				codes = append(codes, a.StatusCode)
			}
			if diff := cmp.Diff([]int{500, 500, 204}, codes); diff != "" {
				t.Fatalf("attempt log (-want +got):\n%s", diff)
			}
			if log.Message.UUID != got[0].ID {
				t.Fatalf("webhook-id %q, message %q", got[0].ID, log.Message.UUID)
			}

			// A change no endpoint subscribed to sends nothing; a dry run
			// sends nothing either.
			if _, err := n.svc.RestoreMember(ctx, o.owner, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
				t.Fatal(err)
			}
			if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}, DryRun: true}); err != nil {
				t.Fatal(err)
			}
			if got := rc.waitFor(t, 2); got[1].Type != membership.WebhookMemberRestored {
				t.Fatalf("received %+v", got)
			}
			time.Sleep(300 * time.Millisecond)
			if got := rc.received(); len(got) != 2 {
				t.Fatalf("a dry run was delivered: %+v", got)
			}

			// Manual redelivery sends the same message again.
			nd, err := n.svc.RedeliverWebhook(ctx, o.owner, ds[0].UUID)
			if err != nil || nd.Redelivers != ds[0].UUID {
				t.Fatalf("redeliver %+v %v", nd, err)
			}
			if got := rc.waitFor(t, 3); got[2].ID != got[0].ID {
				t.Fatalf("redelivery carried webhook-id %q, want %q", got[2].ID, got[0].ID)
			}
		})

		t.Run("OrderPerMember", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "order")
			rc := newReceiver(t)
			// The member's first event fails twice; the two after it must wait.
			rc.failFirst[membership.WebhookRolesRevoked] = 2
			register(t, n, o, rc, membership.WebhookRolesRevoked, membership.WebhookGroupMemberRemoved, membership.WebhookMemberRemoved)
			if _, err := n.svc.RevokeRoles(ctx, o.owner, membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: []string{"viewer"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := n.svc.RemoveGroupMember(ctx, o.owner, membership.RemoveGroupMemberRequest{Group: membership.Ref{ID: o.group.ID}, Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
				t.Fatal(err)
			}
			if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
				t.Fatal(err)
			}
			got := rc.waitFor(t, 3)
			var types []string
			for _, g := range got {
				types = append(types, g.Type)
			}
			want := []string{membership.WebhookRolesRevoked, membership.WebhookGroupMemberRemoved, membership.WebhookMemberRemoved}
			if diff := cmp.Diff(want, types); diff != "" {
				t.Fatalf("order (-want +got):\n%s", diff)
			}
		})

		t.Run("GivesUpAndGoesOn", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "giveup")
			rc := newReceiver(t)
			rc.failAll = true
			ep := register(t, n, o, rc, membership.WebhookRolesRevoked, membership.WebhookMemberRemoved)
			if _, err := n.svc.RevokeRoles(ctx, o.owner, membership.RevokeRolesRequest{SpaceMemberID: o.sm.ID, Roles: []string{"viewer"}}); err != nil {
				t.Fatal(err)
			}
			ds, err := n.svc.WebhookDeliveries(ctx, o.owner, ep.UUID, membership.WebhookDeliveryListParams{})
			if err != nil || len(ds) != 1 {
				t.Fatalf("deliveries %v %v", ds, err)
			}
			log := waitDelivery(t, n, o, ds[0].UUID, membership.DeliveryFailed)
			if len(log.Attempts) != 4 {
				t.Fatalf("%d attempts, want the policy's 4", len(log.Attempts))
			}
			rc.mu.Lock()
			rc.failAll = false
			rc.mu.Unlock()
			if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
				t.Fatal(err)
			}
			if got := rc.waitFor(t, 1); got[0].Type != membership.WebhookMemberRemoved {
				t.Fatalf("received %+v", got)
			}
		})

		t.Run("Refusals", func(t *testing.T) {
			n := startNode(t, db, testConfig(), svcConfig())
			o := setupOrg(t, n.svc, "whrefuse")
			for _, req := range []membership.CreateWebhookEndpointRequest{
				{URL: "ftp://example.test/x", Events: []string{membership.WebhookMemberRemoved}},
				{URL: "http://127.0.0.1/x"},
				{URL: "http://127.0.0.1/x", Events: []string{"member.exploded"}},
			} {
				if _, err := n.svc.CreateWebhookEndpoint(ctx, o.owner, req); membership.ErrorCode(err) != membership.CodeInvalid {
					t.Errorf("%+v: %v", req, err)
				}
			}
			bob := membership.Actor{OrgID: o.owner.OrgID, MemberID: o.member.ID, Interface: "test"}
			if _, err := n.svc.CreateWebhookEndpoint(ctx, bob, membership.CreateWebhookEndpointRequest{URL: "http://127.0.0.1/x", Events: []string{membership.WebhookMemberRemoved}}); membership.ErrorCode(err) != membership.CodeForbidden {
				t.Errorf("plain member: %v", err)
			}
		})
	})
}

func waitDelivery(t *testing.T, n *node, o *org, id, status string) *membership.WebhookDeliveryLog {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		log, err := n.svc.WebhookDelivery(context.Background(), o.owner, id)
		if err != nil {
			t.Fatal(err)
		}
		if log.Delivery.Status == status {
			return log
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s is %s, want %s", id, log.Delivery.Status, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSignature(t *testing.T) {
	// The Standard Webhooks specification's own example.
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	id, at := "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	sig, err := jobs.SignWebhook(secret, id, at, body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; sig != want {
		t.Fatalf("signature %q, want %q", sig, want)
	}
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bogus "+sig)
	if err := jobs.VerifyWebhook(secret, h, body, at.Add(time.Minute), jobs.DefaultWebhookTolerance); err != nil {
		t.Fatal(err)
	}
	if err := jobs.VerifyWebhook(secret, h, []byte(`{"test": 1}`), at, jobs.DefaultWebhookTolerance); err == nil {
		t.Fatal("a changed body verified")
	}
	if err := jobs.VerifyWebhook(secret, h, body, at.Add(time.Hour), jobs.DefaultWebhookTolerance); err == nil {
		t.Fatal("an old timestamp verified")
	}
}
