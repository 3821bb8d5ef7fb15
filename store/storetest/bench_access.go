package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/memberd/memberd/membership"
)

// BenchChecks measures one access check request in-process (authenticate,
// then check) three ways: as it ran before issue 16 (the credential, then
// member, resource and access paths as three statements), as one
// statement with the access index off, and with the index warm. It is a
// rough comparison on a shared machine, not a figure for the docs.
func BenchChecks(b *testing.B, st membership.Store, members int) {
	ctx := context.Background()
	boot, err := membership.NewService(st, membership.DefaultConfig()).CreateOrganization(ctx,
		membership.BootstrapRequest{OrgName: "Bench", OwnerEmail: "o@bench.test"})
	if err != nil {
		b.Fatal(err)
	}
	owner := membership.Actor{OrgID: boot.Organization.ID, MemberID: boot.Owner.ID, CredentialID: boot.Credential.ID,
		Scopes: membership.AllScopes(), Interface: "bench"}
	svc := membership.NewService(st, membership.DefaultConfig())
	res, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "lock", Name: "front"})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int64, members)
	for i := range ids {
		m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@bench.test", i)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: res.ID}, Member: &membership.MemberRef{ID: m.ID}}); err != nil {
			b.Fatal(err)
		}
		ids[i] = m.ID
	}
	request := func(svc *membership.Service) membership.Actor {
		p, err := svc.Authenticate(ctx, boot.Secret)
		if err != nil {
			b.Fatal(err)
		}
		return membership.Actor{OrgID: p.Credential.OrgID, MemberID: p.Member.ID, CredentialID: p.Credential.ID, AccessEpoch: p.AccessEpoch}
	}
	b.Run("ThreeStatements", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			a := request(svc)
			err := st.View(ctx, func(tx membership.Tx) error {
				m, err := tx.MemberGet(ctx, &membership.MemberGetParams{OrgID: a.OrgID, ID: ids[i%members]})
				if err != nil {
					return err
				}
				r, err := tx.ResourceGet(ctx, &membership.RefParams{OrgID: a.OrgID, ID: res.ID})
				if err != nil {
					return err
				}
				_, err = tx.AccessCheck(ctx, &membership.AccessParams{OrgID: a.OrgID, MemberID: m.ID, ResourceID: r.ID})
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, size := range []int{-1, 0} {
		name := "OneStatement"
		if size == 0 {
			name = "IndexWarm"
		}
		cfg := membership.DefaultConfig()
		cfg.AccessIndex = size
		svc := membership.NewService(st, cfg)
		for _, id := range ids { // warm the index, if on
			if _, err := svc.CheckAccess(ctx, request(svc), membership.MemberRef{ID: id}, membership.Ref{ID: res.ID}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if _, err := svc.CheckAccess(ctx, request(svc), membership.MemberRef{ID: ids[i%members]}, membership.Ref{ID: res.ID}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
