package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

const credentialCols = `id, uuid, org_id, member_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at, last_used_at`

// credentialColsOf is credentialCols qualified by a table alias, for joins.
func credentialColsOf(alias string) string {
	return alias + "." + strings.ReplaceAll(credentialCols, ", ", ", "+alias+".")
}

func scanCredential(r Row) (*membership.Credential, error) {
	var cr credentialRow
	if err := r.Scan(cr.dest()...); err != nil {
		return nil, err
	}
	return cr.value(), nil
}

// credentialRow receives credentialCols (see memberRow).
type credentialRow struct {
	c                          membership.Credential
	scopes                     string
	created                    int64
	expires, revoked, lastUsed sql.NullInt64
}

func (cr *credentialRow) dest() []any {
	c := &cr.c
	return []any{&c.ID, &c.UUID, &c.OrgID, &c.MemberID, &c.Name, &c.Prefix, &c.Hash, &cr.scopes, &cr.created, &cr.expires, &cr.revoked, &cr.lastUsed}
}

func (cr *credentialRow) value() *membership.Credential {
	c := cr.c
	c.Scopes, c.CreatedAt, c.ExpiresAt, c.RevokedAt = strings.Fields(cr.scopes), fromTS(cr.created), fromNullTS(cr.expires), fromNullTS(cr.revoked)
	c.LastUsedAt = fromNullTS(cr.lastUsed)
	return &c
}

// CredentialCreate implements membership.Tx.
func (t *Tx) CredentialCreate(ctx context.Context, c *membership.Credential) error {
	return t.c.QueryRow(ctx, `INSERT INTO credentials (uuid, org_id, member_id, name, prefix, hash, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		c.UUID, c.OrgID, c.MemberID, c.Name, c.Prefix, c.Hash, strings.Join(c.Scopes, " "), ts(c.CreatedAt), nullTS(c.ExpiresAt)).Scan(&c.ID)
}

// CredentialGetByPrefix implements membership.Tx.
func (t *Tx) CredentialGetByPrefix(ctx context.Context, prefix string) (*membership.Credential, error) {
	c, err := scanCredential(t.c.QueryRow(ctx, `SELECT `+credentialCols+` FROM credentials WHERE prefix = $1`, prefix))
	return c, t.notFound(err, "credential")
}

// PrincipalGetByPrefix implements membership.Tx: one statement, since
// every authenticated request runs it.
func (t *Tx) PrincipalGetByPrefix(ctx context.Context, prefix string) (*membership.Principal, error) {
	var cr credentialRow
	var mr memberRow
	var epoch sql.NullInt64
	// The access epoch rides along (see AccessEpoch), so that an access
	// check of the same request needs no statement when the index holds
	// its answer.
	err := t.c.QueryRow(ctx, `SELECT `+credentialColsOf("c")+`, `+memberCols+`,
		(SELECT h.seq FROM event_chain_heads h WHERE h.org_id = c.org_id)`+memberFrom+`
		JOIN credentials c ON c.member_id = m.id AND c.org_id = m.org_id WHERE c.prefix = $1`, prefix).
		Scan(append(append(cr.dest(), mr.dest()...), &epoch)...)
	if err != nil {
		return nil, t.notFound(err, "credential")
	}
	return &membership.Principal{Credential: cr.value(), Member: mr.value(), AccessEpoch: &epoch.Int64}, nil
}

// CredentialGet implements membership.Tx.
func (t *Tx) CredentialGet(ctx context.Context, p *membership.RefParams) (*membership.Credential, error) {
	return getByRef(ctx, t, p, "credentials", credentialCols, "credential", scanCredential)
}

// CredentialList implements membership.Tx.
func (t *Tx) CredentialList(ctx context.Context, orgID int64) ([]*membership.Credential, error) {
	return collect(ctx, t, scanCredential, `SELECT `+credentialCols+` FROM credentials WHERE org_id = $1 ORDER BY id`, orgID)
}

// CredentialRevoke implements membership.Tx.
func (t *Tx) CredentialRevoke(ctx context.Context, orgID, id int64, at time.Time) error {
	n, err := t.c.Exec(ctx, `UPDATE credentials SET revoked_at = $3 WHERE org_id = $1 AND id = $2`, orgID, id, ts(at))
	if err == nil && n == 0 {
		return membership.Errorf(membership.CodeNotFound, "credential not found")
	}
	return err
}

// CredentialTouch implements membership.Tx.
func (t *Tx) CredentialTouch(ctx context.Context, id int64, at time.Time) error {
	_, err := t.c.Exec(ctx, `UPDATE credentials SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)`, id, ts(at))
	return err
}
