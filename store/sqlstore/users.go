package sqlstore

import (
	"context"
	"time"

	"github.com/memberd/memberd/membership"
)

// UserUpsert implements membership.Tx.
func (t *Tx) UserUpsert(ctx context.Context, email, name string) (*membership.User, error) {
	u := &membership.User{UUID: membership.NewUUID(), Email: email, Name: name, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	// The no-op update makes RETURNING yield the existing row on conflict.
	var created int64
	err := t.c.QueryRow(ctx, `INSERT INTO users (uuid, email, name, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (email) DO UPDATE SET email = excluded.email
		RETURNING id, uuid, name, created_at`, u.UUID, email, name, ts(u.CreatedAt)).Scan(&u.ID, &u.UUID, &u.Name, &created)
	u.CreatedAt = fromTS(created)
	return u, err
}
