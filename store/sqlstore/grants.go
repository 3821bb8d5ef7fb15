package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/memberd/memberd/membership"
)

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
	t.grants = spacesRead{} // the locking read's count no longer holds
	return t.c.QueryRow(ctx, `INSERT INTO grants (uuid, org_id, resource_id, member_id, group_id, status, created_at)
		VALUES ($1, $2, $3, $4, $5, 'active', $6) RETURNING id`,
		g.UUID, g.OrgID, g.ResourceID, nullID(g.MemberID), nullID(g.GroupID), ts(g.CreatedAt)).Scan(&g.ID)
}

// grantWhere is the WHERE clause GrantList, GrantCount and GrantKeys
// share.
func (t *Tx) grantWhere(args *[]any, p *membership.GrantListParams) string {
	w := ` WHERE org_id = ` + arg(args, p.OrgID)
	switch {
	case p.MemberID != 0 && len(p.GroupIDs) > 0:
		w += " AND (member_id = " + arg(args, p.MemberID) + " OR " + t.inIDs(args, "group_id", p.GroupIDs) + ")"
	case p.MemberID != 0:
		w += " AND member_id = " + arg(args, p.MemberID)
	case len(p.GroupIDs) > 0:
		w += " AND " + t.inIDs(args, "group_id", p.GroupIDs)
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
	q := `SELECT ` + grantCols + ` FROM grants` + t.grantWhere(&args, p) + " ORDER BY id"
	if p.Limit > 0 {
		q += " LIMIT " + arg(&args, p.Limit)
	}
	return collect(ctx, t, scanGrant, q, args...)
}

// GrantCount implements membership.Tx.
func (t *Tx) GrantCount(ctx context.Context, p *membership.GrantListParams) (int, error) {
	args := []any{}
	var n int
	err := t.c.QueryRow(ctx, `SELECT count(*) FROM grants`+t.grantWhere(&args, p), args...).Scan(&n)
	return n, err
}

// GrantListCounted implements membership.Tx. Where the engine reads a
// WITH query that several parts of a statement refer to once
// (ModifyingCTE: PostgreSQL), one statement finds the matching grants,
// counts them and reads the first p.Limit whole: the report of an
// offboarding read the grants of the groups left twice, for the list and
// for the count, in two statements and round trips (the grants of an S4
// member's 200 groups at 100k members, backend CPU with planning, median
// of 40 alternating turns: 1.84 ms against 2.07). With keys it stays
// GrantList and GrantKeys, whose keys count the grants: aggregating the
// keys in that statement too measured 3.37 ms against 2.88, each row's
// key materialized for the WITH query. Elsewhere (SQLite) it is
// GrantList, then GrantKeys for keys, then GrantCount only when the list
// or the keys filled their limit.
func (t *Tx) GrantListCounted(ctx context.Context, p *membership.GrantListParams, keys *[]membership.GrantKey) ([]*membership.Grant, int, error) {
	if t.d.ModifyingCTE && p.Limit > 0 && keys == nil {
		return t.grantListCountedOnce(ctx, p)
	}
	list, err := t.GrantList(ctx, p)
	if err != nil {
		return nil, 0, err
	}
	n, limit := len(list), p.Limit
	if keys != nil {
		all := *p
		all.Limit = membership.MaxReportLimit
		if *keys, err = t.GrantKeys(ctx, &all); err != nil {
			return nil, 0, err
		}
		n, limit = len(*keys), all.Limit
	}
	if limit > 0 && n == limit { // maybe more than read
		if n, err = t.GrantCount(ctx, p); err != nil {
			return nil, 0, err
		}
	}
	return list, n, nil
}

// grantListCountedOnce is GrantListCounted in one statement: the ids of
// the matching grants are read once, counted, and the lowest p.Limit of
// them read whole by primary key.
func (t *Tx) grantListCountedOnce(ctx context.Context, p *membership.GrantListParams) ([]*membership.Grant, int, error) {
	args := []any{}
	var n int
	q := `WITH matched AS (SELECT id FROM grants` + t.grantWhere(&args, p) + `) SELECT ` + grantCols +
		`, (SELECT count(*) FROM matched) FROM grants WHERE id IN (SELECT id FROM matched ORDER BY id LIMIT ` +
		arg(&args, p.Limit) + `) ORDER BY id`
	list, err := collect(ctx, t, func(r Row) (*membership.Grant, error) { return scanGrant(withExtra{r, []any{&n}}) }, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list grants: %w", err)
	}
	return list, n, nil
}

// groupGrantsStmt lists (the lowest p.Limit) and counts the active
// grants of the groups p's member is active in, as grantListCountedOnce
// does for their ids; it leaves them in rows and the count in total. Run
// before the member's group memberships end, under the member's lock
// (which every change of a member's group memberships takes), it reads
// the grants of exactly the groups they leave, in the batch that ends
// them rather than in a round trip after it. The groups are an array,
// not IN (subquery), which PostgreSQL planned as a merge join reading
// every group's grants in the grants_group index up to the member's last
// group (10,000 at the S4 member's 5,000); an index scan a group costs
// what the list of ids did (backend CPU 1.96 ms against 1.96 with the
// ids sent, 2.02 with IN, medians of 40 alternating turns).
func groupGrantsStmt(p *membership.DeactivateParams, rows *[]*membership.Grant, total *int) Queued {
	args := []any{}
	q := `WITH matched AS (SELECT id FROM grants WHERE org_id = ` + arg(&args, p.OrgID) + ` AND status = 'active' AND group_id = ANY(ARRAY(
		SELECT group_id FROM group_members WHERE ` + deactivateWhere(&args, "", "", p, 0) + `)))
	SELECT ` + grantCols + `, (SELECT count(*) FROM matched) FROM grants WHERE id IN (SELECT id FROM matched ORDER BY id LIMIT ` +
		arg(&args, p.Limit) + `) ORDER BY id`
	return Queued{Query: q, Args: args, Read: func(r Rows) error {
		var err error
		*rows, err = scanAll(r, func(r Row) (*membership.Grant, error) { return scanGrant(withExtra{r, []any{total}}) })
		return err
	}, Fail: func(err error) error {
		return fmt.Errorf("list grants of the groups of member %d: %w", p.MemberID, err)
	}}
}

// GrantKeys implements membership.Tx. The keys come back as one string
// aggregated in the database, "id resource member group" per grant, comma
// separated and in no order, and are sorted and cut to p.Limit here: a
// plan tag covers up to 10,000 grants of an offboarding, and the driver's
// per-row cost (database/sql, and modernc's transpiled SQLite stepping
// each row out) was most of reading them row by row, and SQLite's sort
// for ORDER BY (a temporary b-tree) most of the rest. A field p fixes is
// not aggregated but filled in here (a member's direct grants have that
// member and no group, the grants of groups no member: a grant has one
// or the other), since converting and joining the numbers is most of the
// statement (the S4 member's 5,000 direct grants at 1M members, backend
// CPU: 2.4 ms with two fields against 3.3 ms with four, 1.5 ms to count
// them).
func (t *Tx) GrantKeys(ctx context.Context, p *membership.GrantListParams) ([]membership.GrantKey, error) {
	args := []any{}
	var agg sql.NullString
	key, fields, member := `id || ' ' || resource_id || ' ' || COALESCE(member_id, 0) || ' ' || COALESCE(group_id, 0)`, 4, int64(0)
	switch {
	case p.MemberID != 0 && len(p.GroupIDs) == 0:
		key, fields, member = `id || ' ' || resource_id`, 2, p.MemberID
	case p.MemberID == 0 && len(p.GroupIDs) > 0:
		key, fields = `id || ' ' || resource_id || ' ' || group_id`, 3
	}
	err := t.c.QueryRow(ctx, `SELECT string_agg(`+key+`, ',') FROM grants`+t.grantWhere(&args, p), args...).Scan(&agg)
	if err != nil {
		return nil, fmt.Errorf("list grant keys: %w", err)
	}
	return sortedKeys(agg.String, fields, member, p.Limit)
}

// sortedKeys reads an aggregate of keys (parseGrantKeys) and returns
// them in ID order, the first limit when limit is set.
func sortedKeys(s string, fields int, member int64, limit int) ([]membership.GrantKey, error) {
	keys, err := parseGrantKeys(s, fields, member)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(keys, func(a, b membership.GrantKey) int { return cmp.Compare(a.ID, b.ID) })
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	return keys, nil
}

// parseGrantKeys reads GrantKeys' aggregate of keys of the given number
// of fields: id and resource, then, with 3, the group (member 0), with 4
// the member and the group, and with 2 neither (member is the member,
// group 0).
func parseGrantKeys(s string, fields int, member int64) ([]membership.GrantKey, error) {
	if s == "" {
		return nil, nil
	}
	keys := make([]membership.GrantKey, 0, strings.Count(s, ",")+1)
	for item := range strings.SplitSeq(s, ",") {
		var f [4]int64
		n := 0
		for field := range strings.SplitSeq(item, " ") {
			v, err := strconv.ParseInt(field, 10, 64)
			if err != nil || n == fields {
				return nil, fmt.Errorf("list grant keys: malformed key %q", item)
			}
			f[n] = v
			n++
		}
		if n != fields {
			return nil, fmt.Errorf("list grant keys: malformed key %q", item)
		}
		k := membership.GrantKey{ID: f[0], ResourceID: f[1], MemberID: member}
		switch fields {
		case 3:
			k.GroupID = f[2]
		case 4:
			k.MemberID, k.GroupID = f[2], f[3]
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// GrantsDeactivate implements membership.Tx. One UPDATE revokes the
// lowest p.Limit grants and returns them, which for most members is all
// of them; only when that filled the limit does a second UPDATE revoke
// the rest, by row count. A member with 10,000 direct grants so costs two
// statements and 100 rows read, not 10,000 rows returned and dropped.
func (t *Tx) GrantsDeactivate(ctx context.Context, p *membership.DeactivateParams) ([]*membership.Grant, int, error) {
	asActive := func(g *membership.Grant) int64 {
		g.Status, g.RevokedAt, g.Cause = membership.StatusActive, nil, ""
		return g.ID
	}
	if p.Limit > 0 && t.d.ModifyingCTE {
		return t.grantsDeactivateCounted(ctx, p)
	}
	if p.Keys != nil {
		// Read before the revocation, as the grants it revokes.
		keys, err := t.GrantKeys(ctx, &membership.GrantListParams{OrgID: p.OrgID, MemberID: p.MemberID, Status: membership.StatusActive, Limit: membership.MaxReportLimit})
		if err != nil {
			return nil, 0, err
		}
		*p.Keys = keys
	}
	if t.grants.none(p.MemberID) {
		return []*membership.Grant{}, 0, nil
	}
	if p.Limit <= 0 || t.fewGrants(p) {
		rows, err := deactivated(ctx, t, p, "grants", "revoked_at", "", 0, grantCols, scanGrant, asActive)
		return rows, len(rows), err
	}
	if p.Limit > maxReturning {
		return t.grantsListThenRevoke(ctx, p)
	}
	args := []any{ts(p.At), p.Cause}
	rows, err := collect(ctx, t, scanGrant, `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE id IN (`+
		firstActive(&args, "grants", p, p.Limit)+`) RETURNING `+grantCols, args...)
	if err != nil {
		return nil, 0, err
	}
	for _, g := range rows {
		asActive(g)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	if len(rows) < p.Limit {
		return rows, len(rows), nil
	}
	args = []any{ts(p.At), p.Cause}
	rest, err := t.c.Exec(ctx, `UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE `+deactivateWhere(&args, "", "", p, 0), args...)
	if err != nil {
		return nil, 0, err
	}
	return rows, len(rows) + int(rest), nil
}

// fewGrants says the statement that locked p's member counted no more
// direct grants than a report lists (Dialect.CountOnLock): the plain
// UPDATE that returns them all then returns what the limited one would.
func (t *Tx) fewGrants(p *membership.DeactivateParams) bool {
	return t.grants.ok && t.grants.member == p.MemberID && t.grants.n <= min(p.Limit, membership.DefaultReportLimit)
}

// grantsDeactivateCounted is GrantsDeactivate's limited form in one
// statement, where the engine reads an UPDATE's rows in WITH: all of the
// member's active grants are revoked, and the lowest p.Limit come back,
// each with the count of all. It is one statement and round trip where
// the general form takes two, for the same backend CPU: revoking an S4
// member's 5,000 grants costs about 2.7 µs a row either way, the largest
// part of an offboarding on PostgreSQL (bench TestS4BackendCPU). The
// UPDATE returns only ids (and resources, for p.Keys), and the grants
// come back as they were, active: the outer SELECT reads grants with the
// statement's snapshot, from before the UPDATE in WITH. p.Keys come with
// the first row, aggregated from the UPDATE's rows as GrantKeys
// aggregates a member's direct grants, instead of a read of its own
// before the UPDATE: one round trip fewer for a plan tag (S4 dry run at
// 1M members in-process on one connection, 30 runs each in alternating
// turns: 29.9 -> 29.1 ms wall, the Go side 5.5 -> 5.1 ms, the backend's
// CPU unchanged at 23.2 ms: aggregating the UPDATE's rows costs what
// reading them again did).
func (t *Tx) grantsDeactivateCounted(ctx context.Context, p *membership.DeactivateParams) ([]*membership.Grant, int, error) {
	var rows []*membership.Grant
	var total int
	var keys sql.NullString
	if err := t.run(ctx, grantsCountedStmt(p, &rows, &total, &keys)); err != nil {
		return nil, 0, err
	}
	if p.Keys != nil {
		var err error
		if *p.Keys, err = sortedKeys(keys.String, 2, p.MemberID, membership.MaxReportLimit); err != nil {
			return nil, 0, err
		}
	}
	return rows, total, nil
}

// grantsCountedStmt is grantsDeactivateCounted's statement, which leaves
// the grants in rows, the count of all in total and, for p.Keys, the
// revoked grants' keys unsorted in keys.
func grantsCountedStmt(p *membership.DeactivateParams, rows *[]*membership.Grant, total *int, keys *sql.NullString) Queued {
	args := []any{ts(p.At), p.Cause}
	returning, extra, keyCol := "id", []any{total}, ""
	if p.Keys != nil {
		returning, extra = "id, resource_id", []any{total, keys}
		keyCol = `, CASE WHEN id = (SELECT min(id) FROM revoked) THEN (SELECT string_agg(id || ' ' || resource_id, ',') FROM revoked) END`
	}
	q := `WITH revoked AS (UPDATE grants SET status = 'removed', revoked_at = $1, cause = $2 WHERE ` + deactivateWhere(&args, "", "", p, 0) +
		` RETURNING ` + returning + `) SELECT ` + grantCols + `, (SELECT count(*) FROM revoked)` + keyCol + ` FROM grants WHERE id IN (SELECT id FROM revoked ORDER BY id LIMIT ` +
		arg(&args, p.Limit) + `) ORDER BY id`
	return Queued{Query: q, Args: args, Read: func(r Rows) error {
		got, err := scanAll(r, func(r Row) (*membership.Grant, error) {
			return scanGrant(withExtra{r, extra})
		})
		if err != nil {
			return err
		}
		for _, g := range got {
			g.Status, g.RevokedAt, g.Cause = membership.StatusActive, nil, ""
		}
		*rows = got
		return nil
	}, Fail: func(err error) error { return fmt.Errorf("revoke grants of member %d: %w", p.MemberID, err) }}
}

// maxReturning is the most rows GrantsDeactivate has an UPDATE return:
// SQLite materializes RETURNING rows before the first is read, which for
// a dry run's 10,000 grants measured 12 ms slower (BenchmarkS4, bench
// module) than reading them with a SELECT and revoking by row count.
const maxReturning = 1000

// grantsListThenRevoke is GrantsDeactivate for a long report: the first
// p.Limit grants read, then all revoked; the UPDATE's row count is the
// exact total, since both statements select the same rows under the
// member's lock.
func (t *Tx) grantsListThenRevoke(ctx context.Context, p *membership.DeactivateParams) ([]*membership.Grant, int, error) {
	args := []any{}
	rows, err := collect(ctx, t, scanGrant, `SELECT `+grantCols+` FROM grants WHERE `+deactivateWhere(&args, "", "", p, 0)+
		` ORDER BY id LIMIT `+arg(&args, p.Limit), args...)
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
	t.grants = spacesRead{}
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

// accessPaths lists, for member $1, each active path to a resource:
// a direct grant (group_id NULL) or a grant through an active group
// membership. Resources inside a space need an active space membership.
// It is the single definition of access: checks, listings and booking
// cancellation all read it, so they cannot disagree.
var accessPaths = accessPathsOf("$1")

// accessPathsOf is accessPaths with the member given by the SQL
// expression member instead of $1.
func accessPathsOf(member string) string {
	return accessPathsFrom(member, "members", "resources")
}

// accessPathsFrom is accessPathsOf with the member's row read from the
// relation members (columns id and status) and the resources' from the
// relation resources (id and space_id): an access check passes the rows
// it has already read to answer whether the member and the resource
// exist, rather than read them twice.
func accessPathsFrom(member, members, resources string) string {
	return strings.NewReplacer("@MEMBER@", member, "@MEMBERS@", members, "@RESOURCES@", resources).Replace(accessPathsTemplate)
}

// accessPathsTemplate reads the member and each resource once, after the
// union of the grant paths, not once in each path: a check filters the
// union by one resource, and then the member's status, the resource and
// its space membership are lookups that decide whether any grant is read
// at all (a removed member, half of the bench's checks, reads none). On
// PostgreSQL most of a check's backend CPU was setting up and tearing down
// the plan's nodes rather than running them (perf on the backends of an
// S3 loop at 100k members: ExecutorStart 36%, ExecutorRun 34%); the
// check's plan has 25 nodes in this form against 31 when each path
// repeated those lookups, and took 0.6x the execution time
// (pg_stat_statements) and 0.7x the backend CPU per check.
const accessPathsTemplate = `
SELECT p.resource_id, p.group_id
  FROM (SELECT g.resource_id, CAST(NULL AS BIGINT) AS group_id
          FROM grants g
         WHERE g.member_id = @MEMBER@ AND g.status = 'active'
        UNION ALL
        SELECT g.resource_id, g.group_id
          FROM group_members gm
          JOIN grants g ON g.group_id = gm.group_id AND g.status = 'active'
         WHERE gm.member_id = @MEMBER@ AND gm.status = 'active') p
  JOIN @MEMBERS@ m ON m.id = @MEMBER@ AND m.status = 'active'
  JOIN @RESOURCES@ r ON r.id = p.resource_id
 WHERE r.space_id IS NULL OR EXISTS (SELECT 1 FROM space_members sm
        WHERE sm.space_id = r.space_id AND sm.member_id = m.id AND sm.status = 'active')`

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
