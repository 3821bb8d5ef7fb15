package sqlstore

import (
	"context"
	"database/sql"

	"github.com/memberd/memberd/membership"
)

const eventCols = `id, uuid, org_id, at, actor_member_id, credential_id, interface, request_id, action, outcome,
	target_type, target_id, target_member_id, message, before_state, after_state`

func scanEvent(r Row) (*membership.Event, error) {
	var e membership.Event
	var org, actor, cred, targetID, targetMember sql.NullInt64
	var requestID, targetType, message, before, after sql.NullString
	var at int64
	if err := r.Scan(&e.ID, &e.UUID, &org, &at, &actor, &cred, &e.Interface, &requestID, &e.Action, &e.Outcome,
		&targetType, &targetID, &targetMember, &message, &before, &after); err != nil {
		return nil, err
	}
	e.OrgID, e.At, e.ActorMemberID, e.CredentialID = org.Int64, fromTS(at), actor.Int64, cred.Int64
	e.RequestID, e.TargetType, e.TargetID, e.TargetMemberID, e.Message = requestID.String, targetType.String, targetID.Int64, targetMember.Int64, message.String
	if before.Valid {
		e.Before = []byte(before.String)
	}
	if after.Valid {
		e.After = []byte(after.String)
	}
	return &e, nil
}

func nullText(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// EventAppend implements membership.Tx.
func (t *Tx) EventAppend(ctx context.Context, e *membership.Event) error {
	return t.c.QueryRow(ctx, `INSERT INTO events (uuid, org_id, at, actor_member_id, credential_id, interface, request_id,
		action, outcome, target_type, target_id, target_member_id, message, before_state, after_state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		e.UUID, nullID(e.OrgID), ts(e.At), nullID(e.ActorMemberID), nullID(e.CredentialID), e.Interface, nullString(e.RequestID),
		e.Action, e.Outcome, nullString(e.TargetType), nullID(e.TargetID), nullID(e.TargetMemberID), nullString(e.Message),
		nullText(e.Before), nullText(e.After)).Scan(&e.ID)
}

// EventList implements membership.Tx.
func (t *Tx) EventList(ctx context.Context, p *membership.EventListParams) ([]*membership.Event, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + eventCols + ` FROM events WHERE org_id = $1`
	if p.MemberID != 0 {
		ph := arg(&args, p.MemberID)
		q += " AND (target_member_id = " + ph + " OR actor_member_id = " + ph + ")"
	}
	if p.Action != "" {
		q += " AND action = " + arg(&args, p.Action)
	}
	if p.BeforeID != 0 {
		q += " AND id < " + arg(&args, p.BeforeID)
	}
	q += " ORDER BY id DESC LIMIT " + arg(&args, max(p.Limit, 1))
	return collect(ctx, t, scanEvent, q, args...)
}
