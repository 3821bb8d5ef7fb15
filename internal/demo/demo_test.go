package demo_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/demo"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

func TestLoad(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	d, err := demo.Load(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded in %v", time.Since(start))
	svc := membership.NewService(st, membership.DefaultConfig())
	p, err := svc.Authenticate(ctx, d.AdminToken)
	if err != nil {
		t.Fatal(err)
	}
	if p.Member.ID != 2 || p.Member.Role != membership.RoleAdmin {
		t.Fatalf("admin token acts for %d %s", p.Member.ID, p.Member.Role)
	}
	a := membership.Actor{OrgID: 1, MemberID: 1, Interface: "test"}
	acc, err := svc.CheckAccess(ctx, a, membership.MemberRef{ID: 12}, membership.Ref{ID: d.Resources["Front door lock"]})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.Allowed || !acc.Direct || len(acc.GroupIDs) != 1 {
		t.Fatalf("member 12 front door access = %+v, want direct and through one group", acc)
	}
	g, err := svc.GroupMembers(ctx, a, membership.Ref{UUID: demo.TedeeGroupUUID}, membership.StatusActive)
	if err != nil || len(g) != 6 {
		t.Fatalf("door group members = %d, %v; want 6", len(g), err)
	}
	m, err := svc.Member(ctx, a, membership.MemberRef{Email: "EXAMPLE@EXAMPLE.COM"})
	if err != nil || m.ID != 4 {
		t.Fatalf("wiggledesk member = %+v, %v", m, err)
	}
	if _, err := demo.Load(ctx, st, time.Now()); membership.ErrorCode(err) != membership.CodeConflict {
		t.Fatalf("second load: got %v, want a conflict", err)
	}
}
