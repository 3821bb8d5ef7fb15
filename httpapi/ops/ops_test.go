package ops_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/httpapi/ops"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

type fixture struct {
	srv    *httptest.Server
	token  string
	reader string // members:read only
	bob    *membership.Member
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	svc := membership.NewService(st, membership.DefaultConfig())
	cfg := jobs.DefaultConfig()
	cfg.FetchPollInterval = 50 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	r, err := jobs.New(ctx, svc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
		st.Close()
	})
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID, Scopes: b.Credential.Scopes, Interface: "test"}
	f := &fixture{token: b.Secret}
	if f.bob, err = svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "bob@acme.test"}); err != nil {
		t.Fatal(err)
	}
	c, err := svc.CreateCredential(ctx, a, membership.CreateCredentialRequest{Name: "ro", Scopes: []string{membership.ScopeMembersRead}})
	if err != nil {
		t.Fatal(err)
	}
	f.reader = c.Secret
	mux := http.NewServeMux()
	h := ops.NewHandler(svc, auth.New(svc, auth.Limits{}))
	for _, p := range ops.Patterns {
		mux.Handle(p, h)
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("%s %s: %d with Content-Type %q", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func TestSchedules(t *testing.T) {
	f := newFixture(t)
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	var op membership.Operation
	if s := f.do(t, f.token, "POST", "/api/v1/schedules", `{"kind":"member.remove","member":"bob@acme.test","effective_at":"`+at+`"}`, &op); s != 201 || op.Status != membership.OperationScheduled {
		t.Fatalf("schedule: %d %+v", s, op)
	}
	var got membership.Operation
	if s := f.do(t, f.reader, "GET", "/api/v1/operations/"+op.UUID, "", &got); s != 200 || got.UUID != op.UUID {
		t.Fatalf("get: %d %+v", s, got)
	}
	var l struct{ Items []membership.Operation }
	if s := f.do(t, f.reader, "GET", "/api/v1/schedules", "", &l); s != 200 || len(l.Items) != 1 {
		t.Fatalf("list: %d %+v", s, l)
	}
	var rep membership.Report
	if s := f.do(t, f.reader, "GET", "/api/v1/schedules/"+op.UUID+"/preview", "", &rep); s != 200 || !rep.DryRun || rep.Member.ID != f.bob.ID {
		t.Fatalf("preview: %d %+v", s, rep)
	}
	if s := f.do(t, f.reader, "DELETE", "/api/v1/schedules/"+op.UUID, "", nil); s != 403 {
		t.Fatalf("cancel without members:write: %d", s)
	}
	if s := f.do(t, f.token, "DELETE", "/api/v1/schedules/"+op.UUID, "", &got); s != 200 || got.Status != membership.OperationCancelled {
		t.Fatalf("cancel: %d %+v", s, got)
	}
	if s := f.do(t, f.token, "DELETE", "/api/v1/schedules/"+op.UUID, "", nil); s != 409 {
		t.Fatalf("second cancel: %d", s)
	}
	for _, tc := range []struct{ body string }{
		{`{"kind":"member.remove","member":"bob@acme.test"}`},
		{`{"kind":"member.explode","member":"bob@acme.test","effective_at":"` + at + `"}`},
		{`{"kind":"space_member.remove","member":"bob@acme.test","effective_at":"` + at + `"}`},
		{`not json`},
	} {
		if s := f.do(t, f.token, "POST", "/api/v1/schedules", tc.body, nil); s != 400 {
			t.Errorf("%s: %d, want 400", tc.body, s)
		}
	}
	if s := f.do(t, "", "GET", "/api/v1/operations", "", nil); s != 401 {
		t.Fatalf("no token: %d", s)
	}
	if s := f.do(t, f.token, "GET", "/api/v1/operations/"+membership.NewUUID(), "", nil); s != 404 {
		t.Fatalf("unknown operation: %d", s)
	}
}

func TestWebhookEndpoints(t *testing.T) {
	f := newFixture(t)
	var created membership.NewWebhookEndpoint
	if s := f.do(t, f.token, "POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["member.removed"]}`, &created); s != 201 || !strings.HasPrefix(created.Secret, "whsec_") {
		t.Fatalf("create: %d %+v", s, created)
	}
	var l struct{ Items []membership.WebhookEndpoint }
	if s := f.do(t, f.reader, "GET", "/api/v1/webhooks", "", &l); s != 200 || len(l.Items) != 1 {
		t.Fatalf("list: %d %+v", s, l)
	}
	if s := f.do(t, f.token, "POST", "/api/v1/webhooks", `{"url":"http://127.0.0.1:9/hook","events":["nope"]}`, nil); s != 400 {
		t.Fatalf("bad event: %d", s)
	}
	var ds struct{ Items []membership.WebhookDelivery }
	if s := f.do(t, f.reader, "GET", "/api/v1/webhooks/"+created.Endpoint.UUID+"/deliveries", "", &ds); s != 200 || len(ds.Items) != 0 {
		t.Fatalf("deliveries: %d %+v", s, ds)
	}
	var ep membership.WebhookEndpoint
	if s := f.do(t, f.token, "DELETE", "/api/v1/webhooks/"+created.Endpoint.UUID, "", &ep); s != 200 || ep.Status != membership.WebhookDisabled {
		t.Fatalf("disable: %d %+v", s, ep)
	}
}
