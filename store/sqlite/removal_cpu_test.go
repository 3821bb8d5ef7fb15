package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlite"
	"github.com/memberd/memberd/store/storetest"
)

// BenchmarkRemovalCPU measures the process's CPU per single removal as
// Jicoo makes it (report discarded) at concurrency 64, each member in two
// spaces with a role and in one group, as the bench's S2 members are:
// go test -run - -bench RemovalCPU -benchtime 1x ./store/sqlite/
// Compare two trees by the cpu-µs/removal of alternating runs: the
// machine's other load moves the rate, much less the CPU.
func BenchmarkRemovalCPU(b *testing.B) {
	const members, workers = 3000, 64
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc := membership.NewService(st, membership.DefaultConfig())
	boot, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Bench", OwnerEmail: "o@bench.test"})
	if err != nil {
		b.Fatal(err)
	}
	// The actor's member known, as authentication leaves it: the removal
	// locks its member in the one statement S2's requests run.
	a := membership.Actor{OrgID: boot.Organization.ID, MemberID: boot.Owner.ID, Member: boot.Owner, CredentialID: boot.Credential.ID, Interface: "jicoo"}
	var spaces []*membership.Space
	for i := range 2 {
		sp, err := svc.CreateSpace(ctx, a, fmt.Sprintf("space %d", i))
		if err != nil {
			b.Fatal(err)
		}
		spaces = append(spaces, sp)
	}
	g, err := svc.CreateGroup(ctx, a, "group")
	if err != nil {
		b.Fatal(err)
	}
	ids := storetest.BenchMembers(b, svc, a, members, workers, func(m *membership.Member) error {
		ref := membership.MemberRef{ID: m.ID}
		for _, sp := range spaces {
			if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: []string{"member"}}); err != nil {
				return err
			}
		}
		_, err := svc.AddGroupMember(ctx, a, membership.Ref{ID: g.ID}, ref)
		return err
	})
	if b.Failed() {
		return
	}
	b.ResetTimer()
	used, took := storetest.BenchRemoveEach(b, membership.WithReportDiscarded(ctx), svc, a, ids, workers)
	b.ReportMetric(float64(used.Microseconds())/members, "cpu-µs/removal")
	b.ReportMetric(members/took.Seconds(), "removals/s")
}
