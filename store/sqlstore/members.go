package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/memberd/memberd/membership"
)

const memberCols = `m.id, m.uuid, m.org_id, u.email, m.name, m.role, m.status, m.added_by,
	m.created_at, m.updated_at, m.removed_at, m.removed_by`

const memberFrom = ` FROM members m JOIN users u ON u.id = m.user_id`

func scanMember(r Row) (*membership.Member, error) {
	var mr memberRow
	if err := r.Scan(mr.dest()...); err != nil {
		return nil, err
	}
	return mr.value(), nil
}

// memberRow receives memberCols, so that a query joining a member to
// another row can scan both at once.
type memberRow struct {
	m                             membership.Member
	role, status                  string
	addedBy, removedAt, removedBy sql.NullInt64
	created, updated              int64
}

func (mr *memberRow) dest() []any {
	m := &mr.m
	return []any{&m.ID, &m.UUID, &m.OrgID, &m.Email, &m.Name, &mr.role, &mr.status, &mr.addedBy,
		&mr.created, &mr.updated, &mr.removedAt, &mr.removedBy}
}

func (mr *memberRow) value() *membership.Member {
	m := mr.m
	m.Role, m.Status, m.AddedBy, m.RemovedBy = membership.Role(mr.role), membership.Status(mr.status), mr.addedBy.Int64, mr.removedBy.Int64
	m.CreatedAt, m.UpdatedAt, m.RemovedAt = fromTS(mr.created), fromTS(mr.updated), fromNullTS(mr.removedAt)
	return &m
}

// MemberCreate implements membership.Tx.
func (t *Tx) MemberCreate(ctx context.Context, userID int64, m *membership.Member) error {
	err := t.c.QueryRow(ctx, `INSERT INTO members (uuid, org_id, user_id, name, role, status, added_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		m.UUID, m.OrgID, userID, m.Name, string(m.Role), string(m.Status), nullID(m.AddedBy), ts(m.CreatedAt), ts(m.UpdatedAt)).Scan(&m.ID)
	if err != nil {
		return t.conflict(err, "%s is already a member", m.Email)
	}
	_, err = t.c.Exec(ctx, `INSERT INTO member_periods (member_id, started_at, started_by) VALUES ($1, $2, $3)`,
		m.ID, ts(m.CreatedAt), nullID(m.AddedBy))
	return err
}

// MemberGet implements membership.Tx.
func (t *Tx) MemberGet(ctx context.Context, p *membership.MemberGetParams) (*membership.Member, error) {
	m, _, err := t.memberGet(ctx, p, 0)
	return m, err
}

// MemberGetActing implements membership.Tx.
func (t *Tx) MemberGetActing(ctx context.Context, p *membership.MemberGetParams, actorID int64) (*membership.Member, membership.Role, error) {
	return t.memberGet(ctx, p, actorID)
}

// MembersLock implements membership.Tx. It reads nothing where the
// writer's transaction is already exclusive (SQLite).
func (t *Tx) MembersLock(ctx context.Context, orgID int64, ids []int64) error {
	if !t.d.LockRows || len(ids) == 0 {
		return nil
	}
	args := []any{orgID}
	// ORDER BY under FOR UPDATE locks the rows in that order.
	if _, err := t.c.Exec(ctx, `SELECT id FROM members WHERE org_id = $1 AND `+t.inIDs(&args, "id", ids)+` ORDER BY id FOR UPDATE`, args...); err != nil {
		return fmt.Errorf("lock members: %w", err)
	}
	return nil
}

// memberGet reads a member and, when actorID is set, the role of that
// active member of the same organization by a subquery, which FOR UPDATE
// OF m leaves unlocked.
func (t *Tx) memberGet(ctx context.Context, p *membership.MemberGetParams, actorID int64) (*membership.Member, membership.Role, error) {
	args := []any{p.OrgID}
	var where string
	switch {
	case p.ID != 0:
		where = "m.id = " + arg(&args, p.ID)
	case p.UUID != "":
		where = "m.uuid = " + arg(&args, strings.ToLower(p.UUID))
	case p.Email != "":
		where = "u.email = " + arg(&args, p.Email)
	default:
		return nil, "", membership.Errorf(membership.CodeNotFound, "member not found")
	}
	cols := memberCols
	var role sql.NullString
	var eventID, config sql.NullInt64
	reserve := actorID != 0 && t.d.EventIDs != ""
	// The organization's configuration version comes along too, so that
	// the removal's policy and webhook endpoints may come from a
	// ConfigCache (0 until the organization first changed either).
	version := reserve && t.d.ConfigVersions && t.configs != nil
	if actorID != 0 {
		role := `, (SELECT a.role FROM members a WHERE a.id = ` + arg(&args, actorID) + ` AND a.org_id = $1 AND a.status = 'active'`
		if p.Credential != 0 {
			role += ` AND EXISTS (SELECT 1 FROM credentials c WHERE c.id = ` + arg(&args, p.Credential) +
				` AND c.member_id = a.id AND c.revoked_at IS NULL)`
		}
		cols += role + `)`
	}
	counts := actorID != 0 && p.Lock && t.d.CountOnLock
	if counts {
		n := strconv.Itoa(membership.DefaultReportLimit + 1)
		cols += `, (SELECT count(*) FROM (SELECT 1 FROM space_members s WHERE s.member_id = m.id AND s.status = 'active' LIMIT ` + n + `)),
			(SELECT count(*) FROM (SELECT 1 FROM grants g WHERE g.member_id = m.id AND g.status = 'active' LIMIT ` + n + `)),
			(SELECT count(*) FROM (SELECT 1 FROM bookings b WHERE b.member_id = m.id AND b.status = 'active' LIMIT 1))`
	}
	holds := actorID != 0 && p.Lock && t.d.HoldFlags
	if holds {
		cols += `, m.holds_grants, m.holds_bookings`
	}
	from := memberFrom
	if p.Lock && t.d.EmailOnMember && p.Email == "" {
		// The e-mail comes with the row the statement locks: users'
		// pages are not read (and joined, users would be marked for FOR
		// UPDATE's recheck, which fetches the user's row).
		cols = strings.Replace(cols, "u.email", "m.email", 1)
		from = " FROM members m"
	}
	q := `SELECT ` + cols + from + ` WHERE m.org_id = $1 AND ` + where
	if p.Lock && t.d.LockRows {
		q += " FOR UPDATE OF m"
	}
	if reserve {
		// The removal this opens appends its event next: its id comes
		// along, one round trip fewer (an unused id is a gap, as a
		// rolled-back one is). It is taken once the member is locked, not
		// in the locking SELECT's own list, which PostgreSQL computes
		// before it waits for the lock: a removal waiting there for a
		// restore of the same member would hold a lower id than the
		// restore's event, and events are listed in id order.
		q = `WITH locked AS MATERIALIZED (` + q + `) SELECT locked.*, ` + t.d.EventIDs
		if version {
			q += `, COALESCE((SELECT version FROM config_versions WHERE org_id = $1), 0)`
		}
		if t.d.ModifyingCTE {
			// How many space memberships the removal will end, up to
			// one more than a report lists by default: see
			// SpaceMembersDeactivate.
			q += `, (SELECT count(*) FROM (SELECT 1 FROM space_members s WHERE s.member_id = locked.id AND s.status = 'active' LIMIT ` +
				strconv.Itoa(membership.DefaultReportLimit+1) + `) s)`
		}
		q += ` FROM locked`
	}
	var mr memberRow
	dest := mr.dest()
	if actorID != 0 {
		dest = append(dest, &role)
	}
	var spaces, grants, bookings sql.NullInt64
	if counts {
		dest = append(dest, &spaces, &grants, &bookings)
	}
	var holdsGrants, holdsBookings bool
	if holds {
		dest = append(dest, &holdsGrants, &holdsBookings)
	}
	if reserve {
		dest = append(dest, &eventID)
	}
	if version {
		dest = append(dest, &config)
	}
	if reserve && t.d.ModifyingCTE {
		dest = append(dest, &spaces)
	}
	if err := t.c.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		return nil, "", t.notFound(err, "member")
	}
	if eventID.Valid {
		t.eventID = eventID.Int64
	}
	if config.Valid {
		t.config = configRead{org: p.OrgID, version: config.Int64, ok: true}
	}
	if spaces.Valid {
		t.spaces = spacesRead{member: mr.m.ID, n: int(spaces.Int64), ok: true}
	}
	if grants.Valid {
		t.grants = spacesRead{member: mr.m.ID, n: int(grants.Int64), ok: true}
		t.bookings = spacesRead{member: mr.m.ID, n: int(bookings.Int64), ok: true}
	}
	if holds {
		// A flag set says only "may have": the count stays unknown.
		t.grants, t.bookings = spacesRead{}, spacesRead{}
		if !holdsGrants {
			t.grants = spacesRead{member: mr.m.ID, ok: true}
		}
		if !holdsBookings {
			t.bookings = spacesRead{member: mr.m.ID, ok: true}
		}
	}
	return mr.value(), membership.Role(role.String), nil
}

// MemberList implements membership.Tx.
func (t *Tx) MemberList(ctx context.Context, p *membership.MemberListParams) ([]*membership.Member, error) {
	args := []any{}
	sc := memberScope(&args, p)
	q := `SELECT ` + memberCols + sc.from + ` WHERE ` + sc.where + " ORDER BY " + sc.id + " LIMIT " + arg(&args, max(p.Limit, 1))
	if p.Offset > 0 {
		q += " OFFSET " + arg(&args, p.Offset)
	}
	return collect(ctx, t, scanMember, q, args...)
}

// MemberCount implements membership.Tx.
func (t *Tx) MemberCount(ctx context.Context, p *membership.MemberListParams) (int, error) {
	args := []any{}
	sc := memberScope(&args, p)
	var n int
	if err := t.c.QueryRow(ctx, `SELECT count(*)`+sc.from+` WHERE `+sc.where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count members: %w", err)
	}
	return n, nil
}

// memberSelection is where MemberList, MemberCount and MemberSearch read
// members from: FROM, WHERE, the member id column their pages are in the
// order of, and the key a page's bounds compare (see past).
type memberSelection struct{ from, where, id, key, org string }

// past is the condition that the selection's walk is past id in the
// direction of op ("<" or ">"). A walk of members compares (org_id, id),
// which members_org_id alone can serve: compared by id, PostgreSQL's
// generic plan walked the primary key and filtered organization and
// state, and a page of active members in an organization almost all
// removed read the other organizations too (1.2M members in three
// organizations: 180-210 ms a page, against 1-10 ms walking the
// organization's own index).
func (sc memberSelection) past(op, id string) string {
	if sc.org == "" {
		return sc.key + " " + op + " " + id
	}
	return sc.key + " " + op + " (" + sc.org + ", " + id + ")"
}

// removedFrom reads an organization's removed members through
// removed_members (migration 00017), in member id order, and joins each
// member by its key: members has no index holding status, so that a
// removal's UPDATE of it adds no index entry (on PostgreSQL a HOT update).
// "+ 0" keeps PostgreSQL from a merge join that walks members' primary key
// from the page's first id: its statistics of member_id span every
// organization, so it took that walk for cheap, and at 1M members a page
// of an organization that came later read 200,000 members (170 ms where
// each member's own key takes 0.2 ms).
const removedFrom = ` FROM removed_members r JOIN members m ON m.id = r.member_id + 0 JOIN users u ON u.id = m.user_id`

// memberScope is the selection p asks for. Removed members are walked in
// removed_members, so a page reads only removed ones however few an
// organization has; every other list walks members_org_id (org_id, id)
// and filters the rows it reads, active ones skipping the removed.
func memberScope(args *[]any, p *membership.MemberListParams) memberSelection {
	var sc memberSelection
	org := arg(args, p.OrgID)
	switch p.Status {
	case membership.StatusRemoved:
		// Every statement that changes a status keeps removed_members
		// exact, so its rows need no second look at the status.
		sc = memberSelection{from: removedFrom, where: "r.org_id = " + org, id: "r.member_id", key: "r.member_id"}
	default:
		sc = memberSelection{from: memberFrom, where: "m.org_id = " + org, id: "m.id", key: "(m.org_id, m.id)", org: org}
	}
	sc.where += " AND " + sc.past(">", arg(args, p.AfterID))
	if p.Status != "" && p.Status != membership.StatusRemoved {
		sc.where += " AND m.status = " + arg(args, string(p.Status))
	}
	if p.Role != "" {
		sc.where += " AND m.role = " + arg(args, string(p.Role))
	}
	if p.Query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(p.Query)) + "%"
		ph := arg(args, like)
		sc.where += " AND (u.email LIKE " + ph + ` ESCAPE '\' OR lower(m.name) LIKE ` + ph + ` ESCAPE '\')`
	}
	return sc
}

// MemberSetStatus implements membership.Tx.
//
// A removal leaves the member's period open in member_periods: the
// period ends at the member's removed_at, by removed_by, for as long as
// the member stays removed (MemberPeriodList reads it so), and a restore
// writes that end into the period before it opens the next (migration
// 00019).
func (t *Tx) MemberSetStatus(ctx context.Context, p *membership.MemberSetStatusParams) error {
	var n int64
	var err error
	if p.Status != membership.StatusRemoved {
		// Before members forgets the removal, and in a statement of its
		// own: the new period's row must not meet the old one still open
		// in member_periods_open.
		if _, err := t.c.Exec(ctx, `UPDATE member_periods SET
				ended_at = (SELECT removed_at FROM members WHERE id = $1), ended_by = (SELECT removed_by FROM members WHERE id = $1)
			WHERE member_id = $1 AND ended_at IS NULL AND EXISTS (SELECT 1 FROM members WHERE id = $1 AND status = 'removed')`, p.ID); err != nil {
			return fmt.Errorf("end member %d's period: %w", p.ID, err)
		}
	}
	if t.d.ModifyingCTE {
		// The membership, its row of removed_members and a restore's
		// new period in one statement, one round trip. Without modifying
		// CTEs (SQLite) triggers keep removed_members (migration 00017).
		if p.Status == membership.StatusRemoved {
			if err := t.run(ctx, memberRemoveStmt(p, 0, &n)); err != nil {
				return err
			}
			return memberFound(n)
		}
		q := `WITH m AS (UPDATE members SET status = 'active', removed_at = NULL, removed_by = NULL, updated_at = $2 WHERE id = $1 RETURNING id, org_id),
			p AS (INSERT INTO member_periods (member_id, started_at, started_by) SELECT id, CAST($2 AS BIGINT), CAST($3 AS BIGINT) FROM m),
			r AS (DELETE FROM removed_members WHERE org_id = (SELECT org_id FROM m) AND member_id = $1)
			SELECT count(*) FROM m`
		err = t.c.QueryRow(ctx, q, p.ID, ts(p.At), nullID(p.By)).Scan(&n)
	} else if p.Status == membership.StatusRemoved {
		n, err = t.c.Exec(ctx, `UPDATE members SET status = 'removed', removed_at = $2, removed_by = $3, updated_at = $2 WHERE id = $1`,
			p.ID, ts(p.At), nullID(p.By))
	} else {
		n, err = t.c.Exec(ctx, `UPDATE members SET status = 'active', removed_at = NULL, removed_by = NULL, updated_at = $2 WHERE id = $1`,
			p.ID, ts(p.At))
		if err == nil {
			_, err = t.c.Exec(ctx, `INSERT INTO member_periods (member_id, started_at, started_by) VALUES ($1, $2, $3)`,
				p.ID, ts(p.At), nullID(p.By))
		}
	}
	if err != nil {
		return fmt.Errorf("set member %d %s: %w", p.ID, p.Status, err)
	}
	return memberFound(n)
}

// memberFound refuses a status change that found no member to change.
func memberFound(n int64) error {
	if n == 0 {
		return membership.Errorf(membership.CodeNotFound, "member not found")
	}
	return nil
}

// MemberUpdate implements membership.Tx.
func (t *Tx) MemberUpdate(ctx context.Context, m *membership.Member) error {
	_, err := t.c.Exec(ctx, `UPDATE members SET name = $2, role = $3, updated_at = $4 WHERE id = $1`,
		m.ID, m.Name, string(m.Role), ts(m.UpdatedAt))
	return err
}

// MemberPeriodList implements membership.Tx. A removed member's last
// period ends at the removal the member row records (MemberSetStatus).
func (t *Tx) MemberPeriodList(ctx context.Context, memberID int64) ([]*membership.MemberPeriod, error) {
	return collect(ctx, t, func(r Row) (*membership.MemberPeriod, error) {
		var p membership.MemberPeriod
		var started int64
		var startedBy, ended, endedBy sql.NullInt64
		if err := r.Scan(&p.MemberID, &started, &startedBy, &ended, &endedBy); err != nil {
			return nil, err
		}
		p.StartedAt, p.StartedBy, p.EndedAt, p.EndedBy = fromTS(started), startedBy.Int64, fromNullTS(ended), endedBy.Int64
		return &p, nil
	}, `SELECT p.member_id, p.started_at, p.started_by,
			CASE WHEN p.ended_at IS NULL AND m.status = 'removed' THEN m.removed_at ELSE p.ended_at END,
			CASE WHEN p.ended_at IS NULL AND m.status = 'removed' THEN m.removed_by ELSE p.ended_by END
		FROM member_periods p JOIN members m ON m.id = p.member_id WHERE p.member_id = $1 ORDER BY p.id`, memberID)
}
