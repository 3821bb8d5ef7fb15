package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/memberd/memberd/membership"
)

func scanGroup(r Row) (*membership.Group, error) {
	var g membership.Group
	var created int64
	if err := r.Scan(&g.ID, &g.UUID, &g.OrgID, &g.Name, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = fromTS(created)
	return &g, nil
}

// GroupCreate implements membership.Tx.
func (t *Tx) GroupCreate(ctx context.Context, g *membership.Group) error {
	return t.c.QueryRow(ctx, `INSERT INTO user_groups (uuid, org_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		g.UUID, g.OrgID, g.Name, ts(g.CreatedAt)).Scan(&g.ID)
}

// GroupGet implements membership.Tx.
func (t *Tx) GroupGet(ctx context.Context, p *membership.RefParams) (*membership.Group, error) {
	return getByRef(ctx, t, p, "user_groups", "id, uuid, org_id, name, created_at", "group", scanGroup)
}

// GroupList implements membership.Tx.
func (t *Tx) GroupList(ctx context.Context, orgID int64) ([]*membership.Group, error) {
	return collect(ctx, t, scanGroup, `SELECT id, uuid, org_id, name, created_at FROM user_groups WHERE org_id = $1 ORDER BY id`, orgID)
}

const groupMemberCols = `id, org_id, group_id, member_id, status, added_by, created_at, removed_at, cause`

func scanGroupMember(r Row) (*membership.GroupMember, error) {
	var gm membership.GroupMember
	var status string
	var addedBy, removedAt sql.NullInt64
	var cause sql.NullString
	var created int64
	if err := r.Scan(&gm.ID, &gm.OrgID, &gm.GroupID, &gm.MemberID, &status, &addedBy, &created, &removedAt, &cause); err != nil {
		return nil, err
	}
	gm.Status, gm.AddedBy, gm.CreatedAt, gm.RemovedAt, gm.Cause = membership.Status(status), addedBy.Int64, fromTS(created), fromNullTS(removedAt), cause.String
	return &gm, nil
}

// GroupMemberAdd implements membership.Tx.
func (t *Tx) GroupMemberAdd(ctx context.Context, gm *membership.GroupMember) error {
	existing, err := t.GroupMemberGet(ctx, &membership.GroupMemberGetParams{OrgID: gm.OrgID, GroupID: gm.GroupID, MemberID: gm.MemberID})
	switch {
	case err == nil && existing.Status == membership.StatusActive:
		return membership.Errorf(membership.CodeConflict, "the member is already in the group")
	case err == nil:
		gm.ID = existing.ID
		_, err = t.c.Exec(ctx, `UPDATE group_members SET status = 'active', removed_at = NULL, cause = NULL, added_by = $2, created_at = $3 WHERE id = $1`,
			existing.ID, nullID(gm.AddedBy), ts(gm.CreatedAt))
		return err
	case membership.ErrorCode(err) == membership.CodeNotFound:
		return t.c.QueryRow(ctx, `INSERT INTO group_members (org_id, group_id, member_id, status, added_by, created_at)
			VALUES ($1, $2, $3, 'active', $4, $5) RETURNING id`,
			gm.OrgID, gm.GroupID, gm.MemberID, nullID(gm.AddedBy), ts(gm.CreatedAt)).Scan(&gm.ID)
	}
	return err
}

// GroupMemberGet implements membership.Tx.
func (t *Tx) GroupMemberGet(ctx context.Context, p *membership.GroupMemberGetParams) (*membership.GroupMember, error) {
	gm, err := scanGroupMember(t.c.QueryRow(ctx, `SELECT `+groupMemberCols+` FROM group_members
		WHERE org_id = $1 AND group_id = $2 AND member_id = $3`, p.OrgID, p.GroupID, p.MemberID))
	return gm, t.notFound(err, "group membership")
}

// GroupMemberList implements membership.Tx.
func (t *Tx) GroupMemberList(ctx context.Context, p *membership.GroupMemberListParams) ([]*membership.GroupMember, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + groupMemberCols + ` FROM group_members WHERE org_id = $1`
	if p.GroupID != 0 {
		q += " AND group_id = " + arg(&args, p.GroupID)
	}
	if p.MemberID != 0 {
		q += " AND member_id = " + arg(&args, p.MemberID)
	}
	if p.Status != "" {
		q += " AND status = " + arg(&args, string(p.Status))
	}
	return collect(ctx, t, scanGroupMember, q+" ORDER BY id", args...)
}

// GroupMembersDeactivate implements membership.Tx.
func (t *Tx) GroupMembersDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.GroupMember, error) {
	return deactivated(ctx, t, p, "group_members", "removed_at", "group_id", p.GroupID, groupMemberCols, scanGroupMember, groupMemberAsActive)
}

func groupMemberAsActive(gm *membership.GroupMember) int64 {
	gm.Status, gm.RemovedAt, gm.Cause = membership.StatusActive, nil, ""
	return gm.ID
}

// GroupMembersReactivate implements membership.Tx.
func (t *Tx) GroupMembersReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.GroupMember, error) {
	if _, err := t.c.Exec(ctx, `UPDATE group_members SET status = 'active', removed_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause); err != nil {
		return nil, err
	}
	return t.GroupMemberList(ctx, &membership.GroupMemberListParams{OrgID: p.OrgID, MemberID: p.MemberID, Status: membership.StatusActive})
}

// MemberGroupList implements membership.DirectoryTx: one statement for a
// page of members, led by group_members_member (member_id), never one per
// member. Groups a provider deleted are left out, as /Groups leaves them
// out; both tables are held to the organization, so no other tenant's
// group can appear whatever ids are asked about.
func (t *Tx) MemberGroupList(ctx context.Context, p *membership.MemberGroupListParams) ([]*membership.MemberGroup, error) {
	if len(p.MemberIDs) == 0 {
		return []*membership.MemberGroup{}, nil
	}
	args := []any{p.OrgID}
	q := `SELECT gm.member_id, g.id, g.uuid, g.org_id, g.name, g.created_at
		FROM group_members gm JOIN user_groups g ON g.id = gm.group_id
		LEFT JOIN group_profiles gp ON gp.group_id = g.id
		WHERE ` + t.inIDs(&args, "gm.member_id", p.MemberIDs) + ` AND gm.org_id = $1 AND gm.status = 'active'
		AND g.org_id = $1 AND gp.deleted_at IS NULL
		ORDER BY gm.member_id, g.id`
	mgs, err := collect(ctx, t, func(r Row) (*membership.MemberGroup, error) {
		var mg membership.MemberGroup
		var g membership.Group
		var created int64
		if err := r.Scan(&mg.MemberID, &g.ID, &g.UUID, &g.OrgID, &g.Name, &created); err != nil {
			return nil, err
		}
		g.CreatedAt, mg.Group = fromTS(created), &g
		return &mg, nil
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read groups of %d members: %w", len(p.MemberIDs), err)
	}
	return mgs, nil
}
