package admin_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/auth"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/jobs"
	"github.com/memberd/memberd/jobs/jobstest"
	"github.com/memberd/memberd/membership"
)

// console is the demo organization on one engine with the console served
// on loopback, its job queue connected (not started: scheduled removals
// stay scheduled), and a cookie-keeping client that does not follow
// redirects, so tests see each answer.
type console struct {
	*dialecttest.Served
	client *http.Client
}

func newConsole(tb testing.TB, engine string, cfg admin.Config) *console {
	tb.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	env := dialecttest.Load(tb, engine, time.Time{})
	connectQueue(tb, env)
	s := &dialecttest.Served{Env: env}
	s.Srv = env.Serve(tb, admin.Prefix+"/", func(svc *membership.Service, _ *auth.Authenticator) http.Handler {
		return admin.NewHandler(svc, cfg)
	}, auth.Limits{})
	return &console{Served: s, client: newClient(tb)}
}

// connectQueue rebuilds env's service with a job queue, as the server has,
// without running its jobs: schedules are accepted and stay pending.
func connectQueue(tb testing.TB, env *dialecttest.Env) {
	tb.Helper()
	jcfg := jobs.DefaultConfig()
	jcfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := membership.DefaultConfig()
	cfg.Now = env.Clock.Now
	cfg.Queue = jobstest.NewQueue(tb, env.Store, jcfg)
	env.Svc = membership.NewService(env.Store, cfg)
}

func newClient(tb testing.TB) *http.Client {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// page is an answer read in full.
type page struct {
	*http.Response
	Body string
}

func (c *console) do(tb testing.TB, req *http.Request) *page {
	tb.Helper()
	resp, err := c.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &page{Response: resp, Body: string(body)}
}

func (c *console) get(tb testing.TB, path string) *page {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, c.Srv.URL+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return c.do(tb, req)
}

func (c *console) post(tb testing.TB, path string, form url.Values) *page {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, c.Srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(tb, req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page's forms.
func csrf(tb testing.TB, p *page) string {
	tb.Helper()
	m := csrfRE.FindStringSubmatch(p.Body)
	if m == nil {
		tb.Fatalf("no csrf field on the page:\n%s", p.Body)
	}
	return m[1]
}

// signIn signs the client in with secret and returns the answer to the
// sign-in form.
func (c *console) signIn(tb testing.TB, secret string) *page {
	tb.Helper()
	form := c.get(tb, admin.Prefix+"/signin")
	return c.post(tb, admin.Prefix+"/signin", url.Values{"csrf": {csrf(tb, form)}, "credential": {secret}, "next": {admin.Prefix + "/members"}})
}

// mustSignIn signs in and fails the test unless it worked.
func (c *console) mustSignIn(tb testing.TB, secret string) {
	tb.Helper()
	if p := c.signIn(tb, secret); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != admin.Prefix+"/members" {
		tb.Fatalf("sign in: got %d %q, want 303 to the members page\n%s", p.StatusCode, p.Header.Get("Location"), p.Body)
	}
}

// wantStatus fails unless p has status want.
func wantStatus(tb testing.TB, p *page, want int) {
	tb.Helper()
	if p.StatusCode != want {
		tb.Fatalf("%s %s: got status %d, want %d\n%s", p.Request.Method, p.Request.URL.Path, p.StatusCode, want, p.Body)
	}
}

// wantSignIn fails unless p sends the browser to the sign-in page.
func wantSignIn(tb testing.TB, p *page) {
	tb.Helper()
	if p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), admin.Prefix+"/signin") {
		tb.Fatalf("%s %s: got %d %q, want a redirect to sign in", p.Request.Method, p.Request.URL.Path, p.StatusCode, p.Header.Get("Location"))
	}
}

// sessionCookie returns the Set-Cookie of the session on p, if any.
func sessionCookie(p *page) *http.Cookie {
	for _, ck := range p.Cookies() {
		if ck.Name == admin.SessionCookie {
			return ck
		}
	}
	return nil
}

// refusalsSince returns the admin interface's refused events of org after
// event id mark.
func (c *console) refusalsSince(tb testing.TB, org, mark int64) []*membership.Event {
	tb.Helper()
	return c.Refusals(tb, admin.Interface, org, mark)
}
