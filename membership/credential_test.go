package membership_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

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
