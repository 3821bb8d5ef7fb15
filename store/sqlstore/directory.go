package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/memberd/memberd/membership"
)

// This file implements membership.DirectoryTx: the profiles identity
// providers keep (migration 00005_scim) and the translation of the core's
// neutral directory filter into SQL, so that a provider's lookup is an
// index read and a page is computed by the database, never by scanning
// every member in memory.

// fieldSQL is a filterable field's column and how it compares. scope is
// added to an equality so that it can use an index led by the
// organization (the profiles' external_id indexes).
type fieldSQL struct {
	col   string
	kind  int // fieldText, fieldLower (stored lower-case), fieldBool, fieldTime, …
	scope string
}

const (
	fieldText = iota
	fieldLower
	fieldBool
	fieldTime
	fieldMember    // a group's active member, by UUID
	fieldGroup     // a member's active group, by ID
	fieldGroupUUID // an active member's group that providers see, by UUID
)

var userFields = map[membership.Field]fieldSQL{
	membership.FieldUUID:       {"m.uuid", fieldLower, ""},
	membership.FieldEmail:      {"u.email", fieldLower, ""},
	membership.FieldExternalID: {"p.external_id", fieldText, " AND p.org_id = $1"},
	membership.FieldName:       {"m.name", fieldText, ""},
	membership.FieldGivenName:  {"p.given_name", fieldText, ""},
	membership.FieldFamilyName: {"p.family_name", fieldText, ""},
	membership.FieldActive:     {"m.status", fieldBool, ""},
	membership.FieldCreated:    {"m.created_at", fieldTime, ""},
	membership.FieldUpdated:    {"m.updated_at", fieldTime, ""},
	membership.FieldGroupID:    {"", fieldGroup, ""},
	membership.FieldGroup:      {"", fieldGroupUUID, ""},
}

var groupFields = map[membership.Field]fieldSQL{
	membership.FieldUUID:       {"g.uuid", fieldLower, ""},
	membership.FieldExternalID: {"p.external_id", fieldText, " AND p.org_id = $1"},
	membership.FieldGroupName:  {"g.name", fieldText, ""},
	membership.FieldMember:     {"", fieldMember, ""},
	membership.FieldCreated:    {"g.created_at", fieldTime, ""},
	membership.FieldUpdated:    {"COALESCE(p.updated_at, g.created_at)", fieldTime, ""},
}

// maxFilterDepth bounds the nesting a filter's translation recurses into.
const maxFilterDepth = 200

// filterSQL renders f as a WHERE condition over fields.
func filterSQL(args *[]any, f *membership.Filter, fields map[membership.Field]fieldSQL, depth int) (string, error) {
	if depth > maxFilterDepth {
		return "", membership.Errorf(membership.CodeInvalid, "the filter is nested more than %d levels deep", maxFilterDepth)
	}
	switch f.Op {
	case membership.FilterNothing:
		return "1 = 0", nil
	case membership.FilterAnd, membership.FilterOr:
		if len(f.Sub) != 2 {
			return "", membership.Errorf(membership.CodeInvalid, "%s needs two operands", f.Op)
		}
		l, err := filterSQL(args, f.Sub[0], fields, depth+1)
		if err != nil {
			return "", err
		}
		r, err := filterSQL(args, f.Sub[1], fields, depth+1)
		if err != nil {
			return "", err
		}
		return "(" + l + " " + strings.ToUpper(string(f.Op)) + " " + r + ")", nil
	case membership.FilterNot:
		if len(f.Sub) != 1 {
			return "", membership.Errorf(membership.CodeInvalid, "not needs one operand")
		}
		in, err := filterSQL(args, f.Sub[0], fields, depth+1)
		if err != nil {
			return "", err
		}
		// COALESCE: NOT of a comparison with NULL must be true, as a
		// missing attribute does not match the inner filter.
		return "NOT COALESCE(" + in + ", 1 = 0)", nil
	}
	fs, ok := fields[f.Field]
	if !ok {
		return "", membership.Errorf(membership.CodeInvalid, "attribute %s cannot be filtered on here", f.Field)
	}
	switch fs.kind {
	case fieldBool:
		return boolSQL(args, fs.col, f)
	case fieldTime:
		return timeSQL(args, fs.col, f)
	case fieldGroup:
		id, ok := f.Value.(int64)
		if f.Op != membership.FilterEq || !ok {
			return "", membership.Errorf(membership.CodeInvalid, "groups are filtered with eq and a group id")
		}
		return `EXISTS (SELECT 1 FROM group_members gm WHERE gm.member_id = m.id AND gm.status = 'active' AND gm.group_id = ` +
			arg(args, id) + `)`, nil
	case fieldGroupUUID:
		// What MemberGroupList serves as a user's groups, so that a filter
		// on groups.value finds exactly the users whose groups list it.
		v, ok := f.Value.(string)
		if f.Op != membership.FilterEq || !ok {
			return "", membership.Errorf(membership.CodeInvalid, "groups are filtered with eq and a group id")
		}
		// Led by the group, not the organization's members: a group's
		// members are found through group_members (group_id, member_id)
		// whatever the organization's size.
		return `(m.status = 'active' AND m.id IN (SELECT gm.member_id FROM user_groups gg
			JOIN group_members gm ON gm.group_id = gg.id LEFT JOIN group_profiles gp ON gp.group_id = gg.id
			WHERE gg.uuid = ` + arg(args, strings.ToLower(v)) + ` AND gg.org_id = $1 AND gm.status = 'active' AND gp.deleted_at IS NULL))`, nil
	case fieldMember:
		v, ok := f.Value.(string)
		if f.Op != membership.FilterEq || !ok {
			return "", membership.Errorf(membership.CodeInvalid, "members are filtered with eq and a member id")
		}
		return `EXISTS (SELECT 1 FROM group_members gm JOIN members mm ON mm.id = gm.member_id
			WHERE gm.group_id = g.id AND gm.status = 'active' AND mm.uuid = ` + arg(args, strings.ToLower(v)) + `)`, nil
	}
	return textSQL(args, fs, f)
}

func boolSQL(args *[]any, col string, f *membership.Filter) (string, error) {
	if f.Op == membership.FilterPr {
		return "1 = 1", nil
	}
	b, ok := f.Value.(bool)
	if !ok || (f.Op != membership.FilterEq && f.Op != membership.FilterNe) {
		return "", membership.Errorf(membership.CodeInvalid, "a boolean attribute is compared with eq or ne and true or false")
	}
	if f.Op == membership.FilterNe {
		b = !b
	}
	status := membership.StatusRemoved
	if b {
		status = membership.StatusActive
	}
	return col + " = " + arg(args, string(status)), nil
}

var cmpSQL = map[membership.FilterOp]string{
	membership.FilterEq: "=", membership.FilterNe: "<>", membership.FilterGt: ">",
	membership.FilterGe: ">=", membership.FilterLt: "<", membership.FilterLe: "<=",
}

func timeSQL(args *[]any, col string, f *membership.Filter) (string, error) {
	if f.Op == membership.FilterPr {
		return "1 = 1", nil
	}
	t, ok := f.Value.(time.Time)
	op, cmp := cmpSQL[f.Op]
	if !ok || !cmp {
		return "", membership.Errorf(membership.CodeInvalid, "a dateTime attribute is compared with eq, ne, gt, ge, lt or le and a date")
	}
	return col + " " + op + " " + arg(args, ts(t)), nil
}

func textSQL(args *[]any, fs fieldSQL, f *membership.Filter) (string, error) {
	if f.Op == membership.FilterPr {
		return "(" + fs.col + " IS NOT NULL AND " + fs.col + " <> '')", nil
	}
	v, ok := f.Value.(string)
	if !ok {
		return "", membership.Errorf(membership.CodeInvalid, "attribute %s is compared with a string", f.Field)
	}
	col := fs.col
	switch {
	case fs.kind == fieldLower:
		v = strings.ToLower(v) // stored lower-case: the column keeps its index
	case !f.CaseExact:
		col, v = "lower("+col+")", strings.ToLower(v)
	}
	// Parameters are cast so that PostgreSQL knows their type inside
	// functions; the same text runs on SQLite.
	ph := "CAST(" + arg(args, v) + " AS TEXT)"
	if op, ok := cmpSQL[f.Op]; ok {
		if f.Op == membership.FilterNe { // a missing attribute is "not equal" too
			return "(" + col + " IS NULL OR " + col + " <> " + ph + ")", nil
		}
		if f.Op == membership.FilterEq && col == fs.col {
			return "(" + col + " = " + ph + fs.scope + ")", nil
		}
		return col + " " + op + " " + ph, nil
	}
	if v == "" { // every present string contains, starts and ends with ""
		return col + " IS NOT NULL", nil
	}
	// substr and replace behave alike on both engines, and unlike LIKE they
	// need no escaping and honour case on SQLite too.
	switch f.Op {
	case membership.FilterSw:
		return "substr(" + col + ", 1, length(" + ph + ")) = " + ph, nil
	case membership.FilterEw:
		return "(length(" + col + ") >= length(" + ph + ") AND substr(" + col + ", length(" + col + ") - length(" + ph + ") + 1) = " + ph + ")", nil
	case membership.FilterCo:
		return "replace(" + col + ", " + ph + ", '') <> " + col, nil
	}
	return "", membership.Errorf(membership.CodeInvalid, "operator %s is not supported", f.Op)
}

// lookup reports whether f pins the rows by an indexed, nearly unique
// field (userName, externalId, id), on its own or within an "and".
func lookup(f *membership.Filter) bool {
	switch {
	case f == nil:
		return false
	case f.Op == membership.FilterAnd:
		return lookup(f.Sub[0]) || lookup(f.Sub[1])
	case f.Op == membership.FilterEq:
		return f.Field == membership.FieldEmail || f.Field == membership.FieldExternalID || f.Field == membership.FieldUUID
	}
	return false
}

// orderSQL is the ORDER BY of a directory page: p.SortBy, then ID so that
// pages are stable.
func orderSQL(p *membership.DirectoryQuery, fields map[membership.Field]fieldSQL, id string) (string, error) {
	dir := " ASC"
	if p.Descending {
		dir = " DESC"
	}
	if p.SortBy == "" {
		return " ORDER BY " + id + dir, nil
	}
	fs, ok := fields[p.SortBy]
	if !ok || fs.col == "" {
		return "", membership.Errorf(membership.CodeInvalid, "cannot sort by %s", p.SortBy)
	}
	col := fs.col
	if fs.kind == fieldText {
		// RFC 7644 §3.4.2.3: a resource without the value sorts last
		// ascending, first descending, on both engines alike.
		missing := "(CASE WHEN COALESCE(" + col + ", '') = '' THEN 1 ELSE 0 END)"
		col = missing + dir + ", lower(COALESCE(" + col + ", ''))"
	}
	return " ORDER BY " + col + dir + ", " + id + dir, nil
}

// listing is the SQL of one directory listing.
type listing struct {
	fields             map[membership.Field]fieldSQL
	cols, from, where  string
	id                 string // the ID column: the last sort key
	countSQL, pageSQL  string
	countArgs, allArgs []any
}

// build renders l's count and page queries for p.
func (l *listing) build(p *membership.DirectoryQuery) error {
	args := []any{p.OrgID}
	where := l.where
	if p.Filter != nil {
		w, err := filterSQL(&args, p.Filter, l.fields, 0)
		if err != nil {
			return err
		}
		where += " AND " + w
	}
	id := l.id
	if lookup(p.Filter) {
		// At most a few rows match: "+" keeps SQLite from walking the
		// whole organization in id order to avoid sorting them.
		id = "+" + id
	}
	order, err := orderSQL(p, l.fields, id)
	if err != nil {
		return err
	}
	l.countSQL, l.countArgs = `SELECT count(*)`+l.from+where, slices.Clone(args)
	l.pageSQL = `SELECT ` + l.cols + l.from + where + order + " LIMIT " + arg(&args, max(p.Limit, 1))
	if p.Offset > 0 {
		l.pageSQL += " OFFSET " + arg(&args, p.Offset)
	}
	l.allArgs = args
	return nil
}

// page runs a directory listing: the rows of one page and the count of
// every match.
func page[T any](ctx context.Context, t *Tx, p *membership.DirectoryQuery, l listing, scan func(Row) (*T, error)) ([]*T, int, error) {
	if err := l.build(p); err != nil {
		return nil, 0, err
	}
	var n int
	if err := t.c.QueryRow(ctx, l.countSQL, l.countArgs...).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("count directory rows: %w", err)
	}
	rows, err := collect(ctx, t, scan, l.pageSQL, l.allArgs...)
	return rows, n, err
}

func userListing(p *membership.DirectoryQuery) listing {
	// The lower bound on (org_id, id) is always true: like the member
	// lists' page bounds (memberSelection.past), it leaves PostgreSQL's
	// generic plan no other walk in id order than members_org_id. It is
	// >=, not >: PostgreSQL estimates a row comparison by its first column
	// alone, and "org_id > $1" matches no row of a database with one
	// organization, so a filter on users or groups was planned as a walk
	// of every member (a userName lookup 89 ms at 100k members).
	from, where, id := memberFrom, ` WHERE m.org_id = $1 AND (m.org_id, m.id) >= ($1, 0)`, "m.id"
	if removedOnly(p.Filter) {
		// members has no index of status (migration 00017): removed
		// members are walked in removed_members, so that a provider's
		// "active eq false" reads the removed ones alone.
		from, where, id = removedFrom, ` WHERE r.org_id = $1`, "r.member_id"
	}
	if !p.IncludeDeleted {
		where += ` AND (p.deleted_at IS NULL OR m.status = 'active')`
	}
	return listing{fields: userFields, cols: memberCols + ", " + memberProfileCols,
		from: from + ` LEFT JOIN member_profiles p ON p.member_id = m.id`, where: where, id: id}
}

// removedOnly reports whether f matches removed members only: active is
// false, on its own or within an "and".
func removedOnly(f *membership.Filter) bool {
	switch {
	case f == nil:
		return false
	case f.Op == membership.FilterAnd:
		return len(f.Sub) == 2 && (removedOnly(f.Sub[0]) || removedOnly(f.Sub[1]))
	case f.Field != membership.FieldActive:
		return false
	}
	b, ok := f.Value.(bool)
	return ok && (f.Op == membership.FilterEq && !b || f.Op == membership.FilterNe && b)
}

// DirectoryUserSQL returns the page query DirectoryUserList runs for p and
// its arguments, for engines' tests of its query plan.
func DirectoryUserSQL(p *membership.DirectoryQuery) (string, []any, error) {
	l := userListing(p)
	if err := l.build(p); err != nil {
		return "", nil, err
	}
	return l.pageSQL, l.allArgs, nil
}

const memberProfileCols = `p.external_id, COALESCE(p.given_name, ''), COALESCE(p.family_name, ''), p.deleted_at, COALESCE(p.user_name, '')`

func scanDirectoryUser(r Row) (*membership.DirectoryUser, error) {
	var mr memberRow
	var ext sql.NullString
	var deleted sql.NullInt64
	pr := &membership.MemberProfile{}
	if err := r.Scan(append(mr.dest(), &ext, &pr.GivenName, &pr.FamilyName, &deleted, &pr.UserName)...); err != nil {
		return nil, err
	}
	m := mr.value()
	pr.MemberID, pr.OrgID, pr.ExternalID, pr.DeletedAt = m.ID, m.OrgID, ext.String, fromNullTS(deleted)
	return &membership.DirectoryUser{Member: m, Profile: pr}, nil
}

// DirectoryUserList implements membership.DirectoryTx.
func (t *Tx) DirectoryUserList(ctx context.Context, p *membership.DirectoryQuery) ([]*membership.DirectoryUser, int, error) {
	return page(ctx, t, p, userListing(p), scanDirectoryUser)
}

// MemberProfileGet implements membership.DirectoryTx.
func (t *Tx) MemberProfileGet(ctx context.Context, orgID, memberID int64) (*membership.MemberProfile, error) {
	pr := &membership.MemberProfile{MemberID: memberID, OrgID: orgID}
	var ext sql.NullString
	var deleted sql.NullInt64
	err := t.c.QueryRow(ctx, `SELECT external_id, given_name, family_name, deleted_at, COALESCE(user_name, '') FROM member_profiles
		WHERE org_id = $1 AND member_id = $2`, orgID, memberID).Scan(&ext, &pr.GivenName, &pr.FamilyName, &deleted, &pr.UserName)
	if err != nil && t.d.IsNoRows(err) {
		return pr, nil
	} else if err != nil {
		return nil, fmt.Errorf("read profile of member %d: %w", memberID, err)
	}
	pr.ExternalID, pr.DeletedAt = ext.String, fromNullTS(deleted)
	return pr, nil
}

// MemberProfilePut implements membership.DirectoryTx.
func (t *Tx) MemberProfilePut(ctx context.Context, p *membership.MemberProfile) error {
	_, err := t.c.Exec(ctx, `INSERT INTO member_profiles (member_id, org_id, external_id, given_name, family_name, deleted_at, user_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (member_id) DO UPDATE SET external_id = excluded.external_id, given_name = excluded.given_name,
			family_name = excluded.family_name, deleted_at = excluded.deleted_at, user_name = excluded.user_name`,
		p.MemberID, p.OrgID, nullString(p.ExternalID), p.GivenName, p.FamilyName, nullTS(p.DeletedAt), nullString(p.UserName))
	if err != nil {
		return fmt.Errorf("write profile of member %d: %w", p.MemberID, err)
	}
	return nil
}

// MemberRemovalRetire implements membership.DirectoryTx.
func (t *Tx) MemberRemovalRetire(ctx context.Context, p *membership.MemberRemovalRetireParams) error {
	for _, table := range []string{"space_members", "group_members", "grants"} {
		_, err := t.c.Exec(ctx, `UPDATE `+table+` SET cause = $4
			WHERE org_id = $1 AND member_id = $2 AND status = 'removed' AND cause = $3`, p.OrgID, p.MemberID, p.Cause, p.Retired)
		if err != nil {
			return fmt.Errorf("retire the removed %s of member %d: %w", table, p.MemberID, err)
		}
	}
	return nil
}

// MemberUserSet implements membership.DirectoryTx.
func (t *Tx) MemberUserSet(ctx context.Context, memberID, userID int64, at time.Time) error {
	_, err := t.c.Exec(ctx, `UPDATE members SET user_id = $2, updated_at = $3 WHERE id = $1`, memberID, userID, ts(at))
	return t.conflict(err, "the e-mail address already has a membership of the organization")
}

const groupProfileCols = `p.external_id, p.updated_at, p.deleted_at`

func scanDirectoryGroup(r Row) (*membership.DirectoryGroup, error) {
	var g membership.Group
	var created int64
	var ext sql.NullString
	var updated, deleted sql.NullInt64
	if err := r.Scan(&g.ID, &g.UUID, &g.OrgID, &g.Name, &created, &ext, &updated, &deleted); err != nil {
		return nil, err
	}
	g.CreatedAt = fromTS(created)
	pr := &membership.GroupProfile{GroupID: g.ID, OrgID: g.OrgID, ExternalID: ext.String, DeletedAt: fromNullTS(deleted)}
	if updated.Valid {
		pr.UpdatedAt = fromTS(updated.Int64)
	}
	return &membership.DirectoryGroup{Group: &g, Profile: pr}, nil
}

// DirectoryGroupList implements membership.DirectoryTx.
func (t *Tx) DirectoryGroupList(ctx context.Context, p *membership.DirectoryQuery) ([]*membership.DirectoryGroup, int, error) {
	return page(ctx, t, p, listing{fields: groupFields, cols: `g.id, g.uuid, g.org_id, g.name, g.created_at, ` + groupProfileCols,
		from:  ` FROM user_groups g LEFT JOIN group_profiles p ON p.group_id = g.id`,
		where: ` WHERE g.org_id = $1 AND p.deleted_at IS NULL`, id: "g.id"}, scanDirectoryGroup)
}

// GroupProfileGet implements membership.DirectoryTx.
func (t *Tx) GroupProfileGet(ctx context.Context, orgID, groupID int64) (*membership.GroupProfile, error) {
	pr := &membership.GroupProfile{GroupID: groupID, OrgID: orgID}
	var ext sql.NullString
	var updated int64
	var deleted sql.NullInt64
	err := t.c.QueryRow(ctx, `SELECT external_id, updated_at, deleted_at FROM group_profiles WHERE org_id = $1 AND group_id = $2`,
		orgID, groupID).Scan(&ext, &updated, &deleted)
	if err != nil && t.d.IsNoRows(err) {
		return pr, nil
	} else if err != nil {
		return nil, fmt.Errorf("read profile of group %d: %w", groupID, err)
	}
	pr.ExternalID, pr.UpdatedAt, pr.DeletedAt = ext.String, fromTS(updated), fromNullTS(deleted)
	return pr, nil
}

// GroupProfilePut implements membership.DirectoryTx.
func (t *Tx) GroupProfilePut(ctx context.Context, g *membership.Group, p *membership.GroupProfile) error {
	if _, err := t.c.Exec(ctx, `UPDATE user_groups SET name = $2 WHERE id = $1`, g.ID, g.Name); err != nil {
		return fmt.Errorf("rename group %d: %w", g.ID, err)
	}
	_, err := t.c.Exec(ctx, `INSERT INTO group_profiles (group_id, org_id, external_id, updated_at, deleted_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (group_id) DO UPDATE SET external_id = excluded.external_id, updated_at = excluded.updated_at,
			deleted_at = excluded.deleted_at`,
		p.GroupID, p.OrgID, nullString(p.ExternalID), ts(p.UpdatedAt), nullTS(p.DeletedAt))
	if err != nil {
		return fmt.Errorf("write profile of group %d: %w", p.GroupID, err)
	}
	return nil
}
