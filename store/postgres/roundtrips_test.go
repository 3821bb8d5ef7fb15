package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/internal/pgtest"
	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// maxRemovalRoundTrips bounds the round trips of one removal of a member
// whose report the interface discards (Jicoo's 204), as the store runs it
// in a group commit, the seal's own two left out (lock the chain head,
// write the events): the statement that locks the member and the one
// batch that ends the membership, its space and group memberships, its
// direct grants and its future bookings (MemberOffboard). The removal
// log's insert goes with the seal's first. Each round trip costs both
// processes a wake-up and a system call or two, which on a loaded 2-core
// machine is most of memberd's CPU per removal.
const maxRemovalRoundTrips = 2

// sealTrips is how many round trips sealing one organization's events
// takes: lock its chain head, write the events and advance the head.
const sealTrips = 2

// maxRemovalStatements is the same removal's statements, the removal
// log's insert included: PostgreSQL runs 7 of the
// storetest.MaxRemovalStatements both engines may.
const maxRemovalStatements = 7

// TestRemovalRoundTrips holds a single removal to its round trips and
// statements, for a member with a space membership, a group membership,
// a direct grant and a future booking. The first removal also reads the
// organization's configuration into the store's cache, and is left out.
func TestRemovalRoundTrips(t *testing.T) {
	for _, groupCommit := range []bool{true, false} {
		t.Run(fmt.Sprintf("GroupCommit=%v", groupCommit), func(t *testing.T) {
			ctx := context.Background()
			rs, svc, owner := recordedOrganization(t, true, postgres.WithGroupCommit(groupCommit))
			for i := range 4 {
				m := offboardable(ctx, t, svc, owner, i)
				rs.rec.Reset()
				if _, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}}); err != nil {
					t.Fatalf("remove member: %v", err)
				}
				sts := rs.rec.Queries()
				var work []string // the removal's own, not the seal's
				for _, q := range sts {
					if !strings.Contains(q, "event_chain_heads") && !strings.HasPrefix(q, "INSERT INTO events") {
						work = append(work, q)
					}
				}
				trips := rs.rec.RoundTrips() - sealTrips
				if i > 0 && (len(work) > maxRemovalStatements || trips > maxRemovalRoundTrips) {
					t.Errorf("removal %d: %d statements in %d round trips, want at most %d in %d:\n%s", i, len(work), trips,
						maxRemovalStatements, maxRemovalRoundTrips, strings.Join(work, "\n"))
				}
			}
		})
	}
}

// recordedOrganization opens a store on a fresh database with opts,
// recording its statements (sealed: the seal's too), and creates an
// organization in it; it returns the store, a service on it and the
// organization's owner.
func recordedOrganization(t *testing.T, sealed bool, opts ...postgres.Option) (*recordedStore, *membership.Service, membership.Actor) {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, pgtest.NewDatabase(t), opts...)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	rs := &recordedStore{Store: st, sealed: sealed}
	svc := membership.NewService(rs, membership.DefaultConfig())
	b, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Acme", OwnerEmail: "owner@acme.test"})
	if err != nil {
		t.Fatal(err)
	}
	return rs, svc, membership.Actor{OrgID: b.Organization.ID, MemberID: b.Owner.ID, Member: b.Owner, Interface: "test"}
}

// offboardable adds member i with a space membership holding a role, a
// group membership, a direct grant and a future booking.
func offboardable(ctx context.Context, t *testing.T, svc *membership.Service, owner membership.Actor, i int) *membership.Member {
	t.Helper()
	m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: fmt.Sprintf("m%d@acme.test", i), Name: "m", Role: membership.RoleMember})
	if err != nil {
		t.Fatalf("add member: %v", err)
	}
	ref := membership.MemberRef{ID: m.ID}
	sp, err := svc.CreateSpace(ctx, owner, fmt.Sprintf("space %d", i))
	if err != nil {
		t.Fatalf("create space: %v", err)
	}
	if _, err := svc.AddSpaceMember(ctx, owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: []string{"editor"}}); err != nil {
		t.Fatalf("add space member: %v", err)
	}
	g, err := svc.CreateGroup(ctx, owner, fmt.Sprintf("group %d", i))
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if _, err := svc.AddGroupMember(ctx, owner, membership.Ref{ID: g.ID}, ref); err != nil {
		t.Fatalf("add group member: %v", err)
	}
	r, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "desk", Name: fmt.Sprintf("desk %d", i)})
	if err != nil {
		t.Fatalf("create resource: %v", err)
	}
	if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref}); err != nil {
		t.Fatalf("create grant: %v", err)
	}
	start := time.Now().Add(24 * time.Hour)
	if _, err := svc.CreateBooking(ctx, owner, membership.CreateBookingRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref,
		StartsAt: start, EndsAt: start.Add(time.Hour)}); err != nil {
		t.Fatalf("create booking: %v", err)
	}
	return m
}

// maxDryRunRoundTrips bounds the round trips of an offboarding's dry run
// with its plan tag, as the native API previews one: the statement that
// locks the member, the one batch that ends the membership, its space
// and group memberships (every one, for the tag), its direct grants
// (with their keys) and its future bookings, and the grants of the
// groups left, listed and then their keys read. It is rolled back, so
// nothing is sealed.
const maxDryRunRoundTrips = 4

// TestDryRunRoundTrips holds a tagged dry run of an offboarding to its
// round trips: each call of the removal was its own round trip before.
func TestDryRunRoundTrips(t *testing.T) {
	ctx := context.Background()
	rs, svc, owner := recordedOrganization(t, false, postgres.WithGroupCommit(false))
	m := offboardable(ctx, t, svc, owner, 0)
	for i := range 2 { // the first also reads the organization's configuration
		rs.rec.Reset()
		g := &membership.Guard{}
		r, err := svc.RemoveMember(membership.WithGuard(ctx, g), owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}, DryRun: true})
		if err != nil {
			t.Fatalf("dry run: %v", err)
		}
		if g.ETag == "" || r.Counts.Spaces != 1 || r.Counts.Groups != 1 || r.Counts.DirectGrants != 1 || r.Counts.Bookings != 1 {
			t.Fatalf("dry run: tag %q, counts %+v", g.ETag, r.Counts)
		}
		if trips := rs.rec.RoundTrips(); i > 0 && trips > maxDryRunRoundTrips {
			t.Errorf("dry run: %d round trips, want at most %d:\n%s", trips, maxDryRunRoundTrips, strings.Join(rs.rec.Queries(), "\n"))
		}
	}
}

// maxBoundedOffboardRoundTrips bounds the round trips of an offboarding
// whose report is cut and kept (the native API's, the bench's S4), the
// seal's own left out (the removal log goes with it): the statement that
// locks the member and the one batch that ends the membership, its space
// memberships (the summed form), its group memberships, its direct grants
// and its future bookings and lists and counts the grants of the groups
// left. Each of those calls was its own round trip before, 7 in all.
const maxBoundedOffboardRoundTrips = 2

// TestBoundedOffboardRoundTrips holds an offboarding of a member with
// more of every kind than its report lists to its round trips, and its
// report to what it ended.
func TestBoundedOffboardRoundTrips(t *testing.T) {
	ctx := context.Background()
	rs, svc, owner := recordedOrganization(t, true)
	for i := range 2 { // the first also reads the organization's configuration
		m := offboardable(ctx, t, svc, owner, 2*i)
		ref := membership.MemberRef{ID: m.ID}
		// A second space, group and direct grant, and a second grant of
		// each group, beyond a report limit of 1.
		sp, err := svc.CreateSpace(ctx, owner, fmt.Sprintf("second space %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddSpaceMember(ctx, owner, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: []string{"viewer"}}); err != nil {
			t.Fatal(err)
		}
		g, err := svc.CreateGroup(ctx, owner, fmt.Sprintf("second group %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddGroupMember(ctx, owner, membership.Ref{ID: g.ID}, ref); err != nil {
			t.Fatal(err)
		}
		groups, err := svc.Groups(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		for _, gr := range groups {
			if gr.Name != fmt.Sprintf("group %d", 2*i) && gr.ID != g.ID {
				continue
			}
			for k := range 2 {
				r, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "desk", Name: fmt.Sprintf("desk %d %d %d", i, gr.ID, k)})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: gr.ID}}); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A group the member is not in: its grants are not the member's.
		other, err := svc.CreateGroup(ctx, owner, fmt.Sprintf("other group %d", i))
		if err != nil {
			t.Fatal(err)
		}
		r, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "desk", Name: fmt.Sprintf("own desk %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Group: &membership.Ref{ID: other.ID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref}); err != nil {
			t.Fatal(err)
		}

		rs.rec.Reset()
		rep, err := svc.RemoveMember(ctx, owner, membership.RemoveMemberRequest{Member: ref, ReportLimit: 1})
		if err != nil {
			t.Fatalf("offboard: %v", err)
		}
		want := membership.ReportCounts{Spaces: 2, Roles: 2, Groups: 2, DirectGrants: 2, GroupGrants: 4, Bookings: 1}
		if rep.Counts != want || !rep.Truncated {
			t.Errorf("offboard %d: counts %+v truncated %v, want %+v and truncated", i, rep.Counts, rep.Truncated, want)
		}
		if len(rep.Grants) != 2 || rep.Grants[0].Origin != "direct" || rep.Grants[1].Origin != "group" {
			t.Errorf("offboard %d: %d grants listed, want the first direct one and the first of the groups", i, len(rep.Grants))
		}
		var work []string
		for _, q := range rs.rec.Queries() {
			if !strings.Contains(q, "event_chain_heads") && !strings.Contains(q, "INSERT INTO events") {
				work = append(work, q)
			}
		}
		if trips := rs.rec.RoundTrips() - sealTrips; i > 0 && trips > maxBoundedOffboardRoundTrips {
			t.Errorf("offboard: %d round trips, want at most %d:\n%s", trips, maxBoundedOffboardRoundTrips, strings.Join(work, "\n"))
		}
	}
}
