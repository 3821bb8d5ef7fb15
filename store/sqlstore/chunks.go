package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/memberd/memberd/membership"
)

// Chunked offboarding: each statement pair below selects the lowest ids
// of a member's active rows and switches exactly those off. Both read the
// same rows because the core holds the member's lock for the chunk.

// firstActive is the subquery of the lowest n ids of p's member's active
// rows of table.
func firstActive(args *[]any, table string, p *membership.DeactivateParams, n int) string {
	return `SELECT id FROM ` + table + ` WHERE ` + deactivateWhere(args, "", "", p, 0) + ` ORDER BY id LIMIT ` + arg(args, n)
}

// SpaceMembersDeactivateFirst implements membership.Tx.
func (t *Tx) SpaceMembersDeactivateFirst(ctx context.Context, p *membership.DeactivateParams, n int) ([]*membership.SpaceMember, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanSpaceMember, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE sm.id IN (`+
		firstActive(&args, "space_members", p, n)+`) ORDER BY sm.id`, args...)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	args = []any{ts(p.At), p.Cause}
	_, err = t.c.Exec(ctx, `UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE id IN (`+
		firstActive(&args, "space_members", p, n)+`)`, args...)
	return rows, err
}

// GroupMembersDeactivateFirst implements membership.Tx.
func (t *Tx) GroupMembersDeactivateFirst(ctx context.Context, p *membership.DeactivateParams, n int) ([]*membership.GroupMember, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanGroupMember, `SELECT `+groupMemberCols+` FROM group_members WHERE id IN (`+
		firstActive(&args, "group_members", p, n)+`) ORDER BY id`, args...)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	args = []any{ts(p.At), p.Cause}
	_, err = t.c.Exec(ctx, `UPDATE group_members SET status = 'removed', removed_at = $1, cause = $2 WHERE id IN (`+
		firstActive(&args, "group_members", p, n)+`)`, args...)
	return rows, err
}

// GrantsDeactivateFirst implements membership.Tx.
func (t *Tx) GrantsDeactivateFirst(ctx context.Context, p *membership.DeactivateParams, n int) ([]*membership.Grant, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanGrant, `SELECT `+grantCols+` FROM grants WHERE id IN (`+
		firstActive(&args, "grants", p, n)+`) ORDER BY id`, args...)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	args = []any{ts(p.At), p.Cause}
	m, err := t.c.Exec(ctx, `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE id IN (`+
		firstActive(&args, "grants", p, n)+`)`, args...)
	if err == nil && m != int64(len(rows)) {
		err = fmt.Errorf("revoke grants of member %d: %d revoked, %d listed", p.MemberID, m, len(rows))
	}
	return rows, err
}

// OperationProgressGet implements membership.Tx.
func (t *Tx) OperationProgressGet(ctx context.Context, operationID int64) ([]byte, error) {
	var state string
	err := t.c.QueryRow(ctx, `SELECT state FROM operation_progress WHERE operation_id = $1`, operationID).Scan(&state)
	if err != nil && t.d.IsNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read progress of operation %d: %w", operationID, err)
	}
	return []byte(state), nil
}

// OperationProgressPut implements membership.Tx.
func (t *Tx) OperationProgressPut(ctx context.Context, operationID int64, state []byte, at time.Time) error {
	_, err := t.c.Exec(ctx, `INSERT INTO operation_progress (operation_id, state, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (operation_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		operationID, string(state), ts(at))
	if err != nil {
		return fmt.Errorf("store progress of operation %d: %w", operationID, err)
	}
	return nil
}
