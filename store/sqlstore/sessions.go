package sqlstore

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// This file holds the admin console's storage: sessions, one-time sign-in
// links and the keyset-paged member search.

const sessionCols = `s.id, s.uuid, s.org_id, s.member_id, s.credential_id, s.scopes, s.via, s.user_agent, s.address,
	s.created_at, s.last_seen_at, s.expires_at, s.revoked_at`

// sessionRow receives sessionCols (see memberRow).
type sessionRow struct {
	s                          membership.Session
	credentialID, revoked      sql.NullInt64
	scopes                     string
	created, lastSeen, expires int64
}

func (sr *sessionRow) dest() []any {
	s := &sr.s
	return []any{&s.ID, &s.UUID, &s.OrgID, &s.MemberID, &sr.credentialID, &sr.scopes, &s.Via, &s.UserAgent, &s.Address,
		&sr.created, &sr.lastSeen, &sr.expires, &sr.revoked}
}

func (sr *sessionRow) value() *membership.Session {
	s := sr.s
	s.CredentialID, s.Scopes, s.RevokedAt = sr.credentialID.Int64, strings.Fields(sr.scopes), fromNullTS(sr.revoked)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromTS(sr.created), fromTS(sr.lastSeen), fromTS(sr.expires)
	return &s
}

func scanSession(r Row) (*membership.Session, error) {
	var sr sessionRow
	if err := r.Scan(sr.dest()...); err != nil {
		return nil, err
	}
	return sr.value(), nil
}

// SessionCreate implements membership.Tx.
func (t *Tx) SessionCreate(ctx context.Context, s *membership.Session) error {
	return t.c.QueryRow(ctx, `INSERT INTO admin_sessions (uuid, org_id, member_id, credential_id, hash, scopes, via,
		user_agent, address, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		s.UUID, s.OrgID, s.MemberID, nullID(s.CredentialID), s.Hash, strings.Join(s.Scopes, " "), s.Via,
		s.UserAgent, s.Address, ts(s.CreatedAt), ts(s.LastSeenAt), ts(s.ExpiresAt)).Scan(&s.ID)
}

// SessionGetByHash implements membership.Tx: one statement, since every
// console request runs it.
func (t *Tx) SessionGetByHash(ctx context.Context, hash []byte) (*membership.SessionRow, error) {
	var sr sessionRow
	var mr memberRow
	var cr credentialRow
	var cID sql.NullInt64
	var cUUID, cName, cPrefix, cScopes sql.NullString
	var cOrg, cMember, cCreated sql.NullInt64
	err := t.c.QueryRow(ctx, `SELECT `+sessionCols+`, `+memberCols+`,
		c.id, c.uuid, c.org_id, c.member_id, c.name, c.prefix, c.hash, c.scopes, c.created_at, c.expires_at, c.revoked_at
		FROM admin_sessions s JOIN members m ON m.id = s.member_id AND m.org_id = s.org_id JOIN users u ON u.id = m.user_id
		LEFT JOIN credentials c ON c.id = s.credential_id AND c.org_id = s.org_id
		WHERE s.hash = $1`, hash).
		Scan(append(append(sr.dest(), mr.dest()...), &cID, &cUUID, &cOrg, &cMember, &cName, &cPrefix, &cr.c.Hash, &cScopes,
			&cCreated, &cr.expires, &cr.revoked)...)
	if err != nil {
		return nil, t.notFound(err, "session")
	}
	row := &membership.SessionRow{Session: sr.value(), Member: mr.value()}
	if cID.Valid {
		cr.c.ID, cr.c.UUID, cr.c.OrgID, cr.c.MemberID = cID.Int64, cUUID.String, cOrg.Int64, cMember.Int64
		cr.c.Name, cr.c.Prefix, cr.scopes, cr.created = cName.String, cPrefix.String, cScopes.String, cCreated.Int64
		row.Credential = cr.value()
	}
	return row, nil
}

// SessionGet implements membership.Tx.
func (t *Tx) SessionGet(ctx context.Context, orgID int64, uuid string) (*membership.Session, error) {
	s, err := scanSession(t.c.QueryRow(ctx, `SELECT `+sessionCols+` FROM admin_sessions s WHERE s.org_id = $1 AND s.uuid = $2`,
		orgID, strings.ToLower(uuid)))
	return s, t.notFound(err, "session")
}

// SessionList implements membership.Tx.
func (t *Tx) SessionList(ctx context.Context, p *membership.SessionListParams) ([]*membership.Session, error) {
	at := ts(p.At)
	args := []any{p.OrgID, at, ts(p.At.Add(-membership.SessionIdle))}
	q := `SELECT ` + sessionCols + `, u.email FROM admin_sessions s
		JOIN members m ON m.id = s.member_id JOIN users u ON u.id = m.user_id
		LEFT JOIN credentials c ON c.id = s.credential_id
		WHERE s.org_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND s.last_seen_at > $3
		AND m.status = 'active' AND (s.credential_id IS NULL OR (c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > $2)))`
	if p.MemberID != 0 {
		q += " AND s.member_id = " + arg(&args, p.MemberID)
	}
	q += " ORDER BY s.id DESC"
	return collect(ctx, t, func(r Row) (*membership.Session, error) {
		var sr sessionRow
		var email string
		if err := r.Scan(append(sr.dest(), &email)...); err != nil {
			return nil, err
		}
		s := sr.value()
		s.Email = email
		return s, nil
	}, q, args...)
}

// SessionTouch implements membership.Tx.
func (t *Tx) SessionTouch(ctx context.Context, id int64, at time.Time) error {
	_, err := t.c.Exec(ctx, `UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, ts(at))
	return err
}

// SessionRevoke implements membership.Tx.
func (t *Tx) SessionRevoke(ctx context.Context, id int64, at time.Time) error {
	n, err := t.c.Exec(ctx, `UPDATE admin_sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, ts(at))
	if err == nil && n == 0 {
		return membership.Errorf(membership.CodeNotFound, "session not found")
	}
	return err
}

// SignInLinkCreate implements membership.Tx.
func (t *Tx) SignInLinkCreate(ctx context.Context, l *membership.SignInLink) error {
	return t.c.QueryRow(ctx, `INSERT INTO admin_signin_links (uuid, org_id, member_id, hash, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		l.UUID, l.OrgID, l.MemberID, l.Hash, ts(l.CreatedAt), ts(l.ExpiresAt)).Scan(&l.ID)
}

// SignInLinkUse implements membership.Tx. The update is the check: two
// concurrent uses of one link cannot both find it unused.
func (t *Tx) SignInLinkUse(ctx context.Context, hash []byte, at time.Time) (*membership.SignInLink, error) {
	var l membership.SignInLink
	var created, expires int64
	err := t.c.QueryRow(ctx, `UPDATE admin_signin_links SET used_at = $2 WHERE hash = $1 AND used_at IS NULL
		RETURNING id, uuid, org_id, member_id, created_at, expires_at`, hash, ts(at)).
		Scan(&l.ID, &l.UUID, &l.OrgID, &l.MemberID, &created, &expires)
	if err != nil {
		return nil, t.notFound(err, "sign-in link")
	}
	l.Hash, l.CreatedAt, l.ExpiresAt, l.UsedAt = hash, fromTS(created), fromTS(expires), &at
	return &l, nil
}

// MemberSearch implements membership.Tx. Space and group filters are
// EXISTS probes on the memberships' member index, so a page stops reading
// as soon as it is full, like the unfiltered list.
func (t *Tx) MemberSearch(ctx context.Context, p *membership.MemberSearchParams) ([]*membership.Member, error) {
	args := []any{}
	sc := memberScope(&args, &membership.MemberListParams{OrgID: p.OrgID, Status: p.Status, Role: p.Role, Query: p.Query, AfterID: p.AfterID})
	w := sc.where
	if p.SpaceID != 0 {
		w += ` AND EXISTS (SELECT 1 FROM space_members sm WHERE sm.member_id = m.id AND sm.space_id = ` + arg(&args, p.SpaceID) +
			` AND sm.status = 'active')`
	}
	if p.GroupID != 0 {
		w += ` AND EXISTS (SELECT 1 FROM group_members gm WHERE gm.member_id = m.id AND gm.group_id = ` + arg(&args, p.GroupID) +
			` AND gm.status = 'active')`
	}
	order := sc.id
	if p.BeforeID != 0 {
		w += " AND " + sc.past("<", arg(&args, p.BeforeID))
		order += " DESC"
	}
	q := `SELECT ` + memberCols + sc.from + ` WHERE ` + w + ` ORDER BY ` + order + ` LIMIT ` + arg(&args, max(p.Limit, 1))
	ms, err := collect(ctx, t, scanMember, q, args...)
	if err == nil && p.BeforeID != 0 {
		slices.Reverse(ms)
	}
	return ms, err
}
