package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/memberd/memberd/membership"
)

const planCols = `id, uuid, org_id, status, etag, request, report, batch, created_by, credential_id,
	created_at, expires_at, executed_at, executed_by, executed_event_id, removal_id, approved_by, forced`

func scanPlan(r Row) (*membership.Plan, error) {
	var p membership.Plan
	var request string
	var report, batch sql.NullString
	var credential, executed, executedBy, event, approvedBy sql.NullInt64
	var removal sql.NullString
	var created, expires int64
	if err := r.Scan(&p.ID, &p.UUID, &p.OrgID, &p.Status, &p.ETag, &request, &report, &batch, &p.CreatedBy,
		&credential, &created, &expires, &executed, &executedBy, &event, &removal, &approvedBy, &p.Forced); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(request), &p.Request); err != nil {
		return nil, fmt.Errorf("decode plan %s request: %w", p.UUID, err)
	}
	if report.Valid {
		if err := json.Unmarshal([]byte(report.String), &p.Report); err != nil {
			return nil, fmt.Errorf("decode plan %s report: %w", p.UUID, err)
		}
	}
	if batch.Valid {
		if err := json.Unmarshal([]byte(batch.String), &p.Batch); err != nil {
			return nil, fmt.Errorf("decode plan %s batch: %w", p.UUID, err)
		}
	}
	p.CredentialID, p.ExecutedBy, p.ExecutedEvent, p.RemovalID = credential.Int64, executedBy.Int64, event.Int64, removal.String
	p.ApprovedBy = approvedBy.Int64
	p.CreatedAt, p.ExpiresAt, p.ExecutedAt = fromTS(created), fromTS(expires), fromNullTS(executed)
	return &p, nil
}

// planResults encodes what a plan did or would do.
func planResults(p *membership.Plan) (report, batch any, err error) {
	if report, err = nullJSON(p.Report, p.Report != nil); err != nil {
		return nil, nil, fmt.Errorf("encode plan report: %w", err)
	}
	if batch, err = nullJSON(p.Batch, p.Batch != nil); err != nil {
		return nil, nil, fmt.Errorf("encode plan batch: %w", err)
	}
	return report, batch, nil
}

// PlanCreate implements membership.Tx.
func (t *Tx) PlanCreate(ctx context.Context, p *membership.Plan) error {
	request, err := json.Marshal(p.Request)
	if err != nil {
		return fmt.Errorf("encode plan request: %w", err)
	}
	report, batch, err := planResults(p)
	if err != nil {
		return err
	}
	err = t.c.QueryRow(ctx, `INSERT INTO plans (uuid, org_id, status, etag, request, report, batch, created_by,
		credential_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		p.UUID, p.OrgID, string(p.Status), p.ETag, string(request), report, batch, p.CreatedBy,
		nullID(p.CredentialID), ts(p.CreatedAt), ts(p.ExpiresAt)).Scan(&p.ID)
	if err != nil {
		return fmt.Errorf("insert plan: %w", err)
	}
	return nil
}

// PlanGet implements membership.Tx.
func (t *Tx) PlanGet(ctx context.Context, p *membership.PlanGetParams) (*membership.Plan, error) {
	return getByUUID(ctx, t, "plans", planCols, "plan", scanPlan, p.OrgID, p.UUID, p.Lock)
}

// getByUUID reads the row of table with uuid in orgID, locked until the
// transaction ends when lock is set. CodeNotFound names what.
func getByUUID[T any](ctx context.Context, t *Tx, table, cols, what string, scan func(Row) (*T, error), orgID int64, uuid string, lock bool) (*T, error) {
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE uuid = $1 AND org_id = $2`
	if lock && t.d.LockRows {
		q += " FOR UPDATE"
	}
	v, err := scan(t.c.QueryRow(ctx, q, uuid, orgID))
	return v, t.notFound(err, what)
}

// updatedOne checks that an UPDATE of what changed exactly one row.
func updatedOne(n int64, err error, what, uuid string) error {
	if err != nil {
		return fmt.Errorf("update %s %s: %w", what, uuid, err)
	}
	if n != 1 {
		return membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	return nil
}

// PlanUpdate implements membership.Tx.
func (t *Tx) PlanUpdate(ctx context.Context, p *membership.Plan) error {
	report, batch, err := planResults(p)
	if err != nil {
		return err
	}
	n, err := t.c.Exec(ctx, `UPDATE plans SET status = $1, report = $2, batch = $3, executed_at = $4,
		executed_by = $5, executed_event_id = $6, removal_id = $7, approved_by = $8, forced = $9 WHERE id = $10`,
		string(p.Status), report, batch, nullTS(p.ExecutedAt), nullID(p.ExecutedBy), nullID(p.ExecutedEvent),
		nullStr(p.RemovalID), nullID(p.ApprovedBy), p.Forced, p.ID)
	return updatedOne(n, err, "plan", p.UUID)
}
