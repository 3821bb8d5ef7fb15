package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// This file holds OAuth clients, authorization codes and tokens.

const oauthClientCols = `oc.id, oc.uuid, oc.org_id, oc.client_id, oc.name, oc.secret_hash, oc.member_id, oc.credential_id,
	oc.scopes, oc.redirect_uris, oc.token_ttl, oc.created_at, oc.rotated_at, oc.revoked_at`

// oauthClientRow receives oauthClientCols (see memberRow).
type oauthClientRow struct {
	c                membership.OAuthClient
	scopes, uris     string
	created          int64
	rotated, revoked sql.NullInt64
}

func (r *oauthClientRow) dest() []any {
	c := &r.c
	return []any{&c.ID, &c.UUID, &c.OrgID, &c.ClientID, &c.Name, &c.SecretHash, &c.MemberID, &c.CredentialID,
		&r.scopes, &r.uris, &c.TokenTTL, &r.created, &r.rotated, &r.revoked}
}

func (r *oauthClientRow) value() *membership.OAuthClient {
	c := r.c
	c.Public = len(c.SecretHash) == 0
	c.Scopes, c.RedirectURIs = strings.Fields(r.scopes), strings.Fields(r.uris)
	c.CreatedAt, c.RotatedAt, c.RevokedAt = fromTS(r.created), fromNullTS(r.rotated), fromNullTS(r.revoked)
	return &c
}

func scanOAuthClient(r Row) (*membership.OAuthClient, error) {
	var cr oauthClientRow
	if err := r.Scan(cr.dest()...); err != nil {
		return nil, err
	}
	return cr.value(), nil
}

// nullBytes stores an empty hash as NULL: a public client has no secret.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// OAuthClientCreate implements membership.Tx. Redirect URIs are stored
// space-separated: a valid URI holds no space.
func (t *Tx) OAuthClientCreate(ctx context.Context, c *membership.OAuthClient) error {
	return t.c.QueryRow(ctx, `INSERT INTO oauth_clients (uuid, org_id, client_id, name, secret_hash, member_id, credential_id,
		scopes, redirect_uris, token_ttl, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
		c.UUID, c.OrgID, c.ClientID, c.Name, nullBytes(c.SecretHash), c.MemberID, c.CredentialID,
		strings.Join(c.Scopes, " "), strings.Join(c.RedirectURIs, " "), c.TokenTTL, ts(c.CreatedAt)).Scan(&c.ID)
}

// OAuthClientGet implements membership.Tx.
func (t *Tx) OAuthClientGet(ctx context.Context, p *membership.RefParams) (*membership.OAuthClient, error) {
	return getByRef(ctx, t, p, "oauth_clients oc", oauthClientCols, "OAuth client", scanOAuthClient)
}

// OAuthClientGetByClientID implements membership.Tx.
func (t *Tx) OAuthClientGetByClientID(ctx context.Context, clientID string) (*membership.OAuthClient, error) {
	c, err := scanOAuthClient(t.c.QueryRow(ctx, `SELECT `+oauthClientCols+` FROM oauth_clients oc WHERE client_id = $1`, clientID))
	return c, t.notFound(err, "OAuth client")
}

// OAuthClientList implements membership.Tx.
func (t *Tx) OAuthClientList(ctx context.Context, orgID int64) ([]*membership.OAuthClient, error) {
	return collect(ctx, t, scanOAuthClient, `SELECT `+oauthClientCols+` FROM oauth_clients oc WHERE org_id = $1 ORDER BY id`, orgID)
}

// OAuthClientUpdate implements membership.Tx.
func (t *Tx) OAuthClientUpdate(ctx context.Context, c *membership.OAuthClient) error {
	n, err := t.c.Exec(ctx, `UPDATE oauth_clients SET secret_hash = $2, rotated_at = $3, revoked_at = $4 WHERE id = $1`,
		c.ID, nullBytes(c.SecretHash), nullTS(c.RotatedAt), nullTS(c.RevokedAt))
	if err == nil && n == 0 {
		return membership.Errorf(membership.CodeNotFound, "OAuth client not found")
	}
	return err
}

// OAuthCodeCreate implements membership.Tx.
func (t *Tx) OAuthCodeCreate(ctx context.Context, c *membership.OAuthCode) error {
	return t.c.QueryRow(ctx, `INSERT INTO oauth_codes (org_id, client_id, member_id, hash, scopes, redirect_uri, code_challenge,
		chain, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		c.OrgID, c.ClientID, c.MemberID, c.Hash, strings.Join(c.Scopes, " "), c.RedirectURI, c.CodeChallenge,
		c.Chain, ts(c.CreatedAt), ts(c.ExpiresAt)).Scan(&c.ID)
}

// OAuthCodeUse implements membership.Tx. The update is the check: two
// concurrent exchanges of one code cannot both find it unused.
func (t *Tx) OAuthCodeUse(ctx context.Context, hash []byte, at time.Time) (*membership.OAuthCode, bool, error) {
	const cols = `id, org_id, client_id, member_id, scopes, redirect_uri, code_challenge, chain, created_at, expires_at, used_at`
	scan := func(r Row) (*membership.OAuthCode, error) {
		var c membership.OAuthCode
		var scopes string
		var created, expires int64
		var used sql.NullInt64
		if err := r.Scan(&c.ID, &c.OrgID, &c.ClientID, &c.MemberID, &scopes, &c.RedirectURI, &c.CodeChallenge, &c.Chain,
			&created, &expires, &used); err != nil {
			return nil, err
		}
		c.Hash, c.Scopes, c.CreatedAt, c.ExpiresAt, c.UsedAt = hash, strings.Fields(scopes), fromTS(created), fromTS(expires), fromNullTS(used)
		return &c, nil
	}
	c, err := scan(t.c.QueryRow(ctx, `UPDATE oauth_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING `+cols, hash, ts(at)))
	if err == nil {
		return c, true, nil
	}
	if err = t.notFound(err, "authorization code"); membership.ErrorCode(err) != membership.CodeNotFound {
		return nil, false, err
	}
	c, err = scan(t.c.QueryRow(ctx, `SELECT `+cols+` FROM oauth_codes WHERE hash = $1`, hash))
	return c, false, t.notFound(err, "authorization code")
}

const oauthTokenCols = `t.id, t.org_id, t.client_id, t.member_id, t.kind, t.hash, t.scopes, t.chain, t.created_at, t.expires_at,
	t.used_at, t.revoked_at`

// OAuthTokenCreate implements membership.Tx.
func (t *Tx) OAuthTokenCreate(ctx context.Context, tok *membership.OAuthToken) error {
	return t.c.QueryRow(ctx, `INSERT INTO oauth_tokens (org_id, client_id, member_id, kind, hash, scopes, chain, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		tok.OrgID, tok.ClientID, tok.MemberID, tok.Kind, tok.Hash, strings.Join(tok.Scopes, " "), tok.Chain,
		ts(tok.CreatedAt), ts(tok.ExpiresAt)).Scan(&tok.ID)
}

// OAuthTokenGetByHash implements membership.Tx: one statement, since every
// request authenticated by an access token runs it.
func (t *Tx) OAuthTokenGetByHash(ctx context.Context, hash []byte) (*membership.OAuthTokenRow, error) {
	var tok membership.OAuthToken
	var scopes string
	var created, expires int64
	var used, revoked sql.NullInt64
	var cr oauthClientRow
	var kr credentialRow
	var mr memberRow
	var cmStatus string
	err := t.c.QueryRow(ctx, `SELECT `+oauthTokenCols+`, `+oauthClientCols+`, `+credentialColsOf("cr")+`, `+memberCols+`, cm.status
		FROM oauth_tokens t JOIN oauth_clients oc ON oc.id = t.client_id
		JOIN credentials cr ON cr.id = oc.credential_id
		JOIN members cm ON cm.id = oc.member_id
		JOIN members m ON m.id = t.member_id AND m.org_id = t.org_id JOIN users u ON u.id = m.user_id
		WHERE t.hash = $1`, hash).
		Scan(append(append(append([]any{&tok.ID, &tok.OrgID, &tok.ClientID, &tok.MemberID, &tok.Kind, &tok.Hash, &scopes, &tok.Chain,
			&created, &expires, &used, &revoked}, cr.dest()...), kr.dest()...), append(mr.dest(), &cmStatus)...)...)
	if err != nil {
		return nil, t.notFound(err, "token")
	}
	tok.Scopes, tok.CreatedAt, tok.ExpiresAt = strings.Fields(scopes), fromTS(created), fromTS(expires)
	tok.UsedAt, tok.RevokedAt = fromNullTS(used), fromNullTS(revoked)
	client := cr.value()
	return &membership.OAuthTokenRow{
		Token: &tok, Client: client, Credential: kr.value(), Member: mr.value(),
		ClientMember: &membership.Member{ID: client.MemberID, OrgID: client.OrgID, Status: membership.Status(cmStatus)},
	}, nil
}

// OAuthTokenUse implements membership.Tx. The update is the check, as for
// codes: of two concurrent refreshes, one finds the token spent.
func (t *Tx) OAuthTokenUse(ctx context.Context, id int64, at time.Time) (bool, error) {
	n, err := t.c.Exec(ctx, `UPDATE oauth_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL`, id, ts(at))
	return n == 1, err
}

// OAuthTokensRevoke implements membership.Tx.
func (t *Tx) OAuthTokensRevoke(ctx context.Context, p *membership.OAuthRevokeParams) (int, error) {
	args := []any{ts(p.At)}
	var where string
	switch {
	case p.ID != 0:
		where = "id = " + arg(&args, p.ID)
	case p.Chain != "":
		where = "chain = " + arg(&args, p.Chain)
	case p.ClientID != 0:
		where = "client_id = " + arg(&args, p.ClientID)
	default:
		return 0, nil
	}
	n, err := t.c.Exec(ctx, `UPDATE oauth_tokens SET revoked_at = $1 WHERE revoked_at IS NULL AND `+where, args...)
	return int(n), err
}
