package jobs_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/netguard"
	"github.com/memberd/memberd/membership"
)

// TestWebhookTargets holds the SSRF guard end to end: registration
// refuses targets inside memberd's network unless allowed, delivery
// refuses them again at dial time whatever a name resolved to before,
// follows no redirect, and keeps only a short prefix of an answer.
func TestWebhookTargets(t *testing.T) {
	db := engines()[0].db(t) // the guard does not touch storage; SQLite is enough
	ctx := context.Background()

	t.Run("RegistrationRefusesLoopback", func(t *testing.T) {
		n := startNode(t, db, testConfig(), membership.DefaultConfig()) // no allow-list
		o := setupOrg(t, n.svc, "strict")
		for _, url := range []string{"http://127.0.0.1:8080/x", "http://localhost/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x",
			"http://0.0.0.0/x", "http://2130706433/x", "http://0177.0.0.1/x", "http://0x7f.1/x", "http://127.1/x", "http://169.254.169.254/x"} {
			_, err := n.svc.CreateWebhookEndpoint(ctx, o.owner, membership.CreateWebhookEndpointRequest{URL: url, Events: []string{membership.WebhookMemberRemoved}})
			if membership.ErrorCode(err) != membership.CodeInvalid {
				t.Errorf("%s: %v", url, err)
			}
		}
	})

	t.Run("DialTime", func(t *testing.T) {
		// Registration saw a name it allowed; by delivery the name leads
		// to loopback, which the delivery client refuses (DNS rebinding).
		cfg := testConfig()
		cfg.HTTPClient = (&netguard.Guard{}).Client(0)
		svcCfg := svcConfig()
		svcCfg.WebhookGuard = &netguard.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
		n := startNode(t, db, cfg, svcCfg)
		o := setupOrg(t, n.svc, "rebind")
		rc := newReceiver(t)
		port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":"):]
		ep, err := n.svc.CreateWebhookEndpoint(ctx, o.owner, membership.CreateWebhookEndpointRequest{URL: "http://localhost" + port + "/hooks", Events: []string{membership.WebhookMemberRemoved}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
			t.Fatal(err)
		}
		log := firstAttempt(t, n, o, ep.Endpoint.UUID)
		if log.Attempts[0].Error != "target not allowed" || log.Attempts[0].StatusCode != 0 {
			t.Fatalf("attempt %+v, want only %q", log.Attempts[0], "target not allowed")
		}
		if got := rc.received(); len(got) != 0 {
			t.Fatalf("the receiver got %+v", got)
		}
	})

	t.Run("NoRedirectShortPrefix", func(t *testing.T) {
		var inside atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/redirect":
				http.Redirect(w, r, "/inside", http.StatusFound)
			case "/inside":
				inside.Add(1)
			default:
				http.Error(w, strings.Repeat("secret page ", 1000), http.StatusInternalServerError)
			}
		}))
		t.Cleanup(srv.Close)
		n := startNode(t, db, testConfig(), svcConfig())
		o := setupOrg(t, n.svc, "redirect")
		var eps []string
		for _, path := range []string{"/redirect", "/big"} {
			ep, err := n.svc.CreateWebhookEndpoint(ctx, o.owner, membership.CreateWebhookEndpointRequest{URL: srv.URL + path, Events: []string{membership.WebhookMemberRemoved}})
			if err != nil {
				t.Fatal(err)
			}
			eps = append(eps, ep.Endpoint.UUID)
		}
		if _, err := n.svc.RemoveMember(ctx, o.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: o.member.ID}}); err != nil {
			t.Fatal(err)
		}
		if a := firstAttempt(t, n, o, eps[0]).Attempts[0]; a.StatusCode != http.StatusFound || inside.Load() != 0 {
			t.Fatalf("attempt %+v, %d requests inside: the redirect was followed", a, inside.Load())
		}
		if a := firstAttempt(t, n, o, eps[1]).Attempts[0]; a.StatusCode != 500 || len(a.Response) > 256 || !strings.HasPrefix(a.Response, "secret page") {
			t.Fatalf("attempt kept %d bytes of the answer: %q", len(a.Response), a.Response)
		}
	})
}

// firstAttempt waits for the first attempt at the endpoint's first
// delivery and returns that delivery's log.
func firstAttempt(t *testing.T, n *node, o *org, endpoint string) *membership.WebhookDeliveryLog {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ds, err := n.svc.WebhookDeliveries(context.Background(), o.owner, endpoint, membership.WebhookDeliveryListParams{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			log, err := n.svc.WebhookDelivery(context.Background(), o.owner, ds[len(ds)-1].UUID)
			if err != nil {
				t.Fatal(err)
			}
			if len(log.Attempts) > 0 {
				return log
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no attempt at endpoint %s", endpoint)
	return nil
}
