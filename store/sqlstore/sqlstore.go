// Package sqlstore owns the SQL that implements membership.Tx. Both
// engines (store/sqlite and store/postgres) run this one implementation
// over a thin Conn adapter, so a query is written, reviewed and tuned once
// and the conformance suite exercises the same code on both.
//
// Queries use PostgreSQL's $N placeholders; the SQLite engine rewrites
// them to SQLite's identical ?N form. Times are stored as Unix
// microseconds in BIGINT columns, the precision both engines keep.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// Conn is one open transaction of an engine's driver.
type Conn interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is a driver's result set.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is a driver's single-row result.
type Row interface {
	Scan(dest ...any) error
}

// Dialect is what differs between engines.
type Dialect struct {
	// LockRows says SELECTs must lock the rows a change depends on
	// (FOR UPDATE). Engines whose write transactions are already
	// exclusive leave it false.
	LockRows bool
	// IsNoRows reports the driver's "no rows" error.
	IsNoRows func(error) bool
	// IsUniqueViolation reports a unique-constraint violation.
	IsUniqueViolation func(error) bool
}

// Tx implements membership.Tx over a Conn.
type Tx struct {
	c         Conn
	d         *Dialect
	savepoint int
}

var _ membership.Tx = (*Tx)(nil)

// NewTx wraps an engine's open transaction.
func NewTx(c Conn, d *Dialect) *Tx { return &Tx{c: c, d: d} }

// Conn returns the transaction's connection, for engine-specific work.
func (t *Tx) Conn() Conn { return t.c }

func ts(t time.Time) int64 { return t.UnixMicro() }

func fromTS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullTS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

func fromNullTS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromTS(v.Int64)
	return &t
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// notFound turns a driver's "no rows" into the core's CodeNotFound.
func (t *Tx) notFound(err error, what string) error {
	if err == nil {
		return nil
	}
	if t.d.IsNoRows(err) {
		return membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	return err
}

func (t *Tx) conflict(err error, format string, args ...any) error {
	if err != nil && t.d.IsUniqueViolation(err) {
		return &membership.Error{Code: membership.CodeConflict, Message: fmt.Sprintf(format, args...), Err: err}
	}
	return err
}

// placeholders appends vals to args and returns their "$n, $m" list.
func placeholders[T any](args *[]any, vals []T) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		*args = append(*args, v)
		b.WriteString("$" + strconv.Itoa(len(*args)))
	}
	return b.String()
}

// arg appends v to args and returns its placeholder.
func arg(args *[]any, v any) string {
	*args = append(*args, v)
	return "$" + strconv.Itoa(len(*args))
}

// collect runs a query and scans every row with scan.
func collect[T any](ctx context.Context, t *Tx, scan func(Row) (*T, error), query string, args ...any) ([]*T, error) {
	rows, err := t.c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Savepoint implements membership.Tx.
func (t *Tx) Savepoint(ctx context.Context, fn func() error) error {
	t.savepoint++
	name := "sp" + strconv.Itoa(t.savepoint)
	if _, err := t.c.Exec(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := t.c.Exec(ctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))
		}
		if _, rerr := t.c.Exec(ctx, "RELEASE SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
		}
		return err
	}
	if _, err := t.c.Exec(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// ---- organizations and users

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

// ---- members

const memberCols = `m.id, m.uuid, m.org_id, m.user_id, u.email, m.name, m.role, m.status, m.added_by,
	m.created_at, m.updated_at, m.removed_at, m.removed_by`

const memberFrom = ` FROM members m JOIN users u ON u.id = m.user_id`

func scanMember(r Row) (*membership.Member, error) {
	var mr memberRow
	if err := r.Scan(mr.dest()...); err != nil {
		return nil, err
	}
	return mr.value(), nil
}

// memberRow receives memberCols, so that a query joining a member to
// another row can scan both at once.
type memberRow struct {
	m                             membership.Member
	role, status                  string
	addedBy, removedAt, removedBy sql.NullInt64
	created, updated              int64
}

func (mr *memberRow) dest() []any {
	m := &mr.m
	return []any{&m.ID, &m.UUID, &m.OrgID, &m.UserID, &m.Email, &m.Name, &mr.role, &mr.status, &mr.addedBy,
		&mr.created, &mr.updated, &mr.removedAt, &mr.removedBy}
}

func (mr *memberRow) value() *membership.Member {
	m := mr.m
	m.Role, m.Status, m.AddedBy, m.RemovedBy = membership.Role(mr.role), membership.Status(mr.status), mr.addedBy.Int64, mr.removedBy.Int64
	m.CreatedAt, m.UpdatedAt, m.RemovedAt = fromTS(mr.created), fromTS(mr.updated), fromNullTS(mr.removedAt)
	return &m
}

// MemberCreate implements membership.Tx.
func (t *Tx) MemberCreate(ctx context.Context, m *membership.Member) error {
	err := t.c.QueryRow(ctx, `INSERT INTO members (uuid, org_id, user_id, name, role, status, added_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		m.UUID, m.OrgID, m.UserID, m.Name, string(m.Role), string(m.Status), nullID(m.AddedBy), ts(m.CreatedAt), ts(m.UpdatedAt)).Scan(&m.ID)
	if err != nil {
		return t.conflict(err, "%s is already a member", m.Email)
	}
	_, err = t.c.Exec(ctx, `INSERT INTO member_periods (member_id, started_at, started_by) VALUES ($1, $2, $3)`,
		m.ID, ts(m.CreatedAt), nullID(m.AddedBy))
	return err
}

// MemberGet implements membership.Tx.
func (t *Tx) MemberGet(ctx context.Context, p *membership.MemberGetParams) (*membership.Member, error) {
	args := []any{p.OrgID}
	var where string
	switch {
	case p.ID != 0:
		where = "m.id = " + arg(&args, p.ID)
	case p.UUID != "":
		where = "m.uuid = " + arg(&args, strings.ToLower(p.UUID))
	case p.Email != "":
		where = "u.email = " + arg(&args, p.Email)
	default:
		return nil, membership.Errorf(membership.CodeNotFound, "member not found")
	}
	q := `SELECT ` + memberCols + memberFrom + ` WHERE m.org_id = $1 AND ` + where
	if p.Lock && t.d.LockRows {
		q += " FOR UPDATE OF m"
	}
	m, err := scanMember(t.c.QueryRow(ctx, q, args...))
	return m, t.notFound(err, "member")
}

// MemberList implements membership.Tx.
func (t *Tx) MemberList(ctx context.Context, p *membership.MemberListParams) ([]*membership.Member, error) {
	args := []any{}
	q := `SELECT ` + memberCols + memberFrom + ` WHERE ` + memberWhere(&args, p)
	q += " ORDER BY m.id LIMIT " + arg(&args, max(p.Limit, 1))
	if p.Offset > 0 {
		q += " OFFSET " + arg(&args, p.Offset)
	}
	return collect(ctx, t, scanMember, q, args...)
}

// MemberCount implements membership.Tx.
func (t *Tx) MemberCount(ctx context.Context, p *membership.MemberListParams) (int, error) {
	args := []any{}
	var n int
	if err := t.c.QueryRow(ctx, `SELECT count(*)`+memberFrom+` WHERE `+memberWhere(&args, p), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count members: %w", err)
	}
	return n, nil
}

// memberWhere is the filter MemberList and MemberCount share.
func memberWhere(args *[]any, p *membership.MemberListParams) string {
	w := "m.org_id = " + arg(args, p.OrgID) + " AND m.id > " + arg(args, p.AfterID)
	if p.Status != "" {
		w += " AND m.status = " + arg(args, string(p.Status))
	}
	if p.Role != "" {
		w += " AND m.role = " + arg(args, string(p.Role))
	}
	if p.Query != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(strings.ToLower(p.Query)) + "%"
		ph := arg(args, like)
		w += " AND (u.email LIKE " + ph + ` ESCAPE '\' OR lower(m.name) LIKE ` + ph + ` ESCAPE '\')`
	}
	return w
}

// MemberSetStatus implements membership.Tx.
func (t *Tx) MemberSetStatus(ctx context.Context, p *membership.MemberSetStatusParams) error {
	var n int64
	var err error
	if p.Status == membership.StatusRemoved {
		n, err = t.c.Exec(ctx, `UPDATE members SET status = 'removed', removed_at = $2, removed_by = $3, updated_at = $2 WHERE id = $1`,
			p.ID, ts(p.At), nullID(p.By))
		if err == nil {
			_, err = t.c.Exec(ctx, `UPDATE member_periods SET ended_at = $2, ended_by = $3 WHERE member_id = $1 AND ended_at IS NULL`,
				p.ID, ts(p.At), nullID(p.By))
		}
	} else {
		n, err = t.c.Exec(ctx, `UPDATE members SET status = 'active', removed_at = NULL, removed_by = NULL, updated_at = $2 WHERE id = $1`,
			p.ID, ts(p.At))
		if err == nil {
			_, err = t.c.Exec(ctx, `INSERT INTO member_periods (member_id, started_at, started_by) VALUES ($1, $2, $3)`,
				p.ID, ts(p.At), nullID(p.By))
		}
	}
	if err != nil {
		return fmt.Errorf("set member %d %s: %w", p.ID, p.Status, err)
	}
	if n == 0 {
		return membership.Errorf(membership.CodeNotFound, "member not found")
	}
	return nil
}

// MemberUpdate implements membership.Tx.
func (t *Tx) MemberUpdate(ctx context.Context, m *membership.Member) error {
	_, err := t.c.Exec(ctx, `UPDATE members SET name = $2, role = $3, updated_at = $4 WHERE id = $1`,
		m.ID, m.Name, string(m.Role), ts(m.UpdatedAt))
	return err
}

// MemberPeriodList implements membership.Tx.
func (t *Tx) MemberPeriodList(ctx context.Context, memberID int64) ([]*membership.MemberPeriod, error) {
	return collect(ctx, t, func(r Row) (*membership.MemberPeriod, error) {
		var p membership.MemberPeriod
		var started int64
		var startedBy, ended, endedBy sql.NullInt64
		if err := r.Scan(&p.MemberID, &started, &startedBy, &ended, &endedBy); err != nil {
			return nil, err
		}
		p.StartedAt, p.StartedBy, p.EndedAt, p.EndedBy = fromTS(started), startedBy.Int64, fromNullTS(ended), endedBy.Int64
		return &p, nil
	}, `SELECT member_id, started_at, started_by, ended_at, ended_by FROM member_periods WHERE member_id = $1 ORDER BY id`, memberID)
}

// ---- spaces

// SpaceCreate implements membership.Tx.
func (t *Tx) SpaceCreate(ctx context.Context, s *membership.Space) error {
	return t.c.QueryRow(ctx, `INSERT INTO spaces (uuid, org_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		s.UUID, s.OrgID, s.Name, ts(s.CreatedAt)).Scan(&s.ID)
}

func scanSpace(r Row) (*membership.Space, error) {
	var s membership.Space
	var created int64
	if err := r.Scan(&s.ID, &s.UUID, &s.OrgID, &s.Name, &created); err != nil {
		return nil, err
	}
	s.CreatedAt = fromTS(created)
	return &s, nil
}

// refWhere addresses a row of table alias by ID or UUID within org $1.
func refWhere(args *[]any, p *membership.RefParams) (string, bool) {
	switch {
	case p.ID != 0:
		return "id = " + arg(args, p.ID), true
	case p.UUID != "":
		return "uuid = " + arg(args, strings.ToLower(p.UUID)), true
	}
	return "", false
}

func getByRef[T any](ctx context.Context, t *Tx, p *membership.RefParams, table, cols, what string, scan func(Row) (*T, error)) (*T, error) {
	args := []any{p.OrgID}
	where, ok := refWhere(&args, p)
	if !ok {
		return nil, membership.Errorf(membership.CodeNotFound, "%s not found", what)
	}
	q := `SELECT ` + cols + ` FROM ` + table + ` WHERE org_id = $1 AND ` + where
	if p.Lock && t.d.LockRows {
		q += " FOR UPDATE"
	}
	v, err := scan(t.c.QueryRow(ctx, q, args...))
	return v, t.notFound(err, what)
}

// SpaceGet implements membership.Tx.
func (t *Tx) SpaceGet(ctx context.Context, p *membership.RefParams) (*membership.Space, error) {
	return getByRef(ctx, t, p, "spaces", "id, uuid, org_id, name, created_at", "space", scanSpace)
}

// SpaceList implements membership.Tx.
func (t *Tx) SpaceList(ctx context.Context, orgID int64) ([]*membership.Space, error) {
	return collect(ctx, t, scanSpace, `SELECT id, uuid, org_id, name, created_at FROM spaces WHERE org_id = $1 ORDER BY id`, orgID)
}

const spaceMemberCols = `sm.id, sm.uuid, sm.org_id, sm.space_id, sm.member_id, u.email, sm.status, sm.added_by,
	sm.created_at, sm.removed_at, sm.cause,
	(SELECT string_agg(r.role, '
') FROM space_member_roles r WHERE r.space_member_id = sm.id AND r.revoked_at IS NULL)`

const spaceMemberFrom = ` FROM space_members sm JOIN members m ON m.id = sm.member_id JOIN users u ON u.id = m.user_id`

func scanSpaceMember(r Row) (*membership.SpaceMember, error) {
	var sm membership.SpaceMember
	var status string
	var addedBy, removedAt sql.NullInt64
	var cause, roles sql.NullString
	var created int64
	if err := r.Scan(&sm.ID, &sm.UUID, &sm.OrgID, &sm.SpaceID, &sm.MemberID, &sm.Email, &status, &addedBy,
		&created, &removedAt, &cause, &roles); err != nil {
		return nil, err
	}
	sm.Status, sm.AddedBy, sm.CreatedAt, sm.RemovedAt, sm.Cause = membership.Status(status), addedBy.Int64, fromTS(created), fromNullTS(removedAt), cause.String
	sm.Roles = []string{}
	if roles.String != "" {
		// Newline-separated: role names may contain spaces ("Workspace
		// Owner") but no control characters (membership.CleanRoles).
		sm.Roles = strings.Split(roles.String, "\n")
		sort.Strings(sm.Roles)
	}
	return &sm, nil
}

// SpaceMemberAdd implements membership.Tx.
func (t *Tx) SpaceMemberAdd(ctx context.Context, sm *membership.SpaceMember) error {
	existing, err := t.SpaceMemberGet(ctx, &membership.SpaceMemberGetParams{OrgID: sm.OrgID, SpaceID: sm.SpaceID, MemberID: sm.MemberID})
	switch {
	case err == nil && existing.Status == membership.StatusActive:
		return membership.Errorf(membership.CodeConflict, "%s is already in the space", existing.Email)
	case err == nil:
		// A re-added membership starts with the roles given now; the old
		// ones are closed, not deleted, so the history keeps them.
		if _, err := t.c.Exec(ctx, `UPDATE space_member_roles SET revoked_at = $2, revoked_by = $3 WHERE space_member_id = $1 AND revoked_at IS NULL`,
			existing.ID, ts(sm.CreatedAt), nullID(sm.AddedBy)); err != nil {
			return err
		}
		if _, err := t.c.Exec(ctx, `UPDATE space_members SET status = 'active', removed_at = NULL, cause = NULL, added_by = $2, created_at = $3 WHERE id = $1`,
			existing.ID, nullID(sm.AddedBy), ts(sm.CreatedAt)); err != nil {
			return err
		}
		sm.ID, sm.UUID = existing.ID, existing.UUID
	case membership.ErrorCode(err) == membership.CodeNotFound:
		if err := t.c.QueryRow(ctx, `INSERT INTO space_members (uuid, org_id, space_id, member_id, status, added_by, created_at)
			VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING id`,
			sm.UUID, sm.OrgID, sm.SpaceID, sm.MemberID, nullID(sm.AddedBy), ts(sm.CreatedAt)).Scan(&sm.ID); err != nil {
			return err
		}
	default:
		return err
	}
	return t.SpaceRolesGrant(ctx, &membership.SpaceRolesParams{SpaceMemberID: sm.ID, Roles: sm.Roles, At: sm.CreatedAt, By: sm.AddedBy})
}

// SpaceMemberGet implements membership.Tx.
func (t *Tx) SpaceMemberGet(ctx context.Context, p *membership.SpaceMemberGetParams) (*membership.SpaceMember, error) {
	var row Row
	if p.ID != 0 {
		row = t.c.QueryRow(ctx, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE sm.org_id = $1 AND sm.id = $2`, p.OrgID, p.ID)
	} else {
		row = t.c.QueryRow(ctx, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE sm.org_id = $1 AND sm.space_id = $2 AND sm.member_id = $3`,
			p.OrgID, p.SpaceID, p.MemberID)
	}
	sm, err := scanSpaceMember(row)
	return sm, t.notFound(err, "space membership")
}

// SpaceMemberList implements membership.Tx.
func (t *Tx) SpaceMemberList(ctx context.Context, p *membership.SpaceMemberListParams) ([]*membership.SpaceMember, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + spaceMemberCols + spaceMemberFrom + ` WHERE sm.org_id = $1`
	if p.SpaceID != 0 {
		q += " AND sm.space_id = " + arg(&args, p.SpaceID)
	}
	if p.MemberID != 0 {
		q += " AND sm.member_id = " + arg(&args, p.MemberID)
	}
	if p.Status != "" {
		q += " AND sm.status = " + arg(&args, string(p.Status))
	}
	return collect(ctx, t, scanSpaceMember, q+" ORDER BY sm.id", args...)
}

// deactivateWhere selects a member's active rows, optionally one scope's.
func deactivateWhere(args *[]any, alias, scopeCol string, p *membership.DeactivateParams, scopeID int64) string {
	w := alias + "org_id = " + arg(args, p.OrgID) + " AND " + alias + "member_id = " + arg(args, p.MemberID) + " AND " + alias + "status = 'active'"
	if scopeID != 0 {
		w += " AND " + alias + scopeCol + " = " + arg(args, scopeID)
	}
	return w
}

// SpaceMembersDeactivate implements membership.Tx.
func (t *Tx) SpaceMembersDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.SpaceMember, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanSpaceMember, `SELECT `+spaceMemberCols+spaceMemberFrom+` WHERE `+
		deactivateWhere(&args, "sm.", "space_id", p, p.SpaceID)+` ORDER BY sm.id`, args...)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	args = []any{ts(p.At), p.Cause}
	_, err = t.c.Exec(ctx, `UPDATE space_members SET status = 'removed', removed_at = $1, cause = $2 WHERE `+
		deactivateWhere(&args, "", "space_id", p, p.SpaceID), args...)
	return rows, err
}

// SpaceMembersReactivate implements membership.Tx.
func (t *Tx) SpaceMembersReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.SpaceMember, error) {
	if _, err := t.c.Exec(ctx, `UPDATE space_members SET status = 'active', removed_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause); err != nil {
		return nil, err
	}
	return t.SpaceMemberList(ctx, &membership.SpaceMemberListParams{OrgID: p.OrgID, MemberID: p.MemberID, Status: membership.StatusActive})
}

// SpaceRolesGrant implements membership.Tx.
func (t *Tx) SpaceRolesGrant(ctx context.Context, p *membership.SpaceRolesParams) error {
	for _, role := range p.Roles {
		if _, err := t.c.Exec(ctx, `INSERT INTO space_member_roles (space_member_id, role, granted_at, granted_by)
			SELECT $1, $2, $3, $4 WHERE NOT EXISTS (
				SELECT 1 FROM space_member_roles WHERE space_member_id = $1 AND role = $2 AND revoked_at IS NULL)`,
			p.SpaceMemberID, role, ts(p.At), nullID(p.By)); err != nil {
			return fmt.Errorf("grant role %q: %w", role, err)
		}
	}
	return nil
}

// SpaceRolesRevoke implements membership.Tx.
func (t *Tx) SpaceRolesRevoke(ctx context.Context, p *membership.SpaceRolesParams) (int, error) {
	args := []any{p.SpaceMemberID, ts(p.At), nullID(p.By)}
	n, err := t.c.Exec(ctx, `UPDATE space_member_roles SET revoked_at = $2, revoked_by = $3
		WHERE space_member_id = $1 AND revoked_at IS NULL AND role IN (`+placeholders(&args, p.Roles)+`)`, args...)
	return int(n), err
}

// ---- groups

func scanGroup(r Row) (*membership.Group, error) {
	var g membership.Group
	var created int64
	if err := r.Scan(&g.ID, &g.UUID, &g.OrgID, &g.Name, &created); err != nil {
		return nil, err
	}
	g.CreatedAt = fromTS(created)
	return &g, nil
}

// GroupCreate implements membership.Tx.
func (t *Tx) GroupCreate(ctx context.Context, g *membership.Group) error {
	return t.c.QueryRow(ctx, `INSERT INTO user_groups (uuid, org_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		g.UUID, g.OrgID, g.Name, ts(g.CreatedAt)).Scan(&g.ID)
}

// GroupGet implements membership.Tx.
func (t *Tx) GroupGet(ctx context.Context, p *membership.RefParams) (*membership.Group, error) {
	return getByRef(ctx, t, p, "user_groups", "id, uuid, org_id, name, created_at", "group", scanGroup)
}

// GroupList implements membership.Tx.
func (t *Tx) GroupList(ctx context.Context, orgID int64) ([]*membership.Group, error) {
	return collect(ctx, t, scanGroup, `SELECT id, uuid, org_id, name, created_at FROM user_groups WHERE org_id = $1 ORDER BY id`, orgID)
}

const groupMemberCols = `id, org_id, group_id, member_id, status, added_by, created_at, removed_at, cause`

func scanGroupMember(r Row) (*membership.GroupMember, error) {
	var gm membership.GroupMember
	var status string
	var addedBy, removedAt sql.NullInt64
	var cause sql.NullString
	var created int64
	if err := r.Scan(&gm.ID, &gm.OrgID, &gm.GroupID, &gm.MemberID, &status, &addedBy, &created, &removedAt, &cause); err != nil {
		return nil, err
	}
	gm.Status, gm.AddedBy, gm.CreatedAt, gm.RemovedAt, gm.Cause = membership.Status(status), addedBy.Int64, fromTS(created), fromNullTS(removedAt), cause.String
	return &gm, nil
}

// GroupMemberAdd implements membership.Tx.
func (t *Tx) GroupMemberAdd(ctx context.Context, gm *membership.GroupMember) error {
	existing, err := t.GroupMemberGet(ctx, &membership.GroupMemberGetParams{OrgID: gm.OrgID, GroupID: gm.GroupID, MemberID: gm.MemberID})
	switch {
	case err == nil && existing.Status == membership.StatusActive:
		return membership.Errorf(membership.CodeConflict, "the member is already in the group")
	case err == nil:
		gm.ID = existing.ID
		_, err = t.c.Exec(ctx, `UPDATE group_members SET status = 'active', removed_at = NULL, cause = NULL, added_by = $2, created_at = $3 WHERE id = $1`,
			existing.ID, nullID(gm.AddedBy), ts(gm.CreatedAt))
		return err
	case membership.ErrorCode(err) == membership.CodeNotFound:
		return t.c.QueryRow(ctx, `INSERT INTO group_members (org_id, group_id, member_id, status, added_by, created_at)
			VALUES ($1, $2, $3, 'active', $4, $5) RETURNING id`,
			gm.OrgID, gm.GroupID, gm.MemberID, nullID(gm.AddedBy), ts(gm.CreatedAt)).Scan(&gm.ID)
	}
	return err
}

// GroupMemberGet implements membership.Tx.
func (t *Tx) GroupMemberGet(ctx context.Context, p *membership.GroupMemberGetParams) (*membership.GroupMember, error) {
	gm, err := scanGroupMember(t.c.QueryRow(ctx, `SELECT `+groupMemberCols+` FROM group_members
		WHERE org_id = $1 AND group_id = $2 AND member_id = $3`, p.OrgID, p.GroupID, p.MemberID))
	return gm, t.notFound(err, "group membership")
}

// GroupMemberList implements membership.Tx.
func (t *Tx) GroupMemberList(ctx context.Context, p *membership.GroupMemberListParams) ([]*membership.GroupMember, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + groupMemberCols + ` FROM group_members WHERE org_id = $1`
	if p.GroupID != 0 {
		q += " AND group_id = " + arg(&args, p.GroupID)
	}
	if p.MemberID != 0 {
		q += " AND member_id = " + arg(&args, p.MemberID)
	}
	if p.Status != "" {
		q += " AND status = " + arg(&args, string(p.Status))
	}
	return collect(ctx, t, scanGroupMember, q+" ORDER BY id", args...)
}

// GroupMembersDeactivate implements membership.Tx.
func (t *Tx) GroupMembersDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.GroupMember, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanGroupMember, `SELECT `+groupMemberCols+` FROM group_members WHERE `+
		deactivateWhere(&args, "", "group_id", p, p.GroupID)+` ORDER BY id`, args...)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	args = []any{ts(p.At), p.Cause}
	_, err = t.c.Exec(ctx, `UPDATE group_members SET status = 'removed', removed_at = $1, cause = $2 WHERE `+
		deactivateWhere(&args, "", "group_id", p, p.GroupID), args...)
	return rows, err
}

// GroupMembersReactivate implements membership.Tx.
func (t *Tx) GroupMembersReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.GroupMember, error) {
	if _, err := t.c.Exec(ctx, `UPDATE group_members SET status = 'active', removed_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause); err != nil {
		return nil, err
	}
	return t.GroupMemberList(ctx, &membership.GroupMemberListParams{OrgID: p.OrgID, MemberID: p.MemberID, Status: membership.StatusActive})
}

// ---- resources and grants

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

const grantCols = `id, uuid, org_id, resource_id, member_id, group_id, status, created_at, revoked_at, cause`

func scanGrant(r Row) (*membership.Grant, error) {
	var g membership.Grant
	var member, group, revoked sql.NullInt64
	var status string
	var cause sql.NullString
	var created int64
	if err := r.Scan(&g.ID, &g.UUID, &g.OrgID, &g.ResourceID, &member, &group, &status, &created, &revoked, &cause); err != nil {
		return nil, err
	}
	g.MemberID, g.GroupID, g.Status = member.Int64, group.Int64, membership.Status(status)
	g.CreatedAt, g.RevokedAt, g.Cause = fromTS(created), fromNullTS(revoked), cause.String
	return &g, nil
}

// GrantGet implements membership.Tx.
func (t *Tx) GrantGet(ctx context.Context, p *membership.RefParams) (*membership.Grant, error) {
	return getByRef(ctx, t, p, "grants", grantCols, "grant", scanGrant)
}

// GrantCreate implements membership.Tx.
func (t *Tx) GrantCreate(ctx context.Context, g *membership.Grant) error {
	return t.c.QueryRow(ctx, `INSERT INTO grants (uuid, org_id, resource_id, member_id, group_id, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING id`,
		g.UUID, g.OrgID, g.ResourceID, nullID(g.MemberID), nullID(g.GroupID), ts(g.CreatedAt)).Scan(&g.ID)
}

// grantWhere is the WHERE clause GrantList and GrantCount share.
func grantWhere(args *[]any, p *membership.GrantListParams) string {
	w := ` WHERE org_id = ` + arg(args, p.OrgID)
	switch {
	case p.MemberID != 0 && len(p.GroupIDs) > 0:
		w += " AND (member_id = " + arg(args, p.MemberID) + " OR group_id IN (" + placeholders(args, p.GroupIDs) + "))"
	case p.MemberID != 0:
		w += " AND member_id = " + arg(args, p.MemberID)
	case len(p.GroupIDs) > 0:
		w += " AND group_id IN (" + placeholders(args, p.GroupIDs) + ")"
	}
	if p.ResourceID != 0 {
		w += " AND resource_id = " + arg(args, p.ResourceID)
	}
	if p.Status != "" {
		w += " AND status = " + arg(args, string(p.Status))
	}
	return w
}

// GrantList implements membership.Tx.
func (t *Tx) GrantList(ctx context.Context, p *membership.GrantListParams) ([]*membership.Grant, error) {
	args := []any{}
	q := `SELECT ` + grantCols + ` FROM grants` + grantWhere(&args, p) + " ORDER BY id"
	if p.Limit > 0 {
		q += " LIMIT " + arg(&args, p.Limit)
	}
	return collect(ctx, t, scanGrant, q, args...)
}

// GrantCount implements membership.Tx.
func (t *Tx) GrantCount(ctx context.Context, p *membership.GrantListParams) (int, error) {
	args := []any{}
	var n int
	err := t.c.QueryRow(ctx, `SELECT count(*) FROM grants`+grantWhere(&args, p), args...).Scan(&n)
	return n, err
}

// GrantsDeactivate implements membership.Tx. Only the grants the report
// lists are read; the UPDATE's row count is the exact total, since both
// statements select the same rows under the member's lock.
func (t *Tx) GrantsDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.Grant, int, error) {
	args := []any{}
	q := `SELECT ` + grantCols + ` FROM grants WHERE ` + deactivateWhere(&args, "", "", p, 0) + ` ORDER BY id`
	if p.Limit > 0 {
		q += " LIMIT " + arg(&args, p.Limit)
	}
	rows, err := collect(ctx, t, scanGrant, q, args...)
	if err != nil || len(rows) == 0 {
		return rows, 0, err
	}
	args = []any{ts(p.At), p.Cause}
	n, err := t.c.Exec(ctx, `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE `+deactivateWhere(&args, "", "", p, 0), args...)
	if err == nil && n < int64(len(rows)) {
		err = fmt.Errorf("revoke grants of member %d: %d revoked, %d listed", p.MemberID, n, len(rows))
	}
	return rows, int(n), err
}

// GrantsReactivate implements membership.Tx.
func (t *Tx) GrantsReactivate(ctx context.Context, p *membership.ReactivateParams) ([]*membership.Grant, error) {
	rows, err := collect(ctx, t, scanGrant, `SELECT `+grantCols+` FROM grants
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3 ORDER BY id`, p.OrgID, p.MemberID, p.Cause)
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	_, err = t.c.Exec(ctx, `UPDATE grants SET status = 'active', revoked_at = NULL, cause = NULL
		WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause)
	for _, g := range rows {
		g.Status, g.RevokedAt, g.Cause = membership.StatusActive, nil, ""
	}
	return rows, err
}

// ---- access

// accessPaths lists, for member $1, each active path to a resource:
// a direct grant (group_id NULL) or a grant through an active group
// membership. Resources inside a space need an active space membership.
// It is the single definition of access: checks, listings and booking
// cancellation all read it, so they cannot disagree.
const accessPaths = `
SELECT r.id AS resource_id, NULL AS group_id
  FROM members m
  JOIN grants g ON g.member_id = m.id AND g.status = 'active'
  JOIN resources r ON r.id = g.resource_id
 WHERE m.id = $1 AND m.status = 'active'
   AND (r.space_id IS NULL OR EXISTS (SELECT 1 FROM space_members sm
        WHERE sm.space_id = r.space_id AND sm.member_id = m.id AND sm.status = 'active'))
UNION ALL
SELECT r.id AS resource_id, g.group_id AS group_id
  FROM members m
  JOIN group_members gm ON gm.member_id = m.id AND gm.status = 'active'
  JOIN grants g ON g.group_id = gm.group_id AND g.status = 'active'
  JOIN resources r ON r.id = g.resource_id
 WHERE m.id = $1 AND m.status = 'active'
   AND (r.space_id IS NULL OR EXISTS (SELECT 1 FROM space_members sm
        WHERE sm.space_id = r.space_id AND sm.member_id = m.id AND sm.status = 'active'))`

// AccessCheck implements membership.Tx.
func (t *Tx) AccessCheck(ctx context.Context, p *membership.AccessParams) (*membership.Access, error) {
	list, err := t.accessRows(ctx, `SELECT resource_id, group_id FROM (`+accessPaths+`) paths WHERE resource_id = $2`, p.MemberID, p.ResourceID)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return &membership.Access{ResourceID: p.ResourceID}, nil
	}
	return list[0], nil
}

// AccessList implements membership.Tx.
func (t *Tx) AccessList(ctx context.Context, orgID, memberID int64) ([]*membership.Access, error) {
	return t.accessRows(ctx, `SELECT resource_id, group_id FROM (`+accessPaths+`) paths`, memberID)
}

// accessRows folds access paths into one Access per resource, in
// resource order.
func (t *Tx) accessRows(ctx context.Context, query string, args ...any) ([]*membership.Access, error) {
	rows, err := t.c.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	defer rows.Close()
	byResource := map[int64]*membership.Access{}
	for rows.Next() {
		var resource int64
		var group sql.NullInt64
		if err := rows.Scan(&resource, &group); err != nil {
			return nil, err
		}
		a := byResource[resource]
		if a == nil {
			a = &membership.Access{ResourceID: resource, Allowed: true}
			byResource[resource] = a
		}
		if group.Valid {
			a.GroupIDs = append(a.GroupIDs, group.Int64)
		} else {
			a.Direct = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]*membership.Access, 0, len(byResource))
	for _, a := range byResource {
		sort.Slice(a.GroupIDs, func(i, j int) bool { return a.GroupIDs[i] < a.GroupIDs[j] })
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out, nil
}

// ---- bookings

const bookingCols = `id, uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at, cancelled_at, cancel_reason`

func scanBooking(r Row) (*membership.Booking, error) {
	var b membership.Booking
	var starts, ends, created int64
	var cancelled sql.NullInt64
	var reason sql.NullString
	if err := r.Scan(&b.ID, &b.UUID, &b.OrgID, &b.ResourceID, &b.MemberID, &starts, &ends, &b.Status, &created, &cancelled, &reason); err != nil {
		return nil, err
	}
	b.StartsAt, b.EndsAt, b.CreatedAt, b.CancelledAt, b.CancelReason = fromTS(starts), fromTS(ends), fromTS(created), fromNullTS(cancelled), reason.String
	return &b, nil
}

// BookingGet implements membership.Tx.
func (t *Tx) BookingGet(ctx context.Context, p *membership.RefParams) (*membership.Booking, error) {
	return getByRef(ctx, t, p, "bookings", bookingCols, "booking", scanBooking)
}

// BookingCreate implements membership.Tx.
func (t *Tx) BookingCreate(ctx context.Context, b *membership.Booking) error {
	var overlap bool
	if err := t.c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bookings WHERE resource_id = $1 AND status = 'active'
		AND starts_at < $3 AND ends_at > $2)`, b.ResourceID, ts(b.StartsAt), ts(b.EndsAt)).Scan(&overlap); err != nil {
		return err
	}
	if overlap {
		return membership.Errorf(membership.CodeConflict, "the resource is already booked for that time")
	}
	return t.c.QueryRow(ctx, `INSERT INTO bookings (uuid, org_id, resource_id, member_id, starts_at, ends_at, status, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, 'active', $7) RETURNING id`,
		b.UUID, b.OrgID, b.ResourceID, b.MemberID, ts(b.StartsAt), ts(b.EndsAt), ts(b.CreatedAt)).Scan(&b.ID)
}

// BookingList implements membership.Tx.
func (t *Tx) BookingList(ctx context.Context, p *membership.BookingListParams) ([]*membership.Booking, error) {
	args := []any{p.OrgID}
	q := `SELECT ` + bookingCols + ` FROM bookings WHERE org_id = $1`
	if p.MemberID != 0 {
		q += " AND member_id = " + arg(&args, p.MemberID)
	}
	if p.ResourceID != 0 {
		q += " AND resource_id = " + arg(&args, p.ResourceID)
	}
	if p.Status != "" {
		q += " AND status = " + arg(&args, p.Status)
	}
	return collect(ctx, t, scanBooking, q+" ORDER BY id", args...)
}

// BookingsCancel implements membership.Tx.
func (t *Tx) BookingsCancel(ctx context.Context, p *membership.BookingsCancelParams) ([]*membership.Booking, error) {
	where := `org_id = $2 AND member_id = $1 AND status = 'active' AND starts_at > $3`
	if p.OnlyWithoutAccess {
		where += ` AND resource_id NOT IN (SELECT resource_id FROM (` + accessPaths + `) paths)`
	}
	rows, err := collect(ctx, t, scanBooking, `SELECT `+bookingCols+` FROM bookings WHERE `+where+` ORDER BY id`,
		p.MemberID, p.OrgID, ts(p.After))
	if err != nil || len(rows) == 0 {
		return rows, err
	}
	ids := make([]int64, len(rows))
	for i, b := range rows {
		ids[i] = b.ID
		b.Status, b.CancelledAt, b.CancelReason = membership.BookingCancelled, &p.At, p.Reason
	}
	args := []any{ts(p.At), p.Reason}
	_, err = t.c.Exec(ctx, `UPDATE bookings SET status = 'cancelled', cancelled_at = $1, cancel_reason = $2
		WHERE id IN (`+placeholders(&args, ids)+`)`, args...)
	return rows, err
}

// ---- events

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

// ---- credentials

const credentialCols = `id, uuid, org_id, member_id, name, prefix, hash, scopes, created_at, expires_at, revoked_at`

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
	c                membership.Credential
	scopes           string
	created          int64
	expires, revoked sql.NullInt64
}

func (cr *credentialRow) dest() []any {
	c := &cr.c
	return []any{&c.ID, &c.UUID, &c.OrgID, &c.MemberID, &c.Name, &c.Prefix, &c.Hash, &cr.scopes, &cr.created, &cr.expires, &cr.revoked}
}

func (cr *credentialRow) value() *membership.Credential {
	c := cr.c
	c.Scopes, c.CreatedAt, c.ExpiresAt, c.RevokedAt = strings.Fields(cr.scopes), fromTS(cr.created), fromNullTS(cr.expires), fromNullTS(cr.revoked)
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
	err := t.c.QueryRow(ctx, `SELECT `+credentialColsOf("c")+`, `+memberCols+memberFrom+`
		JOIN credentials c ON c.member_id = m.id AND c.org_id = m.org_id WHERE c.prefix = $1`, prefix).
		Scan(append(cr.dest(), mr.dest()...)...)
	if err != nil {
		return nil, t.notFound(err, "credential")
	}
	return &membership.Principal{Credential: cr.value(), Member: mr.value()}, nil
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

// ---- idempotency

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
