package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// TestAuditVerify removes a member, then tampers with the database the
// way someone holding it could, and checks that memberd audit verify
// finds the right event on both engines.
func TestAuditVerify(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			for _, tc := range []struct {
				name string
				sql  []string // run in order, each with $1 the removal's event id
				at   func(removal, next int64) int64
			}{
				{"Edited", []string{`UPDATE events SET target_member_id = NULL WHERE id = $1`}, func(r, _ int64) int64 { return r }},
				{"Deleted", []string{`DELETE FROM events WHERE id = $1`}, func(_, n int64) int64 { return n }},
				// The removal and the restore after it change places in the
				// chain, in three steps as the unique (org_id, seq) needs.
				{"Swapped", []string{
					`UPDATE events SET seq = -seq WHERE id IN ($1, (SELECT MIN(id) FROM events WHERE id > $1))`,
					`UPDATE events SET seq = -seq + 1 WHERE id = $1`,
					`UPDATE events SET seq = -seq - 1 WHERE id = (SELECT MIN(id) FROM events WHERE id > $1)`,
				}, func(_, n int64) int64 { return n }},
			} {
				t.Run(tc.name, func(t *testing.T) {
					dsn := auditDSN(t, engine)
					m, out, removal, next := auditWorld(t, dsn)
					receipt := fmt.Sprintf("%d:%s", removal.EventID, removal.Receipt.Hash)
					if err := m.Run(context.Background(), []string{"audit", "verify", "--db", dsn, "--receipt", receipt}); err != nil {
						t.Fatalf("verify of an intact trail: %v\n%s", err, out)
					}
					if !strings.Contains(out.String(), "organization 1: ok") || !strings.Contains(out.String(), fmt.Sprintf("receipt %d: ok", removal.EventID)) {
						t.Fatalf("verify printed:\n%s", out)
					}
					for _, q := range tc.sql {
						tamper(t, dsn, q, removal.EventID)
					}
					out.Reset()
					err := m.Run(context.Background(), []string{"audit", "verify", "--db", dsn, "--org", "1"})
					if !errors.Is(err, ErrChainBroken) {
						t.Fatalf("verify after %s: got %v, want ErrChainBroken\n%s", tc.name, err, out)
					}
					want := fmt.Sprintf("BROKEN at organization 1: event %d ", tc.at(removal.EventID, next))
					if !strings.Contains(out.String(), want) {
						t.Fatalf("verify after %s printed:\n%s\nwant %q", tc.name, out, want)
					}
				})
			}
		})
	}
}

func auditDSN(t *testing.T, engine string) string {
	if engine == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "audit.db")
	}
	return pgtest.NewDatabase(t)
}

// auditWorld bootstraps an organization in dsn and removes, then restores,
// a member: it returns the removal's report and the restore's event id.
func auditWorld(t *testing.T, dsn string) (*Main, *syncBuffer, *membership.Report, int64) {
	t.Helper()
	ctx := context.Background()
	svc := membership.NewService(openTestStore(t, dsn), membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "o@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, CredentialID: b.Credential.ID, Interface: "cli"}
	bob, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "bob@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: bob.ID}})
	if err != nil {
		t.Fatal(err)
	}
	restored, err := svc.RestoreMember(ctx, a, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: bob.ID}})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	return testMain(&out, &errOut, nil), &out, rep, restored.EventID
}

// openTestStore opens dsn's store until the test ends.
func openTestStore(t *testing.T, dsn string) membership.Store {
	t.Helper()
	store, err := openStore(context.Background(), dsn, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// tamper runs a statement on the database directly.
func tamper(t *testing.T, dsn, query string, args ...any) {
	t.Helper()
	ctx := context.Background()
	if err := openTestStore(t, dsn).Update(ctx, func(tx membership.Tx) error {
		_, err := tx.(*sqlstore.Tx).Conn().Exec(ctx, query, args...)
		return err
	}); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func TestAuditExportAndPrune(t *testing.T) {
	dsn := auditDSN(t, "sqlite")
	m, out, removal, _ := auditWorld(t, dsn)
	ctx := context.Background()
	if err := m.Run(ctx, []string{"audit", "export", "--db", dsn, "--org", "1"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || !strings.Contains(lines[2], `"action":"member.removed"`) || !strings.Contains(lines[2], removal.Receipt.Hash) {
		t.Fatalf("export: got\n%s\nwant the organization's 4 events, the removal third", out)
	}
	out.Reset()
	if err := m.Run(ctx, []string{"audit", "export", "--db", dsn, "--org", "1", "--format", "csv", "--after", fmt.Sprint(removal.EventID)}); err != nil {
		t.Fatal(err)
	}
	lines = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "id,uuid,organization_id,at,") || !strings.Contains(lines[1], "member.restored") {
		t.Fatalf("csv export after the removal: got\n%s", out)
	}

	key := filepath.Join(t.TempDir(), "audit.key")
	out.Reset()
	if err := m.Run(ctx, []string{"audit", "keygen", "--key-file", key}); err != nil {
		t.Fatal(err)
	}
	pub := strings.TrimPrefix(strings.TrimSpace(out.String()), "public key ")
	tomorrow := time.Now().Add(24 * time.Hour).UTC().Format(time.DateOnly)
	out.Reset()
	if err := m.Run(ctx, []string{"audit", "prune", "--db", dsn, "--org", "1", "--before", tomorrow, "--key-file", key}); err != nil {
		t.Fatalf("prune: %v\n%s", err, out)
	}
	out.Reset()
	if err := m.Run(ctx, []string{"audit", "verify", "--db", dsn, "--org", "1", "--public-key", pub}); err != nil {
		t.Fatalf("verify after the prune: %v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "ok, 1 events") || !strings.Contains(out.String(), "4 pruned") || !strings.Contains(out.String(), "a trusted key") {
		t.Fatalf("verify after the prune printed:\n%s", out)
	}
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Reset()
}
