package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
)

func TestSmoke(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "Owner@Acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Authenticate(ctx, b.Secret)
	if err != nil {
		t.Fatal(err)
	}
	a := membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID, Scopes: p.Credential.Scopes, Interface: "test"}
	m, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "Bob@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := svc.CreateSpace(ctx, a, "HQ")
	g, _ := svc.CreateGroup(ctx, a, "Eng")
	if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: membership.MemberRef{ID: m.ID}, Roles: []string{"editor", "viewer"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddGroupMember(ctx, a, membership.Ref{ID: g.ID}, membership.MemberRef{ID: m.ID}); err != nil {
		t.Fatal(err)
	}
	r, err := svc.CreateResource(ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: "D1", Space: membership.Ref{ID: sp.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateGrant(ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: g.ID}}); err != nil {
		t.Fatal(err)
	}
	acc, err := svc.CheckAccess(ctx, a, membership.MemberRef{ID: m.ID}, membership.Ref{ID: r.ID})
	if err != nil || !acc.Allowed {
		t.Fatalf("access %+v %v", acc, err)
	}
	if _, err := svc.CreateBooking(ctx, a, membership.CreateBookingRequest{Resource: membership.Ref{ID: r.ID}, Member: &membership.MemberRef{ID: m.ID}, StartsAt: time.Now().Add(time.Hour), EndsAt: time.Now().Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	dry, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dry: spaces=%d groups=%d grants=%d bookings=%d remaining=%d", len(dry.Spaces), len(dry.Groups), len(dry.Grants), len(dry.Bookings), len(dry.RemainingAccess))
	rep, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{Email: "BOB@acme.test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("real: spaces=%d groups=%d grants=%d bookings=%d remaining=%d", len(rep.Spaces), len(rep.Groups), len(rep.Grants), len(rep.Bookings), len(rep.RemainingAccess))
	acc, _ = svc.CheckAccess(ctx, a, membership.MemberRef{ID: m.ID}, membership.Ref{ID: r.ID})
	if acc.Allowed {
		t.Fatal("still allowed")
	}
	if _, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); membership.ErrorCode(err) != membership.CodeConflict {
		t.Fatal(err)
	}
	res, err := svc.RestoreMember(ctx, a, membership.RestoreMemberRequest{Member: membership.MemberRef{ID: m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("restored: spaces=%v groups=%d remaining=%d", res.Spaces[0].Roles, len(res.Groups), len(res.RemainingAccess))
	br, err := svc.RemoveBatch(ctx, a, membership.BatchRequest{Scope: membership.ScopeGroup, Group: membership.Ref{ID: g.ID}, Items: []membership.MemberRef{{ID: m.ID}, {ID: m.ID}, {ID: 9999}, {Raw: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range br.Items {
		t.Logf("item %d %s %s", it.Index, it.Outcome, it.Message)
	}
	h, err := svc.History(ctx, a, membership.MemberRef{ID: m.ID})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("periods %d", len(h.Periods))
	ev, _ := svc.Events(ctx, a, membership.EventListParams{MemberID: m.ID})
	for _, e := range ev {
		t.Logf("event %s %s %s", e.Action, e.Outcome, e.Message)
	}
}
