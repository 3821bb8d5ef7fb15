package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
)

// BenchRemovals measures concurrent single removals in one organization,
// the case the audit hash chain serializes on its head: members
// removals by workers concurrent callers, reported as removals/s. Every
// removal writes its member, its event and (with the chain) the chain
// head in one transaction.
func BenchRemovals(b *testing.B, st membership.Store, members, workers int) {
	ctx := context.Background()
	svc := membership.NewService(st, membership.DefaultConfig())
	boot, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Bench", OwnerEmail: "o@bench.test"})
	if err != nil {
		b.Fatal(err)
	}
	a := membership.Actor{OrgID: boot.Organization.ID, MemberID: boot.Owner.ID, CredentialID: boot.Credential.ID, Interface: "bench"}
	ids := BenchMembers(b, svc, a, members, workers, nil)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range ids {
				if _, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: id}}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(members)/time.Since(start).Seconds(), "removals/s")
}

// BenchMembers adds members to a's organization from workers concurrent
// callers, each then readied by ready (when not nil), and returns their
// ids, the channel closed.
func BenchMembers(b *testing.B, svc *membership.Service, a membership.Actor, members, workers int, ready func(*membership.Member) error) chan int64 {
	ctx := context.Background()
	ids := make(chan int64, members)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < members; i += workers {
				m, err := svc.AddMember(ctx, a, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@bench.test", i)})
				if err == nil && ready != nil {
					err = ready(m)
				}
				if err != nil {
					b.Error(err)
					return
				}
				ids <- m.ID
			}
		}()
	}
	wg.Wait()
	close(ids)
	return ids
}
