package sqlstore

import (
	"context"
	"database/sql"

	"github.com/memberd/memberd/membership"
)

const resourceCols = `id, uuid, org_id, space_id, kind, name, created_at`

func scanResource(r Row) (*membership.Resource, error) {
	var res membership.Resource
	var space sql.NullInt64
	var created int64
	if err := r.Scan(&res.ID, &res.UUID, &res.OrgID, &space, &res.Kind, &res.Name, &created); err != nil {
		return nil, err
	}
	res.SpaceID, res.CreatedAt = space.Int64, fromTS(created)
	return &res, nil
}

// ResourceCreate implements membership.Tx.
func (t *Tx) ResourceCreate(ctx context.Context, r *membership.Resource) error {
	return t.c.QueryRow(ctx, `INSERT INTO resources (uuid, org_id, space_id, kind, name, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		r.UUID, r.OrgID, nullID(r.SpaceID), r.Kind, r.Name, ts(r.CreatedAt)).Scan(&r.ID)
}

// ResourceGet implements membership.Tx.
func (t *Tx) ResourceGet(ctx context.Context, p *membership.RefParams) (*membership.Resource, error) {
	return getByRef(ctx, t, p, "resources", resourceCols, "resource", scanResource)
}

// ResourceList implements membership.Tx.
func (t *Tx) ResourceList(ctx context.Context, orgID int64) ([]*membership.Resource, error) {
	return collect(ctx, t, scanResource, `SELECT `+resourceCols+` FROM resources WHERE org_id = $1 ORDER BY id`, orgID)
}
