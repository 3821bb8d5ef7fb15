package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/memberd/memberd/membership"
)

const endpointCols = `id, uuid, org_id, url, description, events, secret, status, created_at, updated_at,
	failures, failing_since, last_error, disabled_reason, disabled_at, dropped, dropping_since, last_dropped_at`

func scanEndpoint(r Row) (*membership.WebhookEndpoint, error) {
	var e membership.WebhookEndpoint
	var events string
	var created, updated int64
	var failingSince, disabledAt, droppingSince, lastDropped sql.NullInt64
	var lastError, reason sql.NullString
	if err := r.Scan(&e.ID, &e.UUID, &e.OrgID, &e.URL, &e.Description, &events, &e.Secret, &e.Status, &created, &updated,
		&e.Failures, &failingSince, &lastError, &reason, &disabledAt, &e.Dropped, &droppingSince, &lastDropped); err != nil {
		return nil, err
	}
	e.FailingSince, e.DisabledAt = fromNullTS(failingSince), fromNullTS(disabledAt)
	e.DroppingSince, e.LastDroppedAt = fromNullTS(droppingSince), fromNullTS(lastDropped)
	e.LastError, e.DisabledReason = lastError.String, reason.String
	if err := json.Unmarshal([]byte(events), &e.Events); err != nil {
		return nil, fmt.Errorf("decode webhook endpoint %s events: %w", e.UUID, err)
	}
	e.CreatedAt, e.UpdatedAt = fromTS(created), fromTS(updated)
	return &e, nil
}

// WebhookEndpointCreate implements membership.AsyncTx.
func (t *Tx) WebhookEndpointCreate(ctx context.Context, e *membership.WebhookEndpoint) error {
	events, err := json.Marshal(e.Events)
	if err != nil {
		return fmt.Errorf("encode webhook events: %w", err)
	}
	t.cachedChanged(e.OrgID)
	return t.c.QueryRow(ctx, `INSERT INTO webhook_endpoints (uuid, org_id, url, description, events, secret, status, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		e.UUID, e.OrgID, e.URL, e.Description, string(events), e.Secret, e.Status, ts(e.CreatedAt), ts(e.UpdatedAt)).Scan(&e.ID)
}

// WebhookEndpointGet implements membership.AsyncTx.
func (t *Tx) WebhookEndpointGet(ctx context.Context, orgID, id int64, uuid string) (*membership.WebhookEndpoint, error) {
	var args []any
	q := `SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE `
	if uuid != "" {
		q += "uuid = " + arg(&args, uuid)
	} else {
		q += "id = " + arg(&args, id)
	}
	if orgID != 0 {
		q += " AND org_id = " + arg(&args, orgID)
	}
	e, err := scanEndpoint(t.c.QueryRow(ctx, q, args...))
	return e, t.notFound(err, "webhook endpoint")
}

// WebhookEndpointList implements membership.AsyncTx.
func (t *Tx) WebhookEndpointList(ctx context.Context, orgID int64) ([]*membership.WebhookEndpoint, error) {
	if c, version, ok := t.configAt(orgID); ok {
		if eps, ok := c.endpointsAt(orgID, version); ok {
			return eps, nil
		}
		eps, err := t.webhookEndpointList(ctx, orgID)
		if err == nil {
			c.keepEndpoints(orgID, version, eps)
		}
		return eps, err
	}
	cache := t.cached()
	if cache != nil {
		if eps, ok := cache.endpointsOf(orgID); ok {
			return eps, nil
		}
	}
	eps, err := t.webhookEndpointList(ctx, orgID)
	if err == nil && cache != nil {
		cache.keepEndpoints(orgID, eps)
	}
	return eps, err
}

func (t *Tx) webhookEndpointList(ctx context.Context, orgID int64) ([]*membership.WebhookEndpoint, error) {
	return collect(ctx, t, scanEndpoint, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE org_id = $1 ORDER BY id`, orgID)
}

// WebhookEndpointUpdate implements membership.AsyncTx.
func (t *Tx) WebhookEndpointUpdate(ctx context.Context, e *membership.WebhookEndpoint) error {
	events, err := json.Marshal(e.Events)
	if err != nil {
		return fmt.Errorf("encode webhook events: %w", err)
	}
	t.cachedChanged(e.OrgID)
	_, err = t.c.Exec(ctx, `UPDATE webhook_endpoints SET url = $1, description = $2, events = $3, status = $4, updated_at = $5,
		failures = $6, failing_since = $7, last_error = $8, disabled_reason = $9, disabled_at = $10, dropping_since = $11 WHERE id = $12`,
		e.URL, e.Description, string(events), e.Status, ts(e.UpdatedAt),
		e.Failures, nullTS(e.FailingSince), nullStr(e.LastError), nullStr(e.DisabledReason), nullTS(e.DisabledAt), nullTS(e.DroppingSince), e.ID)
	return err
}

// WebhookEndpointDropped implements membership.Tx. One statement adds
// the drop, so concurrent transactions count every one and exactly one
// of them opens the run.
func (t *Tx) WebhookEndpointDropped(ctx context.Context, id int64, at time.Time) (bool, error) {
	var since int64
	t.cachedChanged(0) // the organization is not at hand, and drops are rare
	err := t.c.QueryRow(ctx, `UPDATE webhook_endpoints SET dropped = dropped + 1, last_dropped_at = $1,
		dropping_since = COALESCE(dropping_since, $1) WHERE id = $2 RETURNING dropping_since`, ts(at), id).Scan(&since)
	if err != nil {
		return false, t.notFound(err, "webhook endpoint")
	}
	return since == ts(at), nil
}

// WebhookDeliveryCountPending implements membership.Tx.
func (t *Tx) WebhookDeliveryCountPending(ctx context.Context, endpointID int64, limit int) (int, error) {
	var n int
	err := t.c.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND status = $2 LIMIT $3) p`,
		endpointID, membership.DeliveryPending, limit).Scan(&n)
	return n, err
}

// WebhookMessageCreate implements membership.AsyncTx.
func (t *Tx) WebhookMessageCreate(ctx context.Context, m *membership.WebhookMessage) error {
	return t.c.QueryRow(ctx, `INSERT INTO webhook_messages (uuid, org_id, type, event_id, order_key, payload, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		m.UUID, m.OrgID, m.Type, nullID(m.EventID), m.OrderKey, string(m.Payload), ts(m.CreatedAt)).Scan(&m.ID)
}

// WebhookMessageGet implements membership.AsyncTx.
func (t *Tx) WebhookMessageGet(ctx context.Context, id int64) (*membership.WebhookMessage, error) {
	var m membership.WebhookMessage
	var event sql.NullInt64
	var payload string
	var created int64
	err := t.c.QueryRow(ctx, `SELECT id, uuid, org_id, type, event_id, order_key, payload, created_at FROM webhook_messages WHERE id = $1`, id).
		Scan(&m.ID, &m.UUID, &m.OrgID, &m.Type, &event, &m.OrderKey, &payload, &created)
	if err != nil {
		return nil, t.notFound(err, "webhook message")
	}
	m.EventID, m.Payload, m.CreatedAt = event.Int64, json.RawMessage(payload), fromTS(created)
	return &m, nil
}

const deliveryCols = `d.id, d.uuid, d.org_id, d.endpoint_id, e.uuid, d.message_id, m.uuid, m.type, d.order_key, d.status,
	d.attempts, d.next_attempt_at, d.last_status, d.last_error, d.redelivers, d.created_at, d.updated_at, d.delivered_at`

const deliveryFrom = ` FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_messages m ON m.id = d.message_id`

func scanDelivery(r Row) (*membership.WebhookDelivery, error) {
	var d membership.WebhookDelivery
	var next, lastStatus, delivered sql.NullInt64
	var lastError, redelivers sql.NullString
	var created, updated int64
	if err := r.Scan(&d.ID, &d.UUID, &d.OrgID, &d.EndpointID, &d.Endpoint, &d.MessageID, &d.Message, &d.Type, &d.OrderKey,
		&d.Status, &d.Attempts, &next, &lastStatus, &lastError, &redelivers, &created, &updated, &delivered); err != nil {
		return nil, err
	}
	d.NextAt, d.DeliveredAt = fromNullTS(next), fromNullTS(delivered)
	d.LastStatus, d.LastError, d.Redelivers = int(lastStatus.Int64), lastError.String, redelivers.String
	d.CreatedAt, d.UpdatedAt = fromTS(created), fromTS(updated)
	return &d, nil
}

// WebhookDeliveryCreate implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryCreate(ctx context.Context, d *membership.WebhookDelivery) error {
	return t.c.QueryRow(ctx, `INSERT INTO webhook_deliveries (uuid, org_id, endpoint_id, message_id, order_key, status,
		attempts, redelivers, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		d.UUID, d.OrgID, d.EndpointID, d.MessageID, d.OrderKey, d.Status, d.Attempts, nullStr(d.Redelivers),
		ts(d.CreatedAt), ts(d.UpdatedAt)).Scan(&d.ID)
}

// WebhookDeliveryGet implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryGet(ctx context.Context, orgID, id int64, uuid string) (*membership.WebhookDelivery, error) {
	var args []any
	q := `SELECT ` + deliveryCols + deliveryFrom + ` WHERE `
	if uuid != "" {
		q += "d.uuid = " + arg(&args, uuid)
	} else {
		q += "d.id = " + arg(&args, id)
	}
	if orgID != 0 {
		q += " AND d.org_id = " + arg(&args, orgID)
	}
	d, err := scanDelivery(t.c.QueryRow(ctx, q, args...))
	return d, t.notFound(err, "webhook delivery")
}

// WebhookDeliveryList implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryList(ctx context.Context, p *membership.WebhookDeliveryListParams) ([]*membership.WebhookDelivery, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + deliveryCols + deliveryFrom + ` WHERE d.org_id = $1`
	if p.EndpointID != 0 {
		q += " AND d.endpoint_id = " + arg(&args, p.EndpointID)
	}
	if p.Status != "" {
		q += " AND d.status = " + arg(&args, p.Status)
	}
	if p.BeforeID != 0 {
		q += " AND d.id < " + arg(&args, p.BeforeID)
	}
	q += " ORDER BY d.id DESC LIMIT " + arg(&args, max(p.Limit, 1))
	return collect(ctx, t, scanDelivery, q, args...)
}

// WebhookDeliveryUpdate implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryUpdate(ctx context.Context, d *membership.WebhookDelivery) error {
	var lastStatus any
	if d.LastStatus != 0 {
		lastStatus = d.LastStatus
	}
	_, err := t.c.Exec(ctx, `UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, last_status = $4,
		last_error = $5, updated_at = $6, delivered_at = $7 WHERE id = $8`,
		d.Status, d.Attempts, nullTS(d.NextAt), lastStatus, nullStr(d.LastError), ts(d.UpdatedAt), nullTS(d.DeliveredAt), d.ID)
	return err
}

// WebhookDeliveryPrev implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryPrev(ctx context.Context, endpointID int64, orderKey string, beforeID int64) (*membership.WebhookDelivery, error) {
	args := []any{endpointID, membership.DeliveryPending}
	q := `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = $2`
	if orderKey != "" {
		q += " AND order_key = " + arg(&args, orderKey)
	}
	if beforeID != 0 {
		q += " AND id < " + arg(&args, beforeID)
	}
	q += " ORDER BY id DESC LIMIT 1"
	if t.d.LockRows {
		// Under READ COMMITTED a row that stopped being pending while we
		// waited for its lock is skipped, so the answer is current.
		q += " FOR UPDATE"
	}
	var id int64
	if err := t.c.QueryRow(ctx, q, args...).Scan(&id); err != nil {
		return nil, t.notFound(err, "webhook delivery")
	}
	return t.WebhookDeliveryGet(ctx, 0, id, "")
}

// WebhookDeliveryNext implements membership.AsyncTx.
func (t *Tx) WebhookDeliveryNext(ctx context.Context, endpointID int64, orderKey string, afterID int64) (*membership.WebhookDelivery, error) {
	args := []any{endpointID, membership.DeliveryPending, afterID}
	q := `SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND status = $2 AND id > $3`
	if orderKey != "" {
		q += " AND order_key = " + arg(&args, orderKey)
	}
	var id int64
	if err := t.c.QueryRow(ctx, q+" ORDER BY id LIMIT 1", args...).Scan(&id); err != nil {
		return nil, t.notFound(err, "webhook delivery")
	}
	return t.WebhookDeliveryGet(ctx, 0, id, "")
}

// WebhookAttemptAppend implements membership.AsyncTx.
func (t *Tx) WebhookAttemptAppend(ctx context.Context, a *membership.WebhookAttempt) error {
	var status any
	if a.StatusCode != 0 {
		status = a.StatusCode
	}
	return t.c.QueryRow(ctx, `INSERT INTO webhook_attempts (delivery_id, at, status_code, error, duration_ms, response)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		a.DeliveryID, ts(a.At), status, nullStr(a.Error), a.DurationMS, nullStr(a.Response)).Scan(&a.ID)
}

// WebhookAttemptList implements membership.AsyncTx.
func (t *Tx) WebhookAttemptList(ctx context.Context, deliveryID int64) ([]*membership.WebhookAttempt, error) {
	return collect(ctx, t, func(r Row) (*membership.WebhookAttempt, error) {
		var a membership.WebhookAttempt
		var status sql.NullInt64
		var errText, response sql.NullString
		var at int64
		if err := r.Scan(&a.ID, &a.DeliveryID, &at, &status, &errText, &a.DurationMS, &response); err != nil {
			return nil, err
		}
		a.At, a.StatusCode, a.Error, a.Response = fromTS(at), int(status.Int64), errText.String, response.String
		return &a, nil
	}, `SELECT id, delivery_id, at, status_code, error, duration_ms, response FROM webhook_attempts WHERE delivery_id = $1 ORDER BY id`, deliveryID)
}
