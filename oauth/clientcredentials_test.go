package oauth_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/oauth"
)

// revocationPath is the seed's Workiva role revocation of the demo's
// Finance workspace membership.
func (s *server) revocationPath() string {
	return fmt.Sprintf("/prototype/admin/organizations/%s/workspaces/%d/memberships/%d/roles/revocation",
		demo.OrgUUID, s.Demo.Spaces[demo.SpaceFinance], s.Demo.WorkivaSpace)
}

// revoke makes the seed's role revocation call, its headers verbatim, with token.
func (s *server) revoke(t testing.TB, token string) *answer {
	t.Helper()
	return s.do(t, http.MethodPost, s.revocationPath(), `["Viewer"]`, "Content-Type", "application/json",
		"Accept", "application/json", "Authorization", "Bearer "+token, "X-Version", "2022-01-01")
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// TestWorkivaClientCredentials replays Workiva's documented token exchange
// ("Retrieve a token": POST /iam/v1/oauth2/token) in each documented form,
// then the seed's role revocation with the token, as a Workiva client
// configured with only a base URL, a client id and a secret makes them.
func TestWorkivaClientCredentials(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		s := newServer(t, engine)
		c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{
			Scopes: []string{membership.ScopeWorkivaOrgRead, membership.ScopeMembersRead}})
		id, secret := c.Client.ClientID, c.Secret
		forms := []struct {
			name     string
			exchange func() *answer
		}{
			// The preferred form: Basic client authentication, a form body.
			{"Basic", func() *answer {
				return s.token(t, "/iam/v1/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
					"Authorization", basic(id, secret), "Accept", "application/json")
			}},
			// "If your user agent cannot set the Authorization header".
			{"FormBody", func() *answer {
				return s.do(t, http.MethodPost, "/iam/v1/oauth2/token",
					"client_id="+id+"&client_secret="+secret+"&grant_type=client_credentials",
					"Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
			}},
			{"JSONBody", func() *answer {
				return s.do(t, http.MethodPost, "/iam/v1/oauth2/token",
					`{"grant_type": "client_credentials", "client_id": "`+id+`", "client_secret": "`+secret+`" }`,
					"Content-Type", "application/json", "X-Version", "2022-01-01")
			}},
			{"StandardPath", func() *answer {
				return s.token(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"organization:read"}},
					"Authorization", basic(id, secret))
			}},
		}
		for i, f := range forms {
			t.Run(f.name, func(t *testing.T) {
				a := f.exchange()
				if a.status != http.StatusOK {
					t.Fatalf("status %d: %s", a.status, a.body)
				}
				m := a.json(t)
				tok, _ := m["access_token"].(string)
				if len(m) != 4 || tok == "" || m["token_type"] != "Bearer" || m["expires_in"] != float64(600) || m["scope"] == "" {
					t.Fatalf("token answer %s: want exactly {access_token, expires_in: 600, scope, token_type: Bearer}", a.body)
				}
				if a.header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control %q", a.header.Get("Cache-Control"))
				}
				// The seed's revocation is accepted once (it then runs as an
				// operation and a second one conflicts with it); every form's
				// token reads the membership it names.
				if i == 0 {
					if r := s.revoke(t, tok); r.status != http.StatusAccepted || r.header.Get("Location") == "" {
						t.Fatalf("role revocation with the token: status %d %s", r.status, r.body)
					}
				}
				membership := strings.TrimSuffix(s.revocationPath(), "/roles/revocation")
				if r := s.do(t, http.MethodGet, membership, "", "Authorization", "Bearer "+tok, "X-Version", "2022-01-01"); r.status != http.StatusOK {
					t.Fatalf("membership read with the token: status %d %s", r.status, r.body)
				}
			})
		}

		t.Run("ScopeNarrows", func(t *testing.T) {
			a := s.token(t, "/iam/v1/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"members:read"}},
				"Authorization", basic(id, secret))
			m := a.json(t)
			if m["scope"] != "members:read" {
				t.Fatalf("scope %v, want members:read", m["scope"])
			}
			// Workiva's document requires organization:read, which this token lacks.
			if r := s.revoke(t, m["access_token"].(string)); r.status != http.StatusForbidden {
				t.Fatalf("revocation with a narrowed token: status %d %s", r.status, r.body)
			}
			before := s.refusals(t, membership.ActionOAuthTokenIssued)
			wantOAuthError(t, s.token(t, "/iam/v1/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"audit:read"}},
				"Authorization", basic(id, secret)), http.StatusBadRequest, "invalid_scope")
			if got := s.refusals(t, membership.ActionOAuthTokenIssued); got != before+1 {
				t.Errorf("refused oauth.token events %d, want %d", got, before+1)
			}
		})
	})
}

// exchange gets a client-credentials token or fails.
func (s *server) exchange(t testing.TB, id, secret string) string {
	t.Helper()
	a := s.token(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic(id, secret))
	if a.status != http.StatusOK {
		t.Fatalf("token: status %d %s", a.status, a.body)
	}
	return a.json(t)["access_token"].(string)
}

// TestTokensEndAtOnce: revoking a client, or removing the member it acts
// as, ends every token it issued with the answer (promise 2); rotating its
// secret ends the old secret.
func TestTokensEndAtOnce(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		s := newServer(t, engine)
		ctx := context.Background()
		read := func(token string) int {
			return s.do(t, http.MethodGet, "/api/3/sites", "", "Authorization", "Bearer "+token).status
		}
		scopes := []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}

		c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: scopes})
		tok := s.exchange(t, c.Client.ClientID, c.Secret)
		if got := read(tok); got != http.StatusOK {
			t.Fatalf("HighQ site list with the token: %d", got)
		}
		// The same token on the native API, which its members:read reaches.
		if a := s.do(t, http.MethodGet, "/api/v1/organization", "", "Authorization", "Bearer "+tok); a.status != http.StatusOK {
			t.Fatalf("native API with the token: %d %s", a.status, a.body)
		}
		if _, err := s.Svc.RevokeOAuthClient(ctx, s.Owner, c.Client.UUID); err != nil {
			t.Fatal(err)
		}
		if got := read(tok); got != http.StatusUnauthorized {
			t.Errorf("after revoking the client: %d, want 401", got)
		}
		wantOAuthError(t, s.token(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
			"Authorization", basic(c.Client.ClientID, c.Secret)), http.StatusUnauthorized, "invalid_client")

		// A client acting as Sam, an admin: removing Sam ends its tokens.
		c = s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: scopes, Member: membership.MemberRef{ID: 3}})
		tok = s.exchange(t, c.Client.ClientID, c.Secret)
		if got := read(tok); got != http.StatusOK {
			t.Fatalf("with Sam's token: %d", got)
		}
		if _, err := s.Svc.RemoveMember(ctx, s.Owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: 3}}); err != nil {
			t.Fatal(err)
		}
		if got := read(tok); got != http.StatusUnauthorized {
			t.Errorf("after removing the client's member: %d, want 401", got)
		}

		// Rotation: the old secret stops, the new one works.
		c = s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: scopes})
		rotated, err := s.Svc.RotateOAuthClientSecret(ctx, s.Owner, c.Client.UUID)
		if err != nil {
			t.Fatal(err)
		}
		wantOAuthError(t, s.token(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}},
			"Authorization", basic(c.Client.ClientID, c.Secret)), http.StatusUnauthorized, "invalid_client")
		s.exchange(t, c.Client.ClientID, rotated.Secret)

		// Expiry: the token lives exactly its lifetime.
		tok = s.exchange(t, c.Client.ClientID, rotated.Secret)
		s.Clock.Advance(membership.DefaultOAuthTokenLifetime)
		if got := read(tok); got != http.StatusUnauthorized {
			t.Errorf("after the token's lifetime: %d, want 401", got)
		}
	})
}

// TestTokenErrors: each malformed or refused token request gets RFC
// 6749's error body and status, and is audited: a confidential client's
// refusal in a row of its own, a request whose client proved nothing in
// the tally of refused authentications, which anyone can add to without
// making memberd write per request.
func TestTokenErrors(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		s := newServer(t, engine)
		c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
		pub := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead},
			Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}})
		auth := basic(c.Client.ClientID, c.Secret)
		cases := []struct {
			name   string
			body   string
			header []string
			status int
			code   string
			// proven: the client authenticated (a confidential client's
			// right secret), so the refusal is a row of its own.
			proven bool
		}{
			{"NoGrantType", "", []string{"Authorization", auth}, 400, "invalid_request", true},
			{"UnknownGrant", "grant_type=password", []string{"Authorization", auth}, 400, "unsupported_grant_type", true},
			{"WrongSecret", "grant_type=client_credentials", []string{"Authorization", basic(c.Client.ClientID, "nope")}, 401, "invalid_client", false},
			{"UnknownClient", "grant_type=client_credentials&client_id=mbc_0000&client_secret=x", nil, 401, "invalid_client", false},
			{"NoClient", "grant_type=client_credentials", nil, 401, "invalid_client", false},
			{"BothAuthMethods", "grant_type=client_credentials&client_secret=" + c.Secret, []string{"Authorization", auth}, 400, "invalid_request", false},
			{"BearerScheme", "grant_type=client_credentials", []string{"Authorization", "Bearer x"}, 401, "invalid_client", false},
			{"RepeatedParameter", "grant_type=client_credentials&grant_type=client_credentials", []string{"Authorization", auth}, 400, "invalid_request", false},
			{"PublicClientCredentials", "grant_type=client_credentials&client_id=" + pub.Client.ClientID, nil, 400, "unauthorized_client", false},
			{"BadCode", "grant_type=authorization_code&code=mba_nope", []string{"Authorization", auth}, 400, "invalid_grant", true},
			{"NoCode", "grant_type=authorization_code", []string{"Authorization", auth}, 400, "invalid_request", true},
			{"BadRefresh", "grant_type=refresh_token&refresh_token=mbr_nope", []string{"Authorization", auth}, 400, "invalid_grant", true},
			{"WideScope", "grant_type=client_credentials&scope=members:write", []string{"Authorization", auth}, 400, "invalid_scope", true},
			{"TextBody", "grant_type=client_credentials", []string{"Authorization", auth, "Content-Type", "text/plain"}, 400, "invalid_request", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				count := s.refusals
				if !tc.proven {
					count = s.refusedAttempts
				}
				before := count(t, membership.ActionOAuthTokenIssued)
				header := append([]string{"Content-Type", form}, tc.header...)
				for _, path := range []string{"/oauth2/token", "/iam/v1/oauth2/token", "/api/oauth2/token"} {
					wantOAuthError(t, s.do(t, http.MethodPost, path, tc.body, header...), tc.status, tc.code)
				}
				if got := count(t, membership.ActionOAuthTokenIssued); got != before+3 {
					t.Errorf("refused oauth.token attempts audited %d, want %d (proven %v)", got, before+3, tc.proven)
				}
			})
		}
		t.Run("JSONNotAnObject", func(t *testing.T) {
			wantOAuthError(t, s.do(t, http.MethodPost, "/oauth2/token", `["client_credentials"]`, "Content-Type", "application/json"), 400, "invalid_request")
			wantOAuthError(t, s.do(t, http.MethodPost, "/oauth2/token", `{"grant_type": 1}`, "Content-Type", "application/json"), 400, "invalid_request")
		})
		t.Run("MethodNotAllowed", func(t *testing.T) {
			a := s.do(t, http.MethodGet, "/iam/v1/oauth2/token", "")
			if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "POST" || a.json(t)["error"] != "invalid_request" {
				t.Fatalf("GET token: %d %v %s", a.status, a.header, a.body)
			}
		})
		t.Run("TenantWall", func(t *testing.T) {
			// Globex's client's token reads Globex, never Acme's sites.
			g := s.client(t, s.other, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
			tok := s.exchange(t, g.Client.ClientID, g.Secret)
			site := s.Demo.Spaces[demo.SpaceDeal]
			if a := s.do(t, http.MethodGet, fmt.Sprintf("/api/3/sites/%d/users", site), "", "Authorization", "Bearer "+tok); a.status != http.StatusNotFound {
				t.Errorf("another organization's site: %d %s", a.status, a.body)
			}
			// Acme's client cannot see Globex's tokens by introspection.
			a := s.token(t, "/oauth2/introspect", url.Values{"token": {tok}}, "Authorization", auth)
			if a.status != http.StatusOK || string(a.body) != "{\"active\":false}\n" {
				t.Errorf("introspecting another organization's token: %d %s", a.status, a.body)
			}
		})
	})
}

// TestFailedClientAuthLimit: an address that keeps failing client
// authentication is refused with 429 before any secret is looked at, even
// a right one, and the refusal is audited. The limit is the address's,
// not the client_id's: failures from a stranger who knows a client's id
// do not lock the real client out.
func TestFailedClientAuthLimit(t *testing.T) {
	s := newServer(t, "sqlite", func(c *oauth.Config) { c.FailureBurst, c.FailureRate = 2, 0.001 })
	c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
	bad := url.Values{"grant_type": {"client_credentials"}}
	const stranger, owner = "192.0.2.7", "192.0.2.8"
	for range 2 {
		wantOAuthError(t, s.token(t, "/oauth2/token", bad, "Authorization", basic(c.Client.ClientID, "wrong"), "X-Forwarded-For", stranger), 401, "invalid_client")
	}
	before := s.refusedAttempts(t, membership.ActionOAuthTokenIssued)
	a := s.token(t, "/oauth2/token", bad, "Authorization", basic(c.Client.ClientID, c.Secret), "X-Forwarded-For", stranger)
	wantOAuthError(t, a, http.StatusTooManyRequests, "temporarily_unavailable")
	if a.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if got := s.refusedAttempts(t, membership.ActionOAuthTokenIssued); got != before+1 {
		t.Errorf("refused attempts audited %d, want %d", got, before+1)
	}
	// Neither another client from that address, spraying ids, nor the
	// client from its own address is held back by it.
	d := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
	wantOAuthError(t, s.token(t, "/oauth2/token", bad, "Authorization", basic(d.Client.ClientID, d.Secret), "X-Forwarded-For", stranger),
		http.StatusTooManyRequests, "temporarily_unavailable")
	if a := s.token(t, "/oauth2/token", bad, "Authorization", basic(c.Client.ClientID, c.Secret), "X-Forwarded-For", owner); a.status != http.StatusOK {
		t.Fatalf("the client from its own address: %d %s", a.status, a.body)
	}
}

// TestUnauthenticatedRefusalsWriteInAggregate: requests that prove no
// client (bodies that do not decode, unknown clients, wrong secrets,
// paths that are no endpoint) are audited in the tally of refused
// authentications: a flood of them writes a row per source and minute,
// not one per request, and every attempt is counted.
func TestUnauthenticatedRefusalsWriteInAggregate(t *testing.T) {
	s := newServer(t, "sqlite", func(c *oauth.Config) { c.FailureRate = 0 })
	c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
	rows := func() int {
		n := 0
		s.Rows(t, `SELECT COUNT(*) FROM events`, nil, func(scan func(...any) error) error { return scan(&n) })
		return n
	}
	s.AllEvents(t) // writes what the tally holds
	before := rows()
	const each = 30
	for range each {
		wantOAuthError(t, s.do(t, http.MethodPost, "/oauth2/token", "grant_type=x&grant_type=y", "Content-Type", form), 400, "invalid_request")
		wantOAuthError(t, s.token(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"mbc_0000"}, "client_secret": {"x"}}), 401, "invalid_client")
		wantOAuthError(t, s.token(t, "/oauth2/revoke", url.Values{"token": {"x"}}, "Authorization", basic(c.Client.ClientID, "wrong")), 401, "invalid_client")
		wantOAuthError(t, s.token(t, "/oauth2/introspect", url.Values{"token": {"x"}}, "Authorization", basic(c.Client.ClientID, "wrong")), 401, "invalid_client")
	}
	// One row per source, no organization's and the client's: the tally
	// writes the first attempt of each at once, the rest a minute later.
	if grown := rows() - before; grown > 2 {
		t.Errorf("%d refused requests wrote %d audit rows, want at most 2", 4*each, grown)
	}
	for _, action := range []string{membership.ActionOAuthTokenIssued, membership.ActionOAuthTokenRevoked, membership.ActionOAuthTokenRead} {
		want := each
		if action == membership.ActionOAuthTokenIssued {
			want = 2 * each
		}
		if got := s.refusedAttempts(t, action); got != want {
			t.Errorf("%s: %d refused attempts counted, want %d", action, got, want)
		}
	}
}

// TestMetadata: RFC 8414's document names every endpoint and what they support.
func TestMetadata(t *testing.T) {
	s := newServer(t, "sqlite")
	a := s.do(t, http.MethodGet, "/.well-known/oauth-authorization-server", "")
	m := a.json(t)
	iss := s.srv.URL
	if a.status != 200 || m["issuer"] != iss || m["token_endpoint"] != iss+"/oauth2/token" ||
		m["authorization_endpoint"] != iss+"/oauth2/authorize" || m["revocation_endpoint"] != iss+"/oauth2/revoke" ||
		m["introspection_endpoint"] != iss+"/oauth2/introspect" {
		t.Fatalf("metadata %s", a.body)
	}
	if !strings.Contains(string(a.body), `"code_challenge_methods_supported":["S256"]`) ||
		!strings.Contains(string(a.body), `"client_credentials"`) || !strings.Contains(string(a.body), `"refresh_token"`) {
		t.Errorf("metadata lacks PKCE or grants: %s", a.body)
	}
	// Behind a trusted proxy that terminated TLS (the test's loopback
	// client plays one), the issuer is https.
	a = s.do(t, http.MethodGet, "/.well-known/oauth-authorization-server", "", "X-Forwarded-Proto", "https")
	if m := a.json(t); m["issuer"] != "https://"+strings.TrimPrefix(iss, "http://") {
		t.Errorf("issuer behind a TLS proxy: %v", m["issuer"])
	}

}

// TestRevocation: RFC 7009. A client revokes its own access token alone,
// or a refresh token with its whole grant; another client's token and an
// unknown one answer 200 and change nothing.
func TestRevocation(t *testing.T) {
	s := newServer(t, "sqlite")
	c := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
	d := s.client(t, s.Owner, membership.CreateOAuthClientRequest{Scopes: []string{membership.ScopeMembersRead}})
	t1, t2 := s.exchange(t, c.Client.ClientID, c.Secret), s.exchange(t, c.Client.ClientID, c.Secret)
	list := func(token string) int {
		return s.do(t, http.MethodGet, "/api/3/sites", "", "Authorization", "Bearer "+token).status
	}
	revoke := func(id, secret, token string) {
		t.Helper()
		if a := s.token(t, "/oauth2/revoke", url.Values{"token": {token}}, "Authorization", basic(id, secret)); a.status != http.StatusOK {
			t.Fatalf("revoke: %d %s", a.status, a.body)
		}
	}
	revoke(d.Client.ClientID, d.Secret, t1) // another client's: nothing happens
	revoke(c.Client.ClientID, c.Secret, "mbo_unknown")
	if list(t1) != http.StatusOK {
		t.Fatal("another client revoked c's token")
	}
	revoke(c.Client.ClientID, c.Secret, t1)
	if list(t1) != http.StatusUnauthorized || list(t2) != http.StatusOK {
		t.Errorf("after revoking t1: t1 %d, t2 %d; want 401, 200", list(t1), list(t2))
	}
	wantOAuthError(t, s.token(t, "/oauth2/revoke", url.Values{"token": {t2}}, "Authorization", basic(c.Client.ClientID, "bad")),
		http.StatusUnauthorized, "invalid_client")
	if got := s.refusedAttempts(t, membership.ActionOAuthTokenRevoked); got != 1 {
		t.Errorf("refused revocations counted: %d, want 1", got)
	}
}

// TestRedirectURIsChecked: a client may register only redirect URIs a
// browser leaves the page for: http(s) with a host, or a native app's
// private-use scheme (RFC 8252); never a script or a local resource,
// where the code would land in the page instead of with the client.
func TestRedirectURIsChecked(t *testing.T) {
	s := newServer(t, "sqlite")
	create := func(uri string) error {
		_, err := s.Svc.CreateOAuthClient(context.Background(), s.Owner, membership.CreateOAuthClientRequest{Name: "c",
			Scopes: []string{membership.ScopeMembersRead}, Public: true, RedirectURIs: []string{uri}})
		return err
	}
	for _, uri := range []string{"https://app.example/cb", "http://127.0.0.1:8765/cb", "com.example.app:/oauth2redirect", "http://[::1]/cb"} {
		if err := create(uri); err != nil {
			t.Errorf("%s refused: %v", uri, err)
		}
	}
	for _, uri := range []string{"javascript:alert(1)//", "JavaScript:alert(1)", "data:text/html,<script>x</script>", "vbscript:x",
		"file:///etc/passwd", "blob:https://app.example/x", "https:///cb", "https://app.example/cb#frag", "/relative/cb"} {
		if err := create(uri); membership.ErrorCode(err) != membership.CodeInvalid {
			t.Errorf("%s: %v, want refused as invalid", uri, err)
		}
	}
}
