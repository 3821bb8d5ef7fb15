package membership_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

// TestValidationRefusalsAreAudited checks that a call refused before its
// transaction (bad input) still leaves a refused event and nothing else.
func TestValidationRefusalsAreAudited(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "a.db"))
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
	refusals := map[string]func() error{
		"member.added": func() error {
			_, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "not an address"})
			return err
		},
		"space.created": func() error { _, err := svc.CreateSpace(ctx, a, "bad\x00name"); return err },
		"credential.created": func() error {
			_, err := svc.CreateCredential(ctx, a, membership.CreateCredentialRequest{Name: "x", Scopes: []string{"no-such-scope"}})
			return err
		},
	}
	for action, call := range refusals {
		t.Run(action, func(t *testing.T) {
			if err := call(); membership.ErrorCode(err) != membership.CodeInvalid {
				t.Fatalf("got %v, want invalid", err)
			}
			events, err := svc.Events(ctx, a, membership.EventListParams{Action: action})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].Outcome != membership.OutcomeRefused {
				t.Fatalf("events for %s: %+v, want one refused event", action, events)
			}
		})
	}
	members, err := svc.Members(ctx, a, membership.MemberListParams{})
	if err != nil || len(members) != 1 {
		t.Fatalf("members after refusals: %d, %v; want only the owner", len(members), err)
	}
}
