package admin_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

// These tests drive the console's handlers over HTTP without a browser:
// what the browser tests cannot see (cookie flags, headers, forged forms,
// sessions ending underneath a page) and refusals on both engines.

func TestSignIn(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		wantSignIn(t, c.get(t, admin.Prefix+"/members"))

		// A plain member is refused in words, and it is audited.
		mark := c.LastEventID(t, 1)
		p := c.signIn(t, c.Demo.MemberToken)
		wantStatus(t, p, http.StatusForbidden)
		if !strings.Contains(p.Body, "only owners and admins can use the admin console") || sessionCookie(p) != nil {
			t.Errorf("plain member: want the refusal in words and no session\n%s", p.Body)
		}
		if got := dialecttest.Actions(c.refusalsSince(t, 1, mark)); !slices.Equal(got, []string{"session.created"}) {
			t.Errorf("refusals: got %v, want [session.create]", got)
		}

		// A wrong credential is refused too.
		p = c.signIn(t, "mbd_0123456789abcdef_wrong")
		wantStatus(t, p, http.StatusUnauthorized)
		if !strings.Contains(p.Body, "invalid token") {
			t.Errorf("wrong credential: want the reason on the page\n%s", p.Body)
		}

		c.mustSignIn(t, c.Demo.AdminToken)
		p = c.get(t, admin.Prefix+"/members")
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(p.Body, "alice@acme.test · admin") {
			t.Errorf("members page does not say who is signed in")
		}
		for name, want := range map[string]string{
			"Content-Security-Policy": "default-src 'none'; script-src 'self'",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := p.Header.Get(name); !strings.HasPrefix(got, want) {
				t.Errorf("%s: got %q, want %q", name, got, want)
			}
		}
		if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, " style=") || strings.Contains(p.Body, " onclick=") {
			t.Errorf("the page has inline script or style, which the CSP forbids")
		}

		// Signing out ends the session: the old cookie no longer works.
		old := c.client.Jar.Cookies(mustURL(t, c.Srv.URL+admin.Prefix+"/"))
		p = c.post(t, admin.Prefix+"/signout", url.Values{"csrf": {csrf(t, p)}})
		wantSignIn(t, p)
		c.client.Jar.SetCookies(mustURL(t, c.Srv.URL+admin.Prefix+"/"), old)
		wantSignIn(t, c.get(t, admin.Prefix+"/members"))
	})
}

func describe(evs []*membership.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Action + " by #" + itoa(e.ActorMemberID) + ": " + e.Message + "; ")
	}
	return "[" + b.String() + "]"
}

func mustURL(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestCookieFlags(t *testing.T) {
	st := dialecttest.Load(t, "sqlite", time.Time{})
	signIn := func(t *testing.T, cfg admin.Config, prepare func(r *http.Request)) *http.Cookie {
		t.Helper()
		h := admin.NewHandler(st.Svc, cfg)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, admin.Prefix+"/signin", nil))
		formCookie := rec.Result().Cookies()[0]
		form := url.Values{"csrf": {formCookie.Value}, "credential": {st.Demo.OwnerToken}}
		req := httptest.NewRequest(http.MethodPost, admin.Prefix+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(formCookie)
		if prepare != nil {
			prepare(req)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			t.Fatalf("sign in: got %d\n%s", rec.Code, rec.Body)
		}
		for _, ck := range rec.Result().Cookies() {
			if ck.Name == admin.SessionCookie {
				return ck
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	https := func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }
	for _, tc := range []struct {
		name       string
		trustProxy bool
		prepare    func(r *http.Request)
		secure     bool
	}{
		{"PlainHTTP", false, nil, false},
		{"TLS", false, func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"TrustedProxySaysHTTPS", true, https, true},
		{"UntrustedProxySaysHTTPS", false, https, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := admin.DefaultConfig()
			cfg.TrustProxy = tc.trustProxy
			ck := signIn(t, cfg, tc.prepare)
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != admin.Prefix || ck.Secure != tc.secure {
				t.Errorf("cookie: HttpOnly %v, SameSite %v, Path %q, Secure %v; want HttpOnly, Strict, %q, Secure %v",
					ck.HttpOnly, ck.SameSite, ck.Path, ck.Secure, admin.Prefix, tc.secure)
			}
			if !strings.HasPrefix(ck.Value, "mbs_") || ck.Expires.IsZero() {
				t.Errorf("cookie value %q expires %v: want a session token with an expiry", ck.Value, ck.Expires)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		c.mustSignIn(t, c.Demo.OwnerToken)
		p := c.get(t, admin.Prefix+"/members/10/remove")
		wantStatus(t, p, http.StatusOK)
		good := csrf(t, p)
		other := &console{Served: c.Served, client: newClient(t)}
		other.mustSignIn(t, c.Demo.AdminToken)
		before := c.Digest(t)
		mark := c.LastEventID(t, 1)
		for name, form := range map[string]url.Values{
			"Missing": {},
			"Wrong":   {"csrf": {strings.Repeat("A", len(good))}},
		} {
			p := c.post(t, admin.Prefix+"/members/10/remove", form)
			wantStatus(t, p, http.StatusForbidden)
			if !strings.Contains(p.Body, "did not come from this console") {
				t.Errorf("%s token: the page does not say why\n%s", name, p.Body)
			}
		}
		// Another session's token does not pass either.
		wantStatus(t, other.post(t, admin.Prefix+"/members/10/remove", url.Values{"csrf": {good}}), http.StatusForbidden)
		if after := c.Digest(t); after != before {
			t.Errorf("a refused form changed state")
		}
		if got := dialecttest.Actions(c.refusalsSince(t, 1, mark)); !slices.Equal(got, []string{"member.removed", "member.removed", "member.removed"}) {
			t.Errorf("refusals: got %v, want three member.remove", got)
		}
		// The sign-in form needs its own token.
		fresh := &console{Served: c.Served, client: newClient(t)}
		wantStatus(t, fresh.post(t, admin.Prefix+"/signin", url.Values{"credential": {c.Demo.OwnerToken}}), http.StatusForbidden)
		// With the right token it works.
		p = c.post(t, admin.Prefix+"/members/10/remove", url.Values{"csrf": {good}})
		wantStatus(t, p, http.StatusOK)
		if m := c.Member(t, 10); m.Active() {
			t.Errorf("member 10 is still active after a confirmed removal")
		}
	})
}

func TestSessionEnds(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		ctx := context.Background()
		check := func(t *testing.T, end func(c *console), reason string) {
			t.Helper()
			s := &console{Served: c.Served, client: newClient(t)}
			secret := c.Credential(t, 3, []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}, nil)
			s.mustSignIn(t, secret)
			wantStatus(t, s.get(t, admin.Prefix+"/members"), http.StatusOK)
			mark := c.LastEventID(t, 1)
			end(s)
			p := s.get(t, admin.Prefix+"/members")
			wantSignIn(t, p)
			if loc := p.Header.Get("Location"); !strings.Contains(loc, url.QueryEscape(reason)) {
				t.Errorf("redirect %q does not say %q", loc, reason)
			}
			// The refusal is audited under the session's organization and member.
			got := c.refusalsSince(t, 1, mark)
			if len(got) != 1 || got[0].Action != membership.ActionRequestAuthenticated || got[0].ActorMemberID != 3 || !strings.Contains(got[0].Message, reason) {
				t.Errorf("audited refusals of the ended session: got %s, want one auth refusal by member 3 saying %q", describe(got), reason)
			}
		}
		t.Run("Idle", func(t *testing.T) {
			check(t, func(*console) { c.Clock.Advance(membership.SessionIdle) }, "without use")
		})
		t.Run("Revoked", func(t *testing.T) {
			check(t, func(s *console) {
				ss, err := c.Svc.Sessions(ctx, c.Owner)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Svc.RevokeSession(ctx, c.Owner, ss[0].UUID); err != nil {
					t.Fatal(err)
				}
			}, "session was ended")
		})
		t.Run("CredentialRevoked", func(t *testing.T) {
			check(t, func(s *console) {
				creds, err := c.Svc.Credentials(ctx, c.Owner)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.Svc.RevokeCredential(ctx, c.Owner, creds[len(creds)-1].ID); err != nil {
					t.Fatal(err)
				}
			}, "has been revoked")
		})
		t.Run("MemberRemoved", func(t *testing.T) {
			check(t, func(s *console) {
				if _, err := c.Svc.RemoveMember(ctx, c.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 3}}); err != nil {
					t.Fatal(err)
				}
			}, "member has been removed")
		})
		t.Run("Expired", func(t *testing.T) {
			c.Clock.Advance(membership.SessionTTL) // nothing signed in before this subtest survives it
			s := &console{Served: c.Served, client: newClient(t)}
			s.mustSignIn(t, c.Demo.OwnerToken)
			for range int(membership.SessionTTL/(20*time.Minute)) - 1 {
				c.Clock.Advance(20 * time.Minute)
				wantStatus(t, s.get(t, admin.Prefix+"/members?status=active"), http.StatusOK)
			}
			c.Clock.Advance(20 * time.Minute)
			wantSignIn(t, s.get(t, admin.Prefix+"/members"))
		})
	})
}

func TestSessionsPage(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	admin2 := &console{Served: c.Served, client: newClient(t)}
	admin2.mustSignIn(t, c.Demo.AdminToken)
	c.mustSignIn(t, c.Demo.OwnerToken)
	p := c.get(t, admin.Prefix+"/sessions")
	wantStatus(t, p, http.StatusOK)
	if !strings.Contains(p.Body, "alice@acme.test") || !strings.Contains(p.Body, "(this session)") {
		t.Fatalf("the owner's sessions page lists not both sessions\n%s", p.Body)
	}
	ss, err := c.Svc.Sessions(context.Background(), c.Owner)
	if err != nil {
		t.Fatal(err)
	}
	var alices string
	for _, s := range ss {
		if s.MemberID == 2 {
			alices = s.UUID
		}
	}
	wantStatus(t, c.post(t, admin.Prefix+"/sessions/"+alices+"/revoke", url.Values{"csrf": {csrf(t, p)}}), http.StatusSeeOther)
	wantSignIn(t, admin2.get(t, admin.Prefix+"/members"))
	// An admin sees only their own sessions.
	admin2.mustSignIn(t, c.Demo.AdminToken)
	if p := admin2.get(t, admin.Prefix+"/sessions"); strings.Contains(p.Body, "owner@acme.test</a>") {
		t.Errorf("an admin sees the owner's session")
	}
}

func TestOtherOrganization(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		c.OtherOrg(t)
		other := c.Orgs[1].MemberID // the other organization's owner
		c.mustSignIn(t, c.Demo.OwnerToken)
		csrfTok := csrf(t, c.get(t, admin.Prefix+"/members"))
		before := c.Digest(t)
		for _, p := range []*page{
			c.get(t, admin.Prefix+"/members/"+itoa(other)),
			c.get(t, admin.Prefix+"/members/"+itoa(other)+"/remove"),
			c.post(t, admin.Prefix+"/members/"+itoa(other)+"/remove", url.Values{"csrf": {csrfTok}}),
			c.post(t, admin.Prefix+"/members/"+itoa(other)+"/restore", url.Values{"csrf": {csrfTok}}),
			c.get(t, admin.Prefix+"/members/not-a-number"),
		} {
			wantStatus(t, p, http.StatusNotFound)
			if !strings.Contains(p.Body, "<h1>Not found</h1>") || !strings.Contains(p.Body, "no such member") {
				t.Errorf("%s %s: want the not-found page\n%s", p.Request.Method, p.Request.URL.Path, p.Body)
			}
		}
		if after := c.Digest(t); after != before {
			t.Errorf("another organization's ids changed state")
		}
		if m, err := c.Svc.Member(context.Background(), c.Orgs[1], membership.MemberRef{ID: other}); err != nil || !m.Active() {
			t.Errorf("the other organization's owner: %v, %v", m, err)
		}
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestRefusalsInWords(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	// A read-only credential of an admin may look but not remove.
	reader := c.Credential(t, 2, []string{membership.ScopeMembersRead}, nil)
	c.mustSignIn(t, reader)
	p := c.get(t, admin.Prefix+"/members/10/remove")
	wantStatus(t, p, http.StatusForbidden)
	if !strings.Contains(p.Body, `lacks the &#34;members:write&#34; scope`) {
		t.Errorf("missing scope: not said in words\n%s", p.Body)
	}
	wantStatus(t, c.get(t, admin.Prefix+"/audit"), http.StatusForbidden)

	// The last owner cannot be removed: the page says so and nothing changes.
	c.mustSignIn(t, c.Demo.OwnerToken)
	before := c.Digest(t)
	p = c.get(t, admin.Prefix+"/members/1/remove")
	wantStatus(t, p, http.StatusConflict)
	if !strings.Contains(p.Body, "cannot remove the last owner") || !strings.Contains(p.Body, "Nothing was changed.") {
		t.Errorf("last owner: not said in words\n%s", p.Body)
	}
	// Too many members for one batch.
	q := url.Values{}
	for id := 10; id < 10+c.Svc.BatchLimit()+1; id++ {
		q.Add("member", itoa(int64(id)))
	}
	p = c.get(t, admin.Prefix+"/removals?"+q.Encode())
	wantStatus(t, p, http.StatusBadRequest)
	if !strings.Contains(p.Body, "too many members: at most 100") {
		t.Errorf("batch limit: not said in words\n%s", p.Body)
	}
	p = c.post(t, admin.Prefix+"/removals", url.Values{"csrf": {csrf(t, p)}, "member": q["member"]})
	wantStatus(t, p, http.StatusBadRequest)
	if after := c.Digest(t); after != before {
		t.Errorf("refusals changed state")
	}
}

func TestSignInRateLimit(t *testing.T) {
	cfg := admin.DefaultConfig()
	cfg.SignInEvery, cfg.SignInBurst = time.Hour, 2
	c := newConsole(t, "sqlite", cfg)
	wantStatus(t, c.signIn(t, "mbd_0123456789abcdef_wrong"), http.StatusUnauthorized)
	wantStatus(t, c.signIn(t, "mbd_0123456789abcdef_wrong"), http.StatusUnauthorized)
	p := c.signIn(t, c.Demo.OwnerToken)
	wantStatus(t, p, http.StatusTooManyRequests)
	if p.Header.Get("Retry-After") == "" || !strings.Contains(p.Body, "Too many sign-in attempts") || sessionCookie(p) != nil {
		t.Errorf("rate limited sign-in: want Retry-After, the reason and no session\n%s", p.Body)
	}
}

func TestSignInLink(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	token, _, err := c.Svc.CreateSignInLink(context.Background(), 1, membership.MemberRef{Email: "alice@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	p := c.get(t, admin.Prefix+"/signin/link?token="+token)
	wantStatus(t, p, http.StatusOK)
	if sessionCookie(p) != nil {
		t.Fatal("following the link signed in before the form was sent")
	}
	form := url.Values{"csrf": {csrf(t, p)}, "token": {token}}
	p = c.post(t, admin.Prefix+"/signin/link", form)
	if p.StatusCode != http.StatusSeeOther || sessionCookie(p) == nil {
		t.Fatalf("link sign-in: got %d\n%s", p.StatusCode, p.Body)
	}
	wantStatus(t, c.get(t, admin.Prefix+"/members"), http.StatusOK)
	// The link works once.
	again := &console{Served: c.Served, client: newClient(t)}
	p = again.get(t, admin.Prefix+"/signin/link?token="+token)
	p = again.post(t, admin.Prefix+"/signin/link", url.Values{"csrf": {csrf(t, p)}, "token": {token}})
	wantStatus(t, p, http.StatusUnauthorized)
	if !strings.Contains(p.Body, "already used") {
		t.Errorf("a spent link: not said in words\n%s", p.Body)
	}
}

// TestCrossSiteFormsRefused: a form a browser posts from another site is
// refused even with this session's CSRF token (which a leak could give
// away), by Sec-Fetch-Site or, from older browsers, Origin; the console's
// own forms pass.
func TestCrossSiteFormsRefused(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	c.mustSignIn(t, c.Demo.OwnerToken)
	good := csrf(t, c.get(t, admin.Prefix+"/members/10/remove"))
	post := func(header ...string) *page {
		req, err := http.NewRequest(http.MethodPost, c.Srv.URL+admin.Prefix+"/members/10/remove", strings.NewReader(url.Values{"csrf": {good}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		return c.do(t, req)
	}
	before := c.Digest(t)
	for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "http://evil.test"}} {
		p := post(h...)
		wantStatus(t, p, http.StatusForbidden)
		if !strings.Contains(p.Body, "did not come from this console") {
			t.Errorf("%v: the page does not say why\n%s", h, p.Body)
		}
	}
	if c.Digest(t) != before {
		t.Fatal("a cross-site form changed state")
	}
	wantStatus(t, post("Sec-Fetch-Site", "same-origin", "Origin", c.Srv.URL), http.StatusOK)
	if m := c.Member(t, 10); m.Active() {
		t.Error("member 10 is still active after the console's own form")
	}
}

// TestFormLimits: a form over the body limit is answered 413 (not as a
// forged form), and the static directory lists nothing.
func TestFormLimits(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	c.mustSignIn(t, c.Demo.OwnerToken)
	good := csrf(t, c.get(t, admin.Prefix+"/members/10/remove"))
	p := c.post(t, admin.Prefix+"/members/10/remove", url.Values{"csrf": {good}, "pad": {strings.Repeat("x", 1<<20)}})
	wantStatus(t, p, http.StatusRequestEntityTooLarge)
	if !c.Member(t, 10).Active() {
		t.Error("an oversized form removed member 10")
	}
	wantStatus(t, c.get(t, admin.Prefix+"/static/"), http.StatusNotFound)
	wantStatus(t, c.get(t, admin.Prefix+"/static/console.css"), http.StatusOK)
}

// TestSignInFormLimit: a sign-in form over the body limit is answered 413
// on the sign-in page, not as an expired form.
func TestSignInFormLimit(t *testing.T) {
	c := newConsole(t, "sqlite", admin.DefaultConfig())
	for _, path := range []string{admin.Prefix + "/signin", admin.Prefix + "/signin/link"} {
		p := c.post(t, path, url.Values{"credential": {"x"}, "pad": {strings.Repeat("x", 1<<20)}})
		wantStatus(t, p, http.StatusRequestEntityTooLarge)
	}
}
