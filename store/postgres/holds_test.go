package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/memberd/memberd/membership"
	"github.com/memberd/memberd/store/postgres"
)

// TestHoldFlags holds migration 00023's flags to their promise: every way
// SQL can write an active direct grant or booking for a member sets the
// member's flag (the store's calls, a plain INSERT, COPY, an UPDATE back
// to active), so that a removal that skips the UPDATE of grants or
// bookings for a member whose flag is unset never leaves one in force;
// and a removal does skip them for a member with neither.
func TestHoldFlags(t *testing.T) {
	ctx := context.Background()
	rs, svc, owner := recordedOrganization(t, true)
	pool := rs.Store.(*postgres.Store).Pool()
	add := func(i int) *membership.Member {
		m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: fmt.Sprintf("h%d@acme.test", i), Name: "h", Role: membership.RoleMember})
		if err != nil {
			t.Fatalf("add member: %v", err)
		}
		return m
	}
	res, err := svc.CreateResource(ctx, owner, membership.CreateResourceRequest{Kind: "desk", Name: "desk"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.CreateGroup(ctx, owner, "group")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	now := time.Now().UnixMicro()
	future := time.Now().Add(48 * time.Hour).UnixMicro()
	grantSQL := func(m *membership.Member, status string) {
		t.Helper()
		exec(`INSERT INTO grants (uuid, org_id, resource_id, member_id, status, created_at) VALUES (gen_random_uuid()::text, $1, $2, $3, $4, $5)`,
			owner.OrgID, res.ID, m.ID, status, now)
	}
	bookingSQL := func(m *membership.Member, starts int64) {
		t.Helper()
		exec(`INSERT INTO bookings (uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at) VALUES (gen_random_uuid()::text, $1, $2, $3, $4, $5, 'active', $6)`,
			owner.OrgID, res.ID, m.ID, starts, starts+3600e6, now)
	}

	plain, byInsert, byUpdate, byCopy, byService := add(0), add(1), add(2), add(3), add(4)
	// A grant through a group names no member and flags none.
	exec(`INSERT INTO grants (uuid, org_id, resource_id, group_id, status, created_at) VALUES (gen_random_uuid()::text, $1, $2, $3, 'active', $4)`,
		owner.OrgID, res.ID, g.ID, now)
	grantSQL(byInsert, "active")
	bookingSQL(byInsert, future)
	grantSQL(byUpdate, "removed")
	if got := holds(ctx, t, pool, byUpdate); got != [2]bool{false, false} {
		t.Errorf("a removed grant's member: holds %v, want neither", got)
	}
	exec(`UPDATE grants SET status = 'active' WHERE member_id = $1`, byUpdate.ID)
	rows := [][]any{{"copied-booking", owner.OrgID, res.ID, byCopy.ID, future + 7200e6, future + 10800e6, "active", now}}
	if _, err := pool.CopyFrom(ctx, pgx.Identifier{"bookings"}, []string{"uuid", "org_id", "resource_id", "member_id", "starts_at", "ends_at", "status", "created_at"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatalf("copy a booking: %v", err)
	}
	ref := membership.MemberRef{ID: byService.ID}
	if _, err := svc.CreateGrant(ctx, owner, membership.CreateGrantRequest{Resource: membership.Ref{ID: res.ID}, Member: &ref}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		m    *membership.Member
		want [2]bool
	}{
		{"neither", plain, [2]bool{false, false}},
		{"INSERT", byInsert, [2]bool{true, true}},
		{"UPDATE to active", byUpdate, [2]bool{true, false}},
		{"COPY", byCopy, [2]bool{false, true}},
		{"CreateGrant", byService, [2]bool{true, false}},
	} {
		if got := holds(ctx, t, pool, c.m); got != c.want {
			t.Errorf("%s: holds (grants, bookings) %v, want %v", c.name, got, c.want)
		}
	}

	// The removals: each member's active grants and future bookings end,
	// whoever wrote them, and the UPDATE of a kind runs only for a member
	// flagged for it.
	for _, c := range []struct {
		name             string
		m                *membership.Member
		grants, bookings bool
	}{
		{"neither", plain, false, false},
		{"INSERT", byInsert, true, true},
		{"UPDATE to active", byUpdate, true, false},
		{"COPY", byCopy, false, true},
	} {
		rs.rec.Reset()
		if _, err := svc.RemoveMember(membership.WithReportDiscarded(ctx), owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: c.m.ID}}); err != nil {
			t.Fatalf("%s: remove member: %v", c.name, err)
		}
		all := strings.Join(rs.rec.Queries(), "\n")
		if ran := strings.Contains(all, "UPDATE grants"); ran != c.grants {
			t.Errorf("%s: UPDATE of grants run %v, want %v:\n%s", c.name, ran, c.grants, all)
		}
		if ran := strings.Contains(all, "UPDATE bookings"); ran != c.bookings {
			t.Errorf("%s: UPDATE of bookings run %v, want %v:\n%s", c.name, ran, c.bookings, all)
		}
		var grants, bookings int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM grants WHERE member_id = $1 AND status = 'active'),
			(SELECT count(*) FROM bookings WHERE member_id = $1 AND status = 'active')`, c.m.ID).Scan(&grants, &bookings); err != nil {
			t.Fatal(err)
		}
		if grants != 0 || bookings != 0 {
			t.Errorf("%s: after the removal %d direct grants and %d future bookings still active", c.name, grants, bookings)
		}
	}
}

// holds reads m's flags (holds_grants, holds_bookings).
func holds(ctx context.Context, t *testing.T, pool *pgxpool.Pool, m *membership.Member) [2]bool {
	t.Helper()
	var h [2]bool
	if err := pool.QueryRow(ctx, `SELECT holds_grants, holds_bookings FROM members WHERE id = $1`, m.ID).Scan(&h[0], &h[1]); err != nil {
		t.Fatal(err)
	}
	return h
}

// heldUnflagged counts the active direct grants and active bookings of
// members whose flag says they have none (migration 00023), which must be
// none whatever wrote them; every database the conformance suite used is
// checked before it is dropped (templateDatabases).
func heldUnflagged(ctx context.Context, conn *pgx.Conn) (grants, bookings int, err error) {
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM grants g JOIN members m ON m.id = g.member_id WHERE g.status = 'active' AND NOT m.holds_grants),
		(SELECT count(*) FROM bookings b JOIN members m ON m.id = b.member_id WHERE b.status = 'active' AND NOT m.holds_bookings)`).Scan(&grants, &bookings)
	return grants, bookings, err
}

// TestMemberEmailCopy holds members.email (migration 00023) to its
// user's address, whatever writes the member: the store's calls, and SQL
// that leaves it out, sends another address, or moves the member to
// another user.
func TestMemberEmailCopy(t *testing.T) {
	ctx := context.Background()
	rs, svc, owner := recordedOrganization(t, false)
	pool := rs.Store.(*postgres.Store).Pool()
	check := func(name string) {
		t.Helper()
		var differ, all int
		if err := pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE m.email IS DISTINCT FROM u.email), count(*)
			FROM members m JOIN users u ON u.id = m.user_id`).Scan(&differ, &all); err != nil {
			t.Fatal(err)
		}
		if differ != 0 || all < 2 {
			t.Errorf("%s: %d of %d members' e-mail differs from their user's", name, differ, all)
		}
	}
	m, err := svc.AddMember(ctx, owner, membership.AddMemberRequest{Email: "copy@acme.test", Name: "c", Role: membership.RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	check("AddMember")
	var other int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (uuid, email, name, created_at) VALUES (gen_random_uuid()::text, 'other@acme.test', 'o', 0) RETURNING id`).Scan(&other); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE members SET user_id = $2 WHERE id = $1`, m.ID, other); err != nil {
		t.Fatal(err)
	}
	check("UPDATE of user_id")
	if _, err := pool.Exec(ctx, `UPDATE members SET email = 'forged@acme.test' WHERE id = $1`, m.ID); err != nil {
		t.Fatal(err)
	}
	check("UPDATE sending another address")
	if _, err := pool.Exec(ctx, `INSERT INTO users (uuid, email, name, created_at) VALUES (gen_random_uuid()::text, 'third@acme.test', 't', 0)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO members (uuid, org_id, user_id, name, role, status, created_at, updated_at, email)
		SELECT gen_random_uuid()::text, $1, id, 't', 'member', 'active', 0, 0, 'forged@acme.test' FROM users WHERE email = 'third@acme.test'`, owner.OrgID); err != nil {
		t.Fatal(err)
	}
	check("INSERT sending another address")
	// The removal reads the copy: its report names the new address.
	rep, err := svc.RemoveMember(ctx, owner, membership.RemoveMemberRequest{Member: membership.MemberRef{ID: m.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Member.Email != "other@acme.test" {
		t.Errorf("removal's member e-mail %q after its user changed, want other@acme.test", rep.Member.Email)
	}
}
