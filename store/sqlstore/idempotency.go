package sqlstore

import (
	"context"

	"github.com/memberd/memberd/membership"
)

// IdempotencyGet implements membership.Tx.
func (t *Tx) IdempotencyGet(ctx context.Context, credentialID int64, key string) (*membership.IdempotencyRecord, error) {
	r := &membership.IdempotencyRecord{CredentialID: credentialID, Key: key}
	var result string
	var created int64
	err := t.c.QueryRow(ctx, `SELECT request_hash, result, created_at FROM idempotency_keys WHERE credential_id = $1 AND key = $2`,
		credentialID, key).Scan(&r.RequestHash, &result, &created)
	if err != nil {
		return nil, t.notFound(err, "idempotency key")
	}
	r.Result, r.CreatedAt = []byte(result), fromTS(created)
	return r, nil
}

// IdempotencyPut implements membership.Tx.
func (t *Tx) IdempotencyPut(ctx context.Context, r *membership.IdempotencyRecord) error {
	_, err := t.c.Exec(ctx, `INSERT INTO idempotency_keys (credential_id, key, request_hash, result, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.CredentialID, r.Key, r.RequestHash, string(r.Result), ts(r.CreatedAt))
	return t.conflict(err, "a request with this Idempotency-Key is already in progress")
}
