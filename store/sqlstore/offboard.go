package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/memberd/memberd/membership"
)

// Queued is one statement that may be sent together with others
// (Batcher): its text, its arguments, what reads its rows and what
// gives its failure context.
type Queued struct {
	Query string
	Args  []any
	// Read reads the statement's rows; the caller closes them and
	// checks their Err.
	Read func(Rows) error
	// Fail, when set, wraps the statement's error.
	Fail func(error) error
}

// Batcher is a Conn that sends several statements to its server at once
// and reads their results in order, one round trip for all (PostgreSQL's
// pipeline). A statement that fails ends the batch: the ones after it
// are not run, as when they are run one at a time.
type Batcher interface {
	Batch(ctx context.Context, qs []Queued) error
}

// RunQueued runs qs one at a time on c, stopping at the first failure.
func RunQueued(ctx context.Context, c Conn, qs []Queued) error {
	for _, q := range qs {
		rows, err := c.Query(ctx, q.Query, q.Args...)
		if err == nil {
			err = ReadQueued(q, rows)
		}
		if err != nil {
			return q.Wrap(err)
		}
	}
	return nil
}

// ReadQueued reads q's rows with q.Read and closes them.
func ReadQueued(q Queued, rows Rows) error {
	defer rows.Close()
	if err := q.Read(rows); err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// Wrap wraps err, the error of q, with q's context.
func (q Queued) Wrap(err error) error {
	if q.Fail != nil {
		return q.Fail(err)
	}
	return err
}

// run runs qs in one batch where the connection can, else one at a time.
func (t *Tx) run(ctx context.Context, qs ...Queued) error {
	if b, ok := t.c.(Batcher); ok && len(qs) > 1 {
		return b.Batch(ctx, qs)
	}
	return RunQueued(ctx, t.c, qs)
}

// MemberOffboard implements membership.Tx. Each of its calls is one
// statement here where the engine reads an UPDATE's rows in WITH: the
// space memberships' is the plain UPDATE when the member's memberships
// are few enough for a report to list them all (the count the statement
// that locked the member read), else the summed one that returns only
// what a report lists. On a Batcher they then go to the server as one
// batch, one round trip where they were five (measured on the S2 bench,
// PostgreSQL), and six for an offboarding whose report lists the grants
// of the groups left: those are read in the batch before the groups are
// left (the S4 bench's member: 1,000 spaces, 200 groups). Otherwise the
// calls run one after another.
func (t *Tx) MemberOffboard(ctx context.Context, p *membership.MemberOffboardParams) (*membership.MemberOffboarded, error) {
	out := &membership.MemberOffboarded{}
	_, batch := t.c.(Batcher)
	if !batch || !t.d.ModifyingCTE || p.Status.Status != membership.StatusRemoved || p.Off.Limit <= 0 {
		return t.memberOffboardEach(ctx, p, out)
	}
	var n int64
	var keys sql.NullString
	spaces := deactivatedStmt(&p.Spaces, "space_members", "removed_at", "space_id", p.Spaces.SpaceID, t.d.spaceMemberReturning(), scanSpaceMember, spaceMemberAsActive, &out.Spaces)
	summed := !t.fewSpaces(&p.Spaces)
	if summed {
		spaces = spaceMembersSummedStmt(t.d, &p.Spaces, &out.Spaces, &out.SpaceCount, &out.Roles)
	}
	qs := []Queued{memberRemoveStmt(&p.Status, p.Off.OrgID, &n), spaces}
	if p.GroupGrants {
		qs = append(qs, groupGrantsStmt(&p.Off, &out.GroupGrants, &out.GroupGrantCount))
	}
	qs = append(qs, deactivatedStmt(&p.Off, "group_members", "removed_at", "group_id", p.Off.GroupID, groupMemberCols, scanGroupMember, groupMemberAsActive, &out.Groups))
	// A member the locking read found with no direct grant or no booking
	// (Dialect.HoldFlags) is spared that UPDATE's index probe.
	if t.grants.none(p.Off.MemberID) {
		out.Grants = []*membership.Grant{}
	} else {
		qs = append(qs, grantsCountedStmt(&p.Off, &out.Grants, &out.GrantCount, &keys))
	}
	if p.Bookings != nil {
		if t.bookings.none(p.Bookings.MemberID) {
			out.Bookings = []*membership.Booking{}
		} else {
			qs = append(qs, bookingsCancelStmt(p.Bookings, &out.Bookings))
		}
	}
	if err := t.run(ctx, qs...); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, membership.Errorf(membership.CodeNotFound, "member not found")
	}
	if p.Off.Keys != nil {
		var err error
		if *p.Off.Keys, err = sortedKeys(keys.String, 2, p.Off.MemberID, membership.MaxReportLimit); err != nil {
			return nil, err
		}
	}
	if !summed {
		out.SpaceCount, out.Roles = len(out.Spaces), rolesOf(out.Spaces)
	}
	return out, nil
}

// memberOffboardEach is MemberOffboard one call at a time.
func (t *Tx) memberOffboardEach(ctx context.Context, p *membership.MemberOffboardParams, out *membership.MemberOffboarded) (*membership.MemberOffboarded, error) {
	if err := t.MemberSetStatus(ctx, &p.Status); err != nil {
		return nil, err
	}
	var err error
	if out.Spaces, out.SpaceCount, out.Roles, err = t.SpaceMembersDeactivate(ctx, &p.Spaces); err != nil {
		return nil, err
	}
	if out.Groups, err = t.GroupMembersDeactivate(ctx, &p.Off); err != nil {
		return nil, err
	}
	if p.GroupGrants && len(out.Groups) > 0 {
		ids := make([]int64, len(out.Groups))
		for i, gm := range out.Groups {
			ids[i] = gm.GroupID
		}
		gp := &membership.GrantListParams{OrgID: p.Off.OrgID, GroupIDs: ids, Status: membership.StatusActive, Limit: p.Off.Limit}
		if out.GroupGrants, out.GroupGrantCount, err = t.GrantListCounted(ctx, gp, nil); err != nil {
			return nil, err
		}
	}
	if out.Grants, out.GrantCount, err = t.GrantsDeactivate(ctx, &p.Off); err != nil {
		return nil, err
	}
	if p.Bookings != nil {
		if out.Bookings, err = t.BookingsCancel(ctx, p.Bookings); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// memberRemoveStmt is MemberSetStatus's statement for a removal on an
// engine with modifying CTEs: the membership and its row of
// removed_members (the status lists' index, migration 00017) in one
// statement; the member's period ends at the removed_at it writes
// (migration 00019). It leaves the number of members removed in n.
//
// With the member's organization (orgID not 0) it finds the member by
// (org_id, id), as the statement that locked it did (memberGet), so
// that the removal reads one of members' two indexes, not both: at 1M
// members with its pages outside the caches (TestS5Pages with
// MEMBERD_S5_COLD, A B B A A B in one process, twice), 11.2 blocks read
// a removal against 12.2 (12.2 against 13.3 right after the load), and
// its wall time 0.81x (median of the 6 pairs' ratios, 0.52 to 1.34).
func memberRemoveStmt(p *membership.MemberSetStatusParams, orgID int64, n *int64) Queued {
	where, args := "id = $1", []any{p.ID, ts(p.At), nullID(p.By)}
	if orgID != 0 {
		where, args = "org_id = $4 AND id = $1", append(args, orgID)
	}
	return Queued{
		Query: `WITH m AS (UPDATE members SET status = 'removed', removed_at = $2, removed_by = $3, updated_at = $2 WHERE ` + where + ` RETURNING id, org_id),
			r AS (INSERT INTO removed_members (org_id, member_id) SELECT org_id, id FROM m ON CONFLICT DO NOTHING)
			SELECT count(*) FROM m`,
		Args: args,
		Read: func(r Rows) error { return scanOne(r, n) },
		Fail: func(err error) error { return fmt.Errorf("set member %d %s: %w", p.ID, p.Status, err) },
	}
}

// scanOne scans the one row of r into dest.
func scanOne(r Rows, dest ...any) error {
	if !r.Next() {
		if err := r.Err(); err != nil {
			return err
		}
		return errors.New("no row")
	}
	return r.Scan(dest...)
}
