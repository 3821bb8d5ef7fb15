package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/memberd/memberd/membership"
)

// accessEpoch is an organization's access epoch: the head of its audit
// chain. Every change memberd commits records its events in the chain in
// the change's own transaction and advances the head when it seals them
// (EventSeal), after every other lock it takes; so the head moves with
// every committed access change, and reading it is one primary-key
// lookup on a row every engine already keeps.
const accessEpoch = `SELECT seq FROM event_chain_heads WHERE org_id = $1`

// AccessEpoch implements membership.Tx.
func (t *Tx) AccessEpoch(ctx context.Context, orgID int64) (int64, error) {
	var seq int64
	err := t.c.QueryRow(ctx, accessEpoch, orgID).Scan(&seq)
	if err != nil && t.d.IsNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("access epoch: %w", err)
	}
	return seq, nil
}

// AccessCheckRef implements membership.Tx: one statement resolves the
// member and the resource, reads the epoch and lists the access paths.
// Its first row (kind 0) carries the resolved ids and the epoch; every
// further row (kind 1) is one path, its group or NULL for a direct grant.
// With p.Since, the member and the resource are resolved only when the
// epoch is not *p.Since, so nothing but the epoch is read while a held
// answer is current (both engines then skip the rest: PostgreSQL by a
// one-time filter, SQLite by the empty member and resource). With
// p.Credential, a last row (kind 2) carries the credential's revocation,
// expiry, its member's updated_at and whether the member is active, when
// the epoch is not the one the credential was read at.
func (t *Tx) AccessCheckRef(ctx context.Context, p *membership.AccessCheckRefParams) (*membership.AccessAnswer, error) {
	sh, q, args := accessCheckQuery(p)
	if bc, ok := t.Conn().(AccessBatchConn); ok {
		if b := bc.AccessBatcher(); b != nil {
			// A check with Since and one without go in one batch: asked
			// with an epoch no organization has, the form with Since
			// answers what the one without does. Two shapes were two
			// lanes of statements of about half the rows each, and most
			// of a batched statement's cost is per statement (S3 asks
			// both: the access index holds answers for the checks it
			// repeats).
			bsh, bargs := sh, args
			if p.Since == nil {
				anew := *p
				anew.Since = &noEpoch
				bsh, _, bargs = accessCheckQuery(&anew)
			}
			var ans *membership.AccessAnswer
			rows, batched, err := b.check(ctx, bsh, bargs, func() (err error) {
				ans, err = t.accessCheckOn(ctx, p, q, args)
				return err
			})
			if batched && err == nil {
				return accessAnswer(p, &sliceRows{rows: rows})
			}
			return ans, err
		}
	}
	return t.accessCheckOn(ctx, p, q, args)
}

// noEpoch is an access epoch no organization has: its chain's sequence
// numbers start at zero.
var noEpoch int64 = -1

// accessCheckOn runs a check's statement q on t's connection.
func (t *Tx) accessCheckOn(ctx context.Context, p *membership.AccessCheckRefParams, q string, args []any) (*membership.AccessAnswer, error) {
	rows, err := t.c.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("access check: %w", err)
	}
	defer rows.Close()
	return accessAnswer(p, rows)
}

// accessAnswer reads the rows of p's statement.
func accessAnswer(p *membership.AccessCheckRefParams, rows Rows) (*membership.AccessAnswer, error) {
	ans := &membership.AccessAnswer{}
	var access membership.Access
	var cred *membership.CredentialState
	var kind int
	var a, b, c, d sql.NullInt64
	dest := []any{&kind, &a, &b, &c, &d}
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("access check: %w", err)
		}
		switch {
		case kind == 0:
			ans.MemberFound, ans.ResourceFound, ans.Epoch = a.Valid, b.Valid, c.Int64
			access.ResourceID = b.Int64
		case kind == 2:
			cred = &membership.CredentialState{Found: true, RevokedAt: fromNullTS(a), ExpiresAt: fromNullTS(b),
				MemberUpdatedAt: fromTS(c.Int64), MemberActive: d.Int64 == 1}
		case a.Valid:
			access.Allowed = true
			access.GroupIDs = append(access.GroupIDs, a.Int64)
		default:
			access.Allowed, access.Direct = true, true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("access check: %w", err)
	}
	if c := p.Credential; c != nil && ans.Epoch != c.Epoch {
		if cred == nil {
			cred = &membership.CredentialState{} // gone
		}
		ans.Credential = cred
	}
	slices.Sort(access.GroupIDs)
	ans.Access = &access
	return ans, nil
}

// accessCheckShape is what the text of an access check's statement
// depends on: how the member and the resource are named (0: not at all)
// and which of Since and Credential are asked.
type accessCheckShape struct {
	member, resource  byte
	since, credential bool
}

// accessCheckSQL keeps the statement of each shape, a few dozen at most:
// the hottest path of all need not build two kilobytes of SQL a check.
var accessCheckSQL sync.Map // accessCheckShape → string

// accessCheckQuery is the shape of p's statement, the statement and its
// arguments.
func accessCheckQuery(p *membership.AccessCheckRefParams) (accessCheckShape, string, []any) {
	args := make([]any, 1, 6)
	args[0] = p.Member.OrgID
	var sh accessCheckShape
	switch {
	case p.Member.ID != 0:
		sh.member, args = 'i', append(args, p.Member.ID)
	case p.Member.UUID != "":
		sh.member, args = 'u', append(args, strings.ToLower(p.Member.UUID))
	case p.Member.Email != "":
		sh.member, args = 'e', append(args, p.Member.Email)
	}
	switch {
	case p.Resource.ID != 0:
		sh.resource, args = 'i', append(args, p.Resource.ID)
	case p.Resource.UUID != "":
		sh.resource, args = 'u', append(args, strings.ToLower(p.Resource.UUID))
	}
	if p.Since != nil {
		sh.since, args = true, append(args, *p.Since)
	}
	if c := p.Credential; c != nil {
		sh.credential, args = true, append(args, c.ID, c.Epoch)
	}
	if q, ok := accessCheckSQL.Load(sh); ok {
		return sh, q.(string), args
	}
	q := accessCheckStatement(sh)
	accessCheckSQL.Store(sh, q)
	return sh, q, args
}

// accessCheckStatement writes the statement of shape sh; its placeholders
// follow the order accessCheckQuery appends the arguments in.
func accessCheckStatement(sh accessCheckShape) string {
	n := 1
	next := func() string { n++; return "$" + strconv.Itoa(n) }
	// The paths read the member and the resource as resolved, except that
	// an id is used as given when nothing depends on the epoch: a path
	// found for an id that names nothing in the organization is never
	// answered (its Found flag is false), and PostgreSQL's plan is then
	// smaller by the CTE scans (about 6% of its execution time here).
	member, resource := `(SELECT id FROM mm)`, `(SELECT id FROM rr)`
	// mm and rr are the member's and the resource's rows, read once: the
	// paths take their status and space from there rather than look them
	// up again (PostgreSQL computes a CTE named twice once). Most of a
	// check's backend CPU is fixed per statement, much of it setting up
	// the plan's nodes, so the statement also spares nodes: hd is no row
	// rather than a row of epoch 0, and every branch of a UNION ALL has
	// the first's types (PostgreSQL wraps a branch that needs a cast in a
	// node of its own). Against the form that looked both up twice, at 1M
	// members (TestAccessStatementCPU, medians of 20 turns): 0.92x the
	// backend CPU a check alone, 0.89x in batches of 3 (S3's usual size),
	// 0.80x in batches of 16.
	epoch := `COALESCE((SELECT seq FROM hd), 0)`
	mq := `SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS TEXT) AS status`
	switch sh.member {
	case 'i':
		mq = `SELECT m.id, m.status FROM members m WHERE m.org_id = $1 AND m.id = ` + next()
		if !sh.since {
			member = "$" + strconv.Itoa(n)
		}
	case 'u':
		mq = `SELECT m.id, m.status FROM members m WHERE m.org_id = $1 AND m.uuid = ` + next()
	case 'e':
		mq = `SELECT m.id, m.status FROM members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 AND u.email = ` + next()
	}
	rq := `SELECT CAST(NULL AS BIGINT) AS id, CAST(NULL AS BIGINT) AS space_id`
	switch sh.resource {
	case 'i':
		rq = `SELECT id, space_id FROM resources WHERE org_id = $1 AND id = ` + next()
		if !sh.since {
			resource = "$" + strconv.Itoa(n)
		}
	case 'u':
		rq = `SELECT id, space_id FROM resources WHERE org_id = $1 AND uuid = ` + next()
	}
	if sh.since {
		moved := ` WHERE ` + epoch + ` <> ` + next()
		mq = `SELECT id, status FROM (` + mq + `) x` + moved
		rq = `SELECT id, space_id FROM (` + rq + `) x` + moved
	}
	q := `WITH hd AS (` + accessEpoch + `), mm AS (` + mq + `), rr AS (` + rq + `)
SELECT 0 AS kind, (SELECT id FROM mm) AS a, (SELECT id FROM rr) AS b, ` + epoch + ` AS c, CAST(NULL AS BIGINT) AS d
UNION ALL
SELECT 1, group_id, NULL, NULL, NULL FROM (` + accessPathsFrom(member, "mm", "rr") + `) paths
 WHERE resource_id = ` + resource
	if sh.credential {
		id, at := next(), next()
		q += `
UNION ALL
SELECT 2, c.revoked_at, c.expires_at, m.updated_at, CAST(CASE WHEN m.status = 'active' THEN 1 ELSE 0 END AS BIGINT)
  FROM credentials c JOIN members m ON m.id = c.member_id
 WHERE c.id = ` + id + ` AND c.org_id = $1 AND ` + epoch + ` <> ` + at
	}
	return q
}
