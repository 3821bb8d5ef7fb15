package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var credentialTests = []test{
	{"Authenticate", testCredentialAuthenticate},
	{"ErrUnauthorizedRevoked", testCredentialRevoked},
	{"ErrUnauthorizedExpired", testCredentialExpired},
	{"ErrUnauthorizedRemovedMember", testCredentialRemovedMember},
	{"ErrUnauthorizedBadSecret", testCredentialBadSecret},
	{"PrincipalGetByPrefix", testPrincipalGetByPrefix},
}

func (w *world) credential(m *membership.Member, expires *time.Time) *membership.IssuedCredential {
	w.tb.Helper()
	c, err := w.svc.CreateCredential(w.ctx, w.owner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: m.ID}, Name: "test", Scopes: []string{membership.ScopeMembersRead}, ExpiresAt: expires,
	})
	if err != nil {
		w.tb.Fatalf("create credential: %v", err)
	}
	return c
}

func testCredentialAuthenticate(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.credential(w.carol, nil)
	if !strings.HasPrefix(c.Secret, "mbd_") || membership.CredentialPrefix(c.Secret) != c.Credential.Prefix {
		t.Errorf("secret %q does not carry prefix %q", c.Secret, c.Credential.Prefix)
	}
	p, err := w.svc.Authenticate(w.ctx, c.Secret)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.Member.ID != w.carol.ID || p.Credential.ID != c.Credential.ID || p.Credential.OrgID != w.org.ID ||
		len(p.Credential.Scopes) != 1 || p.Credential.Scopes[0] != membership.ScopeMembersRead {
		t.Errorf("principal: got member %d credential %+v, want carol's read credential", p.Member.ID, p.Credential)
	}
	creds, err := w.svc.Credentials(w.ctx, w.owner)
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range creds {
		if strings.Contains(jsonString(cr), c.Secret) {
			t.Errorf("a listed credential reveals its secret")
		}
	}
}

func testCredentialRevoked(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.credential(w.carol, nil)
	if _, err := w.svc.Authenticate(w.ctx, c.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RevokeCredential(w.ctx, w.owner, c.Credential.ID); err != nil {
		t.Fatalf("RevokeCredential: %v", err)
	}
	_, err := w.svc.Authenticate(w.ctx, c.Secret)
	wantCode(t, err, membership.CodeUnauthorized)
	before := w.state()
	_, err = w.svc.RevokeCredential(w.ctx, w.owner, c.Credential.ID)
	wantErr(t, err, membership.ErrAlreadyRemoved)
	w.assertRefused(before, "credential.revoked")
	// Another organization's credential is not there to revoke.
	g := w.credential(w.carol, nil)
	before = w.state()
	_, err = w.svc.RevokeCredential(w.ctx, w.globexOwner, g.Credential.ID)
	wantCode(t, err, membership.CodeNotFound)
	w.assertRefusedIn(before, w.globex.ID, "credential.revoked")
}

func testCredentialExpired(t *testing.T, open Opener) {
	w := newWorld(t, open)
	expires := w.clock.Now().Add(time.Hour)
	c := w.credential(w.carol, &expires)
	if _, err := w.svc.Authenticate(w.ctx, c.Secret); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	w.clock.Advance(time.Hour - time.Microsecond)
	if _, err := w.svc.Authenticate(w.ctx, c.Secret); err != nil {
		t.Fatalf("a microsecond before expiry: %v", err)
	}
	w.clock.Advance(time.Microsecond)
	_, err := w.svc.Authenticate(w.ctx, c.Secret)
	wantCode(t, err, membership.CodeUnauthorized)
}

func testCredentialRemovedMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.credential(w.bob, nil)
	if _, err := w.svc.Authenticate(w.ctx, c.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Authenticate(w.ctx, c.Secret)
	wantCode(t, err, membership.CodeUnauthorized)
	// Bob's Globex membership is a different one, and is unaffected.
	gc, err := w.svc.CreateCredential(w.ctx, w.globexOwner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: w.globexBob.ID}, Name: "globex", Scopes: []string{membership.ScopeMembersRead},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.Authenticate(w.ctx, gc.Secret); err != nil {
		t.Errorf("bob's Globex credential: %v", err)
	}
	// Removal through a batch cuts credentials off just the same.
	cc := w.credential(w.carol, nil)
	if _, err := w.svc.RemoveBatch(w.ctx, w.owner, membership.BatchRequest{Scope: membership.ScopeOrganization, Items: []membership.MemberRef{{ID: w.carol.ID}}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.Authenticate(w.ctx, cc.Secret)
	wantCode(t, err, membership.CodeUnauthorized)
}

func testCredentialBadSecret(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.credential(w.carol, nil)
	last := "a"
	if strings.HasSuffix(c.Secret, last) {
		last = "b"
	}
	tampered := c.Secret[:len(c.Secret)-1] + last
	if tampered == c.Secret {
		t.Fatal("tampering did not change the secret")
	}
	for _, s := range []string{"", "mbd_", "Bearer " + c.Secret, "mbd_0123456789abcdef_x", tampered, strings.ToUpper(c.Secret)} {
		_, err := w.svc.Authenticate(w.ctx, s)
		if membership.ErrorCode(err) != membership.CodeUnauthorized {
			t.Errorf("Authenticate(%q): got %v, want unauthorized", s, err)
		}
	}
}

// testPrincipalGetByPrefix: the store's one-statement read behind
// Authenticate returns the credential and the member it acts as, in
// whatever state (Authenticate decides), and not found for other prefixes.
func testPrincipalGetByPrefix(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.credential(w.bob, nil)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: bobRef(w)}); err != nil {
		t.Fatal(err)
	}
	err := w.store.View(w.ctx, func(tx membership.Tx) error {
		p, err := tx.PrincipalGetByPrefix(w.ctx, c.Credential.Prefix)
		if err != nil {
			return err
		}
		if p.Credential.ID != c.Credential.ID || p.Credential.Prefix != c.Credential.Prefix || len(p.Credential.Hash) == 0 ||
			p.Credential.MemberID != w.bob.ID || p.Credential.OrgID != w.org.ID {
			t.Errorf("credential %+v, want bob's in %d", p.Credential, w.org.ID)
		}
		if p.Member.ID != w.bob.ID || p.Member.OrgID != w.org.ID || p.Member.Email != w.bob.Email || p.Member.Status != membership.StatusRemoved {
			t.Errorf("member %+v, want bob, removed", p.Member)
		}
		_, err = tx.PrincipalGetByPrefix(w.ctx, "0123456789abcdef")
		wantCode(t, err, membership.CodeNotFound)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
