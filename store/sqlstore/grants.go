package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/memberd/memberd/membership"
)

const grantCols = `id, uuid, org_id, resource_id, member_id, group_id, status, created_at, revoked_at, cause`

func scanGrant(r Row) (*membership.Grant, error) {
	var g membership.Grant
	var member, group, revoked sql.NullInt64
	var status string
	var cause sql.NullString
	var created int64
	if err := r.Scan(&g.ID, &g.UUID, &g.OrgID, &g.ResourceID, &member, &group, &status, &created, &revoked, &cause); err != nil {
		return nil, err
	}
	g.MemberID, g.GroupID, g.Status = member.Int64, group.Int64, membership.Status(status)
	g.CreatedAt, g.RevokedAt, g.Cause = fromTS(created), fromNullTS(revoked), cause.String
	return &g, nil
}

// GrantGet implements membership.Tx.
func (t *Tx) GrantGet(ctx context.Context, p *membership.RefParams) (*membership.Grant, error) {
	return getByRef(ctx, t, p, "grants", grantCols, "grant", scanGrant)
}

// GrantCreate implements membership.Tx.
func (t *Tx) GrantCreate(ctx context.Context, g *membership.Grant) error {
	return t.c.QueryRow(ctx, `INSERT INTO grants (uuid, org_id, resource_id, member_id, group_id, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING id`,
		g.UUID, g.OrgID, g.ResourceID, nullID(g.MemberID), nullID(g.GroupID), ts(g.CreatedAt)).Scan(&g.ID)
}

// grantWhere is the WHERE clause GrantList and GrantCount share.
func grantWhere(args *[]any, p *membership.GrantListParams) string {
	w := ` WHERE org_id = ` + arg(args, p.OrgID)
	switch {
	case p.MemberID != 0 && len(p.GroupIDs) > 0:
		w += " AND (member_id = " + arg(args, p.MemberID) + " OR group_id IN (" + placeholders(args, p.GroupIDs) + "))"
	case p.MemberID != 0:
		w += " AND member_id = " + arg(args, p.MemberID)
	case len(p.GroupIDs) > 0:
		w += " AND group_id IN (" + placeholders(args, p.GroupIDs) + ")"
	}
	if p.ResourceID != 0 {
		w += " AND resource_id = " + arg(args, p.ResourceID)
	}
	if p.Status != "" {
		w += " AND status = " + arg(args, string(p.Status))
	}
	return w
}

// GrantList implements membership.Tx.
func (t *Tx) GrantList(ctx context.Context, p *membership.GrantListParams) ([]*membership.Grant, error) {
	args := []any{}
	q := `SELECT ` + grantCols + ` FROM grants` + grantWhere(&args, p) + " ORDER BY id"
	if p.Limit > 0 {
		q += " LIMIT " + arg(&args, p.Limit)
	}
	return collect(ctx, t, scanGrant, q, args...)
}

// GrantCount implements membership.Tx.
func (t *Tx) GrantCount(ctx context.Context, p *membership.GrantListParams) (int, error) {
	args := []any{}
	var n int
	err := t.c.QueryRow(ctx, `SELECT count(*) FROM grants`+grantWhere(&args, p), args...).Scan(&n)
	return n, err
}

// GrantsDeactivate implements membership.Tx. One UPDATE revokes the
// grants and returns them; the report keeps the lowest p.Limit ids.
func (t *Tx) GrantsDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.Grant, int, error) {
	rows, err := deactivated(ctx, t, p, "grants", "revoked_at", "", 0, grantCols, scanGrant, func(g *membership.Grant) int64 {
		g.Status, g.RevokedAt, g.Cause = membership.StatusActive, nil, ""
		return g.ID
	})
	if err != nil {
		return nil, 0, err
	}
	n := len(rows)
	if p.Limit > 0 && n > p.Limit {
		rows = rows[:p.Limit]
	}
	return rows, n, nil
}

// GrantsReactivate implements membership.Tx.
func (t *Tx) GrantsReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.Grant, error) {
	rows, err := collect(ctx, t, scanGrant, `SELECT `+grantCols+` FROM grants
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3 ORDER BY id`, p.OrgID, p.MemberID, p.Cause)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	_, err = t.c.Exec(ctx, `UPDATE grants SET status = 'active', revoked_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause)
	for _, g := range rows {
		g.Status, g.RevokedAt, g.Cause = membership.StatusActive, nil, ""
	}
	return rows, err
}

// accessPaths lists, for member $1, each active path to a resource:
// a direct grant (group_id NULL) or a grant through an active group
// membership. Resources inside a space need an active space membership.
// It is the single definition of access: checks, listings and booking
// cancellation all read it, so they cannot disagree.
var accessPaths = accessPathsOf("$1")

// accessPathsOf is accessPaths with the member given by the SQL
// expression member instead of $1.
func accessPathsOf(member string) string {
	return strings.ReplaceAll(accessPathsTemplate, "@MEMBER@", member)
}

const accessPathsTemplate = `
SELECT r.id AS resource_id, NULL AS group_id
  FROM members m
  JOIN grants g ON g.member_id = m.id AND g.status = 'active'
  JOIN resources r ON r.id = g.resource_id
 WHERE m.id = @MEMBER@ AND m.status = 'active'
   AND (r.space_id IS NULL OR EXISTS (SELECT 1 FROM space_members sm
        WHERE sm.space_id = r.space_id AND sm.member_id = m.id AND sm.status = 'active'))
UNION ALL
SELECT r.id AS resource_id, g.group_id AS group_id
  FROM members m
  JOIN group_members gm ON gm.member_id = m.id AND gm.status = 'active'
  JOIN grants g ON g.group_id = gm.group_id AND g.status = 'active'
  JOIN resources r ON r.id = g.resource_id
 WHERE m.id = @MEMBER@ AND m.status = 'active'
   AND (r.space_id IS NULL OR EXISTS (SELECT 1 FROM space_members sm
        WHERE sm.space_id = r.space_id AND sm.member_id = m.id AND sm.status = 'active'))`

// AccessCheck implements membership.Tx.
func (t *Tx) AccessCheck(ctx context.Context, p *membership.AccessParams) (*membership.Access, error) {
	list, err := t.accessRows(ctx, `SELECT resource_id, group_id FROM (`+accessPaths+`) paths WHERE resource_id = $2`, p.MemberID, p.ResourceID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return &membership.Access{ResourceID: p.ResourceID}, nil
	}
	return list[0], nil
}

// AccessList implements membership.Tx.
func (t *Tx) AccessList(ctx context.Context, orgID, memberID int64) ([]*membership.Access, error) {
	return t.accessRows(ctx, `SELECT resource_id, group_id FROM (`+accessPaths+`) paths`, memberID)
}

// accessRows folds access paths into one Access per resource, in
// resource order.
func (t *Tx) accessRows(ctx context.Context, query string, args ...any) ([]*membership.Access, error) {
	rows, err := t.c.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	defer rows.Close()
	byResource := map[int64]*membership.Access{}
	for rows.Next() {
		var resource int64
		var group sql.NullInt64
		if err := rows.Scan(&resource, &group); err != nil {
			return nil, err
		}
		a := byResource[resource]
		if a == nil {
			a = &membership.Access{ResourceID: resource, Allowed: true}
			byResource[resource] = a
		}
		if group.Valid {
			a.GroupIDs = append(a.GroupIDs, group.Int64)
		} else {
			a.Direct = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*membership.Access, 0, len(byResource))
	for _, a := range byResource {
		sort.Slice(a.GroupIDs, func(i, j int) bool { return a.GroupIDs[i] < a.GroupIDs[j] })
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out, nil
}
