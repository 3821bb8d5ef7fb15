package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/memberd/memberd/membership"
)

const operationCols = `id, uuid, org_id, kind, status, interface, request_id, actor_member_id, credential_id,
	target_member_id, space_id, lock_key, request, original, effective_at, result, error_code, error_message,
	attempts, created_at, updated_at, started_at, finished_at`

func scanOperation(r Row) (*membership.Operation, error) {
	var op membership.Operation
	var credential, target, space, effective, started, finished sql.NullInt64
	var original, result, errCode, errMessage sql.NullString
	var request string
	var created, updated int64
	if err := r.Scan(&op.ID, &op.UUID, &op.OrgID, &op.Kind, &op.Status, &op.Interface, &op.RequestID,
		&op.ActorMemberID, &credential, &target, &space, &op.LockKey, &request, &original, &effective,
		&result, &errCode, &errMessage, &op.Attempts, &created, &updated, &started, &finished); err != nil {
		return nil, err
	}
	op.CredentialID, op.TargetMemberID, op.SpaceID = credential.Int64, target.Int64, space.Int64
	if err := json.Unmarshal([]byte(request), &op.Request); err != nil {
		return nil, fmt.Errorf("decode operation %s request: %w", op.UUID, err)
	}
	if original.Valid {
		op.Original = json.RawMessage(original.String)
	}
	if result.Valid {
		if err := json.Unmarshal([]byte(result.String), &op.Result); err != nil {
			return nil, fmt.Errorf("decode operation %s result: %w", op.UUID, err)
		}
	}
	if errCode.Valid {
		op.Error = &membership.OperationError{Code: membership.Code(errCode.String), Message: errMessage.String}
	}
	op.EffectiveAt, op.StartedAt, op.FinishedAt = fromNullTS(effective), fromNullTS(started), fromNullTS(finished)
	op.CreatedAt, op.UpdatedAt = fromTS(created), fromTS(updated)
	return &op, nil
}

func nullJSON(v any, present bool) (any, error) {
	if !present {
		return nil, nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(data), nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// OperationCreate implements membership.AsyncTx.
func (t *Tx) OperationCreate(ctx context.Context, op *membership.Operation) error {
	request, err := json.Marshal(op.Request)
	if err != nil {
		return fmt.Errorf("encode operation request: %w", err)
	}
	result, err := nullJSON(op.Result, op.Result != nil)
	if err != nil {
		return fmt.Errorf("encode operation result: %w", err)
	}
	var original any
	if len(op.Original) > 0 {
		original = string(op.Original)
	}
	var errCode, errMessage any
	if op.Error != nil {
		errCode, errMessage = string(op.Error.Code), op.Error.Message
	}
	err = t.c.QueryRow(ctx, `INSERT INTO operations (uuid, org_id, kind, status, interface, request_id, actor_member_id,
		credential_id, target_member_id, space_id, lock_key, request, original, effective_at, result, error_code,
		error_message, attempts, created_at, updated_at, started_at, finished_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
		RETURNING id`,
		op.UUID, op.OrgID, op.Kind, string(op.Status), op.Interface, op.RequestID, op.ActorMemberID,
		nullID(op.CredentialID), nullID(op.TargetMemberID), nullID(op.SpaceID), op.LockKey, string(request), original,
		nullTS(op.EffectiveAt), result, errCode, errMessage, op.Attempts, ts(op.CreatedAt), ts(op.UpdatedAt),
		nullTS(op.StartedAt), nullTS(op.FinishedAt)).Scan(&op.ID)
	return t.conflict(err, "another operation on the same target is pending")
}

// OperationGet implements membership.AsyncTx.
func (t *Tx) OperationGet(ctx context.Context, p *membership.OperationGetParams) (*membership.Operation, error) {
	args := []any{p.UUID}
	q := `SELECT ` + operationCols + ` FROM operations WHERE uuid = $1`
	if p.OrgID != 0 {
		q += " AND org_id = " + arg(&args, p.OrgID)
	}
	if p.Lock && t.d.LockRows {
		q += " FOR UPDATE"
	}
	op, err := scanOperation(t.c.QueryRow(ctx, q, args...))
	return op, t.notFound(err, "operation")
}

// OperationList implements membership.AsyncTx.
func (t *Tx) OperationList(ctx context.Context, p *membership.OperationListParams) ([]*membership.Operation, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + operationCols + ` FROM operations WHERE org_id = $1`
	if p.Status != "" {
		q += " AND status = " + arg(&args, string(p.Status))
	}
	if p.Scheduled {
		q += " AND effective_at IS NOT NULL"
	}
	if p.BeforeID != 0 {
		q += " AND id < " + arg(&args, p.BeforeID)
	}
	q += " ORDER BY id DESC LIMIT " + arg(&args, max(p.Limit, 1))
	return collect(ctx, t, scanOperation, q, args...)
}

// OperationUpdate implements membership.AsyncTx.
func (t *Tx) OperationUpdate(ctx context.Context, op *membership.Operation) error {
	result, err := nullJSON(op.Result, op.Result != nil)
	if err != nil {
		return fmt.Errorf("encode operation result: %w", err)
	}
	var errCode, errMessage any
	if op.Error != nil {
		errCode, errMessage = string(op.Error.Code), op.Error.Message
	}
	n, err := t.c.Exec(ctx, `UPDATE operations SET status = $1, result = $2, error_code = $3, error_message = $4,
		attempts = $5, updated_at = $6, started_at = $7, finished_at = $8 WHERE id = $9`,
		string(op.Status), result, errCode, errMessage, op.Attempts, ts(op.UpdatedAt), nullTS(op.StartedAt),
		nullTS(op.FinishedAt), op.ID)
	if err != nil {
		return fmt.Errorf("update operation %s: %w", op.UUID, err)
	}
	if n != 1 {
		return membership.Errorf(membership.CodeNotFound, "operation not found")
	}
	return nil
}
