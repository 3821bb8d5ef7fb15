package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/sqlstore"
)

// recordedStore records the statements of every write transaction.
type recordedStore struct {
	*Store
	rec *sqlstore.Recorder
}

func (r recordedStore) Update(ctx context.Context, fn func(membership.Tx) error) error {
	return r.Store.Update(ctx, func(tx membership.Tx) error {
		defer tx.(*sqlstore.Tx).Record(r.rec)()
		return fn(tx)
	})
}

// offboardWorld is an organization whose owner acts as authentication
// leaves an actor (its member known), and a member in two spaces and a
// group holding grants direct grants.
func offboardWorld(t *testing.T, grants int) (svc *membership.Service, s *Store, rec *sqlstore.Recorder, a membership.Actor, m *membership.Member) {
	t.Helper()
	ctx := context.Background()
	s = openPlanStore(t)
	rec = &sqlstore.Recorder{}
	svc = membership.NewService(recordedStore{s, rec}, membership.DefaultConfig())
	boot, err := svc.CreateOrganization(ctx, membership.BootstrapRequest{OrgName: "Plan", OwnerEmail: "o@plan.test"})
	if err != nil {
		t.Fatal(err)
	}
	a = membership.Actor{OrgID: boot.Organization.ID, MemberID: boot.Owner.ID, Member: boot.Owner, CredentialID: boot.Credential.ID, Interface: "jicoo"}
	if m, err = svc.AddMember(ctx, a, membership.AddMemberRequest{Email: "m@plan.test", Name: "M"}); err != nil {
		t.Fatal(err)
	}
	ref := membership.MemberRef{ID: m.ID}
	for i := range 2 {
		sp, err := svc.CreateSpace(ctx, a, fmt.Sprintf("space %d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddSpaceMember(ctx, a, membership.AddSpaceMemberRequest{Space: membership.Ref{ID: sp.ID}, Member: ref, Roles: []string{"member"}}); err != nil {
			t.Fatal(err)
		}
	}
	g, err := svc.CreateGroup(ctx, a, "group")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddGroupMember(ctx, a, membership.Ref{ID: g.ID}, ref); err != nil {
		t.Fatal(err)
	}
	for i := range grants {
		r, err := svc.CreateResource(ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: fmt.Sprintf("desk %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateGrant(ctx, a, membership.CreateGrantRequest{Resource: membership.Ref{ID: r.ID}, Member: &ref}); err != nil {
			t.Fatal(err)
		}
	}
	rec.Reset()
	return svc, s, rec, a, m
}

// TestOffboardPlainUpdates: the statement that locks a removal's member
// counted its space memberships and grants (Dialect.CountOnLock), so a
// member with no more than a report lists has them ended by the plain
// UPDATEs, without the subquery that picks the lowest ids first and, for
// grants, sorts them.
func TestOffboardPlainUpdates(t *testing.T) {
	ctx := context.Background()
	svc, s, rec, a, m := offboardWorld(t, 2)
	rep, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Spaces != 2 || rep.Counts.DirectGrants != 2 || len(rep.Spaces) != 2 || len(rep.Grants) != 2 {
		t.Errorf("report: counts %+v, %d spaces and %d grants listed, want 2 of each", rep.Counts, len(rep.Spaces), len(rep.Grants))
	}
	var updates int
	for _, st := range rec.Statements() {
		if !strings.HasPrefix(st.Query, "UPDATE space_members") && !strings.HasPrefix(st.Query, "UPDATE grants") {
			continue
		}
		updates++
		plan := explainQueryPlan(t, s.reader, st.Query, st.Args...)
		if strings.Contains(plan, "LIST SUBQUERY") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s\nplan:\n%s\nwant the plain UPDATE", st.Query, plan)
		}
	}
	if updates != 2 {
		t.Errorf("%d UPDATEs of space memberships and grants, want 2", updates)
	}
}

// TestOffboardOneGrantMoreThanListed: a member with one direct grant more
// than a report lists takes the limited UPDATE, which still reports the
// lowest ids and counts every grant it revoked.
func TestOffboardOneGrantMoreThanListed(t *testing.T) {
	ctx := context.Background()
	n := membership.DefaultReportLimit + 1
	svc, _, _, a, m := offboardWorld(t, n)
	before, err := svc.Grants(ctx, a, membership.GrantListParams{MemberID: m.ID, Status: membership.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.DirectGrants != n || len(rep.Grants) != membership.DefaultReportLimit || !rep.Truncated {
		t.Fatalf("report: %d direct grants counted, %d listed, truncated %v; want %d, %d, true", rep.Counts.DirectGrants, len(rep.Grants), rep.Truncated, n, membership.DefaultReportLimit)
	}
	for i, g := range rep.Grants {
		if g.Grant.ID != before[i].ID {
			t.Fatalf("listed grant %d is %d, want %d (the lowest ids)", i, g.Grant.ID, before[i].ID)
		}
	}
	left, err := svc.Grants(ctx, a, membership.GrantListParams{MemberID: m.ID, Status: membership.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d grants still active after the removal", len(left))
	}
}

// TestOffboardSkipsWhatIsNone: a member the locking read found with no
// direct grant and no booking has neither UPDATE run.
func TestOffboardSkipsWhatIsNone(t *testing.T) {
	ctx := context.Background()
	svc, _, rec, a, m := offboardWorld(t, 0)
	rep, err := svc.RemoveMember(ctx, a, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Counts.Spaces != 2 || rep.Counts.Groups != 1 || rep.Counts.DirectGrants != 0 || rep.Counts.Bookings != 0 {
		t.Errorf("report counts %+v, want 2 spaces, 1 group and nothing else", rep.Counts)
	}
	for _, st := range rec.Statements() {
		if strings.HasPrefix(st.Query, "UPDATE grants") || strings.HasPrefix(st.Query, "UPDATE bookings") {
			t.Errorf("ran %s", st.Query)
		}
	}
}

// TestOffboardCountForgotten: a grant or booking added after the locking
// read counted none is still ended: the write that adds it forgets the
// count.
func TestOffboardCountForgotten(t *testing.T) {
	ctx := context.Background()
	svc, s, _, a, m := offboardWorld(t, 0)
	res, err := svc.CreateResource(ctx, a, membership.CreateResourceRequest{Kind: "desk", Name: "late"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.Update(ctx, func(tx membership.Tx) error {
		lock := func() error {
			_, _, err := tx.MemberGetActing(ctx, &membership.MemberGetParams{OrgID: a.OrgID, ID: m.ID, Lock: true}, a.MemberID)
			return err
		}
		if err := lock(); err != nil {
			return err
		}
		g := &membership.Grant{UUID: "late-grant", OrgID: a.OrgID, ResourceID: res.ID, MemberID: m.ID, CreatedAt: now}
		if err := tx.GrantCreate(ctx, g); err != nil {
			return err
		}
		off := &membership.DeactivateParams{OrgID: a.OrgID, MemberID: m.ID, Cause: membership.CauseMemberRemoved, At: now, Limit: membership.DefaultReportLimit}
		if grants, n, err := tx.GrantsDeactivate(ctx, off); err != nil || n != 1 || len(grants) != 1 {
			t.Errorf("grant added after the count: revoked %d (%d listed), err %v; want 1", n, len(grants), err)
		}
		if err := lock(); err != nil {
			return err
		}
		b := &membership.Booking{UUID: "late-booking", OrgID: a.OrgID, ResourceID: res.ID, MemberID: m.ID,
			StartsAt: now.Add(time.Hour), EndsAt: now.Add(2 * time.Hour), CreatedAt: now}
		if err := tx.BookingCreate(ctx, b); err != nil {
			return err
		}
		cancel := &membership.BookingsCancelParams{OrgID: a.OrgID, MemberID: m.ID, After: now, Reason: "test", At: now}
		if got, err := tx.BookingsCancel(ctx, cancel); err != nil || len(got) != 1 {
			t.Errorf("booking added after the count: cancelled %d, err %v; want 1", len(got), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
