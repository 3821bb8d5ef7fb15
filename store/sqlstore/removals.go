package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/memberd/memberd/membership"
)

const removalCols = `id, uuid, org_id, kind, interface, actor_member_id, credential_id, request_id, created_at,
	items, result, undone_at, undone_by, undo`

func scanRemoval(r Row) (*membership.Removal, error) {
	var rm membership.Removal
	var credential, undoneAt, undoneBy sql.NullInt64
	var items, result string
	var undo sql.NullString
	var created int64
	if err := r.Scan(&rm.ID, &rm.UUID, &rm.OrgID, &rm.Kind, &rm.Interface, &rm.ActorMemberID, &credential,
		&rm.RequestID, &created, &items, &result, &undoneAt, &undoneBy, &undo); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &rm.Items); err != nil {
		return nil, fmt.Errorf("decode removal %s items: %w", rm.UUID, err)
	}
	if undo.Valid {
		if err := json.Unmarshal([]byte(undo.String), &rm.Undo); err != nil {
			return nil, fmt.Errorf("decode removal %s undo: %w", rm.UUID, err)
		}
	}
	rm.Result = json.RawMessage(result)
	rm.CredentialID, rm.UndoneBy = credential.Int64, undoneBy.Int64
	rm.CreatedAt, rm.UndoneAt = fromTS(created), fromNullTS(undoneAt)
	return &rm, nil
}

// RemovalCreate implements membership.Tx.
func (t *Tx) RemovalCreate(ctx context.Context, rm *membership.Removal) error {
	items, err := json.Marshal(rm.Items)
	if err != nil {
		return fmt.Errorf("encode removal items: %w", err)
	}
	err = t.c.QueryRow(ctx, `INSERT INTO removals (uuid, org_id, kind, interface, actor_member_id, credential_id,
		request_id, created_at, items, result) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		rm.UUID, rm.OrgID, rm.Kind, rm.Interface, rm.ActorMemberID, nullID(rm.CredentialID), rm.RequestID,
		ts(rm.CreatedAt), string(items), string(rm.Result)).Scan(&rm.ID)
	if err != nil {
		return fmt.Errorf("insert removal: %w", err)
	}
	return nil
}

// RemovalGet implements membership.Tx.
func (t *Tx) RemovalGet(ctx context.Context, p *membership.RemovalGetParams) (*membership.Removal, error) {
	return getByUUID(ctx, t, "removals", removalCols, "removal", scanRemoval, p.OrgID, p.UUID, p.Lock)
}

// RemovalUpdate implements membership.Tx.
func (t *Tx) RemovalUpdate(ctx context.Context, rm *membership.Removal) error {
	undo, err := nullJSON(rm.Undo, rm.Undo != nil)
	if err != nil {
		return fmt.Errorf("encode removal undo: %w", err)
	}
	n, err := t.c.Exec(ctx, `UPDATE removals SET undone_at = $1, undone_by = $2, undo = $3 WHERE id = $4`,
		nullTS(rm.UndoneAt), nullID(rm.UndoneBy), undo, rm.ID)
	return updatedOne(n, err, "removal", rm.UUID)
}
