package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/memberd/memberd/membership"
)

// SpaceCreate implements membership.Tx.
func (t *Tx) SpaceCreate(ctx context.Context, s *membership.Space) error {
	return t.c.QueryRow(ctx, `INSERT INTO spaces (uuid, org_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		s.UUID, s.OrgID, s.Name, ts(s.CreatedAt)).Scan(&s.ID)
}

func scanSpace(r Row) (*membership.Space, error) {
	var s membership.Space
	var created int64
	if err := r.Scan(&s.ID, &s.UUID, &s.OrgID, &s.Name, &created); err != nil {
		return nil, err
	}
	s.CreatedAt = fromTS(created)
	return &s, nil
}

// SpaceGet implements membership.Tx.
func (t *Tx) SpaceGet(ctx context.Context, p *membership.RefParams) (*membership.Space, error) {
	return getByRef(ctx, t, p, "spaces", "id, uuid, org_id, name, created_at", "space", scanSpace)
}

// SpaceList implements membership.Tx.
func (t *Tx) SpaceList(ctx context.Context, orgID int64) ([]*membership.Space, error) {
	return collect(ctx, t, scanSpace, `SELECT id, uuid, org_id, name, created_at FROM spaces WHERE org_id = $1 ORDER BY id`, orgID)
}

const spaceMemberCols = `sm.id, sm.uuid, sm.org_id, sm.space_id, sm.member_id, u.email, sm.status, sm.added_by,
	sm.created_at, sm.removed_at, sm.cause,
	(SELECT string_agg(r.role, '
') FROM space_member_roles r WHERE r.space_member_id = sm.id AND r.revoked_at IS NULL)`

// spaceMemberReturning is spaceMemberCols for an UPDATE's RETURNING,
// which may name only the updated table: the rest comes by subquery.
// Every UPDATE that returns it changes one member's rows, named by $4
// (deactivateWhere's member, after the new status's time and cause and
// the organization), so the member's address is read once, not once a
// row (a thousand times in a dry run of the bench's S4 offboarding). It
// finds the member by (org_id, id), along the index memberGet's locking
// statement walked, as memberRemoveStmt does.
func (d *Dialect) spaceMemberReturning() string {
	return `id, uuid, org_id, space_id, member_id, ` + d.emailByKey("$4") + `,
	status, added_by, created_at, removed_at, cause,
	(SELECT string_agg(r.role, '
') FROM space_member_roles r WHERE r.space_member_id = space_members.id AND r.revoked_at IS NULL)`
}

// emailByKey is the e-mail of the member of the organization $3 whose id
// is member, by subquery: from the member's row where it holds the
// address (Dialect.EmailOnMember), else from its user's.
func (d *Dialect) emailByKey(member string) string {
	if d.EmailOnMember {
		return `(SELECT m.email FROM members m WHERE m.org_id = $3 AND m.id = ` + member + `)`
	}
	return `(SELECT u.email FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $3 AND m.id = ` + member + `)`
}

const spaceMemberFrom = ` FROM space_members sm JOIN members m ON m.id = sm.member_id JOIN users u ON u.id = m.user_id`

func scanSpaceMember(r Row) (*membership.SpaceMember, error) {
	var sm membership.SpaceMember
	var status string
	var addedBy, removedAt sql.NullInt64
	var cause, roles sql.NullString
	var created int64
	if err := r.Scan(&sm.ID, &sm.UUID, &sm.OrgID, &sm.SpaceID, &sm.MemberID, &sm.Email, &status, &addedBy,
		&created, &removedAt, &cause, &roles); err != nil {
		return nil, err
	}
	sm.Status, sm.AddedBy, sm.CreatedAt, sm.RemovedAt, sm.Cause = membership.Status(status), addedBy.Int64, fromTS(created), fromNullTS(removedAt), cause.String
	sm.Roles = []string{}
	if roles.String != "" {
		// Newline-separated: role names may contain spaces ("Workspace
		// Owner") but no control characters (membership.CleanRoles).
		sm.Roles = strings.Split(roles.String, "\n")
		sort.Strings(sm.Roles)
	}
	return &sm, nil
}

// SpaceMemberAdd implements membership.Tx.
func (t *Tx) SpaceMemberAdd(ctx context.Context, sm *membership.SpaceMember) error {
	existing, err := t.SpaceMemberGet(ctx, &membership.SpaceMemberGetParams{OrgID: sm.OrgID, SpaceID: sm.SpaceID, MemberID: sm.MemberID})
	switch {
	case err == nil && existing.Status == membership.StatusActive:
		return membership.Errorf(membership.CodeConflict, "%s is already in the space", existing.Email)
	case err == nil:
		// A re-added membership starts with the roles given now; the old
		// ones are closed, not deleted, so the history keeps them.
		if _, err := t.c.Exec(ctx, `UPDATE space_member_roles SET revoked_at = $2, revoked_by = $3 WHERE space_member_id = $1 AND revoked_at IS NULL`,
			existing.ID, ts(sm.CreatedAt), nullID(sm.AddedBy)); err != nil {
			return err
		}
		if _, err := t.c.Exec(ctx, `UPDATE space_members SET status = 'active', removed_at = NULL, cause = NULL, added_by = $2, created_at = $3 WHERE id = $1`,
			existing.ID, nullID(sm.AddedBy), ts(sm.CreatedAt)); err != nil {
			return err
		}
		sm.ID, sm.UUID = existing.ID, existing.UUID
	case membership.ErrorCode(err) == membership.CodeNotFound:
		if err := t.c.QueryRow(ctx, `INSERT INTO space_members (uuid, org_id, space_id, member_id, status, added_by, created_at)
			VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING id`,
			sm.UUID, sm.OrgID, sm.SpaceID, sm.MemberID, nullID(sm.AddedBy), ts(sm.CreatedAt)).Scan(&sm.ID); err != nil {
			return err
		}
	default:
		return err
	}
	return t.SpaceRolesGrant(ctx, &membership.SpaceRolesParams{SpaceMemberID: sm.ID, Roles: sm.Roles, At: sm.CreatedAt, By: sm.AddedBy})
}

// SpaceMemberGet implements membership.Tx.
func (t *Tx) SpaceMemberGet(ctx context.Context, p *membership.SpaceMemberGetParams) (*membership.SpaceMember, error) {
	var row Row
	if p.ID != 0 {
		row = t.c.QueryRow(ctx, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE sm.org_id = $1 AND sm.id = $2`, p.OrgID, p.ID)
	} else {
		row = t.c.QueryRow(ctx, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE sm.org_id = $1 AND sm.space_id = $2 AND sm.member_id = $3`,
			p.OrgID, p.SpaceID, p.MemberID)
	}
	sm, err := scanSpaceMember(row)
	return sm, t.notFound(err, "space membership")
}

// SpaceMemberList implements membership.Tx.
func (t *Tx) SpaceMemberList(ctx context.Context, p *membership.SpaceMemberListParams) ([]*membership.SpaceMember, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + spaceMemberCols + spaceMemberFrom + ` WHERE sm.org_id = $1`
	if p.SpaceID != 0 {
		q += " AND sm.space_id = " + arg(&args, p.SpaceID)
	}
	if p.MemberID != 0 {
		q += " AND sm.member_id = " + arg(&args, p.MemberID)
	}
	if p.Status != "" {
		q += " AND sm.status = " + arg(&args, string(p.Status))
	}
	return collect(ctx, t, scanSpaceMember, q+" ORDER BY sm.id", args...)
}

// SpaceMembersDeactivate implements membership.Tx. With p.Limit set (a
// member's removal), one UPDATE removes the lowest p.Limit space
// memberships and returns them; only when that filled the limit does a
// second remove and return the lowest p.Limit of the rest holding roles
// (so possibly more than p.Limit: the caller cuts its lists), and the
// rest are counted, with their roles, and removed by row count. Returning all
// of a member's 1,000 memberships, each with its roles and email read by
// subquery, was the largest statement of an offboarding (BenchmarkS4).
func (t *Tx) SpaceMembersDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.SpaceMember, int, int, error) {
	asActive := spaceMemberAsActive
	if t.fewSpaces(p) {
		rows, err := deactivated(ctx, t, p, "space_members", "removed_at", "space_id", p.SpaceID, t.d.spaceMemberReturning(), scanSpaceMember, asActive)
		return rows, len(rows), rolesOf(rows), err
	}
	if t.d.ModifyingCTE {
		return t.spaceMembersDeactivateSummed(ctx, p)
	}
	// The lowest p.Limit memberships, then, only when there are more, the
	// lowest p.Limit of the rest holding roles: a report lists the roles
	// of the first memberships that hold any, which may lie beyond the
	// first p.Limit memberships. Two statements, not one UPDATE with
	// "id IN (a) OR id IN (b)" or an IN over a UNION: PostgreSQL plans
	// those as a scan of the whole table (350 ms a removal at 1M members).
	args := []any{ts(p.At), p.Cause}
	rows, err := collect(ctx, t, scanSpaceMember, `UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE id IN (`+
		firstActive(&args, "space_members", p, p.Limit)+`) RETURNING `+t.d.spaceMemberReturning(), args...)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(rows) == p.Limit {
		args = []any{ts(p.At), p.Cause}
		withRoles := `SELECT sm.id FROM space_members sm WHERE ` + deactivateWhere(&args, "sm.", "", p, 0) +
			// A scalar subquery, not EXISTS: PostgreSQL turns EXISTS into a
			// join that reads every held role (570 ms at 100k members).
			` AND (SELECT 1 FROM space_member_roles r WHERE r.space_member_id = sm.id AND r.revoked_at IS NULL LIMIT 1) IS NOT NULL ORDER BY sm.id LIMIT ` + arg(&args, p.Limit)
		more, err := collect(ctx, t, scanSpaceMember, `UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE id IN (`+
			withRoles+`) RETURNING `+t.d.spaceMemberReturning(), args...)
		if err != nil {
			return nil, 0, 0, err
		}
		rows = append(rows, more...)
	}
	for _, sm := range rows {
		asActive(sm)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	if len(rows) < p.Limit { // every one
		return rows, len(rows), rolesOf(rows), nil
	}
	var rest, restRoles int
	args = []any{}
	err = t.c.QueryRow(ctx, `SELECT (SELECT count(*) FROM space_members WHERE `+deactivateWhere(&args, "", "", p, 0)+`),
		(SELECT count(*) FROM space_member_roles r JOIN space_members sm ON sm.id = r.space_member_id
		WHERE `+deactivateWhere(&args, "sm.", "", p, 0)+` AND r.revoked_at IS NULL)`, args...).Scan(&rest, &restRoles)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("count space memberships of member %d: %w", p.MemberID, err)
	}
	args = []any{ts(p.At), p.Cause}
	n, err := t.c.Exec(ctx, `UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE `+deactivateWhere(&args, "", "", p, 0), args...)
	if err == nil && n != int64(rest) {
		err = fmt.Errorf("remove space memberships of member %d: %d removed, %d counted", p.MemberID, n, rest)
	}
	if err != nil {
		return nil, 0, 0, err
	}
	return rows, len(rows) + rest, rolesOf(rows) + restRoles, nil
}

// fewSpaces says SpaceMembersDeactivate(p) is the plain UPDATE, which
// returns every membership it removes: when p asks for them all, or one
// space's, or when the statement that locked the member counted no more
// than a report lists. The one-statement form's ranking and sums cost
// half again what the plain UPDATE does for a member with a few
// memberships (0.24 against 0.16 ms of backend CPU for two), and the
// plain one's report is then the same.
func (t *Tx) fewSpaces(p *membership.DeactivateParams) bool {
	few := t.spaces.ok && t.spaces.member == p.MemberID && t.spaces.n <= min(p.Limit, membership.DefaultReportLimit)
	return p.Limit <= 0 || p.SpaceID != 0 || few
}

func spaceMemberAsActive(sm *membership.SpaceMember) int64 {
	sm.Status, sm.RemovedAt, sm.Cause = membership.StatusActive, nil, ""
	return sm.ID
}

// rolesOf counts the roles rows hold.
func rolesOf(rows []*membership.SpaceMember) int {
	n := 0
	for _, sm := range rows {
		n += len(sm.Roles)
	}
	return n
}

// spaceMembersDeactivateSummed is SpaceMembersDeactivate's limited form
// in one statement, where the engine reads an UPDATE's rows in WITH: all
// of the member's active memberships are removed, and of them come back
// the ones the general form returns (the lowest p.Limit, and the lowest
// p.Limit of the rest holding roles), each with the count of all and of
// all their roles. The general form's four statements each find the
// member's memberships (1,000 for an S4 member); this one finds them once
// (bench TestS4BackendCPU: 8.4 ms of backend CPU against 9.8 ms). The
// UPDATE returns each membership with its roles, and the two lists are
// two top-N reads of its rows: ranking them with window functions, and
// reading the listed rows again from the table, cost 5.9 ms of backend
// CPU against 4.9 (S4 member at 100k members, median of 21 alternating
// turns, planning included, which an S4 offboarding pays each time). The
// roles are counted from their newline-joined names, which hold no
// control character (membership.CleanRoles). The rows come back as they
// were, active: every row the UPDATE selects was, with no removal time
// or cause (SpaceMemberAdd and SpaceMembersReactivate clear both).
func (t *Tx) spaceMembersDeactivateSummed(ctx context.Context, p *membership.DeactivateParams) ([]*membership.SpaceMember, int, int, error) {
	var rows []*membership.SpaceMember
	var total, roles int
	if err := t.run(ctx, spaceMembersSummedStmt(t.d, p, &rows, &total, &roles)); err != nil {
		return nil, 0, 0, err
	}
	return rows, total, roles, nil
}

// spaceMembersSummedStmt is spaceMembersDeactivateSummed's statement,
// which leaves the listed memberships in rows and the count of all and
// of all their roles in total and roles.
func spaceMembersSummedStmt(d *Dialect, p *membership.DeactivateParams, rows *[]*membership.SpaceMember, total, roles *int) Queued {
	args := []any{ts(p.At), p.Cause}
	where := deactivateWhere(&args, "", "", p, 0)
	limit, member := arg(&args, p.Limit), arg(&args, p.MemberID)
	q := `WITH removed AS (
		UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE ` + where + `
		RETURNING id, uuid, org_id, space_id, member_id, added_by, created_at,
			(SELECT string_agg(r.role, '
') FROM space_member_roles r WHERE r.space_member_id = space_members.id AND r.revoked_at IS NULL) AS roles),
	totals AS (SELECT count(*) AS n, coalesce(sum(array_length(string_to_array(roles, '
'), 1)), 0) AS roles FROM removed),
	firsts AS (SELECT * FROM removed ORDER BY id LIMIT ` + limit + `),
	held AS (SELECT * FROM removed WHERE roles IS NOT NULL AND id > (SELECT max(id) FROM firsts) ORDER BY id LIMIT ` + limit + `)
	SELECT k.id, k.uuid, k.org_id, k.space_id, k.member_id,
		` + d.emailByKey(member) + `,
		'active', k.added_by, k.created_at, NULL::bigint, NULL::text, k.roles, totals.n, totals.roles
	FROM (SELECT * FROM firsts UNION ALL SELECT * FROM held) k, totals ORDER BY k.id`
	return Queued{Query: q, Args: args, Read: func(r Rows) error {
		var err error
		*rows, err = scanAll(r, func(r Row) (*membership.SpaceMember, error) {
			return scanSpaceMember(withExtra{r, []any{total, roles}})
		})
		return err
	}, Fail: func(err error) error { return fmt.Errorf("remove space memberships of member %d: %w", p.MemberID, err) }}
}

// withExtra is a Row whose Scan also fills extra from the columns after
// the ones its caller names.
type withExtra struct {
	Row
	extra []any
}

func (r withExtra) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// SpaceMembersReactivate implements membership.Tx.
func (t *Tx) SpaceMembersReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.SpaceMember, error) {
	if _, err := t.c.Exec(ctx, `UPDATE space_members SET status = 'active', removed_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause); err != nil {
		return nil, err
	}
	return t.SpaceMemberList(ctx, &membership.SpaceMemberListParams{OrgID: p.OrgID, MemberID: p.MemberID, Status: membership.StatusActive})
}

// SpaceRolesGrant implements membership.Tx.
func (t *Tx) SpaceRolesGrant(ctx context.Context, p *membership.SpaceRolesParams) error {
	for _, role := range p.Roles {
		if _, err := t.c.Exec(ctx, `INSERT INTO space_member_roles (space_member_id, role, granted_at, granted_by)
			SELECT $1, $2, $3, $4 WHERE NOT EXISTS (
				SELECT 1 FROM space_member_roles WHERE space_member_id = $1 AND role = $2 AND revoked_at IS NULL)`,
			p.SpaceMemberID, role, ts(p.At), nullID(p.By)); err != nil {
			return fmt.Errorf("grant role %q: %w", role, err)
		}
	}
	return nil
}

// SpaceRolesRevoke implements membership.Tx.
func (t *Tx) SpaceRolesRevoke(ctx context.Context, p *membership.SpaceRolesParams) (int, error) {
	args := []any{p.SpaceMemberID, ts(p.At), nullID(p.By)}
	n, err := t.c.Exec(ctx, `UPDATE space_member_roles SET revoked_at = $2, revoked_by = $3
		WHERE space_member_id = $1 AND revoked_at IS NULL AND role IN (`+placeholders(&args, p.Roles)+`)`, args...)
	return int(n), err
}
