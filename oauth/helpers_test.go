package oauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/compat/highq"
	"github.com/memberd/memberd/compat/workiva"
	"github.com/memberd/memberd/httpapi"
	"github.com/memberd/memberd/internal/browsertest"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/internal/respond"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/oauth"
)

func TestMain(m *testing.M) { pgtest.Main(m, browsertest.Close) }

// server is the demo organization on one engine with every interface a
// token reaches mounted as cmd/memberd mounts it: the OAuth endpoints, the
// Workiva and HighQ dialects, the native API and the console.
type server struct {
	*dialecttest.Env
	srv *httptest.Server
	// other is a second organization's owner, for tenant walls.
	other membership.Actor
}

type serverOption func(*oauth.Config)

func newServer(t testing.TB, engine string, opts ...serverOption) *server {
	t.Helper()
	e := dialecttest.Load(t, engine, dialecttest.LoadTime)
	jcfg := jobs.DefaultConfig()
	jcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := membership.DefaultConfig()
	cfg.Now = e.Clock.Now
	cfg.Queue = jobstest.NewQueue(t, e.Store, jcfg)
	e.Svc = membership.NewService(e.Store, cfg)
	authn := auth.New(e.Svc, auth.Limits{})
	ocfg := oauth.DefaultConfig()
	for _, o := range opts {
		o(&ocfg)
	}
	mux := http.NewServeMux()
	oh := oauth.NewHandler(e.Svc, ocfg)
	for _, p := range oauth.Paths {
		mux.Handle(p, oh)
	}
	wcfg := workiva.DefaultConfig()
	mux.Handle("/prototype/", workiva.NewHandler(e.Svc, authn, wcfg))
	mux.Handle("/api/3/", highq.NewHandler(e.Svc, authn))
	mux.Handle(httpapi.Prefix+"/", httpapi.NewHandler(e.Svc, authn))
	acfg := admin.DefaultConfig()
	acfg.SignInEvery = 0
	acfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	mux.Handle(admin.Prefix+"/", admin.NewHandler(e.Svc, acfg))
	// As cmd/memberd wraps it, the test's loopback client trusted as a
	// proxy: X-Forwarded-For then names the client address a test plays.
	s := &server{Env: e, srv: httptest.NewServer(respond.WithClientAddr(respond.WithRequestID(mux), dialecttest.Loopback))}
	t.Cleanup(s.srv.Close)
	ob, err := e.Svc.CreateOrganization(context.Background(), membership.BootstrapRequest{OrgName: "Globex", OwnerEmail: "owner@globex.test"})
	if err != nil {
		t.Fatal(err)
	}
	s.other = membership.Actor{OrgID: ob.Organization.ID, MemberID: ob.Owner.ID, Scopes: membership.AllScopes(), Interface: "test"}
	e.Orgs = append(e.Orgs, s.other)
	return s
}

// client registers an OAuth client of owner's organization.
func (s *server) client(t testing.TB, owner membership.Actor, req membership.CreateOAuthClientRequest) *membership.IssuedOAuthClient {
	t.Helper()
	if req.Name == "" {
		req.Name = "test client"
	}
	c, err := s.Svc.CreateOAuthClient(context.Background(), owner, req)
	if err != nil {
		t.Fatalf("create OAuth client: %v", err)
	}
	return c
}

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a *answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return m
}

// do sends one request to the server; header pairs follow the body.
func (s *server) do(t testing.TB, method, path, body string, header ...string) *answer {
	t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return s.send(t, req)
}

// send sends req without following redirects.
func (s *server) send(t testing.TB, req *http.Request) *answer {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: data}
}

const form = "application/x-www-form-urlencoded"

// token posts a form to a token endpoint and returns the answer.
func (s *server) token(t testing.TB, path string, v url.Values, header ...string) *answer {
	t.Helper()
	return s.do(t, http.MethodPost, path, v.Encode(), append([]string{"Content-Type", form}, header...)...)
}

// wantOAuthError checks an RFC 6749 error answer: status, error code, a
// description, no-store, and nothing else in the body.
func wantOAuthError(t testing.TB, a *answer, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	m := a.json(t)
	if m["error"] != code || m["error_description"] == "" || len(m) != 2 {
		t.Fatalf("body %s, want error %q with a description and nothing else", a.body, code)
	}
	if a.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("headers %v, want JSON with Cache-Control: no-store", a.header)
	}
	if status == http.StatusUnauthorized && a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("a 401 without WWW-Authenticate")
	}
}

// refusedAttempts counts the attempts at action that rows of refused
// authentications record, each row's count read from its message
// ("reason (N attempts); ..."); AllEvents writes the tally first.
func (s *server) refusedAttempts(t testing.TB, action string) int {
	t.Helper()
	n := 0
	for _, ev := range s.AllEvents(t) {
		if ev.Action != membership.ActionRequestAuthenticated || ev.Outcome != membership.OutcomeRefused || ev.Iface != oauth.Interface {
			continue
		}
		for _, part := range strings.Split(ev.Message, "; ") {
			reason, count, many := strings.Cut(part, " (")
			if !strings.HasPrefix(reason, action+" refused") {
				continue
			}
			k := 1
			if many {
				if _, err := fmt.Sscanf(count, "%d attempts)", &k); err != nil {
					t.Fatalf("row message %q: %v", ev.Message, err)
				}
			}
			n += k
		}
	}
	return n
}

// refusals counts the refused events of action in every organization and
// in none.
func (s *server) refusals(t testing.TB, action string) int {
	t.Helper()
	n := 0
	for _, ev := range s.AllEvents(t) {
		if ev.Action == action && ev.Outcome == membership.OutcomeRefused {
			n++
		}
	}
	return n
}
