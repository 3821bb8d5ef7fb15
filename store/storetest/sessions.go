package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

var sessionTests = []test{
	{"SignIn", testSessionSignIn},
	{"ErrForbiddenPlainMember", testSessionPlainMember},
	{"EndsWithCredentialAndMember", testSessionEndsWith},
	{"ExpiresAndIdles", testSessionExpires},
	{"ListAndRevoke", testSessionListRevoke},
	{"SignInLinkOnce", testSignInLinkOnce},
	{"MemberSearchKeyset", testMemberSearchKeyset},
}

// consoleCredential issues a read-write credential for m and returns its
// secret, the kind an administrator signs in to the console with.
func (w *world) consoleCredential(m *membership.Member) *membership.IssuedCredential {
	w.tb.Helper()
	c, err := w.svc.CreateCredential(w.ctx, w.owner, membership.CreateCredentialRequest{
		Member: membership.MemberRef{ID: m.ID}, Name: "console",
		Scopes: []string{membership.ScopeMembersRead, membership.ScopeMembersWrite},
	})
	if err != nil {
		w.tb.Fatalf("create credential: %v", err)
	}
	return c
}

func (w *world) signIn(secret string) *membership.NewSession {
	w.tb.Helper()
	ns, err := w.svc.SignIn(w.ctx, membership.SignInRequest{Secret: secret, Interface: "storetest", UserAgent: "test"})
	if err != nil {
		w.tb.Fatalf("SignIn: %v", err)
	}
	return ns
}

func testSessionSignIn(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.consoleCredential(w.admin)
	ns := w.signIn(c.Secret)
	if ns.Token == "" || ns.Token == c.Secret || ns.Session.CredentialID != c.Credential.ID {
		t.Fatalf("session %+v token %q: want a fresh token bound to the credential", ns.Session, ns.Token)
	}
	sp, err := w.svc.SessionFor(w.ctx, ns.Token)
	if err != nil {
		t.Fatalf("SessionFor: %v", err)
	}
	if sp.Member.ID != w.admin.ID || sp.Credential.ID != c.Credential.ID || sp.Session.UUID != ns.Session.UUID ||
		!sp.Credential.HasScope(membership.ScopeMembersWrite) {
		t.Errorf("principal: got member %d credential %d, want admin's", sp.Member.ID, sp.Credential.ID)
	}
	if _, err := w.svc.SessionFor(w.ctx, ns.Token+"x"); membership.ErrorCode(err) != membership.CodeUnauthorized {
		t.Errorf("a wrong token: got %v, want unauthorized", err)
	}
	if n := countEvents(w.events(w.org.ID), "session.created", membership.OutcomeOK); n != 1 {
		t.Errorf("session.created events: got %d, want 1", n)
	}
	if _, err := w.svc.SignIn(w.ctx, membership.SignInRequest{Secret: "mbd_0000000000000000_nope", Interface: "storetest"}); membership.ErrorCode(err) != membership.CodeUnauthorized {
		t.Errorf("a wrong secret: got %v, want unauthorized", err)
	}
}

func testSessionPlainMember(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.consoleCredential(w.carol)
	before := w.lastEventID(w.org.ID)
	_, err := w.svc.SignIn(w.ctx, membership.SignInRequest{Secret: c.Secret, Interface: "storetest"})
	wantCode(t, err, membership.CodeForbidden)
	if n := countEvents(w.eventsAfter(w.org.ID, before), "session.created", membership.OutcomeRefused); n != 1 {
		t.Errorf("refused session.create events: got %d, want 1", n)
	}
}

func testSessionEndsWith(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.consoleCredential(w.admin)
	ns := w.signIn(c.Secret)
	if _, err := w.svc.RevokeCredential(w.ctx, w.owner, c.Credential.ID); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.SessionFor(w.ctx, ns.Token)
	wantCode(t, err, membership.CodeUnauthorized)

	c = w.consoleCredential(w.admin)
	ns = w.signIn(c.Secret)
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.admin.ID}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.SessionFor(w.ctx, ns.Token)
	wantCode(t, err, membership.CodeUnauthorized)
}

func testSessionExpires(t *testing.T, open Opener) {
	w := newWorld(t, open)
	c := w.consoleCredential(w.admin)
	ns := w.signIn(c.Secret)
	// Used every 20 minutes it stays alive until its lifetime ends.
	for elapsed := time.Duration(0); elapsed+20*time.Minute < membership.SessionTTL; elapsed += 20 * time.Minute {
		w.clock.Advance(20 * time.Minute)
		if _, err := w.svc.SessionFor(w.ctx, ns.Token); err != nil {
			t.Fatalf("after %s: %v", elapsed+20*time.Minute, err)
		}
	}
	w.clock.Advance(20 * time.Minute)
	_, err := w.svc.SessionFor(w.ctx, ns.Token)
	wantCode(t, err, membership.CodeUnauthorized)

	ns = w.signIn(c.Secret)
	w.clock.Advance(membership.SessionIdle)
	_, err = w.svc.SessionFor(w.ctx, ns.Token)
	wantCode(t, err, membership.CodeUnauthorized)
}

func testSessionListRevoke(t *testing.T, open Opener) {
	w := newWorld(t, open)
	mine := w.signIn(w.consoleCredential(w.admin).Secret)
	owners := w.signIn(w.consoleCredential(w.ownerMember).Secret)
	all, err := w.svc.Sessions(w.ctx, w.owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].UUID != owners.Session.UUID || all[1].Email != "admin@acme.test" {
		t.Fatalf("owner's list: got %d sessions %+v, want both, newest first", len(all), all)
	}
	own, err := w.svc.Sessions(w.ctx, w.adminActor)
	if err != nil {
		t.Fatal(err)
	}
	if len(own) != 1 || own[0].UUID != mine.Session.UUID {
		t.Errorf("admin's list: got %d sessions, want only their own", len(own))
	}
	// An admin may not end the owner's session; another organization's
	// owner does not find it.
	_, err = w.svc.RevokeSession(w.ctx, w.adminActor, owners.Session.UUID)
	wantCode(t, err, membership.CodeForbidden)
	_, err = w.svc.RevokeSession(w.ctx, w.globexOwner, mine.Session.UUID)
	wantCode(t, err, membership.CodeNotFound)
	if _, err := w.svc.RevokeSession(w.ctx, w.owner, mine.Session.UUID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	_, err = w.svc.SessionFor(w.ctx, mine.Token)
	wantCode(t, err, membership.CodeUnauthorized)
	_, err = w.svc.RevokeSession(w.ctx, w.owner, mine.Session.UUID)
	wantErr(t, err, membership.ErrAlreadyRemoved)

	sp, err := w.svc.SessionFor(w.ctx, owners.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.svc.SignOut(w.ctx, membership.Actor{OrgID: w.org.ID, MemberID: sp.Member.ID, Interface: "storetest"}, owners.Token); err != nil {
		t.Fatalf("SignOut: %v", err)
	}
	_, err = w.svc.SessionFor(w.ctx, owners.Token)
	wantCode(t, err, membership.CodeUnauthorized)
	if left, _ := w.svc.Sessions(w.ctx, w.owner); len(left) != 0 {
		t.Errorf("after revoke and sign-out: %d sessions listed, want 0", len(left))
	}
}

func testSignInLinkOnce(t *testing.T, open Opener) {
	w := newWorld(t, open)
	_, _, err := w.svc.CreateSignInLink(w.ctx, w.org.ID, membership.MemberRef{ID: w.bob.ID})
	wantCode(t, err, membership.CodeForbidden)
	_, _, err = w.svc.CreateSignInLink(w.ctx, w.org.ID, membership.MemberRef{ID: w.globexBob.ID})
	wantCode(t, err, membership.CodeNotFound)

	token, _, err := w.svc.CreateSignInLink(w.ctx, w.org.ID, membership.MemberRef{Email: "ADMIN@acme.test"})
	if err != nil {
		t.Fatalf("CreateSignInLink: %v", err)
	}
	ns, err := w.svc.SignInWithLink(w.ctx, membership.SignInRequest{Secret: token, Interface: "storetest"})
	if err != nil {
		t.Fatalf("SignInWithLink: %v", err)
	}
	sp, err := w.svc.SessionFor(w.ctx, ns.Token)
	if err != nil || sp.Member.ID != w.admin.ID || sp.Credential.ID != 0 || !sp.Credential.HasScope(membership.ScopeMembersWrite) {
		t.Fatalf("link session: %+v, %v", sp, err)
	}
	_, err = w.svc.SignInWithLink(w.ctx, membership.SignInRequest{Secret: token, Interface: "storetest"})
	wantCode(t, err, membership.CodeUnauthorized)

	token, _, err = w.svc.CreateSignInLink(w.ctx, w.org.ID, membership.MemberRef{ID: w.admin.ID})
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(membership.SignInLinkTTL)
	_, err = w.svc.SignInWithLink(w.ctx, membership.SignInRequest{Secret: token, Interface: "storetest"})
	wantCode(t, err, membership.CodeUnauthorized)
}

func ids(ms []*membership.Member) []int64 {
	out := make([]int64, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func testMemberSearchKeyset(t *testing.T, open Opener) {
	w := newWorld(t, open)
	dir := func(p membership.MemberSearchParams) []int64 {
		t.Helper()
		ms, err := w.svc.MemberDirectory(w.ctx, w.owner, p)
		if err != nil {
			t.Fatalf("MemberDirectory(%+v): %v", p, err)
		}
		return ids(ms)
	}
	all := []int64{w.ownerMember.ID, w.admin.ID, w.bob.ID, w.carol.ID}
	if got := dir(membership.MemberSearchParams{}); !slices.Equal(got, all) {
		t.Errorf("all: got %v, want %v", got, all)
	}
	if got := dir(membership.MemberSearchParams{Limit: 2, AfterID: all[1]}); !slices.Equal(got, all[2:]) {
		t.Errorf("second page: got %v, want %v", got, all[2:])
	}
	if got := dir(membership.MemberSearchParams{Limit: 2, BeforeID: all[3]}); !slices.Equal(got, all[1:3]) {
		t.Errorf("page before carol: got %v, want %v", got, all[1:3])
	}
	if got := dir(membership.MemberSearchParams{Query: "BOB"}); !slices.Equal(got, []int64{w.bob.ID}) {
		t.Errorf("search bob: got %v", got)
	}
	if got := dir(membership.MemberSearchParams{SpaceID: w.hq.ID}); !slices.Equal(got, []int64{w.bob.ID, w.carol.ID}) {
		t.Errorf("space hq: got %v", got)
	}
	if got := dir(membership.MemberSearchParams{GroupID: w.ops.ID}); !slices.Equal(got, []int64{w.bob.ID}) {
		t.Errorf("group ops: got %v", got)
	}
	if got := dir(membership.MemberSearchParams{Role: membership.RoleAdmin}); !slices.Equal(got, []int64{w.admin.ID}) {
		t.Errorf("role admin: got %v", got)
	}
	if _, err := w.svc.RemoveMember(w.ctx, w.owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: w.bob.ID}}); err != nil {
		t.Fatal(err)
	}
	if got := dir(membership.MemberSearchParams{Status: membership.StatusRemoved}); !slices.Equal(got, []int64{w.bob.ID}) {
		t.Errorf("removed: got %v", got)
	}
	if got := dir(membership.MemberSearchParams{SpaceID: w.hq.ID}); !slices.Equal(got, []int64{w.carol.ID}) {
		t.Errorf("space hq after bob's removal: got %v", got)
	}
	_, err := w.svc.MemberDirectory(w.ctx, w.globexOwner, membership.MemberSearchParams{SpaceID: w.hq.ID})
	wantCode(t, err, membership.CodeNotFound)
}
