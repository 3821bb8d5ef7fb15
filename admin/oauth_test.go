package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/memberd/memberd/admin"
	"github.com/memberd/memberd/internal/dialecttest"
	"github.com/memberd/memberd/membership"
)

var (
	newKeyRE    = regexp.MustCompile(`<code id="new-key">(mbd_[a-z0-9_]+)</code>`)
	newSecretRE = regexp.MustCompile(`<code id="new-client-secret">(mbcs_[a-z0-9]+)</code>`)
)

// TestProfileAPIKeys: the profile page lists the member's own API keys,
// creates one within the session's scopes (its secret shown once, and it
// works), and revokes it; another member's key is not found here.
func TestProfileAPIKeys(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		c.mustSignIn(t, c.Demo.AdminToken)
		p := c.get(t, admin.Prefix+"/profile")
		wantStatus(t, p, http.StatusOK)
		if !strings.Contains(p.Body, "demo admin") || strings.Contains(p.Body, "demo owner") {
			t.Fatalf("profile lists other keys than alice's own:\n%s", p.Body)
		}
		token := csrf(t, p)

		p = c.post(t, admin.Prefix+"/profile/keys", url.Values{"csrf": {token}, "name": {"wiggledesk"},
			"scope": {membership.ScopeMembersRead, membership.ScopeMembersWrite}, "expires_days": {"30"}})
		wantStatus(t, p, http.StatusCreated)
		m := newKeyRE.FindStringSubmatch(p.Body)
		if m == nil {
			t.Fatalf("no new key on the page:\n%s", p.Body)
		}
		pr, err := c.Svc.Authenticate(context.Background(), m[1])
		if err != nil || pr.Member.ID != 2 || !slices.Equal(pr.Credential.Scopes, []string{membership.ScopeMembersRead, membership.ScopeMembersWrite}) {
			t.Fatalf("the new key: %+v, %v", pr, err)
		}
		keys, err := c.Svc.Credentials(context.Background(), c.Owner)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(keys, func(k *membership.Credential) bool { return k.ID == pr.Credential.ID }); i < 0 || keys[i].LastUsedAt == nil {
			t.Errorf("the key's last use was not recorded")
		}
		if again := c.get(t, admin.Prefix+"/profile"); strings.Contains(again.Body, m[1]) || !strings.Contains(again.Body, "wiggledesk") ||
			!strings.Contains(again.Body, ">Last used<") {
			t.Errorf("the secret is shown again, or the key is not listed with its last use")
		}

		// An expiry out of bounds is refused in words, and audited.
		mark := c.LastEventID(t, 1)
		p = c.post(t, admin.Prefix+"/profile/keys", url.Values{"csrf": {token}, "name": {"x"}, "expires_days": {"0"}})
		wantStatus(t, p, http.StatusBadRequest)
		if len(c.refusalsSince(t, 1, mark)) == 0 {
			t.Error("a refused key was not audited")
		}

		// Revoke: the key stops; the owner's key is not alice's to revoke here.
		p = c.post(t, admin.Prefix+"/profile/keys/"+strconv.FormatInt(pr.Credential.ID, 10)+"/revoke", url.Values{"csrf": {token}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d\n%s", p.StatusCode, p.Body)
		}
		if _, err := c.Svc.Authenticate(context.Background(), m[1]); membership.ErrorCode(err) != membership.CodeUnauthorized {
			t.Errorf("a revoked key still works: %v", err)
		}
		p = c.post(t, admin.Prefix+"/profile/keys/1/revoke", url.Values{"csrf": {token}})
		wantStatus(t, p, http.StatusNotFound)
		if _, err := c.Svc.Authenticate(context.Background(), c.Demo.OwnerToken); err != nil {
			t.Errorf("the owner's key was revoked from alice's profile: %v", err)
		}
	})
}

// TestOAuthClientsPage: an owner registers a client on the console, sees
// its secret once, rotates and revokes it; an admin is refused.
func TestOAuthClientsPage(t *testing.T) {
	dialecttest.EachEngine(t, func(t *testing.T, engine string) {
		c := newConsole(t, engine, admin.DefaultConfig())
		c.mustSignIn(t, c.Demo.OwnerToken)
		p := c.get(t, admin.Prefix+"/oauth/clients")
		wantStatus(t, p, http.StatusOK)
		token := csrf(t, p)
		p = c.post(t, admin.Prefix+"/oauth/clients", url.Values{"csrf": {token}, "name": {"Matter sync"},
			"scope": {membership.ScopeMembersRead}, "redirect_uris": {"https://app.example/cb\nhttp://127.0.0.1:9/cb"}})
		wantStatus(t, p, http.StatusCreated)
		if newSecretRE.FindStringSubmatch(p.Body) == nil {
			t.Fatalf("no secret shown:\n%s", p.Body)
		}
		cs, err := c.Svc.OAuthClients(context.Background(), c.Owner)
		if err != nil || len(cs) != 1 || len(cs[0].RedirectURIs) != 2 || cs[0].MemberID != 1 {
			t.Fatalf("clients %+v, %v", cs, err)
		}
		p = c.post(t, admin.Prefix+"/oauth/clients/"+cs[0].UUID+"/rotate", url.Values{"csrf": {token}})
		wantStatus(t, p, http.StatusOK)
		if newSecretRE.FindStringSubmatch(p.Body) == nil {
			t.Fatalf("no new secret shown:\n%s", p.Body)
		}
		p = c.post(t, admin.Prefix+"/oauth/clients/"+cs[0].UUID+"/revoke", url.Values{"csrf": {token}})
		if p.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d\n%s", p.StatusCode, p.Body)
		}
		if oc, _ := c.Svc.OAuthClient(context.Background(), c.Owner, cs[0].UUID); oc.RevokedAt == nil {
			t.Error("the client is not revoked")
		}

		// An admin may look but not register.
		a := &console{Served: c.Served, client: newClient(t)}
		a.mustSignIn(t, c.Demo.AdminToken)
		p = a.get(t, admin.Prefix+"/oauth/clients")
		wantStatus(t, p, http.StatusOK)
		p = a.post(t, admin.Prefix+"/oauth/clients", url.Values{"csrf": {csrf(t, p)}, "name": {"x"}, "scope": {membership.ScopeMembersRead}})
		wantStatus(t, p, http.StatusForbidden)
		if !strings.Contains(p.Body, "only an owner can manage OAuth clients") {
			t.Errorf("refusal not in words:\n%s", p.Body)
		}
	})
}
