package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var oauthTests = []test{
	{"ClientCredentials", testOAuthClientCredentials},
	{"RevokeClientEndsTokens", testOAuthRevokeClient},
	{"RemovedMemberEndsTokens", testOAuthRemovedMember},
	{"CodeSingleUseAndExpiry", testOAuthCode},
	{"PKCE", testOAuthPKCE},
	{"RefreshRotationAndReuse", testOAuthRefreshReuse},
	{"TenantWall", testOAuthTenantWall},
}

func (w *world) oauthClient(req membership.CreateOAuthClientRequest) *membership.IssuedOAuthClient {
	w.tb.Helper()
	if req.Name == "" {
		req.Name = "client"
	}
	if req.Scopes == nil {
		req.Scopes = []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}
	}
	c, err := w.svc.CreateOAuthClient(w.ctx, w.owner, req)
	if err != nil {
		w.tb.Fatalf("CreateOAuthClient: %v", err)
	}
	return c
}

func (w *world) token(c *membership.IssuedOAuthClient, req membership.TokenRequest) (*membership.TokenResponse, error) {
	req.ClientID, req.ClientSecret, req.Interface = c.Client.ClientID, c.Secret, "storetest"
	return w.svc.Token(w.ctx, req)
}

func wantOAuth(tb testing.TB, err error, kind string) {
	tb.Helper()
	if got := membership.OAuthErrorKind(err); err == nil || got != kind {
		tb.Fatalf("got %v (%s), want %s", err, got, kind)
	}
}

func testOAuthClientCredentials(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{})
	if !strings.HasPrefix(c.Secret, "mbcs_") || strings.Contains(jsonString(c.Client), c.Secret) {
		t.Fatalf("client %+v secret %q", c.Client, c.Secret)
	}
	resp, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials, Scope: membership.ScopeMembersRead})
	if err != nil {
		t.Fatal(err)
	}
	if resp.RefreshToken != "" || resp.ExpiresIn != 600 || resp.Scope != membership.ScopeMembersRead {
		t.Errorf("token %+v", resp)
	}
	p, err := w.svc.Authenticate(w.ctx, resp.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.Member.ID != w.ownerMember.ID || p.Credential.ID != c.Client.CredentialID || p.Credential.HasScope(membership.ScopeMembersWrite) {
		t.Errorf("principal member %d credential %+v", p.Member.ID, p.Credential)
	}
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials, Scope: membership.ScopeAuditRead})
	wantOAuth(t, err, membership.OAuthInvalidScope)
	c.Secret = "mbcs_wrong"
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials})
	wantOAuth(t, err, membership.OAuthInvalidClient)
	// The confidential client's refusal is a row of its own; the wrong
	// secret, which anyone can send, goes to the organization's tally of
	// refused authentications, its first attempt written at once.
	evs := w.events(w.org.ID)
	if n := countEvents(evs, membership.ActionOAuthTokenIssued, membership.OutcomeRefused); n != 1 {
		t.Errorf("refused oauth.token events: got %d, want 1", n)
	}
	if n := countEvents(evs, membership.ActionRequestAuthenticated, membership.OutcomeRefused); n != 1 {
		t.Errorf("refused authentication rows: got %d, want 1", n)
	}
	// Only owners register clients, and never beyond their own scopes.
	_, err = w.svc.CreateOAuthClient(w.ctx, w.adminActor, membership.CreateOAuthClientRequest{Name: "x", Scopes: []string{membership.ScopeMembersRead}})
	wantCode(t, err, membership.CodeForbidden)
}

func testOAuthRevokeClient(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{})
	resp, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeOAuthClient(w.ctx, w.owner, c.Client.UUID); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Authenticate(w.ctx, resp.AccessToken)
	wantCode(t, err, membership.CodeUnauthorized)
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials})
	wantOAuth(t, err, membership.OAuthInvalidClient)
	_, err = w.svc.RevokeOAuthClient(w.ctx, w.owner, c.Client.UUID)
	wantCode(t, err, membership.CodeConflict)
}

func testOAuthRemovedMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{Member: membership.MemberRef{ID: w.admin.ID}})
	resp, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.admin.ID}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Authenticate(w.ctx, resp.AccessToken)
	wantCode(t, err, membership.CodeUnauthorized)
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantClientCredentials})
	wantOAuth(t, err, membership.OAuthInvalidClient)
}

// authorize has the admin consent to c's request and returns the code.
func (w *world) authorize(c *membership.IssuedOAuthClient, challenge string) string {
	w.tb.Helper()
	req := membership.AuthorizeRequest{ResponseType: "code", ClientID: c.Client.ClientID, State: "xyz"}
	if challenge != "" {
		req.CodeChallenge, req.CodeChallengeMethod = challenge, "S256"
	}
	a := w.adminActor
	a.Scopes = []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}
	az, err := w.svc.Authorize(w.ctx, a, req)
	if err != nil {
		w.tb.Fatalf("Authorize: %v", err)
	}
	if az.State != "xyz" || az.RedirectURI != c.Client.RedirectURIs[0] {
		w.tb.Fatalf("authorization %+v", az)
	}
	return az.Code
}

func testOAuthCode(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{RedirectURIs: []string{"https://app.example/cb"}})
	code := w.authorize(c, "")
	resp, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: code})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.svc.Authenticate(w.ctx, resp.AccessToken)
	if err != nil || p.Member.ID != w.admin.ID || resp.RefreshToken == "" {
		t.Fatalf("code token acts as %v (%v), refresh %q: want the admin who consented", p, err, resp.RefreshToken)
	}
	// A second exchange is refused and revokes what the first bought.
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: code})
	wantOAuth(t, err, membership.OAuthInvalidGrant)
	_, err = w.svc.Authenticate(w.ctx, resp.AccessToken)
	wantCode(t, err, membership.CodeUnauthorized)
	// A code lives 30 minutes.
	code = w.authorize(c, "")
	w.clock.Advance(membership.OAuthCodeLifetime)
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: code})
	wantOAuth(t, err, membership.OAuthInvalidGrant)
	// An unregistered redirect URI is refused without redirecting.
	_, err = w.svc.PrepareAuthorization(w.ctx, w.adminActor, membership.AuthorizeRequest{ResponseType: "code",
		ClientID: c.Client.ClientID, RedirectURI: "https://evil.example/cb"})
	var oe *membership.OAuthError
	if !asOAuth(err, &oe) || oe.RedirectURI != "" {
		t.Fatalf("unregistered redirect: %v", err)
	}
}

func asOAuth(err error, oe **membership.OAuthError) bool {
	e, ok := err.(*membership.OAuthError)
	*oe = e
	return ok
}

func testOAuthPKCE(t *testing.T, open Opener) {
	w := newWorld(t, open)
	pub := w.oauthClient(membership.CreateOAuthClientRequest{Public: true, RedirectURIs: []string{"http://127.0.0.1:8765/cb"}})
	if pub.Secret != "" {
		t.Fatal("a public client got a secret")
	}
	_, err := w.svc.PrepareAuthorization(w.ctx, w.adminActor, membership.AuthorizeRequest{ResponseType: "code", ClientID: pub.Client.ClientID})
	var oe *membership.OAuthError
	if !asOAuth(err, &oe) || oe.RedirectURI == "" || oe.Kind != membership.OAuthInvalidRequest {
		t.Fatalf("a public client without PKCE: %v", err)
	}
	verifier := strings.Repeat("v", 50)
	sum := sha256.Sum256([]byte(verifier))
	code := w.authorize(pub, base64.RawURLEncoding.EncodeToString(sum[:]))
	_, err = w.token(pub, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: code, CodeVerifier: strings.Repeat("w", 50)})
	wantOAuth(t, err, membership.OAuthInvalidGrant)
	code = w.authorize(pub, base64.RawURLEncoding.EncodeToString(sum[:]))
	if _, err := w.token(pub, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: code, CodeVerifier: verifier}); err != nil {
		t.Fatal(err)
	}
}

func testOAuthRefreshReuse(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{RedirectURIs: []string{"https://app.example/cb"}})
	first, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantAuthorizationCode, Code: w.authorize(c, "")})
	if err != nil {
		t.Fatal(err)
	}
	second, err := w.token(c, membership.TokenRequest{GrantType: membership.GrantRefreshToken, RefreshToken: first.RefreshToken})
	if err != nil {
		t.Fatal(err)
	}
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
		t.Fatal("refresh did not rotate")
	}
	// The spent refresh token again: reuse. Every token of the chain ends.
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantRefreshToken, RefreshToken: first.RefreshToken})
	wantOAuth(t, err, membership.OAuthInvalidGrant)
	_, err = w.token(c, membership.TokenRequest{GrantType: membership.GrantRefreshToken, RefreshToken: second.RefreshToken})
	wantOAuth(t, err, membership.OAuthInvalidGrant)
	for _, tok := range []string{first.AccessToken, second.AccessToken} {
		_, err = w.svc.Authenticate(w.ctx, tok)
		wantCode(t, err, membership.CodeUnauthorized)
	}
	if n := countEvents(w.events(w.org.ID), membership.ActionOAuthChainRevoked, membership.OutcomeOK); n != 1 {
		t.Errorf("chain revocations: %d, want 1", n)
	}
	w.clock.Advance(time.Second)
}

func testOAuthTenantWall(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.oauthClient(membership.CreateOAuthClientRequest{RedirectURIs: []string{"https://app.example/cb"}})
	_, err := w.svc.OAuthClient(w.ctx, w.globexOwner, c.Client.UUID)
	wantCode(t, err, membership.CodeNotFound)
	_, err = w.svc.RevokeOAuthClient(w.ctx, w.globexOwner, c.Client.UUID)
	wantCode(t, err, membership.CodeNotFound)
	// Globex's owner cannot consent to Acme's client: it is unknown to them.
	_, err = w.svc.PrepareAuthorization(w.ctx, w.globexOwner, membership.AuthorizeRequest{ResponseType: "code", ClientID: c.Client.ClientID})
	wantCode(t, err, membership.CodeNotFound)
	if l, err := w.svc.OAuthClients(w.ctx, w.globexOwner); err != nil || len(l) != 0 {
		t.Errorf("Globex lists %d clients (%v)", len(l), err)
	}
}
