package sqlstore

import (
	"context"
	"strings"

	"github.com/memberd/memberd/membership"
)

// OrganizationCreate implements membership.Tx.
func (t *Tx) OrganizationCreate(ctx context.Context, o *membership.Organization) error {
	return t.c.QueryRow(ctx, `INSERT INTO organizations (uuid, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		o.UUID, o.Name, ts(o.CreatedAt)).Scan(&o.ID)
}

const orgCols = `id, uuid, name, created_at`

func scanOrg(r Row) (*membership.Organization, error) {
	var o membership.Organization
	var created int64
	if err := r.Scan(&o.ID, &o.UUID, &o.Name, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = fromTS(created)
	return &o, nil
}

// OrganizationGet implements membership.Tx.
func (t *Tx) OrganizationGet(ctx context.Context, id int64) (*membership.Organization, error) {
	o, err := scanOrg(t.c.QueryRow(ctx, `SELECT `+orgCols+` FROM organizations WHERE id = $1`, id))
	return o, t.notFound(err, "organization")
}

// OrganizationGetByUUID implements membership.Tx.
func (t *Tx) OrganizationGetByUUID(ctx context.Context, uuid string) (*membership.Organization, error) {
	o, err := scanOrg(t.c.QueryRow(ctx, `SELECT `+orgCols+` FROM organizations WHERE uuid = $1`, strings.ToLower(uuid)))
	return o, t.notFound(err, "organization")
}

// OrganizationGetByOwner implements membership.Tx.
func (t *Tx) OrganizationGetByOwner(ctx context.Context, name, email string) (*membership.Organization, error) {
	o, err := scanOrg(t.c.QueryRow(ctx, `SELECT o.id, o.uuid, o.name, o.created_at FROM organizations o
		JOIN members m ON m.org_id = o.id JOIN users u ON u.id = m.user_id
		WHERE o.name = $1 AND u.email = $2 AND m.role = 'owner' AND m.status = 'active'
		ORDER BY o.id LIMIT 1`, name, email))
	return o, t.notFound(err, "organization")
}
