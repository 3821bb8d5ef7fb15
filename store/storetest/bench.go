package storetest

import (
	"context"
	"fmt"
	"sync"
	"syscall"
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
	b.ResetTimer()
	_, took := BenchRemoveEach(b, ctx, svc, a, ids, workers)
	b.ReportMetric(float64(members)/took.Seconds(), "removals/s")
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

// BenchRemoveEach removes the members ids names, one request each with
// ctx, from workers concurrent callers, and returns the CPU this process
// used and the time it took.
func BenchRemoveEach(b *testing.B, ctx context.Context, svc *membership.Service, a membership.Actor, ids chan int64, workers int) (cpu, took time.Duration) {
	before, start := ProcessCPU(b), time.Now()
	var wg sync.WaitGroup
	for range workers {
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
	return ProcessCPU(b) - before, time.Since(start)
}

// ProcessCPU is the process's user and system CPU so far.
func ProcessCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchS2Members builds an organization whose members are shaped as the
// bench's S2 members are (a site without a role and a space with one, a
// group, one in ten with a direct grant, one in twenty with a future
// booking), from workers concurrent callers, and returns an actor of its
// owner, its member known as authentication leaves it (a removal then
// locks its member in the one statement S2's requests run), and the
// members' ids.
func BenchS2Members(b *testing.B, svc *membership.Service, members, workers int) (membership.Actor, chan int64) {
	ctx := context.Background()
	boot, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Bench", OwnerEmail: "o@bench.test"})
	if err != nil {
		b.Fatal(err)
	}
	a := membership.Actor{OrgID: boot.Organization.ID, MemberID: boot.Owner.ID, Member: boot.Owner, CredentialID: boot.Credential.ID, Interface: "jicoo"}
	site, err := svc.CreateSpace(ctx, a, "site")
	if err != nil {
		b.Fatal(err)
	}
	sp, err := svc.CreateSpace(ctx, a, "space")
	if err != nil {
		b.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, a, "group")
	if err != nil {
		b.Fatal(err)
	}
	r, err := svc.CreateResource(ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: "desk"})
	if err != nil {
		b.Fatal(err)
	}
	ids := BenchMembers(b, svc, a, members, workers, func(m *membership.Member) error {
		k, ref := m.ID, membership.MemberRef{ID: m.ID}
		if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: site.ID}, Member: ref}); err != nil {
			return err
		}
		if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: []string{"editor"}}); err != nil {
			return err
		}
		if _, err := svc.AddGroupMember(ctx, a, membership.Ref{ID: g.ID}, ref); err != nil {
			return err
		}
		if k%10 == 0 {
			if _, err := svc.CreateGrant(ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref}); err != nil {
				return err
			}
		}
		if k%20 == 0 {
			start := time.Now().Add(time.Duration(24+k) * time.Hour)
			_, err := svc.CreateBooking(ctx, a, membership.CreateBookingRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref,
				StartsAt: start, EndsAt: start.Add(time.Hour)})
			return err
		}
		return nil
	})
	return a, ids
}
