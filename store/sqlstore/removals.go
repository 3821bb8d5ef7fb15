package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/bits"
	"sync"
	"time"

	"github.com/memberd/memberd/membership"
)

const removalCols = `id, uuid, org_id, kind, interface, actor_member_id, credential_id, request_id, created_at,
	items, result, undone_at, undone_by, undo`

func scanRemoval(r Row) (*membership.Removal, error) {
	var rm membership.Removal
	var credential, undoneAt, undoneBy sql.NullInt64
	var items, result string
	var undo sql.NullString
	var created int64
	if err := r.Scan(&rm.ID, &rm.UUID, &rm.OrgID, &rm.Kind, &rm.Interface, &rm.ActorMemberID, &credential,
		&rm.RequestID, &created, &items, &result, &undoneAt, &undoneBy, &undo); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(items), &rm.Items); err != nil {
		return nil, fmt.Errorf("decode removal %s items: %w", rm.UUID, err)
	}
	if undo.Valid {
		if err := json.Unmarshal([]byte(undo.String), &rm.Undo); err != nil {
			return nil, fmt.Errorf("decode removal %s undo: %w", rm.UUID, err)
		}
	}
	rm.Result = json.RawMessage(result)
	rm.CredentialID, rm.UndoneBy = credential.Int64, undoneBy.Int64
	rm.CreatedAt, rm.UndoneAt = fromTS(created), fromNullTS(undoneAt)
	return &rm, nil
}

// RemovalCreate implements membership.Tx. The row is kept and written
// when the transaction seals its events (Seal): where the connection
// sends statements together (Batcher), in the round trip that locks the
// first chain head; elsewhere (SQLite's single writer) the rows a group
// commit's callers kept go in a few multi-row INSERTs (chunked), not one
// INSERT ... RETURNING each. Its ID is left 0. Nothing reads a removal
// back in the transaction that made it: its UUID reaches a client only
// with the answer, after the commit, and RemovalCount adds the kept ones.
func (t *Tx) RemovalCreate(ctx context.Context, rm *membership.Removal) error {
	items, err := json.Marshal(rm.Items)
	if err != nil {
		return fmt.Errorf("encode removal items: %w", err)
	}
	members := rm.Members()
	args := []any{rm.UUID, rm.OrgID, rm.Kind, rm.Interface, rm.ActorMemberID, nullID(rm.CredentialID), rm.RequestID,
		ts(rm.CreatedAt), members, string(items), string(rm.Result)}
	t.removals = append(t.removals, pendingRemoval{orgID: rm.OrgID, at: rm.CreatedAt, members: members, args: args})
	return nil
}

const (
	removalInsert = `INSERT INTO removals (uuid, org_id, kind, interface, actor_member_id, credential_id,
	request_id, created_at, item_count, items, result) VALUES `
	// removalArgs is how many arguments a removal's row takes.
	removalArgs = 11
)

// removalInserts are the multi-row forms of removalInsert, built once per
// number of rows (a power of two, see chunked).
var removalInserts [maxChainedShift + 1]struct {
	once sync.Once
	q    string
}

// removalInsertRows returns removalInsert for rows rows.
func removalInsertRows(rows int) string {
	s := &removalInserts[bits.TrailingZeros(uint(rows))]
	s.once.Do(func() { s.q = removalInsert + valueRows(rows, removalArgs) })
	return s.q
}

// pendingRemoval is a removal log row that RemovalCreate kept for the
// seal to write.
type pendingRemoval struct {
	orgID   int64
	at      time.Time
	members int
	args    []any
}

// removalWrites returns the statements that write the kept removals,
// and forgets them: one a row on a Batcher, which sends them with the
// seal's first round trip, else as few multi-row INSERTs as chunked
// makes.
func (t *Tx) removalWrites() []Queued {
	if len(t.removals) == 0 {
		return nil
	}
	fail := func(err error) error { return fmt.Errorf("insert removal: %w", err) }
	none := func(Rows) error { return nil }
	var qs []Queued
	if _, ok := t.Conn().(Batcher); ok {
		for _, r := range t.removals {
			qs = append(qs, Queued{Query: removalInsertRows(1), Args: r.args, Read: none, Fail: fail})
		}
	} else {
		_ = chunked(t.removals, func(chunk []pendingRemoval, _ bool) error {
			args := make([]any, 0, removalArgs*len(chunk))
			for _, r := range chunk {
				args = append(args, r.args...)
			}
			qs = append(qs, Queued{Query: removalInsertRows(len(chunk)), Args: args, Read: none, Fail: fail})
			return nil
		})
	}
	t.removals = t.removals[:0]
	return qs
}

// RemovalGet implements membership.Tx.
func (t *Tx) RemovalGet(ctx context.Context, p *membership.RemovalGetParams) (*membership.Removal, error) {
	return getByUUID(ctx, t, "removals", removalCols, "removal", scanRemoval, p.OrgID, p.UUID, p.Lock)
}

// RemovalUpdate implements membership.Tx.
func (t *Tx) RemovalUpdate(ctx context.Context, rm *membership.Removal) error {
	undo, err := nullJSON(rm.Undo, rm.Undo != nil)
	if err != nil {
		return fmt.Errorf("encode removal undo: %w", err)
	}
	n, err := t.c.Exec(ctx, `UPDATE removals SET undone_at = $1, undone_by = $2, undo = $3 WHERE id = $4`,
		nullTS(rm.UndoneAt), nullID(rm.UndoneBy), undo, rm.ID)
	return updatedOne(n, err, "removal", rm.UUID)
}

// RemovalCount implements membership.Tx.
func (t *Tx) RemovalCount(ctx context.Context, orgID int64, since time.Time) (int, error) {
	var n int
	err := t.c.QueryRow(ctx, `SELECT COALESCE(SUM(item_count), 0) FROM removals WHERE org_id = $1 AND created_at > $2`,
		orgID, ts(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count removals: %w", err)
	}
	for _, r := range t.removals {
		if r.orgID == orgID && r.at.After(since) {
			n += r.members
		}
	}
	return n, nil
}

// PolicyGet implements membership.Tx.
func (t *Tx) PolicyGet(ctx context.Context, orgID int64) (*membership.Policy, error) {
	if c, version, ok := t.configAt(orgID); ok {
		if p, ok := c.policyAt(orgID, version); ok {
			return p, nil
		}
		p, err := t.policyGet(ctx, orgID)
		if err == nil {
			c.keepPolicy(version, p)
		}
		return p, err
	}
	cache := t.cached()
	if cache != nil {
		if p, ok := cache.policyOf(orgID); ok {
			return p, nil
		}
	}
	p, err := t.policyGet(ctx, orgID)
	if err == nil && cache != nil {
		cache.keepPolicy(p)
	}
	return p, err
}

func (t *Tx) policyGet(ctx context.Context, orgID int64) (*membership.Policy, error) {
	p := &membership.Policy{OrgID: orgID}
	var updated int64
	var by sql.NullInt64
	err := t.c.QueryRow(ctx, `SELECT max_per_call, max_per_hour, updated_at, updated_by FROM removal_policies
		WHERE org_id = $1`, orgID).Scan(&p.MaxPerCall, &p.MaxPerHour, &updated, &by)
	if err != nil && t.d.IsNoRows(err) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	p.UpdatedAt, p.UpdatedBy = fromTS(updated), by.Int64
	return p, nil
}

// PolicyPut implements membership.Tx.
func (t *Tx) PolicyPut(ctx context.Context, p *membership.Policy) error {
	t.cachedChanged(p.OrgID)
	_, err := t.c.Exec(ctx, `INSERT INTO removal_policies (org_id, max_per_call, max_per_hour, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id) DO UPDATE SET max_per_call = excluded.max_per_call,
		max_per_hour = excluded.max_per_hour, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		p.OrgID, p.MaxPerCall, p.MaxPerHour, ts(p.UpdatedAt), nullID(p.UpdatedBy))
	if err != nil {
		return fmt.Errorf("store policy: %w", err)
	}
	return nil
}
