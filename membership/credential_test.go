package membership_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// TestCreateCredentialIdempotentKeepsNoSecret checks that an idempotent
// credential creation stores no plaintext secret: the replay says the
// secret was shown and the database holds only its hash.
func TestCreateCredentialIdempotentKeepsNoSecret(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "c.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "o@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID, Scopes: b.Credential.Scopes}
	ictx := membership.WithIdempotency(ctx, "k1", "hash")
	req := membership.CreateCredentialRequest{Name: "ci", Scopes: []string{membership.ScopeMembersRead}}
	first, err := svc.CreateCredential(ictx, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.Secret == "" || first.SecretShown {
		t.Fatalf("first call: secret %q shown %v, want the secret", first.Secret, first.SecretShown)
	}
	replay, err := svc.CreateCredential(ictx, a, req)
	if err != nil {
		t.Fatal(err)
	}
	if replay.Secret != "" || !replay.SecretShown || replay.Credential.ID != first.Credential.ID {
		t.Fatalf("replay: secret %q shown %v id %d, want no secret, shown, id %d", replay.Secret, replay.SecretShown, replay.Credential.ID, first.Credential.ID)
	}
	st.Close()
	raw, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	secretPart := first.Secret[strings.LastIndex(first.Secret, "_")+1:]
	if strings.Contains(raw, secretPart) {
		t.Fatal("the plaintext secret is stored in the database file")
	}
}

// TestCachedCredentialLastUse checks that a credential taken from the
// credential cache records its last use at most once a minute: a hit
// that recorded it leaves the new time in the cache, so the next hits
// within the minute write nothing.
func TestCachedCredentialLastUse(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cfg := membership.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	svc := membership.NewService(st, cfg)
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "o@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID, Scopes: b.Credential.Scopes}
	lastUse := func() time.Time {
		t.Helper()
		creds, err := svc.Credentials(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range creds {
			if c.ID == b.Credential.ID && c.LastUsedAt != nil {
				return c.LastUsedAt.UTC()
			}
		}
		t.Fatal("the credential has no last use")
		return time.Time{}
	}
	deferred := membership.WithDeferredAuthentication(ctx)
	authenticate := func(wantCached bool) {
		t.Helper()
		p, err := svc.Authenticate(deferred, b.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if cached := p.Unconfirmed != nil; cached != wantCached {
			t.Fatalf("from the cache %v, want %v", cached, wantCached)
		}
	}
	authenticate(false)
	first := lastUse()
	now = now.Add(2 * time.Minute)
	authenticate(true)
	if got, want := lastUse(), now; !got.Equal(want) {
		t.Fatalf("last use %v after a cached use two minutes on, want %v (first %v)", got, want, first)
	}
	recorded := now
	now = now.Add(30 * time.Second)
	authenticate(true)
	if got := lastUse(); !got.Equal(recorded) {
		t.Fatalf("last use %v half a minute after one recorded at %v: recorded again", got, recorded)
	}
}
